package udp

import (
	"net/netip"

	"github.com/featherip/featherip/stack"
)

// RecvInfo describes a received datagram. The OnRecv callback gets a
// pointer that is valid only during the call.
type RecvInfo struct {
	// Src is the sender's address and port. An IPv6 link-local source
	// carries the arrival interface's name as its zone (RFC 4007), so a
	// reply sent to Src leaves on that interface.
	Src netip.AddrPort
	// Dst is the datagram's destination address (ours, a broadcast or a
	// multicast group).
	Dst netip.Addr
	// NIC is the interface the datagram arrived on.
	NIC stack.NIC
	// TTL and TOS are the IPv4 header's TTL and TOS, or the IPv6 hop
	// limit and traffic class.
	TTL, TOS uint8
	// Broadcast and Multicast tell the kind of destination.
	Broadcast, Multicast bool
}

// PCB is a UDP or UDP-Lite protocol control block: one endpoint, bound to
// a local address and port and optionally connected to a remote one. A
// PCB belongs to its Protocol's stack and, like it, is not safe for
// concurrent use.
type PCB struct {
	p    *Protocol
	lite bool

	bindAddr netip.Addr // address given to Bind (unspecified = any)
	local    netip.Addr // effective local address (route source once connected)
	port     uint16     // 0 while unbound
	remote   netip.AddrPort
	conn     bool
	closed   bool

	reuse     bool
	dual      bool // bound to the wildcard of both families
	v6only    bool // IPV6_V6ONLY: a bind to :: takes IPv6 only
	broadcast bool
	checksum  bool
	coverage  int
	ttl, tos  uint8
	mcastTTL  uint8
	mcastLoop bool
	mcastNIC  stack.NIC

	zone string // the zone of a link-local or multicast remote given to Connect

	onRecv func(c *PCB, data []byte, info *RecvInfo)
	onErr  func(c *PCB, err error)
}

var anyAddr = netip.IPv4Unspecified()

// norm4 maps an address to the form PCBs keep: the zero Addr and the
// IPv4 and IPv6 unspecified addresses become 0.0.0.0 (the wildcard),
// IPv4-mapped IPv6 addresses are unmapped, IPv6 addresses lose their zone
// (the route picks the interface). ok is always true; it is kept for the
// callers' shape. Bind keeps which wildcard it was given (wildcardOf).
func norm4(a netip.Addr) (netip.Addr, bool) {
	if !a.IsValid() || a.IsUnspecified() {
		return anyAddr, true
	}
	return a.Unmap().WithZone(""), true
}

// Bind binds c to a local address and port. An unspecified address means
// every local address: 0.0.0.0 those of IPv4 only (an AF_INET socket), ::
// and the zero Addr those of both families (a dual-stack AF_INET6 socket),
// or of IPv6 only after SetV6Only(true). Port 0 picks a random free
// ephemeral port (RFC 6056). The address must be one of the stack's, a
// broadcast or a multicast group (ErrAddrNotAvailable). The port rules are
// in the package comment (ErrAddrInUse). A bound PCB may be bound again;
// it keeps its remote.
func (c *PCB) Bind(local netip.AddrPort) error {
	if c.closed {
		return ErrClosed
	}
	a, dual := c.wildcardOf(local.Addr())
	if !a.IsUnspecified() && !c.p.bindable(a) {
		return ErrAddrNotAvailable
	}
	port := local.Port()
	if port == 0 {
		var err error
		if port, err = c.p.ephemeral(c.lite); err != nil {
			return err
		}
	} else if c.p.conflict(c, a, dual, port, c.reuse) {
		return ErrAddrInUse
	}
	c.bindAddr, c.port, c.dual = a, port, dual
	c.local = a
	if c.conn && a.IsUnspecified() {
		c.local = c.p.sourceFor(c, c.remoteZoned().Addr())
	}
	return nil
}

// wildcardOf returns the address c keeps for a bind to a and whether it is
// the wildcard of both families (the dual-stack wildcard is kept as
// 0.0.0.0; the IPv4-only one as 0.0.0.0 too, the IPv6-only one as ::).
// Specific addresses are unmapped and lose their zone.
func (c *PCB) wildcardOf(a netip.Addr) (netip.Addr, bool) {
	switch {
	case !a.IsValid() || a == netip.IPv6Unspecified():
		if c.v6only {
			return netip.IPv6Unspecified(), false
		}
		return anyAddr, true
	case a.IsUnspecified() || a.Is4In6() && a.Unmap().IsUnspecified():
		return anyAddr, false
	}
	n, _ := norm4(a)
	return n, false
}

// bindAny binds an unbound c to the wildcard and port before an implicit
// bind (Connect, SendTo): the wildcard of both families, or of IPv6 only
// after SetV6Only(true).
func (c *PCB) bindAny(port uint16) {
	a, dual := c.wildcardOf(netip.Addr{})
	c.bindAddr, c.local, c.port, c.dual = a, a, port, dual
}

// takesFamily reports whether c's bound address may cover dst (unmapped):
// a specific address may (the callers compare it), the wildcard of its
// family, or both families when dual. It is on the per-datagram path.
func (c *PCB) takesFamily(dst netip.Addr) bool {
	return c.dual || !c.bindAddr.IsUnspecified() || c.bindAddr.Is4() == dst.Is4()
}

// bindable reports whether a may be a PCB's local address: one of ours,
// the limited broadcast, a directed broadcast of one of our subnets, or a
// multicast group.
func (p *Protocol) bindable(a netip.Addr) bool {
	if p.s.IsLocal(a) || a.IsMulticast() || a == limitedBroadcast {
		return true
	}
	for _, in := range p.s.Interfaces() {
		if p.s.IsBroadcast(in.NIC, a) {
			return true
		}
	}
	return false
}

// conflict reports whether binding c to addr:port (dual: the wildcard of
// both families) clashes with another PCB of the same kind (UDP or
// UDP-Lite).
func (p *Protocol) conflict(c *PCB, addr netip.Addr, dual bool, port uint16, reuse bool) bool {
	for _, x := range p.pcbs {
		if x == c || x.lite != c.lite || x.port != port {
			continue
		}
		if !stack.BindsOverlap(addr, dual, x.bindAddr, x.dual) {
			continue // distinct specific addresses, or wildcards of distinct families
		}
		if reuse && x.reuse {
			continue
		}
		return true
	}
	return false
}

// ephemeral returns a free port from the ephemeral range, chosen with RFC
// 6056 algorithm 1 (simple port randomization): a random starting point,
// then a linear search for a free port. ErrAddrInUse when all are taken.
func (p *Protocol) ephemeral(lite bool) (uint16, error) {
	lo, hi := uint32(p.cfg.EphemeralLow), uint32(p.cfg.EphemeralHigh)
	num := hi - lo + 1
	next := uint32(p.s.Random() % uint64(num))
	for i := uint32(0); i < num; i++ {
		port := uint16(lo + (next+i)%num)
		if p.portFree(lite, port) {
			return port, nil
		}
	}
	return 0, ErrAddrInUse
}

// portFree reports whether no PCB of the kind uses port at all.
func (p *Protocol) portFree(lite bool, port uint16) bool {
	for _, x := range p.pcbs {
		if x.lite == lite && x.port == port {
			return false
		}
	}
	return true
}

// sourceFor returns the source address c uses towards dst: its bound
// address, else the route's preferred source, else the wildcard.
func (p *Protocol) sourceFor(c *PCB, dst netip.Addr) netip.Addr {
	if !c.bindAddr.IsUnspecified() {
		return c.bindAddr
	}
	if dst.IsMulticast() || dst == limitedBroadcast {
		return c.bindAddr
	}
	if src, _, _, err := p.s.Route(dst); err == nil && src.IsValid() {
		return src
	}
	return c.bindAddr
}

// Connect sets c's remote: Send goes there, and only datagrams from there
// are received. An unbound PCB is bound to a random ephemeral port first.
// When c is bound to the wildcard, its local address becomes the route's
// source address towards remote (as in Linux) until Disconnect; without a
// route it stays the wildcard (and sending reports the missing route). A PCB
// sharing its port with ReuseAddr may not connect to the remote another
// such PCB is connected to (ErrAddrInUse). The remote must be an IPv4 or
// IPv6 address other than 0.0.0.0 / :: with a nonzero port (ErrInvalid).
func (c *PCB) Connect(remote netip.AddrPort) error {
	if c.closed {
		return ErrClosed
	}
	ra, ok := norm4(remote.Addr())
	if !ok || ra.IsUnspecified() || remote.Port() == 0 {
		return ErrInvalid
	}
	r := netip.AddrPortFrom(ra, remote.Port())
	if c.port == 0 {
		port, err := c.p.ephemeral(c.lite)
		if err != nil {
			return err
		}
		c.bindAny(port)
	}
	if !c.takesFamily(ra) {
		return ErrInvalid // a one-family wildcard and a remote of the other
	}
	local := c.p.sourceFor(c, ra.WithZone(remote.Addr().Zone()))
	for _, x := range c.p.pcbs {
		if x != c && x.lite == c.lite && x.port == c.port && x.conn && x.remote == r &&
			(x.local == local || x.local.IsUnspecified() || local.IsUnspecified()) {
			return ErrAddrInUse
		}
	}
	c.remote, c.conn, c.local = r, true, local
	c.zone = ""
	if z := remote.Addr().Zone(); z != "" && (ra.IsLinkLocalUnicast() || ra.IsMulticast()) {
		c.zone = z // kept for sending: the zone picks the interface (RFC 4007)
	}
	return nil
}

// Disconnect removes c's remote; c keeps its port and bound address and
// receives from everyone again.
func (c *PCB) Disconnect() {
	c.remote, c.conn, c.zone = netip.AddrPort{}, false, ""
	c.local = c.bindAddr
}

// OnRecv sets the receive callback. data (the payload) and info are valid
// only during the call. A PCB without a callback drops what it receives
// (counted in RcvbufErrors and InErrors).
func (c *PCB) OnRecv(fn func(c *PCB, data []byte, info *RecvInfo)) { c.onRecv = fn }

// OnError sets the callback for ICMP errors about datagrams a connected c
// sent: ErrConnRefused (port or protocol unreachable), ErrHostUnreachable
// (host unreachable, time exceeded, ...), ErrNetUnreachable,
// ErrMessageTooLong (fragmentation needed), ErrProtocol (parameter
// problem). Unconnected PCBs get no errors (RFC 1122 4.1.3.3 leaves it to
// the application; Linux reports them only on connected sockets).
func (c *PCB) OnError(fn func(c *PCB, err error)) { c.onErr = fn }

// SetBroadcast allows sending to broadcast addresses (SO_BROADCAST).
func (c *PCB) SetBroadcast(on bool) { c.broadcast = on }

// SetMulticastTTL sets the TTL of multicast datagrams (default 1,
// RFC 1112). 0 selects the stack's default TTL.
func (c *PCB) SetMulticastTTL(ttl uint8) { c.mcastTTL = ttl }

// SetMulticastLoop sets whether multicast datagrams c sends are also
// delivered on this host when it joined the group (default on, as Linux).
func (c *PCB) SetMulticastLoop(on bool) { c.mcastLoop = on }

// SetMulticastInterface sets the interface multicast and limited-broadcast
// datagrams leave by (0: by route).
func (c *PCB) SetMulticastInterface(nic stack.NIC) { c.mcastNIC = nic }

// SetTTL sets the TTL of unicast and broadcast datagrams (0: the stack's
// default).
func (c *PCB) SetTTL(ttl uint8) { c.ttl = ttl }

// SetTOS sets the IPv4 TOS byte of datagrams c sends.
func (c *PCB) SetTOS(tos uint8) { c.tos = tos }

// SetChecksum turns the UDP checksum on (the default) or off. Off sends a
// zero checksum field, meaning "not computed" (RFC 768, IPv4 only: over
// IPv6 the checksum is always sent, RFC 8200 8.1). It has no effect on
// UDP-Lite, whose checksum is mandatory.
func (c *PCB) SetChecksum(on bool) { c.checksum = on }

// SetChecksumCoverage sets how many bytes, counting from the first byte of
// the UDP-Lite header, the checksum covers (RFC 3828 3.1). 0 (the default)
// covers the whole datagram. Sending fails with ErrInvalid when a nonzero
// coverage is below 8 or above the datagram length. No effect on UDP.
func (c *PCB) SetChecksumCoverage(n int) { c.coverage = n }

// SetV6Only makes a later bind to the IPv6 wildcard (:: or the zero Addr,
// also the implicit bind of Connect and SendTo) take IPv6 only, as
// IPV6_V6ONLY does: the PCB then neither receives IPv4 nor clashes with
// IPv4 binds of its port. It has no effect on binds to other addresses
// and must be set before Bind.
func (c *PCB) SetV6Only(on bool) { c.v6only = on }

// SetReuseAddr allows c to share its port (SO_REUSEADDR); it must be set
// before Bind and on every PCB that shares the port.
func (c *PCB) SetReuseAddr(on bool) { c.reuse = on }

// LocalAddr returns c's local address and port (0.0.0.0:0 while unbound).
func (c *PCB) LocalAddr() netip.AddrPort {
	a := c.local
	if !a.IsValid() {
		a = anyAddr
	}
	return netip.AddrPortFrom(a, c.port)
}

// RemoteAddr returns c's remote address, or the zero AddrPort when c is
// not connected.
func (c *PCB) RemoteAddr() netip.AddrPort { return c.remoteZoned() }

// remoteZoned is c's remote with the zone Connect was given, if any.
func (c *PCB) remoteZoned() netip.AddrPort {
	if c.zone == "" {
		return c.remote
	}
	return netip.AddrPortFrom(c.remote.Addr().WithZone(c.zone), c.remote.Port())
}

// IsLite reports whether c is a UDP-Lite PCB.
func (c *PCB) IsLite() bool { return c.lite }

// Close releases c: it leaves the tables, its port becomes free and its
// callbacks are dropped. Methods return ErrClosed afterwards. Close may be
// called from within c's callbacks and more than once.
func (c *PCB) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.p.remove(c)
	c.port = 0
	c.conn = false
	c.onRecv, c.onErr = nil, nil
}
