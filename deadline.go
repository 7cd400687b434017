package featherip

import (
	"sync"
	"time"
)

// deadline is one direction's deadline of a socket (read or write), in the
// style of net.Pipe's: a channel that is closed when the deadline passes, so
// a blocked goroutine selects on it next to its wake-up channel.
//
// No goroutine waits for it: a runtime timer (time.AfterFunc, created once
// and Reset afterwards) closes the channel when it fires. Moving a deadline
// while a goroutine is blocked works both ways: later keeps the same open
// channel and re-arms the timer (the blocked goroutine keeps waiting), past
// closes the channel at once (it wakes with a timeout), zero disarms it. A
// new channel is made only after the old one has been closed.
//
// It is shared by every socket type of the shell; the TCP conn uses the same
// type for its read and write sides.
type deadline struct {
	mu      sync.Mutex
	when    time.Time     // zero: no deadline
	timer   *time.Timer   // nil until the first future deadline
	expired chan struct{} // closed while the deadline has passed
}

func newDeadline() deadline { return deadline{expired: make(chan struct{})} }

func closedChan(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// set sets the deadline; the zero time removes it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.when = t
	if d.timer != nil {
		d.timer.Stop()
	}
	wasClosed := closedChan(d.expired)
	if t.IsZero() {
		if wasClosed {
			d.expired = make(chan struct{})
		}
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		if !wasClosed {
			close(d.expired)
		}
		return
	}
	if wasClosed {
		d.expired = make(chan struct{})
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(dur, d.fire)
	} else {
		d.timer.Reset(dur)
	}
}

// fire runs on the timer. A firing made stale by a concurrent set (the
// deadline moved later, or was removed) does nothing; a timer that fired
// early by the wall clock (a deadline without a monotonic reading) re-arms.
func (d *deadline) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.when.IsZero() {
		return
	}
	if left := time.Until(d.when); left > 0 {
		d.timer.Reset(left)
		return
	}
	if !closedChan(d.expired) {
		close(d.expired)
	}
}

// wait returns the channel that is closed when the deadline passes. A
// goroutine that is woken by it re-checks with exceeded.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

// exceeded reports whether the deadline has passed.
func (d *deadline) exceeded() bool { return closedChan(d.wait()) }

// stop releases the timer (the socket is closing).
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
	d.when = time.Time{}
}
