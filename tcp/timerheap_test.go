package tcp

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestTimerHeap drives the timer queue with random deadline changes,
// removals and pops and checks after each step that it holds exactly the
// PCBs with an armed deadline, that positions (hidx) match, that the heap
// order holds, and that its top is the earliest deadline of all PCBs.
func TestTimerHeap(t *testing.T) {
	p := &Protocol{}
	r := rand.New(rand.NewPCG(5, 6))
	pcbs := make([]*PCB, 50)
	for i := range pcbs {
		pcbs[i] = &PCB{p: p}
	}
	check := func(step int) {
		t.Helper()
		var want time.Duration
		armed := 0
		for _, c := range pcbs {
			if c.next != 0 {
				armed++
				if want == 0 || c.next < want {
					want = c.next
				}
			}
			if (c.next != 0) != (c.hidx != 0) {
				t.Fatalf("step %d: PCB next %v queued at %d", step, c.next, c.hidx)
			}
		}
		if len(p.theap) != armed {
			t.Fatalf("step %d: %d queued, %d armed", step, len(p.theap), armed)
		}
		for i, c := range p.theap {
			if int(c.hidx) != i+1 {
				t.Fatalf("step %d: entry %d has hidx %d", step, i, c.hidx)
			}
			if i > 0 && p.theap[(i-1)/2].next > c.next {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
		got, ok := p.NextDeadline()
		if ok != (armed > 0) || got != want {
			t.Fatalf("step %d: NextDeadline %v %v, want %v", step, got, ok, want)
		}
	}
	for step := range 20000 {
		c := pcbs[r.IntN(len(pcbs))]
		switch r.IntN(4) {
		case 0, 1: // arm or move a deadline (ties are common)
			c.next = time.Duration(1 + r.IntN(100))
			p.timerSet(c)
		case 2: // disarm
			c.next = 0
			p.timerSet(c)
		default: // pop the earliest, as Poll does, and maybe requeue it
			if len(p.theap) > 0 {
				top := p.theap[0].next
				d := p.timerPop()
				if d.next != top {
					t.Fatalf("step %d: popped %v, top was %v", step, d.next, top)
				}
				if r.IntN(2) == 0 {
					d.next = 0
				}
				p.timerSet(d)
			}
		}
		check(step)
	}
}
