package featherip

import (
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/featherip/featherip/udp"
)

// UDPConn is a blocking, goroutine-safe UDP socket over featherip, the
// counterpart of *net.UDPConn: it implements net.PacketConn always and
// net.Conn when connected ([Host.DialContext], [Host.DialUDP], [Dialer]).
//
// Received datagrams wait in a bounded queue (SetReadBuffer bytes and
// Config.Sockets.MaxQueuedDatagrams datagrams); what does not fit is dropped
// and counted in ShellStats.RcvbufErrors. A read with a buffer shorter than
// the datagram gets its first len(b) bytes and the rest is discarded, as with
// package net. Writes never block: the datagram is handed to IP (it may wait
// for ARP there) or the write fails (ENOBUFS when the buffer pool is out).
//
// A connected UDPConn receives only from its peer, and ICMP errors about
// what it sent (port unreachable: ECONNREFUSED, host unreachable:
// EHOSTUNREACH, network unreachable: ENETUNREACH) are reported once, by the
// next Read or Write, as Linux does with its pending socket error.
// Unconnected sockets get no ICMP errors (RFC 1122 4.1.3.3, as Linux).
// ICMPv6 errors (RFC 4443) map as Linux's icmpv6_err_convert maps them:
// port unreachable gives ECONNREFUSED, no route to destination
// ENETUNREACH, address unreachable and time exceeded EHOSTUNREACH, packet
// too big EMSGSIZE.
//
// IPv6 works as package net on Linux: "udp6" sockets take IPv6 only
// (IPV6_V6ONLY), "udp4" ones IPv4 only, and a "udp" socket listening on
// the wildcard is dual-stack: it receives both families and reports IPv4
// peers with IPv4 addresses (also from ReadFromUDPAddrPort, where package
// net gives IPv4-mapped ones). Its LocalAddr is [::]:port. IPv6
// link-local peers carry the arrival interface's name as their zone
// ("[fe80::1%eth0]:7"); a zone in a destination picks the interface.
// As on Linux, a "udp4" and a "udp6" socket on the wildcard share a port,
// each receiving its own family, while a dual-stack "udp" one conflicts
// with both (EADDRINUSE); specific addresses conflict only with the same
// address and with the wildcards that cover it (package udp's port rules).
type UDPConn struct {
	dgramSock
	network      string
	fam          family
	laddr, raddr netip.AddrPort // fixed at creation

	pcb    *udp.PCB // h.mu
	groups []mgroup // joined multicast groups (h.mu)
}

// mgroup is one multicast membership of a socket.
type mgroup struct {
	nic   int
	group netip.Addr
}

// maxMemberships bounds a socket's multicast groups (Linux's
// IP_MAX_MEMBERSHIPS).
const maxMemberships = 20

// Compile-time checks: UDPConn is what code written for package net
// expects.
var (
	_ net.PacketConn = (*UDPConn)(nil)
	_ net.Conn       = (*UDPConn)(nil)
)

// newUDPConn opens a UDP pcb, binds it to laddr (port 0: ephemeral) and,
// when raddr is valid, connects it. The errors are the core's, with the
// syscall name they belong to.
func (h *Host) newUDPConn(network string, laddr, raddr netip.AddrPort) (*UDPConn, string, error) {
	fam, err := udpFamily(network, laddr, raddr)
	if err != nil {
		return nil, "", err
	}
	if la := laddr.Addr(); !la.IsValid() || la.IsUnspecified() {
		// The wildcard of the socket's family: 0.0.0.0 is IPv4 only (AF_INET),
		// :: IPv6 only for "udp6" (IPV6_V6ONLY, below), else both, as the zero Addr.
		switch fam {
		case fam4:
			laddr = netip.AddrPortFrom(netip.IPv4Unspecified(), laddr.Port())
		case fam6:
			laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), laddr.Port())
		default:
			laddr = netip.AddrPortFrom(netip.Addr{}, laddr.Port())
		}
	}
	c := &UDPConn{network: network, fam: fam}
	c.dgramSock.init(h)
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.rearmLocked()
	if h.closed {
		return nil, "socket", ErrClosed
	}
	pcb, err := h.udp.NewPCB()
	if err != nil {
		return nil, "socket", err
	}
	fail := func(call string, err error) (*UDPConn, string, error) {
		pcb.Close()
		return nil, call, err
	}
	pcb.SetV6Only(network == "udp6") // package net sets IPV6_V6ONLY on "udp6" sockets only
	pcb.OnRecv(func(_ *udp.PCB, data []byte, info *udp.RecvInfo) {
		if c.fam.accepts(info.Src.Addr()) {
			c.deliver(data, info.Src)
		}
	})
	pcb.OnError(func(_ *udp.PCB, err error) { c.setError(err) })
	if !raddr.IsValid() || laddr.Port() != 0 || laddr.Addr().IsValid() && !laddr.Addr().IsUnspecified() {
		if err := pcb.Bind(laddr); err != nil {
			return fail("bind", err)
		}
	}
	if raddr.IsValid() {
		if _, _, _, err := h.s.Route(raddr.Addr()); err != nil && !raddr.Addr().IsMulticast() && raddr.Addr() != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return fail("connect", err)
		}
		if err := pcb.Connect(raddr); err != nil {
			return fail("connect", err)
		}
	}
	c.pcb = pcb
	c.laddr, c.raddr = pcb.LocalAddr(), pcb.RemoteAddr()
	switch la := c.laddr.Addr(); {
	case la.IsUnspecified() && fam != fam4:
		c.laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), c.laddr.Port())
	case la.Is6() && la.IsLinkLocalUnicast() && c.raddr.Addr().Zone() != "":
		c.laddr = netip.AddrPortFrom(la.WithZone(c.raddr.Addr().Zone()), c.laddr.Port())
	case la.Is6() && la.IsLinkLocalUnicast() && laddr.Addr().Zone() != "":
		c.laddr = netip.AddrPortFrom(la.WithZone(laddr.Addr().Zone()), c.laddr.Port())
	}
	if err := h.addSockLocked(c); err != nil {
		return fail("socket", err)
	}
	return c, "", nil
}

// udpFamily picks a socket's family as package net does on Linux: by the
// network's suffix, else dual-stack for a wildcard listener, else by the
// addresses. A specific local address of another family than the remote
// one fails.
func udpFamily(network string, laddr, raddr netip.AddrPort) (family, error) {
	if err := checkFamily(network, laddr); err != nil {
		return 0, err
	}
	if err := checkFamily(network, raddr); err != nil {
		return 0, err
	}
	la, ra := laddr.Addr(), raddr.Addr()
	if ra.IsValid() && la.IsValid() && !la.IsUnspecified() && la.Is4() != ra.Is4() {
		return 0, &net.AddrError{Err: "local and remote addresses of different families", Addr: laddr.String()}
	}
	switch {
	case network == "udp4":
		return fam4, nil
	case network == "udp6":
		return fam6, nil
	case ra.IsValid():
		if ra.Is4() {
			return fam4, nil
		}
		return fam6, nil
	case !la.IsValid() || la.IsUnspecified():
		return famDual, nil
	case la.Is4():
		return fam4, nil
	}
	return fam6, nil
}

// closeLocked releases the pcb, the memberships and the queue (h.mu held).
func (c *UDPConn) closeLocked() {
	if c.pcb != nil {
		c.pcb.Close()
	}
	for _, g := range c.groups {
		_ = c.h.s.LeaveGroup(stackNIC(g.nic), g.group)
	}
	c.groups = nil
	c.releaseLocked()
}

func (c *UDPConn) err(op, call string, addr net.Addr, err error) error {
	if addr == nil && c.raddr.IsValid() {
		addr = udpAddr(c.raddr)
	}
	return opError(op, c.network, udpAddr(c.laddr), addr, call, err)
}

// Read reads the next datagram from the connected peer into b. It
// implements net.Conn.
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.recv(b)
	if err != nil {
		return 0, c.err("read", "read", nil, err)
	}
	return n, nil
}

// ReadFrom reads the next datagram into b and returns its sender as a
// *net.UDPAddr. It implements net.PacketConn.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.recv(b)
	if err != nil {
		return 0, nil, c.err("read", "recvfrom", nil, err)
	}
	return n, udpAddr(from), nil
}

// ReadFromUDP is ReadFrom with a *net.UDPAddr result.
func (c *UDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, from, err := c.recv(b)
	if err != nil {
		return 0, nil, c.err("read", "recvfrom", nil, err)
	}
	return n, udpAddr(from), nil
}

// ReadFromUDPAddrPort is ReadFrom with a netip.AddrPort result; it
// allocates nothing.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, from, err := c.recv(b)
	if err != nil {
		return 0, netip.AddrPort{}, c.err("read", "recvfrom", nil, err)
	}
	return n, from, nil
}

// Write sends b to the connected peer. It implements net.Conn; on an
// unconnected socket it fails with EDESTADDRREQ.
func (c *UDPConn) Write(b []byte) (int, error) {
	if !c.raddr.IsValid() {
		return 0, c.err("write", "write", nil, udp.ErrNotConnected)
	}
	if err := c.send(b, netip.AddrPort{}, true); err != nil {
		return 0, c.err("write", "write", nil, err)
	}
	return len(b), nil
}

// WriteTo sends b to addr, a *net.UDPAddr. It implements net.PacketConn;
// on a connected socket it fails with net.ErrWriteToConnected.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	a, ok := addr.(*net.UDPAddr)
	if !ok || a == nil {
		return 0, c.err("write", "sendto", addr, syscall.EINVAL)
	}
	return c.WriteToUDP(b, a)
}

// WriteToUDP sends b to addr.
func (c *UDPConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	dst, err := udpAddrPort(addr)
	if err != nil {
		return 0, c.err("write", "sendto", nilAddr(addr), err)
	}
	return c.writeTo(b, dst, addr)
}

// WriteToUDPAddrPort sends b to addr; it allocates nothing.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.writeTo(b, addr, nil)
}

func (c *UDPConn) writeTo(b []byte, dst netip.AddrPort, addr net.Addr) (int, error) {
	if c.raddr.IsValid() {
		return 0, c.err("write", "sendto", addr, net.ErrWriteToConnected)
	}
	if dst.Addr().Is4In6() {
		dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	}
	if !c.fam.accepts(dst.Addr()) {
		return 0, c.err("write", "sendto", addr, familyError(c.fam, dst.Addr()))
	}
	if err := c.send(b, dst, false); err != nil {
		if addr == nil {
			addr = udpAddr(dst)
		}
		return 0, c.err("write", "sendto", addr, err)
	}
	return len(b), nil
}

// send hands one datagram to the pcb under the core lock, after the pending
// error if there is one.
func (c *UDPConn) send(b []byte, dst netip.AddrPort, connected bool) error {
	if err := c.checkWrite(); err != nil {
		return err
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	c.mu.Lock()
	closed, pending := c.closed, c.takeErrorLocked()
	c.mu.Unlock()
	var err error
	switch {
	case closed:
		return net.ErrClosed
	case pending != nil:
		return pending
	case connected:
		err = c.pcb.Send(b)
	default:
		err = c.pcb.SendTo(b, dst)
	}
	h.rearmLocked()
	return err
}

// Close closes the socket: blocked reads return net.ErrClosed, the port is
// released and queued datagrams are freed.
func (c *UDPConn) Close() error {
	if err := c.close(c); err != nil {
		return c.err("close", "close", nil, err)
	}
	return nil
}

// LocalAddr returns the local address as a *net.UDPAddr.
func (c *UDPConn) LocalAddr() net.Addr { return udpAddr(c.laddr) }

// RemoteAddr returns the connected peer as a *net.UDPAddr, or nil.
func (c *UDPConn) RemoteAddr() net.Addr {
	if !c.raddr.IsValid() {
		return nil
	}
	return udpAddr(c.raddr)
}

// SetDeadline sets the read and write deadlines (see net.Conn). A
// deadline in the past makes reads and writes fail at once with
// os.ErrDeadlineExceeded; it may be moved while a read is blocked.
func (c *UDPConn) SetDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, true, true))
}

// SetReadDeadline sets the read deadline.
func (c *UDPConn) SetReadDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, true, false))
}

// SetWriteDeadline sets the write deadline. Writes never block, so only a
// deadline that has passed matters.
func (c *UDPConn) SetWriteDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, false, true))
}

// SetReadBuffer bounds the receive queue to bytes of payload
// (SO_RCVBUF), clamped to [2048, Config.Sockets.MaxReadBuffer].
func (c *UDPConn) SetReadBuffer(bytes int) error {
	if c.isClosing() {
		return c.err("set", "setsockopt", nil, net.ErrClosed)
	}
	return c.err("set", "setsockopt", nil, c.setReadBuffer(bytes))
}

// ReadBuffer returns the receive queue's bound in bytes.
func (c *UDPConn) ReadBuffer() int { return c.readBuffer() }

// SetWriteBuffer is accepted for compatibility: UDP keeps no send queue
// (a datagram goes to IP at once), so there is nothing to size.
func (c *UDPConn) SetWriteBuffer(bytes int) error {
	if bytes <= 0 {
		return c.err("set", "setsockopt", nil, syscall.EINVAL)
	}
	if c.isClosing() {
		return c.err("set", "setsockopt", nil, net.ErrClosed)
	}
	return nil
}
