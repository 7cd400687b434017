package featherip

import (
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// PingConn is an ICMP echo "ping socket", like Linux's
// socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and golang.org/x/net/icmp's
// ListenPacket("udp4", ...): a net.PacketConn with *net.UDPAddr addresses
// whose port is ignored.
//
// The caller writes an ICMP echo request (type 8, code 0, at least the
// 8-byte header; RFC 792); featherip sets the identifier to the socket's and
// computes the checksum, leaving the caller's buffer alone. Reads return the
// echo replies (the ICMP message, without the IP header) whose identifier is
// the socket's and whose checksum is valid; replies with a bad checksum are
// dropped and counted in ShellStats.PingInErrors.
//
// IPv6 ping sockets ("udp6", like socket(AF_INET6, SOCK_DGRAM,
// IPPROTO_ICMPV6)) work the same way with ICMPv6 echo (RFC 4443): the
// caller writes an echo request (type 128, code 0), featherip sets the
// identifier and the stack computes the checksum over the IPv6
// pseudo-header; reads return echo replies (type 129). Link-local sources
// carry the arrival interface's name as their zone.
//
// All ping sockets of a Host share one raw ICMP pcb per family and are
// found by identifier (each family has its own identifiers, as on Linux).
type PingConn struct {
	dgramSock
	network string
	v6      bool
	id      uint16
	laddr   netip.Addr // zero: any
}

var _ net.PacketConn = (*PingConn)(nil)

// pingTable demultiplexes echo replies to ping sockets by identifier; it is
// guarded by h.mu.
type pingTable struct {
	pcb   *raw.PCB
	conns map[uint16]*PingConn
}

// ListenPing opens a ping socket. network is "udp4", "udp6" or "udp" (IPv6
// when address is an IPv6 address, else IPv4); address is "" or a local
// address ("10.0.0.1", "fd00::1", "fe80::1%eth0"), with an optional
// ":port" that chooses the echo identifier ("[fd00::1]:77"; Linux binds the
// identifier as the port; 0 or none: a random free one). Binding an
// identifier in use fails with EADDRINUSE, an address that is not the
// host's with EADDRNOTAVAIL. With a bound address, only replies to it are
// received and requests leave from it.
func (h *Host) ListenPing(network, address string) (*PingConn, error) {
	fail := func(call string, err error) (*PingConn, error) {
		return nil, opError("listen", network, nil, nil, call, err)
	}
	if err := checkUDPNetwork(network); err != nil {
		return fail("", err)
	}
	var ap netip.AddrPort
	if _, _, err := net.SplitHostPort(address); err == nil {
		if ap, err = parseUDPAddr(network, address, false); err != nil {
			return fail("", err)
		}
	} else {
		a, err := parseHost(network, address, false)
		if err == nil {
			ap = netip.AddrPortFrom(a, 0)
			err = checkFamily(network, ap)
		}
		if err != nil {
			return fail("", err)
		}
	}
	v6 := network == "udp6" || ap.Addr().Is6()
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		if v6 {
			ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
		}
	}
	c, call, err := h.listenPing(network, ap, v6)
	if err != nil {
		return nil, opError("listen", network, nil, udpAddr(ap), call, err)
	}
	return c, nil
}

func (h *Host) listenPing(network string, ap netip.AddrPort, v6 bool) (*PingConn, string, error) {
	c := &PingConn{network: network, v6: v6}
	c.dgramSock.init(h)
	if !ap.Addr().IsUnspecified() {
		c.laddr = ap.Addr()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, "socket", ErrClosed
	}
	if c.laddr.IsValid() && (c.laddr.Is6() != v6 || !h.s.IsLocal(c.laddr.WithZone(""))) {
		return nil, "bind", syscall.EADDRNOTAVAIL
	}
	t := c.table()
	if t.conns == nil {
		t.conns = make(map[uint16]*PingConn)
	}
	id := ap.Port()
	if id != 0 {
		if _, used := t.conns[id]; used {
			return nil, "bind", syscall.EADDRINUSE
		}
	} else {
		var ok bool
		if id, ok = t.freeID(h.s); !ok {
			return nil, "bind", syscall.EADDRINUSE
		}
	}
	if t.pcb == nil {
		proto, input := uint8(wire.ProtoICMP), h.pingInput
		if v6 {
			proto, input = wire.ProtoICMPv6, h.pingInput6
		}
		pcb, err := h.raw.NewPCB(proto)
		if err != nil {
			return nil, "socket", err
		}
		pcb.OnRecv(input)
		t.pcb = pcb
	}
	c.id = id
	t.conns[id] = c
	if err := h.addSockLocked(c); err != nil {
		c.closeLocked()
		return nil, "socket", err
	}
	return c, "", nil
}

// table returns the ping table of c's family (h.mu held).
func (c *PingConn) table() *pingTable {
	if c.v6 {
		return &c.h.pings6
	}
	return &c.h.pings
}

// freeID picks a random unused identifier (0 is kept for "unbound").
func (t *pingTable) freeID(s *stack.Stack) (uint16, bool) {
	for range 64 {
		id := uint16(s.Random())
		if _, used := t.conns[id]; id != 0 && !used {
			return id, true
		}
	}
	for id := 1; id <= 0xffff; id++ {
		if _, used := t.conns[uint16(id)]; !used {
			return uint16(id), true
		}
	}
	return 0, false
}

// pingInput hands echo replies to the ping socket with their identifier;
// it runs under the core lock for every ICMP datagram the host receives.
func (h *Host) pingInput(_ *raw.PCB, datagram []byte, info *raw.RecvInfo) {
	if info.IPv6 {
		return
	}
	ip, err := wire.ParseIPv4(datagram)
	if err != nil {
		return
	}
	m, err := wire.ParseICMPv4(ip.Payload())
	if err != nil || m.Type() != wire.ICMPv4EchoReply || m.Code() != 0 {
		return
	}
	c := h.pings.conns[m.ID()]
	if c == nil || (c.laddr.IsValid() && c.laddr != info.Dst) {
		return
	}
	if !m.ChecksumValid() {
		h.stats.pingInErrors.Add(1)
		return
	}
	c.deliver(ip.Payload(), netip.AddrPortFrom(info.Src, 0))
}

// pingInput6 hands ICMPv6 echo replies to the IPv6 ping socket with their
// identifier; it runs under the core lock for every ICMPv6 message the
// host receives (the raw pcb gets the message without the IPv6 header).
func (h *Host) pingInput6(_ *raw.PCB, msg []byte, info *raw.RecvInfo) {
	if !info.IPv6 {
		return
	}
	m, err := wire.ParseICMPv6(msg)
	if err != nil || m.Type() != wire.ICMPv6EchoReply || m.Code() != 0 {
		return
	}
	c := h.pings6.conns[m.ID()]
	if c == nil || (c.laddr.IsValid() && c.laddr.WithZone("") != info.Dst) {
		return
	}
	if !m.ChecksumValid(info.Src, info.Dst) {
		h.stats.pingInErrors.Add(1)
		return
	}
	c.deliver(msg, netip.AddrPortFrom(h.zonedLocked(info.Src, int(info.NIC)), 0))
}

func (c *PingConn) closeLocked() {
	t := c.table()
	if t.conns[c.id] == c {
		delete(t.conns, c.id)
		if len(t.conns) == 0 && t.pcb != nil {
			t.pcb.Close()
			t.pcb = nil
		}
	}
	c.releaseLocked()
}

func (c *PingConn) err(op, call string, addr net.Addr, err error) error {
	return opError(op, c.network, c.LocalAddr(), addr, call, err)
}

// ID returns the socket's echo identifier.
func (c *PingConn) ID() uint16 { return c.id }

// LocalAddr returns the bound address with the identifier as the port, as
// Linux's getsockname does for ping sockets.
func (c *PingConn) LocalAddr() net.Addr {
	a := c.laddr
	switch {
	case a.IsValid():
	case c.v6:
		a = netip.IPv6Unspecified()
	default:
		a = netip.IPv4Unspecified()
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, c.id))
}

// ReadFrom reads the next echo reply (ICMP header and data) into b and
// returns its source as a *net.UDPAddr with port 0.
func (c *PingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.recv(b)
	if err != nil {
		return 0, nil, c.err("read", "recvfrom", nil, err)
	}
	return n, udpAddr(from), nil
}

// ReadFromAddr is ReadFrom with a netip.Addr result; it allocates nothing.
func (c *PingConn) ReadFromAddr(b []byte) (int, netip.Addr, error) {
	n, from, err := c.recv(b)
	if err != nil {
		return 0, netip.Addr{}, c.err("read", "recvfrom", nil, err)
	}
	return n, from.Addr(), nil
}

// WriteTo sends the echo request b to addr (a *net.UDPAddr or *net.IPAddr).
// b must be an ICMP echo request (type 8, code 0, at least 8 bytes; over
// IPv6 an ICMPv6 one, type 128): EINVAL otherwise. An address of the
// other family fails as package net's sockets fail.
func (c *PingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	dst, err := ipOf(addr)
	if err != nil {
		return 0, c.err("write", "sendto", addr, err)
	}
	return c.writeTo(b, dst, addr)
}

// WriteToAddr sends the echo request b to dst; it allocates nothing in
// steady state.
func (c *PingConn) WriteToAddr(b []byte, dst netip.Addr) (int, error) {
	return c.writeTo(b, dst, nil)
}

// maxPing is the largest ICMP message in an IPv4 datagram without options,
// maxPing6 the largest ICMPv6 one (the IPv6 payload length, no jumbograms).
const (
	maxPing  = 65535 - wire.IPv4MinHeaderLen
	maxPing6 = 65535
)

func (c *PingConn) writeTo(b []byte, dst netip.Addr, addr net.Addr) (int, error) {
	err := c.checkWrite()
	if dst.Is4In6() {
		dst = dst.Unmap()
	}
	echo, limit, fam := uint8(wire.ICMPv4Echo), maxPing, fam4
	if c.v6 {
		echo, limit, fam = wire.ICMPv6EchoRequest, maxPing6, fam6
	}
	switch {
	case err != nil:
	case !fam.accepts(dst):
		err = familyError(fam, dst)
	case len(b) < wire.ICMPv4HeaderLen || b[0] != echo || b[1] != 0:
		err = syscall.EINVAL
	case len(b) > limit:
		err = syscall.EMSGSIZE
	default:
		err = c.send(b, dst)
	}
	if err != nil {
		if addr == nil {
			addr = udpAddr(netip.AddrPortFrom(dst, 0))
		}
		return 0, c.err("write", "sendto", addr, err)
	}
	return len(b), nil
}

// send copies b into the host's scratch buffer, sets the identifier and the
// checksum (the raw pcb computes ICMPv6's over the pseudo-header) and sends
// it through the shared pcb (bound to c's address for the call when c has
// one).
func (c *PingConn) send(b []byte, dst netip.Addr) error {
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.rearmLocked()
	t := c.table()
	if c.closedLocked() || t.pcb == nil {
		return net.ErrClosed
	}
	if cap(h.scratch) < len(b) {
		h.scratch = make([]byte, len(b), max(len(b), 2048))
	}
	msg := h.scratch[:len(b)]
	copy(msg, b)
	msg[4], msg[5] = byte(c.id>>8), byte(c.id)
	msg[2], msg[3] = 0, 0
	if !c.v6 {
		wire.SetICMPv4Checksum(msg)
	}
	pcb := t.pcb
	if c.laddr.IsValid() {
		if err := pcb.Bind(c.laddr); err != nil {
			return err
		}
		defer pcb.Bind(netip.Addr{})
	}
	return pcb.SendTo(msg, dst)
}

// Close closes the socket: blocked reads return net.ErrClosed and the
// identifier is free again.
func (c *PingConn) Close() error {
	if err := c.close(c); err != nil {
		return c.err("close", "close", nil, err)
	}
	return nil
}

// SetDeadline sets the read and write deadlines.
func (c *PingConn) SetDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, true, true))
}

// SetReadDeadline sets the read deadline.
func (c *PingConn) SetReadDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, true, false))
}

// SetWriteDeadline sets the write deadline (writes never block).
func (c *PingConn) SetWriteDeadline(t time.Time) error {
	return c.err("set", "", nil, c.setDeadline(t, false, true))
}

// SetReadBuffer bounds the receive queue (see UDPConn.SetReadBuffer).
func (c *PingConn) SetReadBuffer(bytes int) error {
	return c.err("set", "setsockopt", nil, c.setReadBuffer(bytes))
}
