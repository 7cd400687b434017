// Package pipe is an in-memory point-to-point Ethernet link: a virtual
// cable with two ends. What one end sends, the other receives after the
// configured delay.
//
// Each end has a bounded receive queue; a frame sent while the peer's queue
// is full (or the peer is closed) is dropped and counted at the peer, as a
// NIC counts rx drops. Frames are copied on Send.
//
// Both ends implement link.Link and link.Poller. Under virtual time the
// simulation passes its clock in Config and calls TryReceive and NextDue;
// in real time Receive blocks until a frame is due or the end is closed.
package pipe

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/frameq"
)

// Defaults for Config's zero fields.
const (
	DefaultMTU      = 1500
	DefaultQueueLen = 128
)

// Default MAC addresses of the two ends: locally administered unicast.
var (
	DefaultMACA = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	DefaultMACB = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// Config configures a pipe. The zero value is a usable real-time pipe.
type Config struct {
	// MTU is the largest IP packet carried (default 1500); frames may be
	// MTU+14 bytes long.
	MTU int
	// MACA and MACB are the ends' MAC addresses (defaults DefaultMACA and
	// DefaultMACB).
	MACA, MACB net.HardwareAddr
	// Clock gives the time used for Delay and for TryReceive. It is
	// required under virtual time; nil means a real monotonic clock.
	Clock link.Clock
	// Delay is how long a frame travels from one end to the other.
	Delay time.Duration
	// QueueLen bounds each end's receive queue in frames (default 128).
	QueueLen int
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	if c.MTU < 0 {
		return fmt.Errorf("pipe: Config.MTU %d is negative; use 0 for the default %d", c.MTU, DefaultMTU)
	}
	if c.QueueLen < 0 {
		return fmt.Errorf("pipe: Config.QueueLen %d is negative; use 0 for the default %d", c.QueueLen, DefaultQueueLen)
	}
	if c.Delay < 0 {
		return fmt.Errorf("pipe: Config.Delay %v is negative", c.Delay)
	}
	for _, m := range []struct {
		name string
		mac  net.HardwareAddr
	}{{"MACA", c.MACA}, {"MACB", c.MACB}} {
		if m.mac != nil && len(m.mac) != 6 {
			return fmt.Errorf("pipe: Config.%s %v is not a 6-byte Ethernet address", m.name, m.mac)
		}
	}
	return nil
}

// Stats counts one end's traffic.
type Stats struct {
	// Sent counts frames this end sent; SentBytes their bytes.
	Sent, SentBytes uint64
	// Received counts frames this end received; ReceivedBytes their bytes.
	Received, ReceivedBytes uint64
	// Dropped counts frames sent to this end that its full or closed
	// receive queue dropped.
	Dropped uint64
	// TooLong counts frames this end refused to send with
	// link.ErrFrameTooLong.
	TooLong uint64
}

// End is one end of a pipe. It implements link.Link and link.Poller.
type End struct {
	mac      net.HardwareAddr
	mtu      int
	maxFrame int
	clock    link.Clock
	delay    time.Duration
	rx       *frameq.Queue
	peer     *End
	closed   atomic.Bool
	tooLong  atomic.Uint64

	// Write combining (HoldWrites, FlushWrites). holding is read without
	// hmu so that an ordinary Send pays no lock for it.
	holding atomic.Bool
	hmu     sync.Mutex
	hq      [][]byte        // held frames, each in a buffer of cap maxFrame
	hdue    []time.Duration // their due times
	hn      int             // frames held
	// What this end sends is counted by the peer's queue (Offered), under
	// the lock the push takes anyway: atomic counters here, written by
	// every goroutine that sends, cost a contended cache line per frame.
}

// New returns the two ends of a new pipe. It panics with a message naming
// the field when cfg is invalid (see Config.Validate).
func New(cfg Config) (*End, *End) {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.MACA == nil {
		cfg.MACA = DefaultMACA
	}
	if cfg.MACB == nil {
		cfg.MACB = DefaultMACB
	}
	if cfg.Clock == nil {
		cfg.Clock = link.MonotonicClock()
	}
	mk := func(mac net.HardwareAddr) *End {
		max := link.MaxFrameLen(link.Ethernet, cfg.MTU)
		return &End{
			mac:      append(net.HardwareAddr(nil), mac...),
			mtu:      cfg.MTU,
			maxFrame: max,
			clock:    cfg.Clock,
			delay:    cfg.Delay,
			rx:       frameq.New(cfg.QueueLen, max, cfg.Clock),
		}
	}
	a, b := mk(cfg.MACA), mk(cfg.MACB)
	a.peer, b.peer = b, a
	return a, b
}

// Kind reports link.Ethernet.
func (e *End) Kind() link.Kind { return link.Ethernet }

// MTU reports the pipe's MTU.
func (e *End) MTU() int { return e.mtu }

// HardwareAddr reports this end's MAC address.
func (e *End) HardwareAddr() net.HardwareAddr { return e.mac }

// Peer returns the other end of the pipe.
func (e *End) Peer() *End { return e.peer }

// Send copies frame to the peer's receive queue, due after the pipe's
// delay. A frame the peer cannot take is dropped silently and counted at
// the peer.
func (e *End) Send(frame []byte) error {
	if e.closed.Load() {
		return link.ErrClosed
	}
	if len(frame) > e.maxFrame {
		e.tooLong.Add(1)
		return link.ErrFrameTooLong
	}
	var due time.Duration // without a delay a frame is due at once: no clock read
	if e.delay > 0 {
		due = e.clock.Now() + e.delay
	}
	if e.holding.Load() && e.hold(frame, due) {
		return nil
	}
	e.peer.rx.Push(frame, due)
	return nil
}

// Write combining: see HoldWrites.
const (
	// maxHeld is how many frames HoldWrites defers at most (a frame more
	// first hands the held ones over): the root package's receive batch,
	// as for tap. Handing frames over in groups of this size lets the
	// peer's reader start on them while the rest of the batch is built
	// (64 measured no better, 4 and 8 no different within the noise).
	// maxHeldBytes bounds the buffers that takes, so at a large MTU fewer
	// frames are held.
	maxHeld      = 16
	maxHeldBytes = 256 << 10
)

// HoldWrites starts write combining, until FlushWrites: Send copies each
// frame into a buffer of the end's own and returns at once, and
// FlushWrites hands all of them to the peer's queue in one hold of its
// lock, exchanging buffers with the queue instead of copying again. So a
// burst of frames costs the lock once, and its holder, the peer's
// reader, is disturbed once. Frames keep their order. The root package's
// reader holds writes while the stack handles a batch of received frames.
func (e *End) HoldWrites() {
	e.hmu.Lock()
	if e.hq == nil {
		n := max(1, min(maxHeld, maxHeldBytes/e.maxFrame))
		e.hq = make([][]byte, n)
		e.hdue = make([]time.Duration, n)
	}
	e.holding.Store(true)
	e.hmu.Unlock()
}

// FlushWrites hands the held frames over and ends write combining. Frames
// the peer's full or closed queue cannot take are dropped and counted
// there, as with Send; it always returns nil.
func (e *End) FlushWrites() error {
	e.hmu.Lock()
	e.flushLocked()
	e.holding.Store(false)
	e.hmu.Unlock()
	return nil
}

// hold defers frame while writes are held; it reports false when they no
// longer are (the caller then sends at once).
func (e *End) hold(frame []byte, due time.Duration) bool {
	e.hmu.Lock()
	defer e.hmu.Unlock()
	if !e.holding.Load() {
		return false
	}
	if e.hn == len(e.hq) {
		e.flushLocked()
	}
	b := e.hq[e.hn]
	if cap(b) < e.maxFrame {
		// first use, or the queue gave back a slot it had not used yet
		b = make([]byte, 0, e.maxFrame)
	}
	e.hq[e.hn] = append(b[:0], frame...)
	e.hdue[e.hn] = due
	e.hn++
	return true
}

// flushLocked hands the held frames to the peer's queue (e.hmu held).
func (e *End) flushLocked() {
	if e.hn == 0 {
		return
	}
	e.peer.rx.PushSwap(e.hq[:e.hn], e.hdue[:e.hn])
	e.hn = 0
}

// Receive blocks until a frame is due, copies it into buf and returns its
// length. It waits in real time; under a virtual clock use TryReceive.
func (e *End) Receive(buf []byte) (int, error) { return e.rx.Pop(buf) }

// ReceiveBatch blocks until a frame is due, then copies it and every
// further frame already due, up to len(bufs), into bufs, their lengths
// into sizes; it returns the number of frames. No frame carries offload
// metadata: metas, when not nil, are zeroed. It implements
// link.BatchReceiver, so a reader takes a burst of frames in one wake-up.
func (e *End) ReceiveBatch(bufs [][]byte, sizes []int, metas []link.RxMeta) (int, error) {
	n, err := e.rx.PopBatch(bufs, sizes)
	if metas != nil {
		clear(metas[:min(n, len(metas))])
	}
	return n, err
}

// ReceiveBatchSwap is ReceiveBatch without copying the frames: each
// bufs[i] that can hold the pipe's largest frame is exchanged for the
// queue buffer that holds frame i, and the queue keeps the caller's buffer
// for a later frame (a bufs[i] that is too short gets a copy). The caller
// must use bufs[i] afresh after each call and not keep the buffers it
// passed in; the number of buffers never changes.
func (e *End) ReceiveBatchSwap(bufs [][]byte, sizes []int) (int, error) {
	return e.rx.PopBatchSwap(bufs, sizes)
}

// TryReceive copies the next frame that is due by the pipe's clock into buf.
func (e *End) TryReceive(buf []byte) (int, bool) { return e.rx.TryPop(buf, e.clock.Now()) }

// NextDue reports when the next queued frame becomes due.
func (e *End) NextDue() (time.Duration, bool) { return e.rx.NextDue() }

// Close closes this end: its queued frames are discarded, Receive returns
// link.ErrClosed and frames sent to it are dropped.
func (e *End) Close() error {
	e.closed.Store(true)
	e.rx.Close()
	return nil
}

// Stats returns this end's counters.
func (e *End) Stats() Stats {
	q := e.rx.Stats()
	out := e.peer.rx.Stats()
	return Stats{
		Sent:          out.Offered,
		SentBytes:     out.OfferedBytes,
		Received:      q.Popped,
		ReceivedBytes: q.PoppedBytes,
		Dropped:       q.Dropped,
		TooLong:       e.tooLong.Load(),
	}
}

var (
	_ link.Link          = (*End)(nil)
	_ link.Poller        = (*End)(nil)
	_ link.BatchReceiver = (*End)(nil)
)
