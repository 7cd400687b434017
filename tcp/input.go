package tcp

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// segment is a received segment being processed.
type segment struct {
	seq, ack uint32
	flags    uint8
	wnd      uint16
	data     []byte
	opts     *wire.TCPOptions
	segs     uint32 // wire segments it was: more than 1 when coalesced (GRO)
}

func (s *segment) has(f uint8) bool { return s.flags&f != 0 }

// segLen is SEG.LEN: data plus SYN and FIN.
func (s *segment) segLen() int {
	n := len(s.data)
	if s.has(wire.TCPFlagSYN) {
		n++
	}
	if s.has(wire.TCPFlagFIN) {
		n++
	}
	return n
}

// Deliver implements stack.Transport: it checks and demultiplexes one
// segment. It returns true for every segment (TCP answers closed ports
// with RST, not ICMP).
func (p *Protocol) Deliver(pk *stack.Packet) bool {
	p.now = p.s.Now()
	p.stats.InSegs++
	if pk.Broadcast || pk.Multicast || pk.Src.IsUnspecified() || pk.Src.IsMulticast() || pk.Dst.IsMulticast() {
		p.stats.InErrs++
		return true
	}
	t, err := wire.ParseTCP(pk.Payload)
	if err != nil {
		p.stats.InErrs++
		return true
	}
	if !pk.ChecksumOK && !t.ChecksumValid(pk.Src, pk.Dst) { // ChecksumOK: verified by the link (stack.InputMeta)
		p.stats.InErrs++
		p.stats.InCsumErrors++
		return true
	}
	// the segment and its options live in scratch space (re-entry, which
	// the stack avoids, gets fresh ones)
	seg, opts := &p.inSeg, &p.inOpts
	if p.depth > 0 {
		seg, opts = new(segment), new(wire.TCPOptions)
	}
	p.depth++
	defer func() { p.depth-- }()
	if err := wire.ParseTCPOptions(t.Options(), opts); err != nil {
		p.stats.InErrs++
		p.stats.DropBadOptions++
		return true
	}
	if t.SrcPort() == 0 || t.DstPort() == 0 {
		p.stats.InErrs++
		return true
	}
	*seg = segment{seq: t.Seq(), ack: t.Ack(), flags: t.Flags(), wnd: t.Window(), data: t.Payload(), opts: opts, segs: 1}
	if g := pk.GSOSize; g > 0 && len(seg.data) > g {
		// counted as the wire segments it was, as Linux counts gso_segs
		seg.segs = uint32((len(seg.data) + g - 1) / g)
		p.stats.InSegs += uint64(seg.segs - 1)
	}
	local := netip.AddrPortFrom(pk.Dst.WithZone(""), t.DstPort())
	remote := netip.AddrPortFrom(pk.Src.WithZone(""), t.SrcPort())
	if c := p.conns.get(local, remote); c != nil {
		if c.state == TimeWait && seg.flags&(wire.TCPFlagSYN|wire.TCPFlagACK|wire.TCPFlagRST) == wire.TCPFlagSYN &&
			seqGT(seg.seq, c.rcvNxt) && p.findListener(local) != nil {
			// a new incarnation: TIME_WAIT gives way (RFC 9293 §3.10.7.4 note, RFC 6191)
			c.fail(nil)
		} else {
			c.input(seg)
			return true
		}
	}
	if l := p.findListener(local); l != nil {
		l.listenInput(seg, local, remote)
		return true
	}
	p.stats.DropNoPCB++
	p.sendResetFor(local, remote, seg)
	return true
}

// findListener returns the listener for local: one bound to its address
// before one bound to the wildcard.
func (p *Protocol) findListener(local netip.AddrPort) *PCB {
	var any *PCB
	for _, l := range p.listeners {
		if l.local.Port() != local.Port() {
			continue
		}
		if l.local.Addr() == local.Addr() {
			return l
		}
		if a := l.local.Addr(); a.IsUnspecified() && (l.dual || a.Is4() == local.Addr().Is4()) {
			any = l
		}
	}
	return any
}

// input processes a segment for a connection and sends what results.
func (c *PCB) input(seg *segment) {
	c.inInput = true
	c.cnt.segsIn += seg.segs
	idle := c.p.now - c.lastRecv
	c.lastRecv = c.p.now
	c.keepProbes = 0
	c.process(seg, idle)
	c.inInput = false
	if c.freed {
		return
	}
	c.armKeepalive()
	c.output()
	if c.ackNow && c.state != TimeWait {
		c.sendACK()
	}
	c.updateNext()
}

// process runs the RFC 9293 §3.10.7 event processing for a segment; idle
// is the time since the segment before it arrived.
func (c *PCB) process(seg *segment, idle time.Duration) {
	p := c.p
	if c.state == SynSent {
		c.synSentInput(seg)
		return
	}
	// PAWS (RFC 7323 §5.3 R1): a segment with SEG.TSval < TS.Recent, while
	// TS.Recent is valid (§5.5) and the RST bit is off, is not acceptable:
	// ACK it and drop it. An RST goes on to the RFC 5961 checks.
	o := seg.opts
	if c.tsOK && o.HasTimestamps && !seg.has(wire.TCPFlagRST) && !c.tsAcceptable(o.TSVal, idle) {
		p.stats.DropPAWS++
		c.ackNow = true
		return
	}
	// acceptability test (RFC 9293 §3.10.7.4 first)
	segLen := seg.segLen()
	wnd := 0
	if seqGT(c.rcvAdv, c.rcvNxt) {
		wnd = int(c.rcvAdv - c.rcvNxt)
	}
	ok := false
	switch {
	case segLen == 0 && wnd == 0:
		ok = seg.seq == c.rcvNxt
	case segLen == 0:
		// a bare ACK may sit at the right edge: a peer that filled our
		// window sends its ACKs with SEQ = SND.NXT = RCV.NXT+RCV.WND, and
		// dropping them would leave the ACK field unread until the peer
		// sends data again (as Linux tcp_sequence and BSD tcp_input)
		ok = seqInRange(seg.seq, c.rcvNxt, c.rcvNxt+uint32(wnd)+1)
	case wnd > 0:
		ok = seqInRange(seg.seq, c.rcvNxt, c.rcvNxt+uint32(wnd)) ||
			seqInRange(seg.seq+uint32(segLen)-1, c.rcvNxt, c.rcvNxt+uint32(wnd))
	}
	if c.state == SynReceived && seg.flags&(wire.TCPFlagSYN|wire.TCPFlagACK|wire.TCPFlagRST) == wire.TCPFlagSYN && seg.seq == c.irs {
		c.sendSYN(true) // the peer resent its SYN: our SYN-ACK was lost
		return
	}
	if !ok && seg.seq == c.rcvNxt {
		ok = true // zero window: still take ACK, RST and the window (RFC 9293 §3.10.7.4)
	}
	if !ok {
		if seg.has(wire.TCPFlagRST) {
			p.stats.DropOutOfWindow++
			return
		}
		if seg.has(wire.TCPFlagSYN) && c.state != SynReceived {
			c.challengeACK()
			return
		}
		if c.state == TimeWait && seg.has(wire.TCPFlagFIN) && seg.seq+uint32(segLen) == c.rcvNxt {
			// a retransmitted FIN: acknowledge it and restart 2*MSL (RFC 9293 §3.10.7.4)
			c.setTimer(&c.closeAt, p.now+p.cfg.TimeWait)
		}
		p.stats.DropOutOfWindow++
		c.ackNow = true
		return
	}
	// RST (RFC 5961 §3.2)
	if seg.has(wire.TCPFlagRST) {
		if c.state == TimeWait {
			p.stats.TimeWaitRSTIgnored++ // RFC 1337
			return
		}
		if seg.seq != c.rcvNxt {
			c.challengeACK()
			return
		}
		switch c.state {
		case SynReceived:
			if c.listener != nil {
				c.fail(nil) // back to LISTEN: the listener just forgets it
			} else {
				c.fail(ErrConnRefused)
			}
		case Established, FinWait1, FinWait2, CloseWait:
			c.fail(ErrConnReset)
		default:
			c.fail(nil)
		}
		return
	}
	// SYN (RFC 5961 §4)
	if seg.has(wire.TCPFlagSYN) {
		c.challengeACK()
		return
	}
	if !seg.has(wire.TCPFlagACK) {
		return
	}
	// ACK acceptability (RFC 9293 §3.10.7.4 fifth; RFC 5961 §5.2)
	if c.state == SynReceived {
		if !(seqGT(seg.ack, c.sndUna) && seqLEQ(seg.ack, c.sndMax)) {
			p.sendResetFor(c.local, c.remote, seg)
			return
		}
	} else if seqGT(seg.ack, c.sndMax) || seqLT(seg.ack, c.sndUna-uint32(max(c.maxSndWnd, 1<<16))) {
		p.stats.DropBadACK++
		c.ackNow = true
		return
	}
	// update TS.Recent (RFC 7323 §4.3, §5.3 R3) from an acceptable segment
	// only: a dropped one must not move it (a high TSval would make the
	// good segments after it fail PAWS)
	if c.tsOK && o.HasTimestamps && seqLEQ(seg.seq, c.lastAckSent) && c.tsAcceptable(o.TSVal, idle) {
		c.setTSRecent(o.TSVal)
	}
	if c.state == SynReceived && !c.establish(seg) {
		return
	}
	if !c.processAck(seg) {
		return
	}
	// data and FIN
	if len(seg.data) > 0 || seg.has(wire.TCPFlagFIN) {
		switch c.state {
		case Established, FinWait1, FinWait2:
			c.processData(seg)
		case TimeWait:
			if seg.has(wire.TCPFlagFIN) {
				c.ackNow = true
				c.setTimer(&c.closeAt, p.now+p.cfg.TimeWait)
			}
		default:
			// CLOSE_WAIT, CLOSING, LAST_ACK: the peer's FIN came already;
			// a retransmission gets an ACK
			c.ackNow = true
		}
	}
}

// challengeACK sends a rate-limited challenge ACK (RFC 5961 §7).
func (c *PCB) challengeACK() {
	if c.p.challengeAllowed() {
		c.p.stats.ChallengeACKs++
		c.sendACK()
	}
}

// synSentInput handles a segment in SYN_SENT (RFC 9293 §3.10.7.3).
func (c *PCB) synSentInput(seg *segment) {
	p := c.p
	if seg.has(wire.TCPFlagACK) && (seqLEQ(seg.ack, c.iss) || seqGT(seg.ack, c.sndMax)) {
		p.stats.DropBadACK++
		p.sendResetFor(c.local, c.remote, seg)
		return
	}
	if seg.has(wire.TCPFlagRST) {
		if seg.has(wire.TCPFlagACK) {
			c.fail(ErrConnRefused)
		}
		return
	}
	if !seg.has(wire.TCPFlagSYN) {
		return
	}
	c.irs = seg.seq
	c.rcvNxt = seg.seq + 1
	c.rcvAdv = c.rcvNxt + uint32(min(c.rcvBufSize, 0xffff))
	c.lastAckSent = c.rcvNxt
	c.applySynOptions(seg.opts)
	if !seg.has(wire.TCPFlagACK) {
		// simultaneous open (RFC 9293 §3.5 figure 7)
		c.setState(SynReceived)
		c.sndWnd = int32(seg.wnd)
		c.maxSndWnd = c.sndWnd
		c.sndWl1, c.sndWl2 = seg.seq, c.iss
		c.sndMax = c.iss // resend the SYN as SYN-ACK
		c.sendSYN(true)
		return
	}
	c.takeSynAckRTT(seg)
	c.sndUna = seg.ack
	c.sndWnd = int32(seg.wnd) // never scaled in a SYN (RFC 7323 §2.2)
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = seg.seq, seg.ack
	c.rtoAt, c.retries = 0, 0
	c.rtt.ResetBackoff()
	c.startData()
	c.setState(Established)
	c.ackNow = true
	if c.finQueued {
		c.finSeq = c.sndUna + uint32(c.sb.len())
		c.setState(FinWait1)
	}
	if f := c.onConnected; f != nil {
		f(c, nil)
	}
}

// takeSynAckRTT samples the handshake RTT unless the SYN was resent.
func (c *PCB) takeSynAckRTT(seg *segment) {
	if c.rttTiming && seqGT(seg.ack, c.rttSeq) {
		c.rttSample(c.p.now - c.rttStart)
	}
	c.rttTiming = false
}

func (c *PCB) rttSample(r time.Duration) {
	if r < 0 {
		return
	}
	c.rtt.Sample(r)
	if c.minRTT == 0 || r < c.minRTT {
		c.minRTT = r
	}
}

// applySynOptions takes the peer's SYN options: MSS (RFC 9293 §3.7.1,
// default 536), window scale, SACK-permitted, timestamps.
func (c *PCB) applySynOptions(o *wire.TCPOptions) {
	cfg := &c.p.cfg
	peer := 536
	if o.HasMSS && o.MSS > 0 {
		peer = int(o.MSS)
	}
	c.sndMSS = max(min(int32(peer), c.advMSS), 64)
	c.wsOK = o.HasWScale && !cfg.DisableWindowScale
	if c.wsOK {
		c.sndScale = o.WScale
		c.rcvScale = c.chooseRcvScale()
	} else {
		c.sndScale, c.rcvScale = 0, 0
	}
	c.sackOK = o.SACKPermitted && !cfg.DisableSACK
	c.tsOK = o.HasTimestamps && !cfg.DisableTimestamps
	if c.tsOK {
		c.setTSRecent(o.TSVal)
	}
}

// pawsIdle is how long TS.Recent stays valid without an update: 24 days,
// less than the 24.8 days the peer's timestamp clock (1 ms per tick at the
// fastest) takes to wrap its sign bit (RFC 7323 §5.5).
const pawsIdle = 24 * 24 * time.Hour

// setTSRecent records tsval as TS.Recent and the hour it was taken.
func (c *PCB) setTSRecent(tsval uint32) {
	c.tsRecent = tsval
	c.tsRecentHour = uint16(c.p.now / time.Hour)
}

// tsAcceptable reports whether tsval passes the PAWS test: SEG.TSval >=
// TS.Recent in modular 32-bit order (RFC 7323 §5.2), or TS.Recent is
// invalid, last set more than 24 days ago (§5.5): then the segment is
// accepted and R3 replaces TS.Recent.
//
// TS.Recent's age counts from its last update, not from the last arrival:
// segments that arrive but cannot update it (out of order, dropped) do not
// revalidate it. It is kept in whole hours in a uint16 (2 bytes in the
// PCB): more than 576 hours apart means more than 24 days, and the check
// fires before 24 days and 2 hours. That counter wraps every 7.5 years; idle,
// the time since the previous arrival, covers the wrap, since TS.Recent is
// at least as old as the last arrival.
func (c *PCB) tsAcceptable(tsval uint32, idle time.Duration) bool {
	return int32(tsval-c.tsRecent) >= 0 || idle > pawsIdle ||
		uint16(c.p.now/time.Hour)-c.tsRecentHour > uint16(pawsIdle/time.Hour)
}

// establish completes a handshake from SYN_RCVD; it reports false when c
// was freed by the application.
func (c *PCB) establish(seg *segment) bool {
	c.takeSynAckRTT(seg)
	c.sndUna = c.iss + 1
	c.sndWnd = int32(seg.wnd) << c.sndScale
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = seg.seq, seg.ack
	c.rtoAt, c.retries = 0, 0
	c.rtt.ResetBackoff()
	c.startData()
	c.setState(Established)
	if c.finQueued {
		c.finSeq = c.sndUna + uint32(c.sb.len())
		c.setState(FinWait1)
	}
	if l := c.listener; l != nil {
		l.ls.halfOpen--
		c.listener = nil
		if l.ls.onAccept == nil || l.freed {
			c.abort(nil)
			return false
		}
		l.ls.onAccept(l, c)
	} else if f := c.onConnected; f != nil {
		f(c, nil)
	}
	return !c.freed
}

// processAck handles the ACK field in a synchronized state (RFC 9293
// §3.10.7.4 fifth, RFC 5681, RFC 6675). It reports false when c is gone.
func (c *PCB) processAck(seg *segment) bool {
	p := c.p
	ack := seg.ack
	newWnd := int(seg.wnd) << c.sndScale
	dataAcked := 0
	finAcked := false
	if seqGT(ack, c.sndUna) {
		acked := int(ack - c.sndUna)
		flight := int(c.sndMax - c.sndUna)
		dataAcked = acked
		if c.finQueued && seqGT(ack, c.finSeq) {
			dataAcked--
			finAcked = true
		}
		var r time.Duration
		if c.rttTiming && seqGT(ack, c.rttSeq) {
			r = p.now - c.rttStart
			c.rttSample(r)
			c.rttTiming = false
		} else if c.tsOK && seg.opts.HasTimestamps && seg.opts.TSEcr != 0 {
			if d := int32(c.tsNow() - seg.opts.TSEcr); d >= 0 && d < 1<<30 {
				r = time.Duration(d) * time.Millisecond
				c.rttSample(r)
			}
		}
		c.rtt.ResetBackoff()
		c.retries = 0
		c.sb.ack(dataAcked)
		c.sndUna = ack
		if seqLT(c.sndNxt, c.sndUna) {
			c.sndNxt = c.sndUna
		}
		c.cnt.bytesAcked += uint64(dataAcked)
		if c.sackOK {
			c.updateScoreboard(seg)
		}
		c.onNewAck(acked, flight, r)
		if c.sndMax == c.sndUna {
			c.rtoAt = 0
			if !c.inRecovery {
				c.releaseSack()
			}
		} else {
			c.rtoAt = p.now + c.rto()
		}
		c.updateNext()
	} else if ack == c.sndUna {
		newly := 0
		if c.sackOK && seg.opts.NumSACK > 0 {
			newly = c.updateScoreboard(seg)
		}
		// a duplicate ACK (RFC 5681 §2), or one with new SACK information
		// (RFC 6675 §2), which may ride on data
		if c.sndMax != c.sndUna && (newly > 0 ||
			len(seg.data) == 0 && !seg.has(wire.TCPFlagFIN) && newWnd == int(c.sndWnd)) {
			c.onDupAck()
		}
	}
	// window update (RFC 9293 §3.10.7.4: SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK))
	if seqLT(c.sndWl1, seg.seq) || c.sndWl1 == seg.seq && seqLEQ(c.sndWl2, ack) {
		c.sndWnd = int32(newWnd)
		c.sndWl1, c.sndWl2 = seg.seq, ack
		c.maxSndWnd = max(c.maxSndWnd, int32(newWnd))
	}
	if finAcked {
		switch c.state {
		case FinWait1:
			c.setState(FinWait2)
			c.releaseCC() // nothing more to send
			if c.orphan {
				c.setTimer(&c.closeAt, p.now+p.cfg.FinWait2Timeout)
			}
		case Closing:
			c.enterTimeWait()
		case LastAck:
			c.fail(nil)
			return false
		}
	}
	if dataAcked > 0 && c.onSent != nil {
		c.onSent(c, dataAcked)
		if c.freed {
			return false
		}
	}
	return true
}

// updateScoreboard feeds the segment's SACK blocks to the scoreboard and
// returns the newly SACKed bytes.
func (c *PCB) updateScoreboard(seg *segment) int {
	n := seg.opts.NumSACK
	blocks := c.p.blocks[:0]
	for i := 0; i < n; i++ {
		blocks = append(blocks, sackBlock{Left: seg.opts.SACK[i].Left, Right: seg.opts.SACK[i].Right})
	}
	if c.sack == nil {
		if n == 0 || c.sndMax == c.sndUna {
			return 0 // nothing in flight: every block is old
		}
		c.acquireSack()
	}
	return c.sack.UpdateBounded(c.sndUna, c.sndMax, blocks)
}

// processData takes the segment text and FIN in ESTABLISHED, FIN_WAIT_1
// and FIN_WAIT_2 (RFC 9293 §3.10.7.4 seventh and eighth): in-order data goes
// to OnRecv, out-of-order data to the queue.
func (c *PCB) processData(seg *segment) {
	p := c.p
	seq, data, fin := seg.seq, seg.data, seg.has(wire.TCPFlagFIN)
	// trim what we already have
	if seqLT(seq, c.rcvNxt) {
		skip := int(c.rcvNxt - seq)
		if skip >= len(data) {
			if fin && seq+uint32(len(data)) != c.rcvNxt {
				fin = false // the FIN too is old
			}
			data = nil
		} else {
			data = data[skip:]
		}
		seq = c.rcvNxt
		c.ackNow = true
	}
	// trim what is beyond the window
	if seqGT(seq+uint32(len(data)), c.rcvAdv) {
		keep := 0
		if seqGT(c.rcvAdv, seq) {
			keep = int(c.rcvAdv - seq)
		}
		data = data[:keep]
		fin = false
		c.ackNow = true
	}
	if len(data) == 0 && !fin {
		return
	}
	if c.orphan && len(data) > 0 {
		// the application closed: nobody will read this (RFC 9293 §3.10.4, as Linux)
		p.stats.DropAfterClose++
		c.abort(nil)
		return
	}
	if seq != c.rcvNxt {
		p.stats.OOOSegments++
		if c.ooo == nil {
			c.acquireOOO()
		}
		maxBytes := p.cfg.MaxOOOBytes
		if p.defaultOOOBytes {
			maxBytes = int(c.rcvBufSize)
		}
		if !c.ooo.insert(p.s.Pool(), seq, data, fin, p.cfg.MaxOOOSegments, maxBytes) {
			p.stats.DropOOOFull++
		}
		c.ackNow = true // immediate duplicate ACK (RFC 5681 §4.2)
		return
	}
	if len(data) > 0 {
		if !c.deliver(data) {
			return
		}
	}
	hadOOO := !c.ooo.empty()
	for !fin && !c.ooo.empty() && seqLEQ(c.ooo.segs[0].seq, c.rcvNxt) {
		s := c.ooo.segs[0]
		if seqGT(s.end(), c.rcvNxt) {
			b := s.buf.Bytes()[c.rcvNxt-s.seq : s.n]
			c.ooo.segs[0].buf = nil
			ok := c.deliver(b)
			s.buf.Free()
			c.ooo.bytes -= int32(s.n)
			c.ooo.segs[0].n = 0
			if !ok {
				return
			}
		}
		f := s.fin && s.end() == c.rcvNxt
		c.ooo.popFront()
		if f {
			fin = true
		}
	}
	if hadOOO {
		c.ackNow = true // a hole filled (RFC 5681 §4.2)
		if c.ooo.empty() {
			c.releaseOOO()
		}
	}
	if fin {
		c.finReceived()
		return
	}
	c.unackedSeg += int32(seg.segs) // a coalesced (GRO) segment counts as what it was
	switch {
	case p.cfg.NoDelayedACK:
		c.ackNow = true
	case c.unackedSeg >= 2 && p.s.InBatch():
		c.deferACK() // one ACK for the batch's in-order data (batch.go)
	case c.unackedSeg >= 2:
		c.ackNow = true
	case c.delackAt == 0 && !c.ackNow:
		c.setTimer(&c.delackAt, p.now+p.cfg.DelayedACK)
	}
}

// deliver hands in-order data to the application; it reports false when
// the application freed c.
func (c *PCB) deliver(data []byte) bool {
	c.rcvNxt += uint32(len(data))
	c.cnt.bytesReceived += uint64(len(data))
	f := c.onRecv
	if f == nil {
		return true
	}
	c.unrecved += int32(len(data))
	f(c, data)
	if c.freed {
		return false
	}
	if c.autoRecved {
		c.unrecved = max(c.unrecved-int32(len(data)), 0)
	}
	return true
}

// finReceived handles the peer's FIN once all data before it arrived.
func (c *PCB) finReceived() {
	c.rcvNxt++
	c.finRcvd = true
	c.ackNow = true
	switch c.state {
	case Established:
		c.setState(CloseWait)
	case FinWait1:
		if c.finQueued && seqGT(c.sndUna, c.finSeq) {
			c.enterTimeWait()
		} else {
			c.setState(Closing)
		}
	case FinWait2:
		c.enterTimeWait()
	}
	if f := c.onRecv; f != nil && !c.orphan {
		f(c, nil)
	}
}

// enterTimeWait moves c to TIME_WAIT for 2*MSL, dropping its buffers.
func (c *PCB) enterTimeWait() {
	c.setState(TimeWait)
	c.rtoAt, c.persistAt, c.keepAt, c.delackAt = 0, 0, 0, 0
	c.releaseOOO()
	c.releaseCC()
	c.sb.release()
	c.setTimer(&c.closeAt, c.p.now+c.p.cfg.TimeWait)
}
