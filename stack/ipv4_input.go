package stack

import (
	"github.com/featherip/featherip/wire"
)

// Input hands the stack one received frame on interface nic. The frame is
// valid only during the call. Input never panics: malformed frames are
// counted and dropped.
func (s *Stack) Input(id NIC, frame []byte) {
	s.stats.Link.FramesIn++
	s.stats.Link.BytesIn += uint64(len(frame))
	n := s.nic(id)
	if n == nil || !n.up {
		s.stats.Link.NoInterface++
		return
	}
	switch n.kind {
	case LinkEthernet:
		e, err := wire.ParseEthernet(frame)
		if err != nil {
			s.stats.Link.TooShort++
			return
		}
		dst := e.Dst()
		linkGroup := false
		if dst != n.mac {
			if !dst.IsMulticast() {
				s.stats.Link.NotForUs++
				return
			}
			linkGroup = true
		}
		if _, tagged := e.VLAN(); tagged {
			// No VLAN sub-interfaces: tagged frames are not ours.
			s.stats.Link.UnknownEtherType++
			return
		}
		switch e.EtherType() {
		case wire.EtherTypeARP:
			s.arpInput(n, e.Payload())
		case wire.EtherTypeIPv4:
			s.ipv4Input(n, e.Payload(), linkGroup, false)
		case wire.EtherTypeIPv6:
			s.ipv6Input(n, e.Payload(), linkGroup, false)
		default:
			s.stats.Link.UnknownEtherType++
		}
	default: // LinkIP, LinkLoopback: bare IP packets
		if len(frame) == 0 {
			s.stats.Link.TooShort++
			return
		}
		switch frame[0] >> 4 {
		case 4:
			s.ipv4Input(n, frame, false, n.kind == LinkLoopback)
		case 6:
			s.ipv6Input(n, frame, false, n.kind == LinkLoopback)
		default:
			s.stats.Link.UnknownEtherType++
		}
	}
}

// ipv4Input validates and delivers one IPv4 datagram (RFC 791, RFC 1122
// 3.2.1). linkGroup says it came in a link broadcast/multicast frame;
// fromLoop that it came through the loopback interface.
func (s *Stack) ipv4Input(n *nic, b []byte, linkGroup, fromLoop bool) {
	s.stats.IP.InReceives++
	p, err := wire.ParseIPv4(b) // version, IHL, total length vs buffer; trims link padding
	if err != nil || !p.ChecksumValid() {
		s.stats.IP.InHdrErrors++
		return
	}
	if p.HeaderLen() > wire.IPv4MinHeaderLen {
		// Options are walked (so malformed ones are rejected) and otherwise ignored.
		if err := p.ForEachOption(ignoreOption); err != nil {
			s.stats.IP.InHdrErrors++
			return
		}
	}
	src, dst := p.Src(), p.Dst()
	// Martian sources (RFC 1122 3.2.1.3, RFC 1812 5.3.7): a source must be
	// a unicast address, not ours, and 127/8 only on loopback.
	if src.IsMulticast() || src == limitedBroadcast || n.isDirectedBroadcast(src) ||
		(!fromLoop && (isLoopbackAddr(src) || isLoopbackAddr(dst) || s.IsLocal(src))) {
		s.stats.IP.InHdrErrors++
		s.stats.IP.InMartians++
		return
	}
	bcast := dst == limitedBroadcast || n.isDirectedBroadcast(dst)
	mcast := dst.IsMulticast()
	switch {
	case bcast:
	case mcast:
		joined, ok := n.acceptMulticast(dst, src)
		if !joined {
			s.stats.IP.InAddrErrors++
			return
		}
		if !ok && p.Protocol() != wire.ProtoIGMP {
			// Excluded by the interface's source filter (RFC 3376 3.2);
			// IGMP itself is never filtered.
			s.stats.IP.InSourceFiltered++
			return
		}
	case s.IsLocal(dst) || (fromLoop && isLoopbackAddr(dst)):
		if linkGroup {
			// RFC 1122 3.3.6: unicast IP in a link broadcast is discarded.
			s.stats.IP.InAddrErrors++
			return
		}
	default:
		if !fromLoop && s.forwards(n) {
			s.forward(n, p, linkGroup)
			return
		}
		// Not for us, and we do not forward.
		s.stats.IP.InAddrErrors++
		return
	}
	if p.IsFragment() {
		s.reasmInput(n, p, bcast, mcast)
		return
	}
	s.deliver(n, p, bcast, mcast)
}

func ignoreOption(wire.IPv4Option) bool { return true }

// deliver hands a complete datagram to raw handlers, then to ICMP, IGMP or
// the registered transport.
func (s *Stack) deliver(n *nic, ip wire.IPv4, bcast, mcast bool) {
	pkt := &s.pkt
	if s.depth > 0 {
		pkt = new(Packet)
	}
	s.depth++
	*pkt = Packet{
		NIC: n.id, Src: ip.Src(), Dst: ip.Dst(), Protocol: ip.Protocol(), TTL: ip.TTL(), TOS: ip.TOS(),
		IPHeader: ip.Header(), Payload: ip.Payload(), Broadcast: bcast, Multicast: mcast,
		ChecksumOK: s.off.rxCsumOK, GSOSize: s.off.rxGSOSize,
	}
	raw := s.deliverRaw(pkt)
	switch pkt.Protocol {
	case wire.ProtoICMP:
		s.stats.IP.InDelivers++
		s.icmpInput(n, pkt)
	case wire.ProtoIGMP:
		s.stats.IP.InDelivers++
		s.igmpInput(n, pkt)
	default:
		if t := s.transport(pkt.Protocol); t != nil {
			s.stats.IP.InDelivers++
			t.Deliver(pkt)
		} else if raw {
			s.stats.IP.InDelivers++
		} else {
			s.stats.IP.InUnknownProtos++
			s.sendICMPError(pkt.IPHeader, pkt.Payload, bcast || mcast, wire.ICMPv4DestUnreachable, wire.ICMPv4ProtoUnreachable, 0)
		}
	}
	*pkt = Packet{}
	s.depth--
}
