package featherip

import (
	"errors"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/stack"
)

// stuckPause is how long the timer goroutine waits when the stack still
// reports a deadline in the past right after Poll (which would otherwise
// make it spin); a healthy stack never triggers it.
const stuckPause = time.Millisecond

// timerLoop sleeps exactly until the stack's next deadline, calls Poll, and
// starts over. A send on h.wake makes it re-read the deadline early.
func (h *Host) timerLoop() {
	defer h.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		h.mu.Lock()
		h.s.Poll()
		d, ok := h.s.NextDeadline()
		h.armed, h.armedOK = d, ok
		h.mu.Unlock()

		var fire <-chan time.Time
		if ok {
			wait := d - h.clock.Now()
			if wait <= 0 {
				wait = stuckPause
			}
			t.Reset(wait)
			fire = t.C
		}
		select {
		case <-h.done:
			return
		case <-h.wake:
		case <-fire:
		}
		t.Stop()
		h.stats.timerWakeups.Add(1)
	}
}

// receive backoff after a link error that is not the link closing, so a
// failing driver does not make the reader spin.
const (
	minErrorBackoff = time.Millisecond
	maxErrorBackoff = time.Second
)

// readLoop reads frames from l and hands each to the stack under the core
// lock, until the link or the host is closed.
func (h *Host) readLoop(l link.Link, nic stack.NIC, bufLen int) {
	defer h.wg.Done()
	buf := make([]byte, bufLen)
	wakes := make([]chan struct{}, 0, maxDeferredWakes)
	backoff := minErrorBackoff
	for {
		n, err := l.Receive(buf)
		if err != nil {
			if errors.Is(err, link.ErrClosed) {
				return
			}
			select {
			case <-h.done:
				return
			default:
			}
			h.stats.receiveErrors.Add(1)
			t := time.NewTimer(backoff)
			select {
			case <-h.done:
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, maxErrorBackoff)
			continue
		}
		backoff = minErrorBackoff
		h.stats.framesIn.Add(1)
		h.stats.bytesIn.Add(uint64(n))
		h.mu.Lock()
		h.deferWakesLocked()
		h.s.Input(nic, buf[:n])
		h.rearmLocked()
		wakes = h.takeWakesLocked(wakes)
		h.mu.Unlock()
		sendWakes(wakes)
	}
}
