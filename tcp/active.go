package tcp

import "math"

// State that only matters while data is in flight or out of order lives
// outside the PCB so that an idle connection holds as little memory as
// possible:
//   - the SACK scoreboard (RFC 6675) is taken from the Protocol's free list
//     when SACK blocks first arrive for data in flight (or recovery starts)
//     and given back once everything sent is acknowledged;
//   - the out-of-order queue is taken when a segment first arrives out of
//     order and given back once the hole is filled;
//   - a built-in congestion control algorithm's state is taken when data
//     is first sent and given back once the connection has been idle for
//     longer than the RTO, when cwnd falls back to the restart window
//     anyway (RFC 5681 §4.1); cwnd and ssthresh are kept in the PCB. An
//     algorithm from Config.CongestionFactory stays with its connection.
//
// The free lists keep at most maxFree entries each: steady-state traffic
// on up to that many connections at once reuses them, so the data path
// allocates nothing after warm-up, and after a burst of many busy
// connections the rest goes back to the garbage collector, so memory
// returns to its idle level.
const maxFree = 16

// acquireSack gives c an empty scoreboard at SND.UNA.
func (c *PCB) acquireSack() {
	p := c.p
	if n := len(p.sackFree); n > 0 {
		c.sack = p.sackFree[n-1]
		p.sackFree[n-1] = nil
		p.sackFree = p.sackFree[:n-1]
	} else {
		c.sack = new(scoreboard)
	}
	c.sack.Reset(c.sndUna)
}

// releaseSack returns c's scoreboard, if any, to the free list.
func (c *PCB) releaseSack() {
	s := c.sack
	if s == nil {
		return
	}
	c.sack = nil
	if p := c.p; len(p.sackFree) < maxFree {
		p.sackFree = append(p.sackFree, s)
	}
}

// acquireOOO gives c an empty out-of-order queue with room for
// MaxOOOSegments.
func (c *PCB) acquireOOO() {
	p := c.p
	if n := len(p.oooFree); n > 0 {
		c.ooo = p.oooFree[n-1]
		p.oooFree[n-1] = nil
		p.oooFree = p.oooFree[:n-1]
		return
	}
	c.ooo = &oooQueue{segs: make([]oooSeg, 0, p.cfg.MaxOOOSegments)}
}

// releaseOOO frees whatever c's out-of-order queue holds and returns the
// queue to the free list.
func (c *PCB) releaseOOO() {
	q := c.ooo
	if q == nil {
		return
	}
	q.release()
	c.ooo = nil
	if p := c.p; len(p.oooFree) < maxFree && cap(q.segs) == p.cfg.MaxOOOSegments {
		p.oooFree = append(p.oooFree, q)
	}
}

// congestion returns c's congestion control, taking a built-in algorithm's
// state from the free list when c has none.
func (c *PCB) congestion() ccAlgorithm {
	if c.cc == nil {
		c.acquireCC()
	}
	return c.cc
}

// acquireCC gives c a built-in algorithm's state, fresh before the first
// use and resumed from the kept cwnd and ssthresh after an idle period, and
// arms the check that gives it back.
func (c *PCB) acquireCC() {
	p := c.p
	var a ccResumable
	if n := len(p.ccFree); n > 0 {
		a = p.ccFree[n-1]
		p.ccFree[n-1] = nil
		p.ccFree = p.ccFree[:n-1]
	} else {
		f, _ := newCC(p.cfg.CongestionControl) // the name was validated by New
		a = f.(ccResumable)
	}
	if c.idleCwnd == 0 {
		a.Init(int(c.sndMSS))
	} else {
		a.Resume(int(c.sndMSS), int(c.idleCwnd), int(c.idleSSThresh))
	}
	c.cc = a
	if c.closeAt == 0 {
		c.setTimer(&c.closeAt, p.now+c.rto())
	}
}

// releaseCC gives c's built-in algorithm state back to the free list,
// keeping cwnd and ssthresh.
func (c *PCB) releaseCC() {
	p := c.p
	a, ok := c.cc.(ccResumable)
	if !ok || p.cfg.CongestionFactory != nil {
		return
	}
	c.idleCwnd = int32(min(a.CongestionWindow(), math.MaxInt32))
	c.idleSSThresh = int32(min(a.SlowStartThreshold(), math.MaxInt32))
	c.cc = nil
	if len(p.ccFree) < maxFree {
		p.ccFree = append(p.ccFree, a)
	}
}

// idleCheck runs on closeAt while c holds a built-in algorithm's state
// outside FIN_WAIT_2 and TIME_WAIT: it releases the state once nothing has
// been sent for longer than the RTO, else checks again when that could be.
func (c *PCB) idleCheck() {
	if c.cc == nil || c.p.cfg.CongestionFactory != nil {
		return
	}
	now, rto := c.p.now, c.rto()
	switch {
	case c.sndMax != c.sndUna:
		c.setTimer(&c.closeAt, now+rto)
	case now-c.lastSend > rto:
		c.releaseCC()
	default:
		c.setTimer(&c.closeAt, c.lastSend+rto+1)
	}
}

// congestionWindows returns cwnd and ssthresh, those kept while the
// algorithm's state is released.
func (c *PCB) congestionWindows() (cwnd, ssthresh int) {
	switch {
	case c.cc != nil:
		return c.cc.CongestionWindow(), c.cc.SlowStartThreshold()
	case c.idleCwnd != 0:
		return int(c.idleCwnd), int(c.idleSSThresh)
	case c.state.synchronized():
		return initialWindow(int(c.sndMSS)), infiniteSSThresh
	}
	return 0, 0
}
