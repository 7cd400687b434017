// Package fault wraps a link with seeded, reproducible fault injection on
// the receive side: frames pulled from the wrapped link are lost,
// duplicated, corrupted (one random byte flipped), delayed with jitter, or
// reordered (one frame held back until a later frame has passed it).
//
// All randomness comes from a PCG generator (math/rand/v2) seeded with
// Config.Seed, and every frame draws the same random values in the same
// order, so the same seed and the same input frames give exactly the same
// faults. Delayed frames wait in a bounded queue; a frame that finds it
// full is dropped and counted.
//
// The wrapper works under virtual time (TryReceive and NextDue, with the
// simulation's clock in Config.Clock; no goroutine) and in real time
// (Receive, served by one reader goroutine started on first use and ended
// by Close).
package fault

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/frameq"
)

// Defaults for Config's zero fields.
const (
	DefaultQueueLen    = 128
	DefaultReorderHold = 10 * time.Millisecond
)

// Config sets the faults. Probabilities are per frame, from 0 to 1.
type Config struct {
	// Seed seeds the random source; the same seed reproduces the faults.
	Seed uint64
	// Loss is the probability that a frame is dropped.
	Loss float64
	// Duplicate is the probability that a frame is delivered twice.
	Duplicate float64
	// Reorder is the probability that a frame is held back until the
	// next frame has passed it (or ReorderHold has elapsed).
	Reorder float64
	// Corrupt is the probability that one random byte of a frame is
	// changed (XORed with a random non-zero value).
	Corrupt float64
	// Delay is added to every frame.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay from 0 to Jitter to each
	// frame; frames may overtake each other as a result.
	Jitter time.Duration
	// Clock measures delays; nil means a real monotonic clock. Under
	// virtual time pass the simulation's clock.
	Clock link.Clock
	// QueueLen bounds the frames waiting to be delivered (default 128).
	QueueLen int
	// ReorderHold bounds how long a reordered frame waits for a later
	// frame to pass it (default 10ms).
	ReorderHold time.Duration
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", c.Loss}, {"Duplicate", c.Duplicate}, {"Reorder", c.Reorder}, {"Corrupt", c.Corrupt}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("fault: Config.%s %v is not a probability in [0, 1]", p.name, p.v)
		}
	}
	switch {
	case c.Delay < 0:
		return fmt.Errorf("fault: Config.Delay %v is negative", c.Delay)
	case c.Jitter < 0:
		return fmt.Errorf("fault: Config.Jitter %v is negative", c.Jitter)
	case c.QueueLen < 0:
		return fmt.Errorf("fault: Config.QueueLen %d is negative; use 0 for the default %d", c.QueueLen, DefaultQueueLen)
	case c.ReorderHold < 0:
		return fmt.Errorf("fault: Config.ReorderHold %v is negative; use 0 for the default %v", c.ReorderHold, DefaultReorderHold)
	}
	return nil
}

// Stats counts the faults injected.
type Stats struct {
	// In counts frames pulled from the wrapped link.
	In uint64
	// Delivered counts frames handed to the caller.
	Delivered uint64
	// Lost counts frames dropped by the Loss fault.
	Lost uint64
	// Duplicated counts extra copies made by the Duplicate fault.
	Duplicated uint64
	// Corrupted counts frames with a byte changed.
	Corrupted uint64
	// Reordered counts frames held back for reordering.
	Reordered uint64
	// Overflow counts frames dropped because the delay queue was full.
	Overflow uint64
}

// Link is a link with fault injection on its receive side. It implements
// link.Link and link.Poller.
type Link struct {
	l     link.Link
	p     link.Poller // nil when l is not a Poller
	cfg   Config
	clock link.Clock
	q     *frameq.Queue

	mu       sync.Mutex // guards everything below
	rng      *rand.Rand
	scratch  []byte
	held     uint64 // sequence number of the frame held for reordering
	heldBase time.Duration
	stats    Stats
	closed   bool
	started  bool
	readErr  error

	wg sync.WaitGroup
}

// Wrap returns l with the configured faults applied to received frames.
// It panics with a message naming the field when cfg is invalid (see
// Config.Validate).
func Wrap(l link.Link, cfg Config) *Link {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.ReorderHold == 0 {
		cfg.ReorderHold = DefaultReorderHold
	}
	if cfg.Clock == nil {
		cfg.Clock = link.MonotonicClock()
	}
	maxLen := link.MaxFrameLen(l.Kind(), l.MTU())
	f := &Link{
		l:       l,
		cfg:     cfg,
		clock:   cfg.Clock,
		q:       frameq.New(cfg.QueueLen, maxLen, cfg.Clock),
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		scratch: make([]byte, maxLen),
	}
	f.p, _ = l.(link.Poller)
	return f
}

// push queues one copy of frame. Called with f.mu held.
func (f *Link) push(frame []byte, due time.Duration) (uint64, bool) {
	seq, ok := f.q.Push(frame, due)
	if !ok {
		f.stats.Overflow++
	}
	return seq, ok
}

// process applies the faults to one frame pulled at now. frame belongs to
// the caller's scratch space and may be modified. Called with f.mu held.
func (f *Link) process(frame []byte, now time.Duration) {
	f.stats.In++
	// Every frame draws the same values, so faults stay reproducible
	// whatever the probabilities are.
	uLoss, uDup, uCorrupt, uReorder := f.rng.Float64(), f.rng.Float64(), f.rng.Float64(), f.rng.Float64()
	jitter := f.rng.Uint64()
	pos, flip := f.rng.Uint64(), byte(1+f.rng.IntN(255))
	if uLoss < f.cfg.Loss {
		f.stats.Lost++
		return
	}
	due := now + f.cfg.Delay
	if f.cfg.Jitter > 0 {
		due += time.Duration(jitter % uint64(f.cfg.Jitter+1))
	}
	if uDup < f.cfg.Duplicate {
		if _, ok := f.push(frame, due); ok {
			f.stats.Duplicated++
		}
	}
	if uCorrupt < f.cfg.Corrupt && len(frame) > 0 {
		frame[pos%uint64(len(frame))] ^= flip
		f.stats.Corrupted++
	}
	if uReorder < f.cfg.Reorder {
		f.releaseHeld(due)
		if seq, ok := f.push(frame, due+f.cfg.ReorderHold); ok {
			f.held, f.heldBase = seq, due
			f.stats.Reordered++
		}
		return
	}
	f.push(frame, due)
	f.releaseHeld(due)
}

// releaseHeld lets the held frame go right behind a frame due at due.
func (f *Link) releaseHeld(due time.Duration) {
	if f.held == 0 {
		return
	}
	f.q.Reschedule(f.held, max(due, f.heldBase)) // fails harmlessly if already delivered
	f.held = 0
}

// pull moves every frame the wrapped Poller has due into the fault queue.
func (f *Link) pull(now time.Duration) {
	if f.p == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	for {
		n, ok := f.p.TryReceive(f.scratch)
		if !ok {
			return
		}
		f.process(f.scratch[:n], now)
	}
}

func (f *Link) delivered() {
	f.mu.Lock()
	f.stats.Delivered++
	f.mu.Unlock()
}

// TryReceive pulls the frames due on the wrapped link through the faults
// and copies the next frame that is due into buf. When the wrapped link is
// not a Poller, frames come from the real-time reader goroutine instead,
// started on first use.
func (f *Link) TryReceive(buf []byte) (int, bool) {
	now := f.clock.Now()
	if f.p != nil {
		f.pull(now)
	} else {
		f.startReader()
	}
	n, ok := f.q.TryPop(buf, now)
	if ok {
		f.delivered()
	}
	return n, ok
}

// NextDue reports the earlier of the next frame waiting in the fault queue
// and the next frame due on the wrapped link.
func (f *Link) NextDue() (time.Duration, bool) {
	d, ok := f.q.NextDue()
	if f.p != nil {
		if d2, ok2 := f.p.NextDue(); ok2 && (!ok || d2 < d) {
			d, ok = d2, true
		}
	}
	return d, ok
}

// Receive blocks until a frame has passed the faults and is due. It is
// served by a reader goroutine that Close stops.
func (f *Link) Receive(buf []byte) (int, error) {
	f.startReader()
	n, err := f.q.Pop(buf)
	if err != nil {
		f.mu.Lock()
		rerr, closed := f.readErr, f.closed
		f.mu.Unlock()
		if rerr != nil && !closed {
			return 0, rerr
		}
		return 0, err
	}
	f.delivered()
	return n, nil
}

func (f *Link) startReader() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started || f.closed {
		return
	}
	f.started = true
	f.wg.Add(1)
	go f.reader()
}

// reader pulls frames from the wrapped link in real time.
func (f *Link) reader() {
	defer f.wg.Done()
	buf := make([]byte, len(f.scratch))
	for {
		n, err := f.l.Receive(buf)
		if err != nil {
			f.mu.Lock()
			if !f.closed {
				f.readErr = err
			}
			f.mu.Unlock()
			f.q.Close()
			return
		}
		now := f.clock.Now()
		f.mu.Lock()
		f.process(buf[:n], now)
		f.mu.Unlock()
	}
}

// Kind reports the wrapped link's kind.
func (f *Link) Kind() link.Kind { return f.l.Kind() }

// MTU reports the wrapped link's MTU.
func (f *Link) MTU() int { return f.l.MTU() }

// HardwareAddr reports the wrapped link's MAC address.
func (f *Link) HardwareAddr() net.HardwareAddr { return f.l.HardwareAddr() }

// Send sends on the wrapped link unchanged: faults apply on receive.
func (f *Link) Send(frame []byte) error { return f.l.Send(frame) }

// Unwrap returns the wrapped link.
func (f *Link) Unwrap() link.Link { return f.l }

// Close closes the wrapped link, discards waiting frames and waits for the
// reader goroutine, if any, to end.
func (f *Link) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	err := f.l.Close()
	f.q.Close()
	f.wg.Wait()
	return err
}

// Stats returns the fault counters.
func (f *Link) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

var (
	_ link.Link   = (*Link)(nil)
	_ link.Poller = (*Link)(nil)
)
