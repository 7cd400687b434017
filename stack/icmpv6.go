package stack

import (
	"net/netip"

	"github.com/featherip/featherip/wire"
)

// ICMPv6 (RFC 4443): echo replies, errors sent under the rules of 2.4 (e)
// with a rate limit (2.4 (f)), received errors handed to the transports,
// packet too big lowering the path MTU (RFC 8201), and the dispatch of
// neighbor discovery (ndp.go), router discovery and redirects (ra.go) and
// MLD (mld.go).

// icmpv6QuoteMax keeps an ICMPv6 error within the minimum MTU (RFC 4443 2.4 (c)).
const icmpv6QuoteMax = minMTU6 - wire.IPv6HeaderLen - wire.ICMPv6HeaderLen

// countICMPv6Out counts an ICMPv6 message on its way out.
func (s *Stack) countICMPv6Out(m []byte) {
	st := &s.stats.ICMPv6
	st.OutMsgs++
	if len(m) == 0 {
		return
	}
	switch m[0] {
	case wire.ICMPv6DestUnreachable:
		st.OutDestUnreachs++
	case wire.ICMPv6PacketTooBig:
		st.OutPktTooBigs++
	case wire.ICMPv6TimeExceeded:
		st.OutTimeExcds++
	case wire.ICMPv6ParamProblem:
		st.OutParmProblems++
	case wire.ICMPv6EchoRequest:
		st.OutEchos++
	case wire.ICMPv6EchoReply:
		st.OutEchoReplies++
	case wire.ICMPv6RouterSolicitation:
		st.OutRouterSolicits++
	case wire.ICMPv6RouterAdvertisement:
		st.OutRouterAdvertisements++
	case wire.ICMPv6NeighborSolicitation:
		st.OutNeighborSolicits++
	case wire.ICMPv6NeighborAdvertisement:
		st.OutNeighborAdvertisements++
	case wire.ICMPv6Redirect:
		st.OutRedirects++
	case wire.ICMPv6MLDQuery:
		st.OutGroupMembQueries++
	case wire.ICMPv6MLDv1Report:
		st.OutGroupMembResponses++
	case wire.ICMPv6MLDv1Done:
		st.OutGroupMembReductions++
	case wire.ICMPv6MLDv2Report:
		st.OutMLDv2Reports++
	}
	if m[0] < 128 {
		st.OutErrors++
	}
}

// sendICMPv6 sends the ICMPv6 message msg (checksum computed here) from
// src to dst on n with the given hop limit, with a hop-by-hop router
// alert when asked (MLD). src may be :: (DAD, MLD before an address);
// the zero Addr selects a source (RFC 6724). Multicast destinations map
// to 33:33 link addresses, unicast ones are resolved with NDP. msg is
// only read during the call.
func (s *Stack) sendICMPv6(n *nic, src, dst netip.Addr, hopLimit uint8, routerAlert bool, msg []byte) error {
	if n == nil || !n.up {
		return ErrNoRoute
	}
	dst = dst.WithZone("")
	if !src.IsValid() {
		src = s.selectSource(dst, n)
		if !src.IsValid() {
			s.stats.IPv6.OutDiscards++
			return ErrAddrNotAvailable
		}
	}
	src = src.WithZone("")
	b := s.NewPacket(len(msg))
	if b == nil {
		s.stats.IPv6.OutDiscards++
		return ErrBufferFull
	}
	m := b.Bytes()
	copy(m, msg)
	wire.SetICMPv6Checksum(m, src, dst)
	o := WriteOptions{Src: src, Dst: dst, NIC: n.id, TTL: hopLimit, Protocol: wire.ProtoICMPv6, RouterAlert: routerAlert}
	if hopLimit == 0 {
		o.TTL = 255
	}
	return s.WriteIPv6(b, &o)
}

// icmpv6Input handles a received ICMPv6 message (raw handlers saw it).
func (s *Stack) icmpv6Input(n *nic, p *Packet) {
	st := &s.stats.ICMPv6
	st.InMsgs++
	m, err := wire.ParseICMPv6(p.Payload)
	if err != nil {
		st.InErrors++
		return
	}
	if !m.ChecksumValid(p.Src, p.Dst) {
		st.InErrors++
		st.InCsumErrors++
		return
	}
	ndpOK := p.TTL == 255 && m.Code() == 0 // RFC 4861 6.1, 7.1
	if t := m.Type(); t != wire.ICMPv6EchoRequest && t != wire.ICMPv6EchoReply {
		s.ctlChanged() // discovery, DAD and MLD may move autoconfiguration timers
	}
	switch m.Type() {
	case wire.ICMPv6EchoRequest:
		st.InEchos++
		if p.Multicast && s.cfg.IPv6.IgnoreMulticastEcho {
			return
		}
		s.echoReply6(n, p)
	case wire.ICMPv6EchoReply:
		st.InEchoReplies++
	case wire.ICMPv6DestUnreachable:
		st.InDestUnreachs++
		s.icmpv6ErrorInput(p, m)
	case wire.ICMPv6PacketTooBig:
		st.InPktTooBigs++
		s.icmpv6ErrorInput(p, m)
	case wire.ICMPv6TimeExceeded:
		st.InTimeExcds++
		s.icmpv6ErrorInput(p, m)
	case wire.ICMPv6ParamProblem:
		st.InParmProblems++
		s.icmpv6ErrorInput(p, m)
	case wire.ICMPv6NeighborSolicitation:
		st.InNeighborSolicits++
		s.ndpSolicitInput(n, p, m)
	case wire.ICMPv6NeighborAdvertisement:
		st.InNeighborAdvertisements++
		s.ndpAdvertInput(n, p, m)
	case wire.ICMPv6RouterSolicitation:
		st.InRouterSolicits++
		if _, err := wire.ParseNDPRouterSolicitation(m.Bytes()); err != nil || !ndpOK {
			s.stats.NDP.InInvalid++
			return
		}
		s.handleRouterSolicit(n, p.Src, p.Dst, m)
	case wire.ICMPv6RouterAdvertisement:
		st.InRouterAdvertisements++
		if _, err := wire.ParseNDPRouterAdvertisement(m.Bytes()); err != nil || !ndpOK {
			s.stats.NDP.InInvalid++ // RFC 4861 6.1.2 (the link-local source is checked by ra.go)
			return
		}
		s.handleRouterAdvert(n, p.Src, p.Dst, m)
	case wire.ICMPv6Redirect:
		st.InRedirects++
		if _, err := wire.ParseNDPRedirect(m.Bytes()); err != nil || !ndpOK {
			s.stats.NDP.InInvalid++ // RFC 4861 8.1 (the source is checked by ra.go)
			return
		}
		s.handleRedirect(n, p.Src, p.Dst, m)
	case wire.ICMPv6MLDQuery, wire.ICMPv6MLDv1Report, wire.ICMPv6MLDv1Done, wire.ICMPv6MLDv2Report:
		switch m.Type() {
		case wire.ICMPv6MLDQuery:
			st.InGroupMembQueries++
		case wire.ICMPv6MLDv1Report:
			st.InGroupMembResponses++
		case wire.ICMPv6MLDv1Done:
			st.InGroupMembReductions++
		default:
			st.InMLDv2Reports++
		}
		s.handleMLD(n, p.Src, p.Dst, p.TTL, p.mldAlert, m)
	default:
		if m.IsError() {
			st.InErrorsIgnored++ // unknown error types are passed up (RFC 4443 2.4 (b)): raw only
		}
	}
}

// echoReply6 answers an echo request (RFC 4443 4.2) from the address it
// was sent to, or for a multicast request from a unicast address of the
// interface it arrived on.
func (s *Stack) echoReply6(n *nic, p *Packet) {
	b := s.NewPacket(len(p.Payload))
	if b == nil {
		s.stats.IPv6.InDiscards++
		return
	}
	m := b.Bytes()
	copy(m, p.Payload)
	m[0] = wire.ICMPv6EchoReply
	src := p.Dst
	if p.Multicast {
		src = s.selectSource(p.Src, n)
		if !src.IsValid() {
			b.Free()
			return
		}
	}
	wire.SetICMPv6Checksum(m, src, p.Src)
	o := WriteOptions{Src: src, Dst: p.Src, Protocol: wire.ProtoICMPv6, TOS: p.TOS}
	if p.NIC != LoopbackNIC && (p.Src.IsLinkLocalUnicast() || p.Multicast) {
		o.NIC = p.NIC
	}
	_ = s.WriteIPv6(b, &o)
}

// icmpv6ErrorInput validates a received ICMPv6 error against the quoted
// packet (it must be one we sent), lowers the path MTU for packet too big
// (RFC 8201 4) and hands the error to the transport of the quoted protocol.
func (s *Stack) icmpv6ErrorInput(p *Packet, m wire.ICMPv6) {
	st := &s.stats.ICMPv6
	q := m.Payload()
	if len(q) < wire.IPv6HeaderLen || q[0]>>4 != 6 {
		st.InErrorsIgnored++
		return
	}
	qsrc := netip.AddrFrom16([16]byte(q[8:24]))
	qdst := netip.AddrFrom16([16]byte(q[24:40]))
	if !s.isLocal6(qsrc) || qdst.IsUnspecified() {
		st.InErrorsIgnored++
		return
	}
	mtu := 0
	if m.Type() == wire.ICMPv6PacketTooBig {
		mtu = int(min(m.MTU(), 0xffff))
		if mtu < minMTU6 {
			mtu = minMTU6 // RFC 8201 4: never below the IPv6 minimum
		}
		if !qdst.IsMulticast() && s.pmtuLower(qdst, mtu) {
			s.stats.IPv6.InTooBigErrors++
		}
	}
	w := wire.IPv6ExtensionWalker{MaxHeaders: s.cfg.IPv6.MaxExtensionHeaders, MaxBytes: s.cfg.IPv6.MaxExtensionBytes}
	proto, off, err := w.Walk(q[6], q[wire.IPv6HeaderLen:], nil)
	if err != nil || proto == wire.ProtoFragment || len(q)-wire.IPv6HeaderLen-off < 8 {
		st.InErrorsIgnored++ // no upper-layer header to match
		return
	}
	t := s.transport(proto)
	if t == nil || proto == wire.ProtoICMPv6 || !s.takesIPv6(proto) {
		return
	}
	e := &s.icmpErr
	if s.depth > 1 {
		e = new(ICMPError)
	}
	*e = ICMPError{Type: m.Type(), Code: m.Code(), From: p.Src, Src: qsrc, Dst: qdst, Protocol: proto,
		Quoted: q[wire.IPv6HeaderLen+off:], MTU: mtu, IPv6: true, Kind: icmpv6Kind(m.Type(), m.Code())}
	if m.Type() == wire.ICMPv6ParamProblem {
		e.Offset = int(min(m.Pointer(), 0xffff))
	}
	t.HandleICMPError(e)
	*e = ICMPError{}
}

// icmp6Error sends an ICMPv6 error about pkt (the whole offending packet,
// IPv6 header first) that arrived on n, unless RFC 4443 2.4 (e) forbids
// it: about an ICMPv6 error or redirect, to a packet whose destination was
// multicast or that arrived as link multicast (the caller passes group
// true then, and false for the exceptions it allows: packet too big,
// parameter problem code 2 for an option of action 10),
// or whose source is unspecified or multicast. Rate limited (2.4 (f)).
func (s *Stack) icmp6Error(n *nic, pkt []byte, group bool, typ, code uint8, rest uint32) {
	if len(pkt) < wire.IPv6HeaderLen || n == nil {
		return
	}
	src := netip.AddrFrom16([16]byte(pkt[8:24]))
	dst := netip.AddrFrom16([16]byte(pkt[24:40]))
	// The caller passes group=false for the exceptions it allows
	// (parameter problem code 2 for an option of action 10).
	allowGroup := typ == wire.ICMPv6PacketTooBig || (typ == wire.ICMPv6ParamProblem && code == wire.ICMPv6UnrecognizedOption)
	if group || (dst.IsMulticast() && !allowGroup) {
		return
	}
	if src.IsUnspecified() || src.IsMulticast() {
		return
	}
	w := wire.IPv6ExtensionWalker{MaxHeaders: s.cfg.IPv6.MaxExtensionHeaders, MaxBytes: s.cfg.IPv6.MaxExtensionBytes}
	if proto, off, err := w.Walk(pkt[6], pkt[wire.IPv6HeaderLen:], nil); err == nil && proto == wire.ProtoICMPv6 {
		u := pkt[wire.IPv6HeaderLen+off:]
		if len(u) < 1 || u[0] < 128 || u[0] == wire.ICMPv6Redirect {
			return
		}
	}
	if !s.ip6.icmpRL.allow(s.clock.Now()) {
		s.stats.ICMPv6.RateLimited++
		return
	}
	q := min(len(pkt), icmpv6QuoteMax)
	b := s.NewPacket(wire.ICMPv6HeaderLen + q)
	if b == nil {
		s.stats.IPv6.OutDiscards++
		return
	}
	m := b.Bytes()
	wire.PutICMPv6(m, typ, code, rest)
	copy(m[wire.ICMPv6HeaderLen:], pkt[:q])
	o := WriteOptions{Dst: src, Protocol: wire.ProtoICMPv6}
	if n.id != LoopbackNIC && !s.isLocal6(src) {
		o.NIC = n.id
	}
	if !dst.IsMulticast() && s.isLocal6(dst) {
		o.Src = dst
	} else {
		var rt outRoute
		if s.route6(src, o.NIC, &rt) != nil || !rt.src.IsValid() {
			b.Free()
			return
		}
		o.Src = rt.src
	}
	wire.SetICMPv6Checksum(m, o.Src, src)
	_ = s.WriteIPv6(b, &o)
}

// sendDestUnreachable6 answers SendDestUnreachable for an IPv6 packet,
// mapping the ICMPv4 code: port unreachable => ICMPv6 port unreachable,
// protocol unreachable => parameter problem code 1 (RFC 8200 4), host
// unreachable => address unreachable, administratively prohibited (9, 10,
// 13) => code 1, other codes => no route.
func (s *Stack) sendDestUnreachable6(p *Packet, code uint8) {
	n := s.nic(p.NIC)
	pkt := p.IPHeader
	if len(pkt) < wire.IPv6HeaderLen || n == nil {
		return
	}
	if cap(pkt) >= len(p.IPHeader)+len(p.Payload) {
		pkt = pkt[:len(p.IPHeader)+len(p.Payload)] // the header chain and the payload are contiguous
	}
	typ, c, rest := uint8(wire.ICMPv6DestUnreachable), uint8(wire.ICMPv6NoRoute), uint32(0)
	switch code {
	case wire.ICMPv4PortUnreachable:
		c = wire.ICMPv6PortUnreachable
	case wire.ICMPv4ProtoUnreachable:
		typ, c, rest = wire.ICMPv6ParamProblem, wire.ICMPv6UnrecognizedNextHeader, uint32(p.nhOff)
	case wire.ICMPv4HostUnreachable:
		c = wire.ICMPv6AddressUnreachable
	case 9, 10, 13:
		c = wire.ICMPv6AdminProhibited
	}
	s.icmp6Error(n, pkt, p.Multicast, typ, c, rest)
}

// icmpv6Kind classifies an ICMPv6 error.
func icmpv6Kind(typ, code uint8) ICMPErrorKind {
	switch typ {
	case wire.ICMPv6DestUnreachable:
		switch code {
		case wire.ICMPv6NoRoute, wire.ICMPv6BeyondScope, wire.ICMPv6RejectRoute:
			return ICMPNetUnreachable
		case wire.ICMPv6AdminProhibited, wire.ICMPv6SrcPolicyFailed:
			return ICMPAdminProhibited
		case wire.ICMPv6PortUnreachable:
			return ICMPPortUnreachable
		}
		return ICMPHostUnreachable
	case wire.ICMPv6PacketTooBig:
		return ICMPTooBig
	case wire.ICMPv6TimeExceeded:
		return ICMPTimeExceeded
	case wire.ICMPv6ParamProblem:
		if code == wire.ICMPv6UnrecognizedNextHeader {
			return ICMPProtoUnreachable
		}
		return ICMPParamProblem
	}
	return ICMPOther
}
