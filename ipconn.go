package featherip

import (
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
)

// IPConn is a raw IPv4 or IPv6 socket over featherip for one IP protocol
// (Linux's SOCK_RAW), as a net.PacketConn with *net.IPAddr addresses.
//
// IPv6 raw sockets ([Host.ListenIP6], "ip6:proto") behave as Linux's
// (RFC 3542): reads return the payload after the IPv6 header and its
// extension headers, with the source address (a link-local one zoned with
// the arrival interface); writes give the payload and the stack builds the
// IPv6 header, computing the checksum of ICMPv6 messages. The rest of this
// comment describes IPv4 sockets.
//
// Reading follows Linux, not Go's net.IPConn: ReadFrom returns the whole
// IPv4 datagram, header included (as the raw package delivers it), for
// every datagram of the protocol the host receives (raw sockets watch; the
// stack still answers pings and hands UDP to UDP). SetStripHeader(true)
// returns just the payload instead, as Go's net.IPConn does.
//
// Writing: without header inclusion WriteTo's data is the payload and the
// stack builds the header (protocol, source by route or bound address, TTL);
// the payload is sent as given (an ICMP message needs its checksum, as on
// Linux). With header inclusion (Linux IP_HDRINCL; always on for protocol
// 255) data starts with an IPv4 header; the stack routes by its destination
// and fills a zero ID, the checksum and the total length.
type IPConn struct {
	dgramSock
	network string
	proto   uint8
	v6      bool // an IPv6 raw socket
	laddr   netip.Addr
	strip   atomic.Bool
	pcb     *raw.PCB // h.mu
}

var _ net.PacketConn = (*IPConn)(nil)

// ListenIP opens a raw socket for IP protocol proto (0..255, e.g. 1 for
// ICMP; 255 receives every protocol and implies headerIncluded). With
// headerIncluded, data written starts with the IPv4 header.
func (h *Host) ListenIP(proto int, headerIncluded bool) (*IPConn, error) {
	return h.listenIP("ip4:"+itoa(proto), proto, headerIncluded, netip.Addr{}, false)
}

// ListenIP6 opens a raw IPv6 socket for next-header value proto (58 for
// ICMPv6, as "ip6:ipv6-icmp"). Reads return the payload without the IPv6
// header, as on Linux. With headerIncluded (Linux IPV6_HDRINCL; always on
// for protocol 255), data written starts with the IPv6 header.
func (h *Host) ListenIP6(proto int, headerIncluded bool) (*IPConn, error) {
	return h.listenIP("ip6:"+itoa(proto), proto, headerIncluded, netip.Addr{}, true)
}

func itoa(n int) string {
	if n < 0 || n > 255 {
		return "?"
	}
	var b [3]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func (h *Host) listenIP(network string, proto int, hdrIncl bool, local netip.Addr, v6 bool) (*IPConn, error) {
	fail := func(call string, err error) (*IPConn, error) {
		return nil, opError("listen", network, nil, ipAddr(local), call, err)
	}
	if proto < 0 || proto > 255 {
		return fail("socket", syscall.EPROTONOSUPPORT)
	}
	c := &IPConn{network: network, proto: uint8(proto), laddr: local, v6: v6}
	c.dgramSock.init(h)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fail("socket", ErrClosed)
	}
	pcb, err := h.raw.NewPCB(uint8(proto))
	if err != nil {
		return fail("socket", err)
	}
	if local.IsValid() {
		if err := pcb.Bind(local); err != nil {
			pcb.Close()
			return fail("bind", err)
		}
	}
	if hdrIncl {
		pcb.SetHeaderIncluded(true)
	}
	pcb.OnRecv(func(_ *raw.PCB, datagram []byte, info *raw.RecvInfo) {
		if info.IPv6 != c.v6 {
			return // the other family's datagram of the same protocol number
		}
		if c.v6 {
			c.deliver(datagram, netip.AddrPortFrom(h.zonedLocked(info.Src, int(info.NIC)), 0))
			return
		}
		if c.strip.Load() {
			hl := int(datagram[0]&0x0f) * 4
			if hl > len(datagram) {
				return
			}
			datagram = datagram[hl:]
		}
		c.deliver(datagram, netip.AddrPortFrom(info.Src, 0))
	})
	c.pcb = pcb
	if err := h.addSockLocked(c); err != nil {
		pcb.Close()
		return fail("socket", err)
	}
	return c, nil
}

func (c *IPConn) closeLocked() {
	if c.pcb != nil {
		c.pcb.Close()
	}
	c.releaseLocked()
}

func (c *IPConn) err(op, call string, addr net.Addr, err error) error {
	return opError(op, c.network, c.LocalAddr(), addr, call, err)
}

// SetStripHeader sets whether reads return only the payload (true, like Go's
// net.IPConn) or the whole datagram with its IPv4 header (false, the
// default, like Linux raw sockets). It applies to datagrams received from
// then on. IPv6 raw sockets always return the payload only.
func (c *IPConn) SetStripHeader(on bool) { c.strip.Store(on) }

// ReadFrom reads the next datagram (see SetStripHeader) and returns its
// source as a *net.IPAddr.
func (c *IPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.recv(b)
	if err != nil {
		return 0, nil, c.err("read", "recvfrom", nil, err)
	}
	return n, ipAddr(from.Addr()), nil
}

// ReadFromAddr is ReadFrom with a netip.Addr result; it allocates nothing.
func (c *IPConn) ReadFromAddr(b []byte) (int, netip.Addr, error) {
	n, from, err := c.recv(b)
	if err != nil {
		return 0, netip.Addr{}, c.err("read", "recvfrom", nil, err)
	}
	return n, from.Addr(), nil
}

// WriteTo sends b to addr (a *net.IPAddr, or a *net.UDPAddr whose port is
// ignored).
func (c *IPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	dst, err := ipOf(addr)
	if err != nil {
		return 0, c.err("write", "sendto", addr, err)
	}
	return c.writeTo(b, dst, addr)
}

// WriteToAddr sends b to dst; it allocates nothing.
func (c *IPConn) WriteToAddr(b []byte, dst netip.Addr) (int, error) {
	return c.writeTo(b, dst, nil)
}

func (c *IPConn) writeTo(b []byte, dst netip.Addr, addr net.Addr) (int, error) {
	err := c.checkWrite()
	if dst.Is4In6() {
		dst = dst.Unmap()
	}
	if err == nil && dst.Is6() != c.v6 {
		err = &net.AddrError{Err: "non-IPv4 address", Addr: dst.String()}
		if c.v6 {
			err = &net.AddrError{Err: "non-IPv6 address", Addr: dst.String()}
		}
	}
	if err == nil {
		h := c.h
		h.mu.Lock()
		if c.closedLocked() {
			err = net.ErrClosed
		} else {
			err = c.pcb.SendTo(b, dst)
		}
		h.rearmLocked()
		h.mu.Unlock()
	}
	if err != nil {
		if addr == nil {
			addr = ipAddr(dst)
		}
		return 0, c.err("write", "sendto", addr, err)
	}
	return len(b), nil
}

// SetTTL sets the TTL (IPv6: the hop limit) of datagrams whose header the
// stack builds (0: the stack's default).
func (c *IPConn) SetTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return c.err("set", "setsockopt", nil, syscall.EINVAL)
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.closedLocked() {
		return c.err("set", "setsockopt", nil, net.ErrClosed)
	}
	c.pcb.SetTTL(uint8(ttl))
	return nil
}

// Close closes the socket: blocked reads return net.ErrClosed and queued
// datagrams are freed.
func (c *IPConn) Close() error {
	if err := c.close(c); err != nil {
		return c.err("close", "close", nil, err)
	}
	return nil
}

// LocalAddr returns the bound address as a *net.IPAddr (0.0.0.0, or :: for
// IPv6, when not bound).
func (c *IPConn) LocalAddr() net.Addr {
	if !c.laddr.IsValid() {
		if c.v6 {
			return &net.IPAddr{IP: net.IPv6unspecified}
		}
		return &net.IPAddr{IP: net.IPv4zero}
	}
	return ipAddr(c.laddr)
}

// SetDeadline sets the read and write deadlines.
func (c *IPConn) SetDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, true, true))
}

// SetReadDeadline sets the read deadline.
func (c *IPConn) SetReadDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, true, false))
}

// SetWriteDeadline sets the write deadline (writes never block).
func (c *IPConn) SetWriteDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, false, true))
}

// SetReadBuffer bounds the receive queue (see UDPConn.SetReadBuffer).
func (c *IPConn) SetReadBuffer(bytes int) error {
	return c.err("set", "setsockopt", nil, c.setReadBuffer(bytes))
}

// ProtoAny is the protocol number of a raw socket that receives every
// protocol (Linux IPPROTO_RAW semantics for sending: header included).
const ProtoAny = int(stack.ProtoAny)
