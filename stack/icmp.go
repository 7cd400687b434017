package stack

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// ICMPv4 (RFC 792, RFC 1122 3.2.2): echo replies, errors sent with a rate
// limit, and errors received handed to the transports.

// icmpErrorQuoteMax keeps an ICMP error within 576 bytes (RFC 1812 4.3.2.3).
const icmpErrorQuoteMax = 576 - wire.IPv4MinHeaderLen - wire.ICMPv4HeaderLen

// rateLimiter is a token bucket kept as a "theoretical arrival time" (GCRA):
// integer arithmetic on the injected clock, no refill timer.
type rateLimiter struct {
	off       bool
	interval  time.Duration
	tolerance time.Duration
	tat       time.Duration
}

func (r *rateLimiter) init(c RateLimitConfig) {
	if c.PerSecond < 0 {
		r.off = true
		return
	}
	r.interval = time.Second / time.Duration(c.PerSecond)
	r.tolerance = r.interval * time.Duration(c.Burst-1)
}

func (r *rateLimiter) allow(now time.Duration) bool {
	if r.off {
		return true
	}
	t := r.tat
	if t < now {
		t = now
	}
	if t-now > r.tolerance {
		return false
	}
	r.tat = t + r.interval
	return true
}

// isICMPError reports whether an ICMP type is an error (or unknown, which
// is treated as an error, like Linux): no ICMP error is sent about those.
func isICMPError(t uint8) bool {
	switch t {
	case 0, 8, 9, 10, 13, 14, 15, 16, 17, 18:
		return false
	}
	return true
}

// countICMPOut counts an ICMP message on its way out.
func (s *Stack) countICMPOut(m []byte) {
	st := &s.stats.ICMP
	st.OutMsgs++
	if len(m) == 0 {
		return
	}
	switch m[0] {
	case wire.ICMPv4EchoReply:
		st.OutEchoReps++
	case wire.ICMPv4Echo:
		st.OutEchos++
	case wire.ICMPv4DestUnreachable:
		st.OutDestUnreachs++
	case wire.ICMPv4TimeExceeded:
		st.OutTimeExcds++
	case wire.ICMPv4ParamProblem:
		st.OutParmProbs++
	}
	if isICMPError(m[0]) {
		st.OutErrors++
	}
}

// SendDestUnreachable sends ICMP dest unreachable (code) about p, rate
// limited, never for broadcast/multicast destinations, non-first
// fragments, or ICMP errors (RFC 1122 3.2.2).
func (s *Stack) SendDestUnreachable(p *Packet, code uint8) {
	if p == nil {
		return
	}
	if p.IPv6 {
		s.sendDestUnreachable6(p, code)
		return
	}
	s.sendICMPError(p.IPHeader, p.Payload, p.Broadcast || p.Multicast, wire.ICMPv4DestUnreachable, code, 0)
}

// sendICMPError sends an ICMP error about the datagram hdr+payload, unless
// RFC 1122 3.2.2 forbids it or the rate limit says no.
func (s *Stack) sendICMPError(hdr, payload []byte, groupDst bool, typ, code uint8, rest uint32) {
	if groupDst || len(hdr) < wire.IPv4MinHeaderLen {
		return
	}
	if binary.BigEndian.Uint16(hdr[6:8])&0x1fff != 0 {
		return // not the first fragment
	}
	src := netip.AddrFrom4([4]byte(hdr[12:16]))
	dst := netip.AddrFrom4([4]byte(hdr[16:20]))
	if src.IsUnspecified() || src.IsMulticast() || src == limitedBroadcast || s.IsBroadcast(0, src) ||
		dst.IsMulticast() || s.IsBroadcast(0, dst) {
		return
	}
	if hdr[9] == wire.ProtoICMP && (len(payload) < 1 || isICMPError(payload[0])) {
		return
	}
	if !s.icmpRL.allow(s.clock.Now()) {
		s.stats.ICMP.RateLimited++
		return
	}
	q := len(hdr) + len(payload)
	if q > icmpErrorQuoteMax {
		q = icmpErrorQuoteMax
	}
	b := s.NewPacket(wire.ICMPv4HeaderLen + q)
	if b == nil {
		s.stats.IP.OutDiscards++
		return
	}
	m := b.Bytes()
	wire.PutICMPv4(m, typ, code, rest)
	k := copy(m[wire.ICMPv4HeaderLen:], hdr)
	copy(m[wire.ICMPv4HeaderLen+k:], payload)
	wire.SetICMPv4Checksum(m)
	o := WriteOptions{Dst: src, Protocol: wire.ProtoICMP, TOS: 0xc0} // precedence "internetwork control", RFC 1812 4.3.2.5
	if s.IsLocal(dst) {
		o.Src = dst
	}
	_ = s.WriteIPv4(b, &o)
}

// icmpInput handles a received ICMP message (raw handlers already saw it).
func (s *Stack) icmpInput(n *nic, p *Packet) {
	st := &s.stats.ICMP
	st.InMsgs++
	m, err := wire.ParseICMPv4(p.Payload)
	if err != nil {
		st.InErrors++
		return
	}
	if !m.ChecksumValid() {
		st.InErrors++
		st.InCsumErrors++
		return
	}
	switch m.Type() {
	case wire.ICMPv4Echo:
		st.InEchos++
		if (p.Broadcast || p.Multicast) && !s.cfg.EchoBroadcast {
			return
		}
		s.echoReply(p)
	case wire.ICMPv4EchoReply:
		st.InEchoReps++
	case wire.ICMPv4DestUnreachable:
		st.InDestUnreachs++
		s.icmpErrorInput(p, m)
	case wire.ICMPv4TimeExceeded:
		st.InTimeExcds++
		s.icmpErrorInput(p, m)
	case wire.ICMPv4ParamProblem:
		st.InParmProbs++
		s.icmpErrorInput(p, m)
	case 4: // source quench: deprecated, ignored (RFC 6633)
		st.InSrcQuenchs++
	case wire.ICMPv4Redirect:
		st.InRedirects++ // hosts may honour redirects (RFC 1122 3.2.2.2); not yet
	}
}

// echoReply answers an echo request with the same identifier, sequence and
// data (RFC 792, RFC 1122 3.2.2.6), from the address it was sent to.
func (s *Stack) echoReply(p *Packet) {
	b := s.NewPacket(len(p.Payload))
	if b == nil {
		s.stats.IP.InDiscards++
		return
	}
	m := b.Bytes()
	copy(m, p.Payload)
	m[0] = wire.ICMPv4EchoReply
	old := uint16(wire.ICMPv4Echo)<<8 | uint16(m[1])
	binary.BigEndian.PutUint16(m[2:4], wire.UpdateChecksum16(binary.BigEndian.Uint16(m[2:4]), old, uint16(m[1])))
	o := WriteOptions{Dst: p.Src, Protocol: wire.ProtoICMP, TOS: p.TOS}
	if !p.Broadcast && !p.Multicast {
		o.Src = p.Dst
	}
	if p.NIC != LoopbackNIC && (p.Broadcast || p.Multicast) {
		o.NIC = p.NIC
	}
	_ = s.WriteIPv4(b, &o)
}

// icmpErrorInput validates a received ICMP error and hands it to the
// transport of the quoted protocol (RFC 1122 3.2.2).
func (s *Stack) icmpErrorInput(p *Packet, m wire.ICMPv4) {
	q := m.Payload()
	if len(q) < wire.IPv4MinHeaderLen || q[0]>>4 != 4 {
		s.stats.ICMP.InErrorsIgnored++
		return
	}
	hl := int(q[0]&0xf) * 4
	if hl < wire.IPv4MinHeaderLen || len(q) < hl+8 {
		s.stats.ICMP.InErrorsIgnored++
		return
	}
	qsrc := netip.AddrFrom4([4]byte(q[12:16]))
	if !s.IsLocal(qsrc) && !isLoopbackAddr(qsrc) {
		s.stats.ICMP.InErrorsIgnored++
		return
	}
	if binary.BigEndian.Uint16(q[6:8])&0x1fff != 0 {
		s.stats.ICMP.InErrorsIgnored++ // quotes a non-first fragment: no transport header
		return
	}
	t := s.transport(q[9])
	if t == nil {
		return
	}
	e := &s.icmpErr
	if s.depth > 1 {
		e = new(ICMPError)
	}
	*e = ICMPError{Type: m.Type(), Code: m.Code(), From: p.Src, Src: qsrc, Dst: netip.AddrFrom4([4]byte(q[16:20])),
		Protocol: q[9], Quoted: q[hl:], Kind: icmpv4Kind(m.Type(), m.Code())}
	switch m.Type() {
	case wire.ICMPv4DestUnreachable:
		if m.Code() == wire.ICMPv4FragNeeded {
			e.MTU = int(m.NextHopMTU())
		}
	case wire.ICMPv4ParamProblem:
		e.Pointer = m.Pointer()
		e.Offset = int(e.Pointer)
	}
	t.HandleICMPError(e)
	*e = ICMPError{}
}
