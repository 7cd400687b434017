package udp

import (
	"encoding/binary"
	"net/netip"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Deliver takes a UDP or UDP-Lite datagram addressed to this host from the
// stack (stack.Transport). It checks length and checksum (counted drops),
// finds the receiving PCBs and calls their OnRecv. For a unicast datagram
// nobody wants it asks the stack to send ICMP port unreachable (RFC 1122
// 4.1.3.1) and returns false. It returns true otherwise.
func (p *Protocol) Deliver(pk *stack.Packet) bool {
	lite := pk.Protocol == wire.ProtoUDPLite
	st := p.counters(lite)
	if pk.Src.Is4() != pk.Dst.Is4() {
		st.InErrors++
		return true
	}
	var sport, dport uint16
	var data []byte
	if lite {
		u, err := wire.ParseUDPLite(pk.Payload)
		if err != nil {
			st.InErrors++
			return true
		}
		if !u.ChecksumValid(pk.Src, pk.Dst) {
			st.InErrors++
			st.InCsumErrors++
			return true
		}
		sport, dport, data = u.SrcPort(), u.DstPort(), u.Payload()
	} else {
		u, err := wire.ParseUDP(pk.Payload)
		if err != nil {
			st.InErrors++
			return true
		}
		if !u.ChecksumValid(pk.Src, pk.Dst) {
			st.InErrors++
			st.InCsumErrors++
			return true
		}
		sport, dport, data = u.SrcPort(), u.DstPort(), u.Payload()
	}
	src := netip.AddrPortFrom(pk.Src, sport)
	info := &p.info
	*info = RecvInfo{Src: src, Dst: pk.Dst, NIC: pk.NIC, TTL: pk.TTL, TOS: pk.TOS,
		Broadcast: pk.Broadcast, Multicast: pk.Multicast}
	if pk.IPv6 && pk.Src.IsLinkLocalUnicast() {
		info.Src = netip.AddrPortFrom(pk.Src.WithZone(p.s.InterfaceName(pk.NIC)), sport)
	}

	if pk.Broadcast || pk.Multicast || pk.Dst == limitedBroadcast || pk.Dst.IsMulticast() {
		return p.deliverMulti(lite, src, pk.Dst, dport, data, info)
	}
	c := p.lookup(lite, src, pk.Dst, dport)
	if c == nil {
		st.NoPorts++
		p.s.SendDestUnreachable(pk, wire.ICMPv4PortUnreachable)
		return false
	}
	p.deliverTo(c, st, data, info)
	return true
}

// matches reports whether c takes a datagram from src to dst:dport, and
// how specific the match is: 4 for a connected PCB (its remote equals
// src), plus 2 when bound to dst rather than the wildcard.
func (c *PCB) matches(lite bool, src netip.AddrPort, dst netip.Addr, dport uint16) (int, bool) {
	if c.lite != lite || c.port != dport || c.port == 0 || !c.takesFamily(dst) {
		return 0, false
	}
	score := 0
	if c.local.IsValid() && !c.local.IsUnspecified() {
		if c.local != dst {
			return 0, false
		}
		if !c.bindAddr.IsUnspecified() {
			score += 2
		}
	}
	if c.conn {
		if c.remote != src {
			return 0, false
		}
		score += 4
	}
	return score, true
}

// lookup finds the best PCB for a unicast datagram: exact 4-tuple, then
// bound address, then wildcard. The first of equal matches wins.
func (p *Protocol) lookup(lite bool, src netip.AddrPort, dst netip.Addr, dport uint16) *PCB {
	var best *PCB
	bestScore := -1
	for _, c := range p.pcbs {
		if s, ok := c.matches(lite, src, dst, dport); ok && s > bestScore {
			best, bestScore = c, s
			if s == 6 {
				break
			}
		}
	}
	return best
}

// deliverMulti hands a broadcast or multicast datagram to every PCB bound
// to the port whose local address is the wildcard or dst (and whose
// remote, when connected, is src).
func (p *Protocol) deliverMulti(lite bool, src netip.AddrPort, dst netip.Addr, dport uint16, data []byte, info *RecvInfo) bool {
	st := p.counters(lite)
	// Callbacks may open and close PCBs: collect the receivers first.
	nested := p.inMulti
	var list []*PCB
	if nested {
		list = make([]*PCB, 0, 4) // delivery from within a callback: rare
	} else {
		list = p.scratch[:0]
		p.inMulti = true
	}
	for _, c := range p.pcbs {
		if _, ok := c.matches(lite, src, dst, dport); ok {
			list = append(list, c)
		}
	}
	if len(list) == 0 {
		st.IgnoredMulti++
	}
	saved := *info
	for _, c := range list {
		if c.closed {
			continue
		}
		*info = saved // a callback may have scribbled on it
		p.deliverTo(c, st, data, info)
	}
	if !nested {
		clear(list)
		p.inMulti = false
	}
	return true
}

// deliverTo calls c's receive callback, counting.
func (p *Protocol) deliverTo(c *PCB, st *Counters, data []byte, info *RecvInfo) {
	if c.onRecv == nil {
		st.InErrors++
		st.RcvbufErrors++
		return
	}
	st.InDatagrams++
	c.onRecv(c, data, info)
}

// HandleICMPError takes an ICMP error about a UDP or UDP-Lite datagram we
// sent (stack.Transport). It finds the connected PCB by the quoted ports
// and addresses and calls its OnError (RFC 1122 4.1.3.3).
func (p *Protocol) HandleICMPError(e *stack.ICMPError) {
	if len(e.Quoted) < 4 {
		return
	}
	lite := e.Protocol == wire.ProtoUDPLite
	sport := binary.BigEndian.Uint16(e.Quoted[0:2])
	dport := binary.BigEndian.Uint16(e.Quoted[2:4])
	remote := netip.AddrPortFrom(e.Dst.Unmap(), dport)
	src := e.Src.Unmap()
	var err error
	if e.IPv6 {
		err = icmpKindError(e)
	} else {
		err = icmpError(e)
	}
	if err == nil {
		return
	}
	for _, c := range p.pcbs {
		if c.lite != lite || c.port != sport || !c.conn || c.remote != remote {
			continue
		}
		if !c.local.IsUnspecified() && c.local != src {
			continue
		}
		if c.onErr != nil {
			c.onErr(c, err)
		}
		return
	}
}

// icmpKindError maps an ICMPv6 error (by its family-neutral kind) onto
// the error OnError reports, as Linux's icmpv6_err_convert does.
func icmpKindError(e *stack.ICMPError) error {
	switch e.Kind {
	case stack.ICMPNetUnreachable:
		return ErrNetUnreachable
	case stack.ICMPPortUnreachable, stack.ICMPProtoUnreachable:
		return ErrConnRefused
	case stack.ICMPTooBig:
		return ErrMessageTooLong
	case stack.ICMPParamProblem:
		return ErrProtocol
	case stack.ICMPHostUnreachable, stack.ICMPAdminProhibited, stack.ICMPTimeExceeded:
		return ErrHostUnreachable
	}
	return nil
}

// icmpError maps an ICMP error onto the error OnError reports (as Linux's
// icmp_err_convert does), or nil for those that are not reported.
func icmpError(e *stack.ICMPError) error {
	switch e.Type {
	case wire.ICMPv4DestUnreachable:
		switch e.Code {
		case wire.ICMPv4NetUnreachable:
			return ErrNetUnreachable
		case wire.ICMPv4ProtoUnreachable, wire.ICMPv4PortUnreachable:
			return ErrConnRefused
		case wire.ICMPv4FragNeeded:
			return ErrMessageTooLong
		default:
			return ErrHostUnreachable
		}
	case wire.ICMPv4TimeExceeded:
		return ErrHostUnreachable
	case wire.ICMPv4ParamProblem:
		return ErrProtocol
	}
	return nil
}

// AcceptsIPv6 reports that UDP and UDP-Lite take IPv6 datagrams
// (stack.IPv6Transport).
func (p *Protocol) AcceptsIPv6() bool { return true }
