package sim

import (
	"fmt"
	"time"
)

// Run advances virtual time by d, delivering frames and firing timers at
// the moments they are due. It panics (with an error wrapping ErrStuck) if
// the network stops making progress; see RunErr.
func (n *Network) Run(d time.Duration) {
	if _, err := n.RunUntilErr(nil, d); err != nil {
		panic(err)
	}
}

// RunErr is Run returning an error wrapping ErrStuck instead of panicking.
func (n *Network) RunErr(d time.Duration) error {
	_, err := n.RunUntilErr(nil, d)
	return err
}

// RunUntil runs the network until cond reports true, checking it after
// every instant at which something happened, or until limit of virtual time
// has passed. It reports whether cond became true; the clock then reads the
// moment it did. It panics (with an error wrapping ErrStuck) if the network
// stops making progress; see RunUntilErr.
func (n *Network) RunUntil(cond func() bool, limit time.Duration) bool {
	ok, err := n.RunUntilErr(cond, limit)
	if err != nil {
		panic(err)
	}
	return ok
}

// RunUntilErr is RunUntil returning an error wrapping ErrStuck instead of
// panicking.
func (n *Network) RunUntilErr(cond func() bool, limit time.Duration) (bool, error) {
	if limit < 0 {
		limit = 0
	}
	end := n.Now() + limit
	stuck := 0
	for {
		moved, err := n.settle()
		if err != nil {
			return false, err
		}
		if cond != nil && cond() {
			return true, nil
		}
		now := n.Now()
		next, ok := n.nextDeadline()
		switch {
		case !ok || next > end:
			if now >= end {
				return false, nil
			}
			n.clock.AdvanceTo(end)
			stuck = 0
		case next <= now:
			// Work due now remains, e.g. frames a Poll just queued.
			if moved > 0 {
				stuck = 0
			} else if stuck++; stuck > maxStuck {
				return false, fmt.Errorf("%w: at %v work stays due at %v after Poll", ErrStuck, now, next)
			}
		default:
			n.clock.AdvanceTo(next)
			stuck = 0
		}
	}
}

// settle delivers every frame due now to its stack, round robin over the
// interfaces, and polls every stack, until no frame moves. It returns the
// number of frames delivered.
func (n *Network) settle() (int, error) {
	total := 0
	for {
		moved := 0
		for _, h := range n.hosts {
			for _, ifc := range h.ifaces {
				if k, ok := ifc.poll.TryReceive(ifc.buf); ok {
					h.Stack.Input(ifc.nic, ifc.buf[:k])
					moved++
				}
			}
		}
		for _, h := range n.hosts {
			h.Stack.Poll()
		}
		total += moved
		if moved == 0 {
			return total, nil
		}
		if total > maxFramesPerInstant {
			return total, fmt.Errorf("%w: %d frames at %v without time passing (a forwarding loop?)", ErrStuck, total, n.Now())
		}
	}
}

// nextDeadline is the earliest moment a stack or a link has work.
func (n *Network) nextDeadline() (time.Duration, bool) {
	var next time.Duration
	found := false
	take := func(d time.Duration, ok bool) {
		if ok && (!found || d < next) {
			next, found = d, true
		}
	}
	for _, h := range n.hosts {
		take(h.Stack.NextDeadline())
		for _, ifc := range h.ifaces {
			take(ifc.poll.NextDue())
		}
	}
	return next, found
}
