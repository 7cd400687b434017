package stack

import (
	"net/netip"

	"github.com/featherip/featherip/wire"
)

// IPv6 forwarding between interfaces (RFC 8200, RFC 4443, RFC 4861 as a
// router), the IPv6 counterpart of forward.go.
//
// Switches: Config.IPv6.Forwarding turns IPv6 forwarding on for the
// stack (Linux's net.ipv6.conf.all.forwarding); the per-interface switch
// is the one IPv4 uses, SetForwarding, which covers both families: a
// packet is forwarded when the interface it came in on has forwarding on
// and the family's Config switch is set. Config.Forwarding (IPv4) and
// Config.IPv6.Forwarding are independent, so a stack may route one family
// and be a host for the other.
//
// A forwarded packet is copied once from the received frame into a pool
// buffer, its hop limit decremented (IPv6 has no header checksum) and
// sent to the next hop of the best route, resolved with NDP. The
// hop-by-hop options header is processed first (RFC 8200 4.3: unknown
// options take their action, with parameter problem messages). Then:
//   - hop limit 1 or 0: ICMPv6 time exceeded, code 0 (RFC 4443 3.3);
//   - no route (or only via loopback): destination unreachable, code 0
//     "no route to destination" (RFC 4443 3.1);
//   - a link-local source that would leave its link: destination
//     unreachable code 2 "beyond scope of source address" (RFC 4443 3.1,
//     RFC 4291 2.5.6, RFC 4007 9);
//   - larger than the next hop's (path) MTU: packet too big with that MTU
//     (RFC 4443 3.2); routers never fragment (RFC 8200 5);
//   - leaving on the interface it came in on toward a next hop on that
//     link, from a source on that link: a redirect (RFC 4861 8.2) from our
//     link-local address, and the packet is still forwarded.
//
// Never forwarded (counted): link-local destinations (RFC 4291 2.5.6),
// unspecified sources (2.5.2), multicast destinations (no multicast
// routing; the input path delivers or drops them), loopback and other
// impossible addresses (dropped by the input checks already), and
// unicast packets received in a link-layer multicast frame.
//
// An interface that forwards IPv6 acts as a router on its link (RFC 4861
// 6.2, RFC 4862 5): it joins ff02::2 (all-routers, reported by MLD),
// sends no router solicitations, ignores router advertisements for its
// own configuration (no SLAAC, default routers or prefixes from them; RFC
// 4862 5 lets routers skip them) and redirects (RFC 4861 8.1 is for
// hosts), and sets the router flag in its neighbor advertisements. It does
// not send router advertisements.

// Forwarding6 reports whether IPv6 packets received on an interface are
// forwarded: Config.IPv6.Forwarding is set and the interface has
// forwarding on (SetForwarding). Such an interface acts as a router.
func (s *Stack) Forwarding6(id NIC) bool {
	n := s.nic(id)
	return n != nil && s.forwards6(n)
}

// forwards6 reports whether n forwards IPv6 (and so acts as a router).
func (s *Stack) forwards6(n *nic) bool {
	return s.ipv6On() && s.cfg.IPv6.Forwarding && !n.noForward && n.kind != LinkLoopback
}

// routerMode6 runs when n starts or stops forwarding IPv6 while its
// autoconfiguration runs (and from ipv6InterfaceUp): a router joins
// all-routers and solicits no routers.
func (s *Stack) routerMode6(n *nic, on bool) {
	if !n.auto.started || n.kind == LinkLoopback {
		return
	}
	if on {
		n.auto.rsLeft = 0
		s.mldJoinSys(n, wire.IPv6AllRouters)
		return
	}
	s.mldLeaveSys(n, wire.IPv6AllRouters)
}

// forward6 handles a unicast packet received on n (not from loopback) for
// another node. p has passed the input checks (version, length, martian
// source and destination).
func (s *Stack) forward6(n *nic, p wire.IPv6, linkGroup bool) {
	st := &s.stats.IPv6
	pkt := p.Bytes()
	src, dst := p.Src(), p.Dst()
	switch {
	case linkGroup:
		// Unicast in a link multicast frame is not forwarded (as RFC 1812 5.3.4).
		st.InAddrErrors++
		return
	case src.IsUnspecified():
		st.InAddrErrors++ // RFC 4291 2.5.2: never forwarded
		st.InMartians++
		return
	case dst.IsLinkLocalUnicast(), dst.IsMulticast():
		st.InAddrErrors++ // RFC 4291 2.5.6: not ours, and never leaves the link
		return
	}
	if pkt[6] == wire.ProtoHopByHop && !s.forwardHBH(n, pkt) {
		return
	}
	if p.HopLimit() <= 1 {
		// RFC 8200 3, RFC 4443 3.3; RFC 4293 counts it in InHdrErrors.
		st.InHdrErrors++
		st.ForwHopLimitExceeded++
		s.icmp6Error(n, pkt, false, wire.ICMPv6TimeExceeded, wire.ICMPv6HopLimitExceeded, 0)
		return
	}
	r, out, ok := s.lookup(dst)
	if !ok || out.kind == LinkLoopback {
		st.OutNoRoutes++
		s.icmp6Error(n, pkt, false, wire.ICMPv6DestUnreachable, wire.ICMPv6NoRoute, 0)
		return
	}
	if out != n && src.IsLinkLocalUnicast() {
		st.ForwBeyondScope++
		s.icmp6Error(n, pkt, false, wire.ICMPv6DestUnreachable, wire.ICMPv6BeyondScope, 0)
		return
	}
	nextHop := dst
	if r.Gateway.IsValid() {
		nextHop = r.Gateway
	}
	if mtu := s.pathMTU(out, dst); len(pkt) > mtu {
		st.ForwTooBigs++
		s.icmp6Error(n, pkt, false, wire.ICMPv6PacketTooBig, 0, uint32(mtu))
		return
	}
	if out == n && n.kind == LinkEthernet && s.onLink6(n, src) {
		s.sendRedirect6(n, pkt, nextHop, dst)
	}
	b := s.pool.Get(len(pkt))
	if b == nil {
		s.stats.Link.PoolExhausted++
		st.InDiscards++
		return
	}
	d := b.Bytes()
	copy(d, pkt)
	wire.SetIPv6HopLimit(d, p.HopLimit()-1)
	st.ForwDatagrams++
	if out.kind == LinkIP {
		_ = s.linkSend6(out, b, wire.MAC{})
		return
	}
	_ = s.ndpResolve(out, b, nextHop)
}

// forwardHBH processes the hop-by-hop options header of a packet to be
// forwarded (RFC 8200 4.3); false drops the packet (an error may have
// been sent).
func (s *Stack) forwardHBH(n *nic, pkt []byte) bool {
	st := &s.stats.IPv6
	const base = wire.IPv6HeaderLen
	if len(pkt) < base+8 || len(pkt) < base+(int(pkt[base+1])+1)*8 {
		st.InHdrErrors++
		st.InTruncatedPkts++
		return false
	}
	h := pkt[base : base+(int(pkt[base+1])+1)*8]
	var rx rx6
	if rx.options(s, h, base, true) {
		return true
	}
	if rx.errType != 0 {
		s.icmp6Error(n, pkt, false, rx.errType, rx.errCode, uint32(rx.errPtr))
	}
	return false
}

// onLink6 reports whether src is a neighbor on n: link-local, or in an
// on-link prefix (a connected route) of n (RFC 4861 8.2).
func (s *Stack) onLink6(n *nic, src netip.Addr) bool {
	if src.IsLinkLocalUnicast() {
		return true
	}
	r, rn, ok := s.lookup(src)
	return ok && rn == n && !r.Gateway.IsValid()
}

// sendRedirect6 tells the source of pkt, a neighbor on n, to send to dst
// via target (a router on the link, by its link-local address, or dst
// itself when it is on-link): a redirect (RFC 4861 8.2, 4.5) from our
// link-local address with hop limit 255, carrying the target's link-layer
// address when known and as much of pkt as fits in the minimum MTU.
// Rate limited with the other ICMPv6 errors.
func (s *Stack) sendRedirect6(n *nic, pkt []byte, target, dst netip.Addr) {
	if target != dst && !target.IsLinkLocalUnicast() {
		return // RFC 4861 8.2: a router target must be named by its link-local address
	}
	src := netip.AddrFrom16([16]byte(pkt[8:24]))
	ll := n.usableLinkLocal()
	if ll.IsUnspecified() {
		return
	}
	if !s.ip6.icmpRL.allow(s.clock.Now()) {
		s.stats.ICMPv6.RateLimited++
		return
	}
	if s.ip6.redirectBuf == nil {
		s.ip6.redirectBuf = make([]byte, minMTU6-wire.IPv6HeaderLen)
	}
	m := s.ip6.redirectBuf
	l := wire.PutNDPRedirect(m, target, dst)
	if e := s.ip6.ndp.find(n.id, target); e != nil && e.mac != (wire.MAC{}) {
		l += wire.PutNDPLinkLayerOption(m[l:], wire.NDPOptTargetLinkAddr, e.mac)
	}
	q := len(pkt)
	if max := (len(m) - l - 8) &^ 7; q > max {
		q = max
	}
	l += wire.PutNDPRedirectedHeader(m[l:], pkt[:q])
	_ = s.sendICMPv6(n, ll, src, 255, false, m[:l])
}
