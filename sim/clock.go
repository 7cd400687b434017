package sim

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Clock is a virtual monotonic clock: it stands still until Advance or
// AdvanceTo moves it. It satisfies stack.Clock and link.Clock. The zero
// value reads 0 and is ready to use; it is safe for concurrent use.
type Clock struct {
	now atomic.Int64
}

// NewClock returns a clock reading 0.
func NewClock() *Clock { return &Clock{} }

// Now reports the virtual time.
func (c *Clock) Now() time.Duration { return time.Duration(c.now.Load()) }

// Advance moves the clock forward by d. Time never goes back: a negative d
// panics, as it is a bug in the caller.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("sim: Clock.Advance(%v): time cannot go back", d))
	}
	c.now.Add(int64(d))
}

// AdvanceTo moves the clock forward to t; it does nothing when the clock
// already reads t or later.
func (c *Clock) AdvanceTo(t time.Duration) {
	for {
		cur := c.now.Load()
		if int64(t) <= cur || c.now.CompareAndSwap(cur, int64(t)) {
			return
		}
	}
}
