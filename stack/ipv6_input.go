package stack

import (
	"encoding/binary"
	"net/netip"

	"github.com/featherip/featherip/wire"
)

// IPv6 input (RFC 8200): header checks, destination filtering (our
// addresses that are not tentative, joined groups, all-nodes and the
// solicited-node groups of our addresses), the extension header chain
// walked with bounds (wire.IPv6ExtensionWalker), hop-by-hop and
// destination options with the unknown-option actions of 4.2, routing
// headers (4.4; type 0 refused, RFC 5095), fragments (ipv6_reassembly.go;
// atomic fragments processed in isolation, RFC 6946), then delivery to
// raw handlers, ICMPv6 and the transports.

// rx6 is the per-packet state of IPv6 input, kept on the Stack so the
// walker's callback allocates nothing.
type rx6 struct {
	pkt         []byte // the packet being processed
	mcast       bool   // destination is multicast
	linkGroup   bool   // arrived in a link multicast/broadcast frame
	reassembled bool
	routerAlert bool // a hop-by-hop router alert option was present (RFC 2711)
	mldAlert    bool // ... with value 0: the datagram contains an MLD message
	nhOff       int  // offset of the next-header byte naming the current header
	drop        bool // stop: the packet is dropped (an error may have been sent)
	fragOff     int  // offset of a non-atomic fragment header, or -1
	errType     uint8
	errCode     uint8
	errPtr      int // ICMPv6 parameter problem to send when errType != 0
	errMcastOK  bool
}

// ipv6Input validates one IPv6 packet and filters it by destination.
// linkGroup says it came in a link multicast frame; fromLoop that it came
// through the loopback queue.
func (s *Stack) ipv6Input(n *nic, b []byte, linkGroup, fromLoop bool) {
	st := &s.stats.IPv6
	if !s.ipv6On() {
		s.stats.Link.UnknownEtherType++ // IPv6 off: not a protocol we handle
		return
	}
	st.InReceives++
	p, err := wire.ParseIPv6(b)
	if err != nil {
		if err == wire.ErrBadLength {
			st.InTruncatedPkts++
		}
		st.InHdrErrors++
		return
	}
	src, dst := p.Src(), p.Dst()
	// RFC 4291 2.5.2, 2.5.3, 2.7; RFC 4942 2.2: impossible sources.
	if src.IsMulticast() || src.Is4In6() || dst.Is4In6() || dst.IsUnspecified() ||
		(!fromLoop && (src.IsLoopback() || dst.IsLoopback() || s.isLocal6(src))) {
		st.InHdrErrors++
		st.InMartians++
		return
	}
	mcast := dst.IsMulticast()
	switch {
	case mcast:
		scope := dst.As16()[1] & 0xf
		if joined, _ := n.acceptMulticast6(dst, src); scope == 0 || (scope == 1 && !fromLoop) || !joined {
			st.InAddrErrors++
			return
		}
		st.InMcastPkts++
	case fromLoop && s.isLocal6(dst):
	default:
		ok := false
		if dst.IsLinkLocalUnicast() {
			ok = n.hasAddr6(dst) // link-local: only the arrival interface (RFC 4007)
		} else {
			ok = s.isLocal6(dst)
		}
		if !ok && !fromLoop && s.forwards6(n) {
			s.forward6(n, p, linkGroup)
			return
		}
		if !ok || linkGroup {
			// Not ours (or tentative, RFC 4862 5.4), and we do not forward.
			st.InAddrErrors++
			return
		}
	}
	s.ipv6Process(n, p.Bytes(), mcast, linkGroup, false)
}

// ipv6Process walks the extension headers of a packet already accepted by
// destination and delivers it (or hands a fragment to reassembly).
func (s *Stack) ipv6Process(n *nic, pkt []byte, mcast, linkGroup, reassembled bool) {
	st := &s.stats.IPv6
	rx := &s.ip6.rx
	*rx = rx6{pkt: pkt, mcast: mcast, linkGroup: linkGroup, reassembled: reassembled, nhOff: 6, fragOff: -1}
	w := wire.IPv6ExtensionWalker{MaxHeaders: s.cfg.IPv6.MaxExtensionHeaders, MaxBytes: s.cfg.IPv6.MaxExtensionBytes}
	proto, off, err := w.Walk(pkt[6], pkt[wire.IPv6HeaderLen:], s.ip6.visit)
	r := *rx
	*rx = rx6{}
	if r.errType != 0 {
		group := (mcast || linkGroup) && !r.errMcastOK
		s.icmp6Error(n, pkt, group, r.errType, r.errCode, uint32(r.errPtr))
	}
	if r.drop {
		return
	}
	switch err {
	case nil:
	case wire.ErrExtensionOrder:
		// Hop-by-hop not first: unrecognized next header (RFC 8200 4.1).
		st.InHdrErrors++
		s.icmp6Error(n, pkt, mcast || linkGroup, wire.ICMPv6ParamProblem, wire.ICMPv6UnrecognizedNextHeader, uint32(r.nhOff))
		return
	case wire.ErrExtensionLimit:
		st.InHdrErrors++
		st.InExtChainTooLong++
		return
	default:
		st.InHdrErrors++
		st.InTruncatedPkts++
		return
	}
	if r.fragOff >= 0 {
		if reassembled {
			st.InHdrErrors++ // a fragment inside a reassembled packet
			return
		}
		s.reasm6Input(n, pkt, r.fragOff, r.nhOff, mcast)
		return
	}
	s.deliver6(n, pkt, wire.IPv6HeaderLen+off, proto, r.nhOff, mcast, r.routerAlert, r.mldAlert)
}

// visit processes one extension header for the walker; false stops the walk.
func (rx *rx6) visitExt(s *Stack, e wire.IPv6Extension) bool {
	base := wire.IPv6HeaderLen + e.Offset
	switch e.Type {
	case wire.ProtoHopByHop, wire.ProtoDestOpts:
		if !rx.options(s, e.Data, base, e.Type == wire.ProtoHopByHop) {
			rx.drop = true
			return false
		}
	case wire.ProtoRouting:
		// RFC 8200 4.4: with segments left 0 the header is ignored; we are
		// not a router for any routing type (type 0 is deprecated,
		// RFC 5095), so any other value is an unrecognized routing type:
		// parameter problem code 0 pointing at the routing type.
		if e.Data[3] != 0 {
			s.stats.IPv6.InHdrErrors++
			s.stats.IPv6.InRoutingRefused++
			rx.errType, rx.errCode, rx.errPtr = wire.ICMPv6ParamProblem, wire.ICMPv6ErroneousHeader, base+2
			rx.drop = true
			return false
		}
	case wire.ProtoFragment:
		if binary.BigEndian.Uint16(e.Data[2:4])&^6 == 0 {
			s.stats.IPv6.InAtomicFrags++ // RFC 6946: processed in isolation
		} else {
			rx.fragOff = base
			return false
		}
	}
	rx.nhOff = base
	return true
}

// options processes a hop-by-hop or destination options header h at
// offset base of the packet (RFC 8200 4.2); false drops the packet.
func (rx *rx6) options(s *Stack, h []byte, base int, hbh bool) bool {
	for i := 2; i < len(h); {
		t := h[i]
		if t == wire.IPv6OptPad1 {
			i++
			continue
		}
		if i+1 >= len(h) || i+2+int(h[i+1]) > len(h) {
			s.stats.IPv6.InHdrErrors++
			rx.errType, rx.errCode, rx.errPtr = wire.ICMPv6ParamProblem, wire.ICMPv6ErroneousHeader, base+i
			return false
		}
		l := int(h[i+1])
		switch {
		case t == wire.IPv6OptPadN:
		case hbh && t == wire.IPv6OptRouterAlert && l == 2:
			rx.routerAlert = true
			rx.mldAlert = binary.BigEndian.Uint16(h[i+2:i+4]) == wire.IPv6RouterAlertMLD
		case !hbh && t == wire.IPv6OptTunnelEncapLimit && l == 1:
		default:
			switch t >> 6 {
			case wire.IPv6OptActionSkip:
			case wire.IPv6OptActionDiscard:
				s.stats.IPv6.InUnknownOptions++
				return false
			case wire.IPv6OptActionDiscardICMP:
				s.stats.IPv6.InUnknownOptions++
				rx.errType, rx.errCode, rx.errPtr = wire.ICMPv6ParamProblem, wire.ICMPv6UnrecognizedOption, base+i
				rx.errMcastOK = true // RFC 4443 2.4 (e.3)
				return false
			case wire.IPv6OptActionDiscardICMPUnicast:
				s.stats.IPv6.InUnknownOptions++
				rx.errType, rx.errCode, rx.errPtr = wire.ICMPv6ParamProblem, wire.ICMPv6UnrecognizedOption, base+i
				return false
			}
		}
		i += 2 + l
	}
	return true
}

// deliver6 hands a complete packet (upper-layer header at hdrEnd, of
// protocol proto, named by the byte at nhOff) to raw handlers, then to
// ICMPv6 or the registered transport. routerAlert and mldAlert say the
// hop-by-hop header held a router alert option, and one with the MLD value.
func (s *Stack) deliver6(n *nic, pkt []byte, hdrEnd int, proto uint8, nhOff int, mcast, routerAlert, mldAlert bool) {
	st := &s.stats.IPv6
	if mcast && proto != wire.ProtoICMPv6 {
		// The interface's source filter (RFC 3810 4.2; ff02::1 and the
		// solicited-node groups accept every source). MLD and the rest of
		// ICMPv6 are never filtered, as IGMP is not for IPv4.
		dst := netip.AddrFrom16([16]byte(pkt[24:40]))
		if _, ok := n.acceptMulticast6(dst, netip.AddrFrom16([16]byte(pkt[8:24]))); !ok {
			st.InSourceFiltered++
			return
		}
	}
	pk := &s.pkt
	if s.depth > 0 {
		pk = new(Packet)
	}
	s.depth++
	*pk = Packet{
		NIC: n.id, Src: netip.AddrFrom16([16]byte(pkt[8:24])), Dst: netip.AddrFrom16([16]byte(pkt[24:40])),
		Protocol: proto, TTL: pkt[7], TOS: uint8(binary.BigEndian.Uint16(pkt[0:2]) >> 4),
		IPHeader: pkt[:hdrEnd], Payload: pkt[hdrEnd:], Multicast: mcast, IPv6: true,
		nhOff: nhOff, routerAlert: routerAlert, mldAlert: mldAlert, ChecksumOK: s.off.rxCsumOK, GSOSize: s.off.rxGSOSize,
	}
	raw := s.deliverRaw(pk)
	switch proto {
	case wire.ProtoICMPv6:
		st.InDelivers++
		s.icmpv6Input(n, pk)
	case wire.ProtoNoNext:
		st.InDelivers++ // nothing follows (RFC 8200 4.7)
	default:
		if t := s.transport(proto); t != nil && s.takesIPv6(proto) {
			st.InDelivers++
			t.Deliver(pk)
		} else if raw {
			st.InDelivers++
		} else {
			st.InUnknownProtos++
			s.icmp6Error(n, pkt, mcast, wire.ICMPv6ParamProblem, wire.ICMPv6UnrecognizedNextHeader, uint32(nhOff))
		}
	}
	*pk = Packet{}
	s.depth--
}

// IPv6Transport is implemented by transports that accept IPv6 packets:
// the stack delivers IPv6 datagrams (Packet.IPv6 set) only to transports
// whose AcceptsIPv6 returns true; to the others IPv6 packets of their
// protocol are unknown (ICMPv6 parameter problem, RFC 8200 4).
type IPv6Transport interface {
	AcceptsIPv6() bool
}

func (s *Stack) takesIPv6(proto uint8) bool {
	t, ok := s.transport(proto).(IPv6Transport)
	return ok && t.AcceptsIPv6()
}
