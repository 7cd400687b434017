package tcp

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// tsNow returns our timestamp clock (RFC 7323 §5.4): milliseconds plus the
// connection's random offset.
func (c *PCB) tsNow() uint32 { return uint32(c.p.now/time.Millisecond) + c.tsOffset }

// fillOptions sets o for a segment of c with the given flags: the SYN
// options on SYN segments (MSS, window scale, SACK-permitted, timestamps,
// as negotiated), else timestamps and SACK blocks.
func (c *PCB) fillOptions(o *wire.TCPOptions, flags uint8) {
	*o = wire.TCPOptions{}
	p := c.p
	if flags&wire.TCPFlagSYN != 0 {
		o.HasMSS, o.MSS = true, uint16(min(c.advMSS, 0xffff))
		active := flags&wire.TCPFlagACK == 0
		if active && !p.cfg.DisableWindowScale || !active && c.wsOK {
			o.HasWScale, o.WScale = true, c.rcvScale
		}
		if active && !p.cfg.DisableSACK || !active && c.sackOK {
			o.SACKPermitted = true
		}
		if active && !p.cfg.DisableTimestamps || !active && c.tsOK {
			o.HasTimestamps, o.TSVal, o.TSEcr = true, c.tsNow(), c.tsRecent
		}
		if c.cookie { // SYN cookies carry MSS only (RFC 4987 §3.6)
			*o = wire.TCPOptions{HasMSS: true, MSS: o.MSS}
		}
		return
	}
	if c.tsOK {
		o.HasTimestamps, o.TSVal, o.TSEcr = true, c.tsNow(), c.tsRecent
	}
	if c.sackOK && !c.ooo.empty() && flags&wire.TCPFlagRST == 0 {
		var blocks [wire.TCPMaxSACKBlocks]sackBlock
		n := c.ooo.sackBlocks(blocks[:])
		for i := 0; i < n; i++ {
			o.SACK[i] = wire.SACKBlock{Left: blocks[i].Left, Right: blocks[i].Right}
		}
		o.NumSACK = n
	}
}

// maxPayload returns the data bytes that fit in one segment with the
// options a data segment carries now.
func (c *PCB) maxPayload() int {
	var o wire.TCPOptions
	c.fillOptions(&o, wire.TCPFlagACK)
	return max(int(c.sndMSS)-o.EncodedLen(), 1)
}

// rexmitPayload returns the data bytes a retransmission may carry: those
// that fit beside our options without SACK blocks, which xmit then leaves
// out as far as they do not fit (RFC 2018 §3: as many blocks as the space
// allows, the most recent first). So a segment sent before we had SACK
// blocks to report goes out again whole, not as a shorter segment plus a
// sliver for its last bytes: each extra retransmitted segment is one more
// that can be lost, and a lost retransmission costs an RTO.
func (c *PCB) rexmitPayload() int {
	var o wire.TCPOptions
	c.fillOptions(&o, wire.TCPFlagACK)
	o.NumSACK = 0
	return max(int(c.sndMSS)-o.EncodedLen(), 1)
}

// rcvWindowField computes the window to announce and records the right
// edge in rcvAdv. It follows receiver silly window avoidance (RFC 1122
// §4.2.3.3) and never shrinks the window (RFC 9293 §3.8.6.2.2).
func (c *PCB) rcvWindowField(syn bool) uint16 {
	space := max(int(c.rcvBufSize-c.unrecved), 0)
	if syn {
		w := min(space, 0xffff)
		c.rcvAdv = c.rcvNxt + uint32(w)
		return uint16(w)
	}
	adv := c.candidateEdge(space)
	win := int(adv - c.rcvNxt)
	if seqLT(adv, c.rcvNxt) {
		win = 0
	}
	sh := c.rcvScale
	field := (win + (1 << sh) - 1) >> sh
	field = min(field, 0xffff)
	if e := c.rcvNxt + uint32(field<<sh); seqGT(e, c.rcvAdv) {
		c.rcvAdv = e
	}
	return uint16(field)
}

// candidateEdge returns the right edge the window may have now: moved to
// RCV.NXT+space only when that grows it by min(buffer/2, MSS) or more.
func (c *PCB) candidateEdge(space int) uint32 {
	space = min(space, 0xffff<<c.rcvScale)
	edge := c.rcvNxt + uint32(space)
	if seqGT(edge, c.rcvAdv) && int(edge-c.rcvAdv) >= int(min(c.rcvBufSize/2, c.advMSS)) {
		return edge
	}
	return c.rcvAdv
}

// windowUpdateDue reports whether the window grew enough since the last
// announcement to send an update.
func (c *PCB) windowUpdateDue() bool {
	space := max(int(c.rcvBufSize-c.unrecved), 0)
	return seqGT(c.candidateEdge(space), c.rcvAdv)
}

// xmit sends one segment of c: seq, flags, and n data bytes from the send
// buffer at seq. It reports whether the segment went out.
func (c *PCB) xmit(seq uint32, n int, flags uint8, retrans bool) bool {
	p := c.p
	syn := flags&wire.TCPFlagSYN != 0
	o := &p.opts
	c.fillOptions(o, flags)
	if n > 0 && n <= int(c.sndMSS) {
		for o.NumSACK > 0 && o.EncodedLen()+n > int(c.sndMSS) {
			o.NumSACK-- // a retransmission sized by rexmitPayload
		}
	}
	ol := o.EncodedLen()
	h := wire.TCPHeader{
		SrcPort: c.local.Port(), DstPort: c.remote.Port(),
		Seq: seq, Flags: flags, OptionsLen: ol,
	}
	if flags&wire.TCPFlagACK != 0 {
		h.Ack = c.rcvNxt
	}
	if flags&wire.TCPFlagRST == 0 {
		h.Window = c.rcvWindowField(syn)
	}
	hl := wire.TCPMinHeaderLen + ol
	b := p.s.NewPacket(hl + n)
	if b == nil {
		p.stats.DropNoBuffer++
		return false
	}
	seg := b.Bytes()
	h.Encode(seg)
	o.Encode(seg[wire.TCPMinHeaderLen:])
	if n > 0 {
		c.sb.read(int(seq-c.sndUna), seg[hl:])
	}
	p.wo = stack.WriteOptions{Src: c.local.Addr(), Dst: c.remote.Addr(), Protocol: wire.ProtoTCP, DontFragment: true}
	segs := 1
	if n > 0 && c.gsoMax > 0 {
		// the stack fills in the checksum (partial for the device) and
		// sends a super-segment as one frame (gso.go)
		mp := max(int(c.sndMSS)-ol, 1)
		p.wo.GSO = mp
		segs = (n + mp - 1) / mp
	} else {
		wire.SetTCPChecksum(seg, c.local.Addr(), c.remote.Addr())
	}
	if err := p.s.WriteIP(b, &p.wo); err != nil {
		p.stats.OutErrors++
	}
	if retrans {
		p.stats.RetransSegs += uint64(segs)
		c.cnt.retrans += uint32(segs)
	} else {
		p.stats.OutSegs += uint64(segs)
	}
	if flags&wire.TCPFlagRST != 0 {
		p.stats.OutRsts++
	}
	c.cnt.segsOut += uint32(segs)
	c.cnt.bytesSent += uint64(n)
	if flags&wire.TCPFlagACK != 0 {
		c.lastAckSent = c.rcvNxt
		c.ackNow, c.ackDeferred = false, false
		c.unackedSeg = 0
		if c.delackAt != 0 {
			c.delackAt = 0
			c.updateNext()
		}
	}
	return true
}

// sendACK sends a bare ACK. Its sequence number is SND.MAX, not SND.NXT:
// after a timeout rewound SND.NXT, the peer may have received up to
// SND.MAX and would find an older number outside its window (as BSD).
func (c *PCB) sendACK() { c.xmit(c.sndMax, 0, wire.TCPFlagACK, false) }

// sendProbe sends a zero-window or keepalive probe: an ACK with an old
// sequence number that makes the peer answer with its current window.
func (c *PCB) sendProbe() { c.xmit(c.sndUna-1, 0, wire.TCPFlagACK, false) }

// sendRST resets the connection (RFC 9293 §3.10.7: <SEQ=SND.NXT><CTL=RST>).
func (c *PCB) sendRST() { c.xmit(c.sndMax, 0, wire.TCPFlagRST|wire.TCPFlagACK, false) }

// sendSYN sends (or resends) our SYN, with ACK for a SYN-ACK.
func (c *PCB) sendSYN(ack bool) {
	flags := uint8(wire.TCPFlagSYN)
	if ack {
		flags |= wire.TCPFlagACK
	}
	retrans := c.sndMax != c.iss
	if !retrans {
		c.rttTiming, c.rttSeq, c.rttStart = true, c.iss, c.p.now
	} else {
		c.rttTiming = false
	}
	c.xmit(c.iss, 0, flags, retrans)
	c.sndNxt, c.sndMax = c.iss+1, c.iss+1
	c.setTimer(&c.rtoAt, c.p.now+c.rto())
}

// cwnd returns the congestion window in effect: the algorithm's, with
// NewReno inflation and the limited transmit allowance (RFC 3042).
func (c *PCB) cwnd() int {
	w := c.congestion().CongestionWindow()
	if c.inRecovery {
		w += int(c.inflate)
	} else if c.dupAcks > 0 && int(c.dupAcks) < c.p.cfg.DupThresh {
		w += int(c.dupAcks * c.sndMSS)
	}
	return max(w, int(c.sndMSS))
}

// sendData sends n bytes at seq (with FIN when the segment reaches the
// queued FIN), advancing SND.NXT/SND.MAX for new data. It reports whether
// the segment went out.
func (c *PCB) sendData(seq uint32, n int, retrans bool) bool {
	flags := uint8(wire.TCPFlagACK)
	end := seq + uint32(n)
	fin := c.finQueued && end == c.finSeq
	if fin {
		flags |= wire.TCPFlagFIN
	}
	if n > 0 && (end == c.sndUna+uint32(c.sb.len())) {
		flags |= wire.TCPFlagPSH
	}
	if seqLT(seq, c.sndMax) {
		retrans = true
	}
	if retrans {
		if c.rttTiming {
			c.rttTiming = false // Karn's rule
		}
	} else if !c.rttTiming && n > 0 {
		c.rttTiming, c.rttSeq, c.rttStart = true, seq, c.p.now
	}
	if !c.xmit(seq, n, flags, retrans) {
		return false
	}
	if fin {
		end++
	}
	if seqGT(end, c.sndNxt) && seq == c.sndNxt {
		c.sndNxt = end
	}
	if seqGT(end, c.sndMax) {
		c.sndMax = end
	}
	if n > 0 || fin {
		c.lastSend = c.p.now
		if c.rtoAt == 0 {
			c.setTimer(&c.rtoAt, c.p.now+c.rto())
		}
	}
	return true
}

// output sends what the windows allow: loss recovery retransmissions, new
// data under Nagle and sender silly window avoidance (RFC 896, RFC 1122
// §4.2.3.4), the FIN, and a pending ACK.
func (c *PCB) output() {
	if c.freed {
		return
	}
	switch c.state {
	case Closed, Listen, SynSent, SynReceived:
		return
	case TimeWait:
		if c.ackNow {
			c.sendACK()
		}
		return
	}
	sent := false
	if c.inRecovery && c.sackOK {
		sent = c.sackSend()
	} else {
		for c.sendNew(false) {
			sent = true
		}
	}
	if !sent && c.ackNow {
		c.sendACK()
	}
	c.checkPersist()
	c.updateNext()
}

// sendNew sends one segment of new (or, after a timeout, resent) data or
// the FIN when allowed; force skips Nagle and silly window avoidance (the
// persist timer's override). It reports whether it sent.
func (c *PCB) sendNew(force bool) bool {
	dataEnd := c.sndUna + uint32(c.sb.len())
	avail := 0
	if seqLT(c.sndNxt, dataEnd) {
		avail = int(dataEnd - c.sndNxt)
	}
	finPending := c.finQueued && seqLEQ(c.sndNxt, c.finSeq)
	if avail == 0 && !finPending {
		return false
	}
	flight := int(c.sndNxt - c.sndUna)
	usable := min(int(c.sndWnd)-flight, c.cwnd()-flight)
	if force {
		usable = max(int(c.sndWnd)-flight, 1)
	}
	mp := c.maxPayload()
	resend := seqLT(c.sndNxt, c.sndMax) // after a timeout or an MSS drop
	lim := c.gsoLimit(mp)
	if resend && lim == mp {
		mp = c.rexmitPayload() // the segments as first sent
		lim = mp
	}
	n := max(min(avail, usable, lim), 0)
	if n > mp {
		n -= n % mp // whole segments only in a super-segment (gso.go)
	}
	if avail > 0 && n == 0 {
		return false
	}
	if !force && !resend && n < mp && n < avail {
		// sender SWS avoidance: a partial segment only when it is a large
		// share of the largest window the peer offered
		if c.maxSndWnd == 0 || n < int(c.maxSndWnd/2) {
			return false
		}
	}
	if !force && !resend && n == avail && n < mp && n > 0 && !c.noDelay && c.sndMax != c.sndUna && !finPending {
		return false // Nagle: hold a small segment while data is unacknowledged
	}
	if flight == 0 && c.sndMax == c.sndUna && n > 0 && c.p.now-c.lastSend > c.rto() && c.cc != nil {
		c.cc.OnIdleRestart(c.sample(0))
	}
	return c.sendData(c.sndNxt, n, false)
}

// checkPersist arms the persist timer when data waits for a window and
// nothing is in flight to bring an ACK (RFC 9293 §3.8.6.1), and disarms it
// otherwise.
func (c *PCB) checkPersist() {
	waiting := c.unsent() > 0 && c.sndMax == c.sndUna && c.rtoAt == 0
	if !waiting {
		if c.persistAt != 0 {
			c.persistAt, c.persistShift = 0, 0
			c.updateNext()
		}
		return
	}
	if c.persistAt == 0 {
		c.setTimer(&c.persistAt, c.p.now+c.persistTimeout())
	}
}

func (c *PCB) persistTimeout() time.Duration {
	d := c.rto() << min(c.persistShift, 16)
	return min(max(d, c.p.cfg.MinRTO), c.p.cfg.MaxRTO)
}

// sample builds a congestion control sample.
func (c *PCB) sample(rtt time.Duration) ccSample {
	return ccSample{Now: c.p.now, MSS: int(c.sndMSS), FlightSize: int(c.sndMax - c.sndUna), RTT: rtt, MinRTT: c.minRTT}
}

// sendResetFor answers a segment that belongs to no connection (RFC 9293
// §3.10.7.1): never a RST for a RST; <SEQ=SEG.ACK><CTL=RST> for an ACK,
// else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
func (p *Protocol) sendResetFor(local, remote netip.AddrPort, seg *segment) {
	if seg.flags&wire.TCPFlagRST != 0 {
		return
	}
	h := wire.TCPHeader{SrcPort: local.Port(), DstPort: remote.Port(), Flags: wire.TCPFlagRST}
	if seg.flags&wire.TCPFlagACK != 0 {
		h.Seq = seg.ack
	} else {
		h.Ack = seg.seq + uint32(seg.segLen())
		h.Flags |= wire.TCPFlagACK
	}
	p.sendControl(local, remote, &h, nil)
	p.stats.OutRsts++
}

// sendControl sends a data-less segment that belongs to no PCB (RST, SYN
// cookie SYN-ACK).
func (p *Protocol) sendControl(local, remote netip.AddrPort, h *wire.TCPHeader, o *wire.TCPOptions) {
	ol := 0
	if o != nil {
		ol = o.EncodedLen()
	}
	h.OptionsLen = ol
	b := p.s.NewPacket(wire.TCPMinHeaderLen + ol)
	if b == nil {
		p.stats.DropNoBuffer++
		return
	}
	seg := b.Bytes()
	h.Encode(seg)
	if o != nil {
		o.Encode(seg[wire.TCPMinHeaderLen:])
	}
	wire.SetTCPChecksum(seg, local.Addr(), remote.Addr())
	p.wo = stack.WriteOptions{Src: local.Addr(), Dst: remote.Addr(), Protocol: wire.ProtoTCP}
	if err := p.s.WriteIP(b, &p.wo); err != nil {
		p.stats.OutErrors++
	}
	p.stats.OutSegs++
}
