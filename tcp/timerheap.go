package tcp

// The protocol's timer queue: a binary min-heap of the PCBs with an armed
// deadline, ordered by PCB.next (the earliest of a PCB's deadlines). It
// makes NextDeadline O(1) and a deadline change O(log n), and Poll visits
// only the PCBs that are due, where a scan of every PCB would cost O(n) at
// connection setup and teardown rates. PCB.hidx is the PCB's position + 1,
// 0 when it is not queued.

// timerSet queues, moves or unqueues c after c.next changed.
func (p *Protocol) timerSet(c *PCB) {
	switch {
	case c.next == 0:
		if c.hidx != 0 {
			p.timerRemove(c)
		}
	case c.hidx == 0:
		p.theap = append(p.theap, c)
		c.hidx = int32(len(p.theap))
		p.timerUp(len(p.theap) - 1)
	default:
		i := int(c.hidx) - 1
		if !p.timerUp(i) {
			p.timerDown(i)
		}
	}
}

// timerRemove unqueues c (queued).
func (p *Protocol) timerRemove(c *PCB) {
	i, last := int(c.hidx)-1, len(p.theap)-1
	c.hidx = 0
	if i != last {
		p.theap[i] = p.theap[last]
		p.theap[i].hidx = int32(i + 1)
	}
	p.theap[last] = nil
	p.theap = p.theap[:last]
	if i != last && !p.timerUp(i) {
		p.timerDown(i)
	}
}

// timerPop unqueues and returns the PCB with the earliest deadline.
func (p *Protocol) timerPop() *PCB {
	c := p.theap[0]
	p.timerRemove(c)
	return c
}

func (p *Protocol) timerSwap(i, j int) {
	h := p.theap
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = int32(i+1), int32(j+1)
}

// timerUp moves entry i towards the root while it is earlier than its
// parent and reports whether it moved.
func (p *Protocol) timerUp(i int) bool {
	moved := false
	for i > 0 {
		parent := (i - 1) / 2
		if p.theap[parent].next <= p.theap[i].next {
			break
		}
		p.timerSwap(i, parent)
		i, moved = parent, true
	}
	return moved
}

// timerDown moves entry i towards the leaves while a child is earlier.
func (p *Protocol) timerDown(i int) {
	n := len(p.theap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && p.theap[r].next < p.theap[l].next {
			m = r
		}
		if p.theap[i].next <= p.theap[m].next {
			return
		}
		p.timerSwap(i, m)
		i = m
	}
}
