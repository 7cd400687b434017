package tcp

import (
	"time"

	"github.com/featherip/featherip/tcp/internal/sack"
)

// onNewAck updates congestion control and loss recovery for an ACK that
// advanced SND.UNA by acked bytes; flight is the FlightSize before it.
// Recovery ends with the first ACK beyond the recovery point (RFC 6582
// §3.2 step 3, RFC 6675 §5); a partial ACK in NewReno recovery resends the
// next hole and deflates the window (RFC 6582 §3.2 step 5).
func (c *PCB) onNewAck(acked, flight int, rtt time.Duration) {
	s := c.sample(rtt)
	s.FlightSize = flight
	if c.inRecovery {
		if seqGT(c.sndUna, c.recover) {
			c.inRecovery, c.inflate, c.dupAcks = false, 0, 0
			c.congestion().OnRecoveryExit(s)
			return
		}
		if !c.sackOK {
			c.inflate -= int32(acked)
			if acked >= int(c.sndMSS) {
				c.inflate += c.sndMSS
			}
			c.retransmitUna()
		}
		return
	}
	c.dupAcks = 0
	if c.cc != nil { // none when only a SYN or FIN was in flight
		c.cc.OnAck(acked, s)
	}
}

// onDupAck handles a duplicate ACK (RFC 5681 §2): limited transmit below
// the threshold (RFC 3042, through cwnd), fast retransmit at it, window
// inflation in NewReno recovery.
func (c *PCB) onDupAck() {
	p := c.p
	c.dupAcks++
	c.cnt.dupAcks++
	if c.inRecovery {
		if !c.sackOK {
			c.inflate += c.sndMSS
		}
		return
	}
	lost := int(c.dupAcks) >= p.cfg.DupThresh ||
		c.sackOK && c.sack != nil && c.sack.IsLost(c.sndUna, int(c.sndMSS), p.cfg.DupThresh)
	if !lost {
		return
	}
	if !seqGT(c.sndUna, c.recover) {
		return // still repairing an earlier window (RFC 6582 §3.2 step 1B)
	}
	c.enterRecovery()
}

// enterRecovery starts fast recovery: the congestion response, then the
// first unacknowledged segment is resent at once.
func (c *PCB) enterRecovery() {
	p := c.p
	c.congestion().OnCongestion(c.sample(0))
	c.recover = c.sndMax - 1
	c.inRecovery = true
	c.cnt.recoveries++
	c.cnt.fastRetrans++
	p.stats.FastRetransmits++
	if c.sackOK {
		p.stats.SACKRecoveries++
		c.highRxt = c.sndUna
		c.rescueUsed = false
	} else {
		p.stats.NewRenoRecovery++
		c.inflate = int32(p.cfg.DupThresh) * c.sndMSS
	}
	c.retransmitUna()
}

// retransmitUna resends the segment at SND.UNA.
func (c *PCB) retransmitUna() {
	inflight := int(c.sndMax - c.sndUna)
	n := min(c.rexmitPayload(), c.sb.len(), inflight)
	if n == 0 && !(c.finQueued && c.sndMax != c.sndUna) {
		return
	}
	if c.sendData(c.sndUna, n, true) && c.sackOK {
		c.highRxt = seqMax(c.highRxt, c.sndUna+uint32(n))
	}
}

// sackSend is the RFC 6675 §5 transmission loop during SACK recovery:
// while cwnd - pipe >= 1 SMSS, send what NextSeg picks, else new data. It
// reports whether it sent anything.
func (c *PCB) sackSend() bool {
	p := c.p
	dt := p.cfg.DupThresh
	sent := false
	if c.sack == nil {
		c.acquireSack()
	}
	for i := 0; i < 256; i++ {
		cwnd := c.congestion().CongestionWindow()
		pipe := c.sack.Pipe(c.sndUna, c.sndMax, c.highRxt, int(c.sndMSS), dt)
		if cwnd-pipe < int(c.sndMSS) {
			break
		}
		seq, n, rule, ok := c.sack.NextSegRule(c.sndUna, c.sndMax, c.highRxt, int(c.sndMSS), dt)
		if ok && rule != sack.RuleLost && c.sendNewInRecovery() {
			sent = true // rule 2 ranks above rules 3 and 4
			continue
		}
		if ok && rule == sack.RuleRescue {
			if c.rescueUsed {
				break
			}
			c.rescueUsed = true // at most one rescue per recovery (RFC 6675 §4 rule 4)
		}
		if ok && seqLT(seq, c.sndMax) && seqGEQ(seq, c.sndUna) {
			n = min(n, c.rexmitPayload())
			if seqGT(seq+uint32(n), c.sndMax) {
				n = int(c.sndMax - seq)
			}
			dataEnd := c.sndUna + uint32(c.sb.len())
			if seqGT(seq+uint32(n), dataEnd) {
				n = max(int(dataEnd-seq), 0)
			}
			if n == 0 && !(c.finQueued && seq == c.finSeq) {
				break
			}
			if !c.sendData(seq, n, true) {
				break
			}
			if rule != sack.RuleRescue {
				c.highRxt = seqMax(c.highRxt, seq+uint32(max(n, 1)))
			}
			sent = true
			continue
		}
		// rule 2: new data, as the receiver window allows
		if !c.sendNewInRecovery() {
			break
		}
		sent = true
	}
	return sent
}

// sendNewInRecovery sends one segment of new data during SACK recovery.
func (c *PCB) sendNewInRecovery() bool {
	dataEnd := c.sndUna + uint32(c.sb.len())
	avail := 0
	if seqLT(c.sndNxt, dataEnd) {
		avail = int(dataEnd - c.sndNxt)
	}
	finPending := c.finQueued && seqLEQ(c.sndNxt, c.finSeq)
	if avail == 0 && !finPending {
		return false
	}
	room := int(c.sndWnd) - int(c.sndNxt-c.sndUna)
	n := max(min(avail, room, c.maxPayload()), 0)
	if avail > 0 && n == 0 {
		return false
	}
	return c.sendData(c.sndNxt, n, false)
}

// startData initializes congestion control and the SACK scoreboard when
// the connection becomes synchronized.
func (c *PCB) startData() {
	if c.cc != nil {
		c.cc.Init(int(c.sndMSS))
	}
	c.releaseSack()
	c.highRxt = c.sndUna
}
