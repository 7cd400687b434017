package featherip

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/featherip/featherip/tcp"
)

// defaultKeepAlive is the keepalive period package net uses for dialed and
// accepted connections (net.Dialer.KeepAlive 0).
const defaultKeepAlive = 15 * time.Second

// dialTCP is Dialer.DialContext for "tcp", "tcp4" and "tcp6"; ctx already
// carries the Dialer's Timeout and Deadline.
func (d *Dialer) dialTCP(ctx context.Context, network, address string) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Source: nilAddr(d.LocalAddr), Err: err}
	}
	raddr, err := parseTCPAddr(network, address, true)
	if err != nil {
		return fail(err)
	}
	var laddr netip.AddrPort
	if d.LocalAddr != nil {
		ta, ok := d.LocalAddr.(*net.TCPAddr)
		if !ok {
			return fail(&net.AddrError{Err: "mismatched local address type", Addr: d.LocalAddr.String()})
		}
		if laddr, err = tcpAddrPort(ta); err != nil {
			return fail(err)
		}
	}
	c, err := d.Host.dialTCP(ctx, network, laddr, raddr, d.KeepAlive)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTCP connects to raddr, from laddr when it is not nil, like
// net.DialTCP (no timeout beyond TCP's own SYN retries; use
// [Host.DialContext] or [Dialer] for one).
func (h *Host) DialTCP(network string, laddr, raddr *net.TCPAddr) (*TCPConn, error) {
	fail := func(err error) (*TCPConn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Source: nilTCPAddr(laddr), Addr: nilTCPAddr(raddr), Err: err}
	}
	if raddr == nil {
		return fail(errMissingAddress)
	}
	l, err := tcpAddrPort(laddr)
	if err != nil {
		return fail(err)
	}
	r, err := tcpAddrPort(raddr)
	if err != nil {
		return fail(err)
	}
	return h.dialTCP(context.Background(), network, l, r, 0)
}

// DialTCPAddrPort connects to raddr from laddr (the zero value: the
// route's source address and an ephemeral port) until ctx is done. It is
// the allocation-light form of DialContext.
func (h *Host) DialTCPAddrPort(ctx context.Context, network string, laddr, raddr netip.AddrPort) (*TCPConn, error) {
	return h.dialTCP(ctx, network, laddr, raddr, 0)
}

func nilTCPAddr(a *net.TCPAddr) net.Addr {
	if a == nil {
		return nil
	}
	return a
}

// dialTCP opens a pcb, binds it when laddr asks for an address or port,
// connects and waits for OnConnected, ctx or Host.Close.
func (h *Host) dialTCP(ctx context.Context, network string, laddr, raddr netip.AddrPort, keepAlive time.Duration) (*TCPConn, error) {
	laddr = netip.AddrPortFrom(laddr.Addr().Unmap(), laddr.Port())
	raddr = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	fail := func(call string, err error) (*TCPConn, error) {
		return nil, tcpOpError("dial", network, laddr, raddr, call, err)
	}
	if err := checkTCPNetwork(network); err != nil {
		return fail("", err)
	}
	if !raddr.Addr().IsValid() {
		return fail("", errMissingAddress)
	}
	if raddr.Addr().IsUnspecified() {
		// Linux connects to the unspecified address on the loopback.
		if raddr.Addr().Is4() {
			raddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), raddr.Port())
		} else {
			raddr = netip.AddrPortFrom(netip.IPv6Loopback(), raddr.Port())
		}
	}
	if err := checkTCPFamily(network, raddr); err != nil {
		return fail("", err)
	}
	if err := checkTCPFamily(network, laddr); err != nil {
		return fail("", err)
	}
	if err := ctx.Err(); err != nil {
		return fail("", mapCtxErr(err))
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fail("socket", ErrClosed)
	}
	pcb, err := h.tcp.NewPCB()
	if err != nil {
		h.mu.Unlock()
		return fail("socket", err)
	}
	c := h.newTCPConnLocked(network, pcb, h.tcp.Config().RecvBuffer)
	c.connecting = true
	pcb.OnConnected(func(_ *tcp.PCB, err error) {
		c.connecting = false
		if err != nil {
			c.pcb = nil
			c.err = err
		}
		signal(c.writable)
	})
	bindFail := func(call string, err error) (*TCPConn, error) {
		pcb.Abort()
		h.rearmLocked()
		h.mu.Unlock()
		return fail(call, err)
	}
	pcb.SetV6Only(network == "tcp6") // package net sets IPV6_V6ONLY on "tcp6" sockets
	if laddr.Addr() == netip.IPv4Unspecified() && raddr.Addr().Is6() {
		// package net binds an AF_INET6 socket to :: then (0.0.0.0 is IPv4 only here)
		laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), laddr.Port())
	}
	if laddr.Port() != 0 || (laddr.Addr().IsValid() && !laddr.Addr().IsUnspecified()) {
		if err := pcb.Bind(laddr); err != nil {
			return bindFail("bind", err)
		}
	}
	if err := pcb.Connect(raddr); err != nil {
		return bindFail("connect", err)
	}
	c.setRecvBufferLocked(pcb.RecvBuffer()) // a default window grows on a jumbo-MTU route (tcp.Config.RecvBuffer)
	c.laddr, c.raddr = pcb.LocalAddr(), pcb.RemoteAddr()
	laddr = c.laddr
	if keepAlive >= 0 {
		ka := keepAlive
		if ka == 0 {
			ka = defaultKeepAlive
		}
		pcb.SetKeepAlive(true, ka, ka, 0)
	}
	_ = h.addSockLocked(c) // cannot fail: h.closed was checked under the lock
	h.rearmLocked()
	h.mu.Unlock()

	for {
		h.mu.Lock()
		connecting, cerr, released := c.connecting, c.err, c.released
		h.mu.Unlock()
		if released {
			return fail("connect", net.ErrClosed)
		}
		if !connecting {
			if cerr != nil {
				c.close(c)
				return fail("connect", cerr)
			}
			return c, nil
		}
		select {
		case <-c.writable:
		case <-ctx.Done():
			c.close(c) // resets the half-open connection
			return fail("", mapCtxErr(ctx.Err()))
		case <-h.done:
			return fail("connect", net.ErrClosed)
		}
	}
}
