package featherip

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Dialer dials over a Host with the options of net.Dialer that apply; its
// DialContext fits http.Transport.DialContext and similar hooks.
type Dialer struct {
	// Host is the stack to dial over. Required.
	Host *Host
	// LocalAddr is the local address to bind (a *net.UDPAddr for UDP);
	// nil picks the route's source address and an ephemeral port.
	LocalAddr net.Addr
	// Timeout bounds the whole dial (with Deadline and the context's
	// deadline, the earliest wins). UDP connects without a handshake, so it
	// only matters for connection-oriented networks.
	Timeout time.Duration
	// Deadline is an absolute time after which the dial fails.
	Deadline time.Time
	// KeepAlive is the keepalive period of TCP connections, as in
	// net.Dialer: 0 enables keepalive with a 15 s period, a negative
	// value disables it.
	KeepAlive time.Duration
}

// Dial is DialContext with context.Background.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address on network: "udp", "udp4" or "udp6"
// with a numeric "ip:port" address (IPv6 in brackets, with a zone for
// link-local addresses: "[fe80::1%eth0]:7"; "localhost" and an empty host
// mean the loopback address). The result is a *UDPConn. "tcp", "tcp4" and
// "tcp6" give a *TCPConn (see tcpdial.go); the dial waits for the
// handshake. A route to the address must exist (ENETUNREACH otherwise, as
// Linux's connect).
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	fail := func(laddr net.Addr, err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Source: nilAddr(laddr), Addr: nil, Err: err}
	}
	if d.Host == nil {
		return fail(nil, &net.AddrError{Err: "featherip: Dialer.Host is nil", Addr: address})
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if !d.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Deadline)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return fail(d.LocalAddr, mapCtxErr(err))
	}
	if isTCPNetwork(network) {
		return d.dialTCP(ctx, network, address) // tcpdial.go
	}
	if err := checkUDPNetwork(network); err != nil {
		return fail(d.LocalAddr, err)
	}
	raddr, err := parseUDPAddr(network, address, true)
	if err != nil {
		return fail(d.LocalAddr, err)
	}
	var laddr *net.UDPAddr
	if d.LocalAddr != nil {
		var ok bool
		if laddr, ok = d.LocalAddr.(*net.UDPAddr); !ok {
			return fail(d.LocalAddr, &net.AddrError{Err: "mismatched local address type", Addr: d.LocalAddr.String()})
		}
	}
	c, err := d.Host.DialUDP(network, laddr, net.UDPAddrFromAddrPort(raddr))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// mapCtxErr turns a context's error into the one package net dials return:
// os.ErrDeadlineExceeded for a deadline, net.ErrClosed-like cancellation
// stays context.Canceled.
func mapCtxErr(err error) error {
	if err == context.DeadlineExceeded {
		return errDialTimeout
	}
	return err
}

// errDialTimeout is a dial that ran out of time: Timeout() is true and it
// matches context.DeadlineExceeded, as package net's.
var errDialTimeout error = dialTimeoutError{}

type dialTimeoutError struct{}

func (dialTimeoutError) Error() string   { return "i/o timeout" }
func (dialTimeoutError) Timeout() bool   { return true }
func (dialTimeoutError) Temporary() bool { return true }
func (dialTimeoutError) Is(err error) bool {
	return err == context.DeadlineExceeded
}

// Dial connects to address on network; see [Dialer.DialContext].
func (h *Host) Dial(network, address string) (net.Conn, error) {
	return (&Dialer{Host: h}).DialContext(context.Background(), network, address)
}

// DialContext connects to address on network; see [Dialer.DialContext].
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return (&Dialer{Host: h}).DialContext(ctx, network, address)
}

// DialUDP connects a UDP socket to raddr, bound to laddr when it is not
// nil, like net.DialUDP.
func (h *Host) DialUDP(network string, laddr, raddr *net.UDPAddr) (*UDPConn, error) {
	fail := func(call string, err error) (*UDPConn, error) {
		return nil, opError("dial", network, nilAddr(laddr), nilAddr(raddr), call, err)
	}
	if err := checkUDPNetwork(network); err != nil {
		return fail("", err)
	}
	if raddr == nil {
		return fail("", errMissingAddress)
	}
	l, err := udpAddrPort(laddr)
	if err != nil {
		return fail("", err)
	}
	r, err := udpAddrPort(raddr)
	if err != nil {
		return fail("", err)
	}
	return h.dialUDP(network, l, r, fail)
}

// DialUDPAddrPort is DialUDP with netip.AddrPort values (an invalid laddr:
// an unbound socket, as a nil one for DialUDP).
func (h *Host) DialUDPAddrPort(network string, laddr, raddr netip.AddrPort) (*UDPConn, error) {
	fail := func(call string, err error) (*UDPConn, error) {
		var la net.Addr
		if laddr.IsValid() {
			la = udpAddr(laddr)
		}
		return nil, opError("dial", network, la, udpAddr(raddr), call, err)
	}
	if err := checkUDPNetwork(network); err != nil {
		return fail("", err)
	}
	l := netip.AddrPortFrom(unmap(laddr.Addr()), laddr.Port())
	r := netip.AddrPortFrom(unmap(raddr.Addr()), raddr.Port())
	return h.dialUDP(network, l, r, fail)
}

// dialUDP is DialUDP and DialUDPAddrPort after their checks.
func (h *Host) dialUDP(network string, l, r netip.AddrPort, fail func(string, error) (*UDPConn, error)) (*UDPConn, error) {
	if !r.Addr().IsValid() || r.Addr().IsUnspecified() {
		// Linux connects to the unspecified address on the loopback.
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if network == "udp6" || r.Addr().Is6() || l.Addr().Is6() && !l.Addr().IsUnspecified() {
			lo = netip.IPv6Loopback()
		}
		r = netip.AddrPortFrom(lo, r.Port())
	}
	c, call, err := h.newUDPConn(network, l, r)
	if err != nil {
		return fail(call, err)
	}
	return c, nil
}

var errMissingAddress = &net.AddrError{Err: "missing address"}

// ListenUDP opens a UDP socket bound to laddr (nil or an unspecified IP:
// every local address; port 0: an ephemeral port), like net.ListenUDP.
// "udp" on the wildcard takes both families; "udp4" and "udp6" one each
// (see [UDPConn]).
// Binding a port in use fails with EADDRINUSE, an address that is not the
// host's with EADDRNOTAVAIL.
func (h *Host) ListenUDP(network string, laddr *net.UDPAddr) (*UDPConn, error) {
	l, err := udpAddrPort(laddr)
	if err == nil {
		err = checkUDPNetwork(network)
	}
	if err != nil {
		return nil, opError("listen", network, nil, nilAddr(laddr), "", err)
	}
	return h.listenUDP(network, l, laddr)
}

// ListenUDPAddrPort is ListenUDP with a netip.AddrPort (an invalid
// address: every address, of both families for "udp").
func (h *Host) ListenUDPAddrPort(network string, laddr netip.AddrPort) (*UDPConn, error) {
	laddr = netip.AddrPortFrom(unmap(laddr.Addr()), laddr.Port())
	err := checkUDPNetwork(network)
	if err != nil {
		return nil, opError("listen", network, nil, udpAddr(laddr), "", err)
	}
	return h.listenUDP(network, laddr, nil)
}

func (h *Host) listenUDP(network string, l netip.AddrPort, laddr *net.UDPAddr) (*UDPConn, error) {
	c, call, err := h.newUDPConn(network, l, netip.AddrPort{})
	if err != nil {
		var a net.Addr = udpAddr(l)
		if laddr != nil {
			a = laddr
		}
		return nil, opError("listen", network, nil, a, call, err)
	}
	return c, nil
}

// ListenPacket opens a packet socket, like net.ListenPacket:
//
//   - "udp", "udp4", "udp6": a *UDPConn bound to address ("host:port"; an
//     empty host is every address: of both families for "udp").
//   - "ip4:proto" ("ip4:icmp", "ip4:1", also "ip:..."): an *IPConn, a raw
//     IPv4 socket for that protocol bound to address (an IP or empty), as
//     [Host.ListenIP] without header inclusion.
//   - "ip6:proto" ("ip6:ipv6-icmp", "ip6:58"): a raw IPv6 socket, as
//     [Host.ListenIP6]: reads return the payload without the IPv6 header.
func (h *Host) ListenPacket(network, address string) (net.PacketConn, error) {
	if strings.HasPrefix(network, "ip") && strings.Contains(network, ":") {
		c, err := h.listenIPNetwork(network, address)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := checkUDPNetwork(network); err != nil {
		return nil, opError("listen", network, nil, nil, "", err)
	}
	l, err := parseUDPAddr(network, address, false)
	if err != nil {
		return nil, opError("listen", network, nil, nil, "", err)
	}
	c, err := h.listenUDP(network, l, nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ipProtocols are the protocol names "ip4:name" accepts.
var ipProtocols = map[string]int{"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "udplite": 136}

func (h *Host) listenIPNetwork(network, address string) (*IPConn, error) {
	fam, proto, _ := strings.Cut(network, ":")
	fail := func(err error) (*IPConn, error) {
		return nil, opError("listen", network, nil, nil, "", err)
	}
	switch fam {
	case "ip", "ip4", "ip6":
	default:
		return fail(net.UnknownNetworkError(network))
	}
	p, ok := ipProtocols[proto]
	if !ok {
		n, err := strconv.Atoi(proto)
		if err != nil || n < 0 || n > 255 {
			return fail(net.UnknownNetworkError(network))
		}
		p = n
	}
	local := netip.Addr{}
	if address != "" {
		a, err := parseHost(network, address, false)
		if err == nil {
			err = checkFamily(network, netip.AddrPortFrom(a, 0))
		}
		if err != nil {
			return fail(err)
		}
		if !a.IsUnspecified() {
			local = a
		}
	}
	return h.listenIP(network, p, false, local, fam == "ip6" || fam == "ip" && local.Is6())
}
