package stack

import "time"

// Poller is a protocol with timers of its own (TCP, the apps). The stack
// calls Poll from its own Poll and includes NextDeadline in its own, so one
// loop sleeping until Stack.NextDeadline serves every layer.
type Poller interface {
	// Poll runs the timers that are due at now.
	Poll(now time.Duration)
	// NextDeadline reports the earliest time Poll has work, if any.
	NextDeadline() (time.Duration, bool)
}

// AddPoller registers p. Pollers run in the order they were added, after
// the stack's own timers and before the loopback queue is drained.
func (s *Stack) AddPoller(p Poller) { s.pollers = append(s.pollers, p) }

// RemovePoller unregisters p.
func (s *Stack) RemovePoller(p Poller) {
	for i, q := range s.pollers {
		if q == p {
			s.pollers = append(s.pollers[:i], s.pollers[i+1:]...)
			return
		}
	}
}
