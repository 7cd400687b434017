package tcp

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestTimeWaitList moves PCBs between states at random with the clock
// advancing and checks the TIME_WAIT list holds exactly the PCBs in
// TIME_WAIT, each once, oldest first (the one reclaim frees first).
func TestTimeWaitList(t *testing.T) {
	p := &Protocol{}
	r := rand.New(rand.NewPCG(9, 10))
	pcbs := make([]*PCB, 30)
	for i := range pcbs {
		pcbs[i] = &PCB{p: p}
	}
	states := []State{Closed, SynSent, Established, FinWait1, FinWait2, Closing, TimeWait, TimeWait, LastAck}
	entered := map[*PCB]time.Duration{}
	for step := range 5000 {
		p.now += time.Duration(r.IntN(3)) * time.Millisecond
		c := pcbs[r.IntN(len(pcbs))]
		old := c.state
		c.setState(states[r.IntN(len(states))])
		if c.state == TimeWait && old != TimeWait {
			entered[c] = p.now
		}
		in := 0
		for _, c := range pcbs {
			if c.state == TimeWait {
				in++
			}
		}
		n := 0
		var prev *PCB
		for c := p.twHead; c != nil; c = c.twNext {
			if c.state != TimeWait || c.twPrev != prev || n > len(pcbs) {
				t.Fatalf("step %d: list entry %d: state %v, links broken", step, n, c.state)
			}
			if prev != nil && entered[c] < entered[prev] {
				t.Fatalf("step %d: entry %d entered TIME_WAIT at %v, before its predecessor (%v)", step, n, entered[c], entered[prev])
			}
			prev = c
			n++
		}
		if n != in || p.twTail != prev {
			t.Fatalf("step %d: %d listed, %d in TIME_WAIT", step, n, in)
		}
	}
}
