package stack

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// IPv6 output (RFC 8200): routing with zones for link-local destinations
// (RFC 4007), source address selection (srcaddr.go, RFC 6724), the path
// MTU cache (RFC 8201), fragmentation at the source (ipv6_fragment.go) and
// link address resolution (ndp.go).

// is6 reports whether a is a native IPv6 address (not IPv4-mapped).
func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

// WriteIP sends a datagram of either family: it dispatches on o.Dst to
// WriteIPv4 (IPv4 and IPv4-mapped IPv6 destinations) or WriteIPv6. It takes
// ownership of b.
func (s *Stack) WriteIP(b *pbuf.Buf, o *WriteOptions) error {
	if o != nil && is6(o.Dst) {
		return s.WriteIPv6(b, o)
	}
	if o != nil && o.Dst.Is4In6() {
		c := *o
		c.Dst, c.Src = o.Dst.Unmap(), o.Src.Unmap()
		return s.WriteIPv4(b, &c)
	}
	return s.WriteIPv4(b, o)
}

// WriteIPv6 takes ownership of b (always, also on error); b holds the
// upper-layer header and data. It prepends the IPv6 header (and a
// hop-by-hop header with a router alert when o.RouterAlert is set),
// chooses the source address when o.Src is zero (RFC 6724), fragments at
// the source by the path MTU unless o.DontFragment (ErrMessageTooLong),
// resolves the next hop with NDP and sends. o.TTL is the hop limit (0 =>
// the interface's hop limit from router advertisements, else
// Config.IPv6.HopLimit; 1 for multicast), o.TOS the traffic class. A zone
// on o.Dst (interface name or index) picks the interface of a link-local
// or multicast destination, like o.NIC. Local destinations loop back.
func (s *Stack) WriteIPv6(b *pbuf.Buf, o *WriteOptions) error {
	if b == nil {
		return ErrInvalid
	}
	if o != nil && o.GSO > 0 && s.ipv6On() {
		if done, err := s.writeGSO(b, o, true); done {
			return err
		}
	}
	st := &s.stats.IPv6
	st.OutRequests++
	if !s.ipv6On() || o == nil || !is6(o.Dst) || o.Dst.IsUnspecified() || (o.Src.IsValid() && !is6(o.Src)) {
		b.Free()
		st.OutDiscards++
		return ErrInvalid
	}
	ext := 0
	if o.RouterAlert {
		ext = 8
	}
	if ext+b.Len() > 0xffff {
		b.Free()
		st.OutDiscards++
		return ErrMessageTooLong
	}
	var rt outRoute
	if err := s.route6(o.Dst, o.NIC, &rt); err != nil {
		b.Free()
		if err == ErrNoRoute {
			st.OutNoRoutes++
		} else {
			st.OutDiscards++
		}
		return err
	}
	src := o.Src.WithZone("")
	if !src.IsValid() {
		src = rt.src
		if !src.IsValid() {
			b.Free()
			st.OutDiscards++
			return ErrAddrNotAvailable
		}
	}
	dst := o.Dst.WithZone("")
	hop := o.TTL
	if hop == 0 {
		hop = s.hopLimit6(rt.nic)
		if dst.IsMulticast() {
			hop = 1
		}
	}
	hl := wire.IPv6HeaderLen + ext
	plen := ext + b.Len()
	if b.Prepend(hl) == nil {
		if b = s.regrow(b, hl); b == nil {
			st.OutDiscards++
			return ErrBufferFull
		}
	}
	d := b.Bytes()
	h := wire.IPv6Header{TrafficClass: o.TOS, FlowLabel: o.FlowLabel, PayloadLength: plen, NextHeader: o.Protocol, HopLimit: hop, Src: src, Dst: dst}
	if ext > 0 {
		h.NextHeader = wire.ProtoHopByHop
		putRouterAlertHBH(d[wire.IPv6HeaderLen:], o.Protocol)
	}
	h.Encode(d)
	if o.Protocol == wire.ProtoICMPv6 {
		s.countICMPv6Out(d[hl:])
	}
	return s.output6(b, &rt, o.MulticastLoop, o.DontFragment)
}

// hopLimit6 is the default hop limit of unicast packets sent on n: the
// Cur Hop Limit of the last router advertisement received on n (RFC 4861
// 6.3.4), else Config.IPv6.HopLimit.
func (s *Stack) hopLimit6(n *nic) uint8 {
	if n != nil && n.auto.curHopLimit != 0 {
		return n.auto.curHopLimit
	}
	return s.cfg.IPv6.HopLimit
}

// putRouterAlertHBH writes an 8-byte hop-by-hop header holding a router
// alert option for MLD (RFC 2711, RFC 3810 5) and two bytes of padding.
func putRouterAlertHBH(b []byte, next uint8) {
	b[0], b[1] = next, 0
	b[2], b[3], b[4], b[5] = wire.IPv6OptRouterAlert, 2, 0, wire.IPv6RouterAlertMLD
	b[6], b[7] = wire.IPv6OptPadN, 0
}

// WriteIPv6Raw sends a packet whose IPv6 header the caller built. The
// stack sets the payload length and, when the source is ::, chooses one
// (RFC 6724); it routes by the header's destination and fragments by the
// path MTU. Takes ownership of b.
func (s *Stack) WriteIPv6Raw(b *pbuf.Buf) error {
	if b == nil {
		return ErrInvalid
	}
	st := &s.stats.IPv6
	st.OutRequests++
	d := b.Bytes()
	if !s.ipv6On() || len(d) < wire.IPv6HeaderLen || d[0]>>4 != 6 {
		b.Free()
		st.OutDiscards++
		return ErrInvalid
	}
	if len(d)-wire.IPv6HeaderLen > 0xffff {
		b.Free()
		st.OutDiscards++
		return ErrMessageTooLong
	}
	dst := netip.AddrFrom16([16]byte(d[24:40]))
	var rt outRoute
	if err := s.route6(dst, 0, &rt); err != nil {
		b.Free()
		if err == ErrNoRoute {
			st.OutNoRoutes++
		} else {
			st.OutDiscards++
		}
		return err
	}
	binary.BigEndian.PutUint16(d[4:6], uint16(len(d)-wire.IPv6HeaderLen))
	if [16]byte(d[8:24]) == [16]byte{} && rt.src.IsValid() {
		a := rt.src.As16()
		copy(d[8:24], a[:])
	}
	return s.output6(b, &rt, false, false)
}

// nicByZone finds the interface a zone names: its name or its index.
func (s *Stack) nicByZone(z string) *nic {
	for _, n := range s.nics {
		if n.name == z {
			return n
		}
	}
	if i, err := strconv.Atoi(z); err == nil {
		return s.nic(NIC(i))
	}
	return nil
}

// isLocal6 reports whether a is one of our usable IPv6 addresses or ::1.
func (s *Stack) isLocal6(a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	for _, n := range s.nics {
		if n.hasAddr6(a) {
			return true
		}
	}
	return false
}

// route6 decides how to send to the IPv6 destination dst (possibly with a
// zone); via != 0 pins the interface.
func (s *Stack) route6(dst netip.Addr, via NIC, rt *outRoute) error {
	*rt = outRoute{}
	if z := dst.Zone(); z != "" {
		zn := s.nicByZone(z)
		if zn == nil {
			return ErrNoSuchInterface
		}
		if via != 0 && via != zn.id {
			return ErrInvalid
		}
		via = zn.id
		dst = dst.WithZone("")
	}
	if dst.IsLoopback() || s.isLocal6(dst) {
		rt.nic, rt.kind, rt.nextHop, rt.src = s.nic(LoopbackNIC), dstLocal, dst, dst
		return nil
	}
	var n *nic
	linkScope := dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() || dst.IsInterfaceLocalMulticast()
	switch {
	case via != 0:
		n = s.nic(via)
		if n == nil {
			return ErrNoSuchInterface
		}
		if !n.up {
			return ErrNoRoute
		}
		rt.nextHop = dst
		if !linkScope && !dst.IsMulticast() {
			if r, rn, ok := s.lookup(dst); ok && rn == n && r.Gateway.IsValid() {
				rt.nextHop = r.Gateway
			}
		}
	case linkScope:
		// No zone: a route for it, else the first interface up with IPv6.
		if _, rn, ok := s.lookup(dst); ok {
			n = rn
		} else {
			for _, x := range s.nics {
				if x.up && x.kind != LinkLoopback && len(x.ip6.addrs) > 0 {
					n = x
					break
				}
			}
		}
		if n == nil {
			return ErrNoRoute
		}
		rt.nextHop = dst
	default:
		r, rn, ok := s.lookup(dst)
		if !ok {
			return ErrNoRoute
		}
		n = rn
		rt.nextHop = dst
		if r.Gateway.IsValid() {
			rt.nextHop = r.Gateway
		}
	}
	if !linkScope && !dst.IsMulticast() {
		// A redirect (RFC 4861 8.3) names a better first hop for dst, or
		// says dst is on-link (hop == dst).
		if hop, ok := s.redirectNextHop(n, dst); ok {
			rt.nextHop = hop
		}
	}
	rt.nic = n
	rt.kind = dstUnicast
	if dst.IsMulticast() {
		rt.kind = dstMulticast
		rt.nextHop = netip.Addr{}
	}
	rt.src = s.selectSource(dst, n)
	return nil
}

// output6 sends a packet whose IPv6 header is complete along rt. Takes
// ownership of b.
func (s *Stack) output6(b *pbuf.Buf, rt *outRoute, mcastLoop, dontFrag bool) error {
	n := rt.nic
	st := &s.stats.IPv6
	if rt.kind == dstLocal || n.kind == LinkLoopback {
		if !s.loopEnqueue(b, LoopbackNIC) {
			st.OutDiscards++
			return ErrBufferFull
		}
		return nil
	}
	d := b.Bytes()
	dst := netip.AddrFrom16([16]byte(d[24:40]))
	if rt.kind == dstMulticast {
		st.OutMcastPkts++
		if mcastLoop && n.inGroup6(dst) {
			if c := s.pool.Get(len(d)); c != nil {
				copy(c.Bytes(), d)
				s.loopEnqueue(c, n.id)
			} else {
				s.stats.Link.PoolExhausted++
			}
		}
	}
	if dontFrag && len(d) > s.pathMTU(n, dst) {
		b.Free()
		st.FragFails++
		st.OutDiscards++
		return ErrMessageTooLong
	}
	if n.kind == LinkIP {
		return s.transmit6(n, b, wire.MAC{})
	}
	if rt.kind == dstMulticast {
		return s.transmit6(n, b, wire.IPv6MulticastMAC(dst))
	}
	return s.ndpResolve(n, b, rt.nextHop)
}

// transmit6 sends an IPv6 packet to mac on n, fragmenting it when it
// exceeds the path MTU. Takes ownership of b.
func (s *Stack) transmit6(n *nic, b *pbuf.Buf, mac wire.MAC) error {
	d := b.Bytes()
	if mtu := s.pathMTU(n, netip.AddrFrom16([16]byte(d[24:40]))); len(d) > mtu {
		return s.fragment6(n, b, mac, mtu)
	}
	return s.linkSend6(n, b, mac)
}

// linkSend6 adds the Ethernet header (type IPv6) when n needs one and
// hands the frame to the driver. Takes ownership of b.
func (s *Stack) linkSend6(n *nic, b *pbuf.Buf, mac wire.MAC) error {
	defer b.Free()
	if !n.up {
		s.stats.Link.NoInterface++
		s.stats.IPv6.OutDiscards++
		return ErrNoRoute
	}
	if n.kind == LinkEthernet {
		h := b.Prepend(wire.EthernetHeaderLen)
		if h == nil {
			s.stats.Link.SendErrors++
			return ErrBufferFull
		}
		wire.PutEthernet(h, mac, n.mac, wire.EtherTypeIPv6)
	}
	return s.linkSendRaw(n, b.Bytes())
}

// pmtuEntry is one path MTU learned from packet too big (RFC 8201).
type pmtuEntry struct {
	dst     netip.Addr
	mtu     int
	expires time.Duration
}

// pathMTU is the MTU towards dst via n: the link MTU, lowered by a cached
// path MTU that has not aged out.
func (s *Stack) pathMTU(n *nic, dst netip.Addr) int {
	mtu := n.mtu6()
	now := s.clock.Now()
	for i := range s.ip6.pmtu {
		e := &s.ip6.pmtu[i]
		if e.dst == dst && e.dst.IsValid() {
			if e.expires <= now {
				*e = pmtuEntry{}
				break
			}
			if e.mtu < mtu {
				mtu = e.mtu
			}
			break
		}
	}
	return mtu
}

// pmtuLower lowers the path MTU to dst to mtu (never below 1280, never
// raising it, RFC 8201 4). It reports whether the estimate changed.
func (s *Stack) pmtuLower(dst netip.Addr, mtu int) bool {
	if mtu < minMTU6 {
		mtu = minMTU6
	}
	now := s.clock.Now()
	var slot *pmtuEntry
	for i := range s.ip6.pmtu {
		e := &s.ip6.pmtu[i]
		if e.dst == dst && e.dst.IsValid() && e.expires > now {
			if mtu >= e.mtu {
				return false
			}
			slot = e
			break
		}
	}
	if slot == nil {
		// Does it lower anything? Compare with the largest link MTU.
		max := 0
		for _, n := range s.nics {
			if n.kind != LinkLoopback && n.mtu6() > max {
				max = n.mtu6()
			}
		}
		if mtu >= max {
			return false
		}
		for i := range s.ip6.pmtu {
			e := &s.ip6.pmtu[i]
			if !e.dst.IsValid() || e.expires <= now {
				slot = e
				break
			}
			if slot == nil || e.expires < slot.expires {
				slot = e
			}
		}
		if slot.dst.IsValid() && slot.expires > now {
			s.stats.IPv6.PMTUEvictions++
		}
	}
	*slot = pmtuEntry{dst: dst, mtu: mtu, expires: now + s.cfg.IPv6.PMTUTimeout}
	s.stats.IPv6.PMTUUpdates++
	return true
}

// PathMTU reports the path MTU the stack uses towards an IPv6 destination
// (the route's link MTU lowered by packet too big messages, RFC 8201), or
// 0 when there is no route.
func (s *Stack) PathMTU(dst netip.Addr) int {
	var rt outRoute
	if !is6(dst) || s.route6(dst, 0, &rt) != nil {
		return 0
	}
	return s.pathMTU(rt.nic, dst.WithZone(""))
}
