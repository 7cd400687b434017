// Package frameq is the bounded, time-ordered frame queue shared by the
// in-memory links (pipe, switch) and the fault-injection wrapper.
//
// A Queue holds at most a fixed number of frames, each copied into a slot
// buffer allocated on the slot's first use and reused afterwards, so the
// steady state allocates nothing. Frames leave in order of their due time;
// frames with equal due times leave in the order they were pushed. A full
// queue drops the new frame and counts it.
//
// Frames can be taken two ways: TryPop under virtual time (the caller says
// what time it is), or Pop, which blocks in real time until the head frame
// is due (measured with the queue's clock) or the queue is closed.
package frameq

import (
	"sync"
	"time"

	"github.com/featherip/featherip/link"
)

// Stats counts what went through a queue.
type Stats struct {
	// Pushed counts frames accepted into the queue.
	Pushed uint64
	// Popped counts frames taken out of the queue.
	Popped uint64
	// PoppedBytes counts the bytes of the frames taken out (before any
	// truncation to the reader's buffer).
	PoppedBytes uint64
	// Dropped counts frames refused because the queue was full or closed.
	Dropped uint64
	// Offered counts every frame passed to Push, accepted or dropped, and
	// OfferedBytes their bytes (before any truncation): a link counts
	// what it sent here, under the lock Push takes anyway, rather than
	// in atomic counters of its own.
	Offered, OfferedBytes uint64
}

type slot struct {
	buf []byte
	n   int
	due time.Duration
	seq uint64
}

// Queue is a bounded queue of frames ordered by due time. It is safe for
// concurrent use.
type Queue struct {
	mu       sync.Mutex
	clock    link.Clock
	maxFrame int
	slots    []slot
	order    []int32 // occupied slot indices in delivery order
	free     []int32
	seq      uint64
	closed   bool
	stats    Stats

	wake    chan struct{} // one token: something changed (push, reschedule, close)
	waiting bool          // a Pop is blocked or about to block on wake (mu)
	popMu   sync.Mutex    // one blocked Pop at a time; guards timer
	timer   *time.Timer
}

// New returns a queue of capacity frames of at most maxFrame bytes each
// (longer frames are truncated), using clock for Pop.
func New(capacity, maxFrame int, clock link.Clock) *Queue {
	if capacity < 1 {
		capacity = 1
	}
	q := &Queue{
		clock:    clock,
		maxFrame: maxFrame,
		slots:    make([]slot, capacity),
		order:    make([]int32, 0, capacity),
		free:     make([]int32, capacity),
		wake:     make(chan struct{}, 1),
		timer:    time.NewTimer(time.Hour),
	}
	q.timer.Stop()
	for i := range q.free {
		q.free[i] = int32(capacity - 1 - i)
	}
	return q
}

// Cap reports the queue's capacity in frames.
func (q *Queue) Cap() int { return len(q.slots) }

// Len reports how many frames are queued.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// Stats returns the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// insert places slot idx into order by (due, seq).
func (q *Queue) insert(idx int32) {
	s := &q.slots[idx]
	i := len(q.order)
	for i > 0 {
		p := &q.slots[q.order[i-1]]
		if p.due < s.due || (p.due == s.due && p.seq < s.seq) {
			break
		}
		i--
	}
	q.order = append(q.order, 0)
	copy(q.order[i+1:], q.order[i:])
	q.order[i] = idx
}

// Push copies frame into the queue, due at the given time. It returns the
// frame's sequence number and true, or false when the queue is full or
// closed (the frame is dropped and counted).
func (q *Queue) Push(frame []byte, due time.Duration) (uint64, bool) {
	q.mu.Lock()
	q.stats.Offered++
	q.stats.OfferedBytes += uint64(len(frame))
	if q.closed || len(q.free) == 0 {
		q.stats.Dropped++
		q.mu.Unlock()
		return 0, false
	}
	idx := q.free[len(q.free)-1]
	q.free = q.free[:len(q.free)-1]
	s := &q.slots[idx]
	if s.buf == nil {
		s.buf = make([]byte, q.maxFrame)
	}
	s.n = copy(s.buf, frame)
	s.due = due
	q.seq++
	s.seq = q.seq
	q.insert(idx)
	q.stats.Pushed++
	seq := s.seq
	// Only the first push after a Pop started waiting wakes it: a burst of
	// frames costs one wake-up, and a busy reader none.
	wake := q.waiting
	q.waiting = false
	q.mu.Unlock()
	if wake {
		q.signal()
	}
	return seq, true
}

// PushSwap queues frames[i] (due at dues[i]) without copying where it
// can: a frame whose buffer has room for the queue's largest frame
// (cap(frames[i]) >= the maximum) is exchanged for the free slot's
// buffer, which is left in frames[i] (length 0, or nil for a slot not
// used yet); other frames are copied and keep their buffers. Frames the
// full or closed queue cannot take are dropped and counted, and keep
// their buffers too. The lock is taken once for all of them. It returns
// how many frames were queued.
func (q *Queue) PushSwap(frames [][]byte, dues []time.Duration) int {
	q.mu.Lock()
	queued := 0
	for i, f := range frames {
		q.stats.Offered++
		q.stats.OfferedBytes += uint64(len(f))
		if q.closed || len(q.free) == 0 {
			q.stats.Dropped++
			continue
		}
		idx := q.free[len(q.free)-1]
		q.free = q.free[:len(q.free)-1]
		s := &q.slots[idx]
		if cap(f) >= q.maxFrame {
			s.n = len(f)
			if s.n > q.maxFrame {
				s.n = q.maxFrame
			}
			frames[i], s.buf = s.buf[:0:cap(s.buf)], f[:q.maxFrame]
		} else {
			if s.buf == nil {
				s.buf = make([]byte, q.maxFrame)
			}
			s.n = copy(s.buf, f)
		}
		s.due = dues[i]
		q.seq++
		s.seq = q.seq
		q.insert(idx)
		q.stats.Pushed++
		queued++
	}
	wake := queued > 0 && q.waiting
	if wake {
		q.waiting = false
	}
	q.mu.Unlock()
	if wake {
		q.signal()
	}
	return queued
}

// Reschedule moves the queued frame with sequence number seq to a new due
// time, behind every frame already queued for that time. It returns the
// frame's new sequence number and true, or false when no such frame is
// queued.
func (q *Queue) Reschedule(seq uint64, due time.Duration) (uint64, bool) {
	q.mu.Lock()
	pos := -1
	for i, idx := range q.order {
		if q.slots[idx].seq == seq {
			pos = i
			break
		}
	}
	if pos < 0 {
		q.mu.Unlock()
		return 0, false
	}
	idx := q.order[pos]
	q.order = append(q.order[:pos], q.order[pos+1:]...)
	s := &q.slots[idx]
	s.due = due
	q.seq++
	s.seq = q.seq
	q.insert(idx)
	seq = s.seq
	q.mu.Unlock()
	q.signal()
	return seq, true
}

// popLocked removes the head frame into buf.
func (q *Queue) popLocked(buf []byte) int {
	n := q.takeLocked(0, buf)
	q.dropHeadLocked(1)
	return n
}

// takeLocked copies the frame at position i of the delivery order into buf
// and frees its slot; dropHeadLocked then removes the taken positions.
func (q *Queue) takeLocked(i int, buf []byte) int {
	return q.takeSwapLocked(i, &buf, false)
}

// takeSwapLocked is takeLocked; with swap, and *buf at least maxFrame
// long, it exchanges buffers instead of copying: *buf becomes the slot's
// buffer holding the frame and the slot keeps the caller's buffer for a
// later frame.
func (q *Queue) takeSwapLocked(i int, buf *[]byte, swap bool) int {
	idx := q.order[i]
	s := &q.slots[idx]
	var n int
	if swap && len(*buf) >= q.maxFrame {
		*buf, s.buf = s.buf, (*buf)[:q.maxFrame]
		n = s.n
	} else {
		n = copy(*buf, s.buf[:s.n])
	}
	q.stats.Popped++
	q.stats.PoppedBytes += uint64(s.n)
	q.free = append(q.free, idx)
	return n
}

// dropHeadLocked removes the first k positions of the delivery order.
func (q *Queue) dropHeadLocked(k int) {
	m := copy(q.order, q.order[k:])
	q.order = q.order[:m]
}

// TryPop copies the head frame into buf when it is due at now, and returns
// its length (truncated to len(buf)) and true; otherwise 0 and false. A
// closed queue returns nothing.
func (q *Queue) TryPop(buf []byte, now time.Duration) (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.order) == 0 || q.slots[q.order[0]].due > now {
		return 0, false
	}
	return q.popLocked(buf), true
}

// NextDue reports the due time of the head frame, if any.
func (q *Queue) NextDue() (time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.order) == 0 {
		return 0, false
	}
	return q.slots[q.order[0]].due, true
}

// Pop blocks until the head frame is due by the queue's clock, copies it
// into buf and returns its length (truncated to len(buf)). It returns
// link.ErrClosed once the queue is closed. Waiting uses real timers, so Pop
// is for real clocks; under virtual time use TryPop.
func (q *Queue) Pop(buf []byte) (int, error) {
	bufs := [1][]byte{buf}
	var sizes [1]int
	if _, err := q.PopBatch(bufs[:], sizes[:]); err != nil {
		return 0, err
	}
	return sizes[0], nil
}

// PopBatch is Pop for several frames: it blocks until the head frame is
// due, then takes it and every further frame already due, up to
// len(bufs), in one hold of the queue's lock. Frame i is copied into
// bufs[i] (truncated to its length) and its length stored in sizes[i];
// it returns the number of frames.
func (q *Queue) PopBatch(bufs [][]byte, sizes []int) (int, error) {
	return q.popBatch(bufs, sizes, false)
}

// PopBatchSwap is PopBatch without the copy where it can: a bufs[i] at
// least the queue's maximum frame length is exchanged for the slot
// buffer that holds frame i (which is then exactly that long), and the
// slot keeps the caller's buffer. The number of buffers stays the same,
// so the queue's memory stays bounded and nothing is allocated; the
// caller must not keep using a buffer it passed in.
func (q *Queue) PopBatchSwap(bufs [][]byte, sizes []int) (int, error) {
	return q.popBatch(bufs, sizes, true)
}

func (q *Queue) popBatch(bufs [][]byte, sizes []int, swap bool) (int, error) {
	q.popMu.Lock()
	defer q.popMu.Unlock()
	max := min(len(bufs), len(sizes))
	for {
		q.mu.Lock()
		q.waiting = false
		if q.closed {
			q.mu.Unlock()
			return 0, link.ErrClosed
		}
		wait := time.Duration(-1)
		if len(q.order) > 0 && max > 0 {
			due := q.slots[q.order[0]].due
			var now time.Duration
			if due > 0 { // frames pushed without a delay are due at 0: no clock read
				now = q.clock.Now()
			}
			if due <= now {
				n := 0
				for n < max && n < len(q.order) && q.slots[q.order[n]].due <= now {
					sizes[n] = q.takeSwapLocked(n, &bufs[n], swap)
					n++
				}
				q.dropHeadLocked(n)
				q.mu.Unlock()
				return n, nil
			}
			wait = due - now
		}
		q.waiting = true
		q.mu.Unlock()
		if wait < 0 {
			<-q.wake
			continue
		}
		q.timer.Reset(wait)
		select {
		case <-q.wake:
			q.timer.Stop()
		case <-q.timer.C:
		}
	}
}

// Close empties the queue, refuses further frames and makes Pop return
// link.ErrClosed. Closing twice is harmless.
func (q *Queue) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		for _, idx := range q.order {
			q.free = append(q.free, idx)
		}
		q.order = q.order[:0]
	}
	q.mu.Unlock()
	q.signal()
}

// Closed reports whether Close was called.
func (q *Queue) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
