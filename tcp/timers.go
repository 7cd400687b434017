package tcp

import (
	"time"

	"github.com/featherip/featherip/wire"
)

// setTimer arms one of c's deadlines and refreshes its earliest one.
func (c *PCB) setTimer(t *time.Duration, at time.Duration) {
	if at == 0 {
		at = 1
	}
	*t = at
	c.updateNext()
}

// rto returns c's current retransmission timeout (RFC 6298).
func (c *PCB) rto() time.Duration { return c.rtt.RTO(&c.p.rtoBounds) }

// updateNext recomputes c.next, the earliest armed deadline.
func (c *PCB) updateNext() {
	n := time.Duration(0)
	for _, t := range [...]time.Duration{c.rtoAt, c.persistAt, c.delackAt, c.keepAt, c.closeAt} {
		if t != 0 && (n == 0 || t < n) {
			n = t
		}
	}
	if n == c.next && (n == 0) == (c.hidx == 0) {
		return // unchanged and queued as it should be
	}
	c.next = n
	c.p.timerSet(c) // requeue by the new earliest deadline (timerheap.go)
}

// runTimers fires c's deadlines that are due at now.
func (c *PCB) runTimers(now time.Duration) {
	p := c.p
	p.now = now
	if c.closeAt != 0 && c.closeAt <= now {
		c.closeAt = 0
		switch {
		case c.state == TimeWait:
			c.fail(nil)
			return
		case c.state == FinWait2 && c.orphan:
			c.abort(nil)
			return
		default:
			c.idleCheck()
		}
	}
	if c.rtoAt != 0 && c.rtoAt <= now {
		c.rtoAt = 0
		c.onRTO()
		if c.freed {
			return
		}
	}
	if c.persistAt != 0 && c.persistAt <= now {
		c.persistAt = 0
		c.onPersist()
		if c.freed {
			return
		}
	}
	if c.delackAt != 0 && c.delackAt <= now {
		c.delackAt = 0
		if c.state.synchronized() && c.state != TimeWait && c.lastAckSent != c.rcvNxt || c.unackedSeg > 0 {
			p.stats.DelayedACKs++
			c.sendACK()
		}
	}
	if c.keepAt != 0 && c.keepAt <= now {
		c.keepAt = 0
		c.onKeepalive()
		if c.freed {
			return
		}
	}
	c.updateNext()
}

// onRTO handles a retransmission timeout (RFC 6298 §5.4-5.7, RFC 5681
// §3.1): back off, shrink the window to one segment, and resend from
// SND.UNA.
func (c *PCB) onRTO() {
	p := c.p
	switch c.state {
	case SynSent:
		c.retries++
		if int(c.retries) > p.cfg.MaxSynRetries {
			c.fail(ErrTimeout)
			return
		}
		c.rtt.Backoff(&c.p.rtoBounds)
		c.sendSYN(false)
		return
	case SynReceived:
		c.retries++
		if int(c.retries) > p.cfg.MaxSynAckRetries {
			c.fail(nil)
			return
		}
		c.rtt.Backoff(&c.p.rtoBounds)
		c.sendSYN(true)
		return
	case Closed, Listen, TimeWait:
		return
	}
	if c.sndMax == c.sndUna {
		return
	}
	c.retries++
	if int(c.retries) > p.cfg.MaxRetries {
		c.abort(ErrTimeout)
		return
	}
	p.stats.Timeouts++
	c.cnt.timeouts++
	c.congestion().OnTimeout(c.sample(0))
	c.rtt.Backoff(&c.p.rtoBounds)
	c.rttTiming = false
	c.recover = c.sndMax - 1
	c.inRecovery, c.inflate, c.dupAcks = false, 0, 0
	c.releaseSack() // RFC 6675 §5.1: the SACK state may be discarded after an RTO
	c.highRxt = c.sndUna
	c.sndNxt = c.sndUna
	if !c.sendNew(true) {
		// nothing could go out (no buffer): try again later
		c.setTimer(&c.rtoAt, p.now+c.rto())
	}
	if c.rtoAt == 0 {
		c.setTimer(&c.rtoAt, p.now+c.rto())
	}
	c.output()
}

// onPersist probes a zero window (RFC 9293 §3.8.6.1) or, when the window
// is open but too small for silly window avoidance, sends what fits (RFC
// 1122 §4.2.3.4 override), then backs off.
func (c *PCB) onPersist() {
	p := c.p
	if !c.state.synchronized() || c.state == TimeWait || c.unsent() == 0 || c.sndMax != c.sndUna {
		c.persistShift = 0
		return
	}
	if c.sndWnd == 0 {
		p.stats.PersistProbes++
		c.cnt.probes++
		c.sendProbe()
	} else {
		c.sendNew(true)
	}
	if c.sndMax == c.sndUna {
		c.persistShift++
		c.setTimer(&c.persistAt, p.now+c.persistTimeout())
	}
	c.output()
}

// armKeepalive (re)starts the keepalive timer after traffic.
func (c *PCB) armKeepalive() {
	if !c.keepAlive || !(c.state == Established || c.state == CloseWait) {
		if c.keepAt != 0 {
			c.keepAt = 0
			c.updateNext()
		}
		return
	}
	if c.keepProbes == 0 {
		c.setTimer(&c.keepAt, c.lastRecv+c.keepIdle())
	}
}

// onKeepalive sends a keepalive probe after an idle period (RFC 1122
// §4.2.3.6) and fails the connection after keepCount unanswered probes.
func (c *PCB) onKeepalive() {
	p := c.p
	if !c.keepAlive || !(c.state == Established || c.state == CloseWait) {
		return
	}
	if c.sndMax != c.sndUna || c.unsent() > 0 {
		// data in flight: the retransmission timer watches the peer
		c.setTimer(&c.keepAt, p.now+c.keepIntvl())
		return
	}
	if c.keepProbes == 0 && p.now-c.lastRecv < c.keepIdle() {
		c.setTimer(&c.keepAt, c.lastRecv+c.keepIdle())
		return
	}
	if int(c.keepProbes) >= c.keepCount() {
		p.stats.KeepaliveDrops++
		c.abort(ErrTimeout)
		return
	}
	c.keepProbes++
	p.stats.KeepaliveProbes++
	c.xmit(c.sndUna-1, 0, wire.TCPFlagACK, false)
	c.setTimer(&c.keepAt, p.now+c.keepIntvl())
}
