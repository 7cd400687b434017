package tcp

// State that only matters while data is in flight or out of order lives
// outside the PCB so that an idle connection holds as little memory as
// possible:
//   - the SACK scoreboard (RFC 6675) is taken from the Protocol's free list
//     when SACK blocks first arrive for data in flight (or recovery starts)
//     and given back once everything sent is acknowledged;
//   - the out-of-order queue's slice is taken when a segment first arrives
//     out of order and given back once the hole is filled.
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

// acquireOOO gives c's out-of-order queue an empty slice of capacity
// MaxOOOSegments.
func (c *PCB) acquireOOO() {
	p := c.p
	if n := len(p.oooFree); n > 0 {
		c.ooo.segs = p.oooFree[n-1]
		p.oooFree[n-1] = nil
		p.oooFree = p.oooFree[:n-1]
		return
	}
	c.ooo.segs = make([]oooSeg, 0, p.cfg.MaxOOOSegments)
}

// releaseOOO frees whatever c's out-of-order queue holds and returns its
// slice to the free list.
func (c *PCB) releaseOOO() {
	c.ooo.release()
	s := c.ooo.segs
	if s == nil {
		return
	}
	c.ooo.segs = nil
	if p := c.p; len(p.oooFree) < maxFree && cap(s) == p.cfg.MaxOOOSegments {
		p.oooFree = append(p.oooFree, s[:0])
	}
}
