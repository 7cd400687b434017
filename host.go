package featherip

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
	"github.com/featherip/featherip/udp"
)

// Host is a featherip stack driven by goroutines: one reader per link and one
// timer. All its methods are safe for concurrent use.
type Host struct {
	mu    sync.Mutex // the core lock: guards s, udp, raw and the fields below
	s     *stack.Stack
	udp   *udp.Protocol
	raw   *raw.Protocol
	tcp   *tcp.Protocol
	clock link.Clock

	links   []link.Link
	holders []writeHolder // links that hold writes for free (freeHolder)
	closed  bool
	armed   time.Duration // deadline the timer goroutine sleeps for
	armedOK bool          // false: the timer sleeps with no deadline

	wake      chan struct{} // one token: the deadline moved earlier
	done      chan struct{} // closed by Close
	isDone    atomic.Bool   // set just before done is closed
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup

	stats shellCounters

	// Wake-ups deferred while a reader hands a batch of frames to the
	// stack (wakeLocked); guarded by mu.
	deferWakes bool
	wakes      []chan struct{}

	// Sockets (socket.go and the files it names); guarded by mu.
	sockCfg SocketConfig
	socks   map[sockCloser]struct{}
	pings   pingTable // ping sockets by identifier, on one raw ICMP pcb
	pings6  pingTable // IPv6 ping sockets, on one raw ICMPv6 pcb
	scratch []byte    // a send buffer for ping sockets (mu)
}

type shellCounters struct {
	framesIn      atomic.Uint64
	bytesIn       atomic.Uint64
	receiveErrors atomic.Uint64
	timerWakeups  atomic.Uint64
	rcvbufErrors  atomic.Uint64
	pingInErrors  atomic.Uint64
	groSegments   atomic.Uint64
}

// ShellStats counts what the concurrent shell itself did, apart from the
// stack's own counters.
type ShellStats struct {
	// FramesIn counts frames read from links and handed to the stack.
	FramesIn uint64
	// BytesIn counts the bytes of those frames.
	BytesIn uint64
	// ReceiveErrors counts link Receive errors other than the link closing.
	ReceiveErrors uint64
	// TimerWakeups counts the timer goroutine's wake-ups (deadline reached
	// or re-armed).
	TimerWakeups uint64
	// RcvbufErrors counts datagrams dropped because a socket's receive
	// queue (SetReadBuffer, Config.Sockets) was full: UDP, ping and raw
	// sockets together (Linux counts UDP's in UdpRcvbufErrors).
	RcvbufErrors uint64
	// PingInErrors counts echo replies for a ping socket dropped for a
	// bad ICMP checksum.
	PingInErrors uint64
	// GROSegments counts received TCP segments the link reader coalesced
	// with their neighbours into larger ones before the stack saw them
	// (software GRO, see gro.go).
	GROSegments uint64
}

// Stats is a snapshot of every counter of a Host.
type Stats struct {
	// Stack holds the core's per-layer counters.
	Stack stack.Stats
	// UDP holds the UDP protocol's counters.
	UDP udp.Stats
	// TCP holds the TCP protocol's counters (RFC 4022 MIB style).
	TCP tcp.Stats
	// Shell holds the concurrent shell's counters.
	Shell ShellStats
}

// New creates a Host: a stack with the machine's monotonic clock and a
// crypto-seeded random source, its UDP and raw protocols, and the timer
// goroutine. Add links with [Host.AddInterface]; release everything with
// [Host.Close].
func New(cfg Config) (*Host, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sockCfg, err := cfg.Sockets.withDefaults()
	if err != nil {
		return nil, err
	}
	clock := link.MonotonicClock()
	sc := cfg.Stack
	sc.Clock = clock
	if sc.Rand == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			return nil, fmt.Errorf("featherip: seeding the random source: %w", err)
		}
		sc.Rand = rand.NewChaCha8(seed)
	}
	s, err := stack.New(sc)
	if err != nil {
		return nil, fmt.Errorf("featherip: Config.Stack: %w", err)
	}
	u, err := udp.New(s, cfg.UDP)
	if err != nil {
		return nil, fmt.Errorf("featherip: Config.UDP: %w", err)
	}
	r, err := raw.New(s, cfg.Raw)
	if err != nil {
		return nil, fmt.Errorf("featherip: Config.Raw: %w", err)
	}
	tp, err := tcp.New(s, cfg.TCP) // registers itself with the stack and as its poller
	if err != nil {
		return nil, fmt.Errorf("featherip: Config.TCP: %w", err)
	}
	h := &Host{
		s:     s,
		udp:   u,
		raw:   r,
		tcp:   tp,
		clock: clock,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),

		sockCfg: sockCfg,
	}
	h.wg.Add(1)
	go h.timerLoop()
	return h, nil
}

// Do runs fn with the core lock held, so fn may use the stack and the
// protocols (and the pcbs they created) freely. Callbacks the stack makes
// (OnRecv, OnError, ...) run with the lock held as well: they must not call
// Do, which would deadlock. After fn returns, Do re-arms the timer if fn
// scheduled earlier work (a send waiting for ARP, a new timer).
//
// Do still works after Close (e.g. to read counters), but nothing is
// received or timed any more.
func (h *Host) Do(fn func(s *stack.Stack)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.rearmLocked()
	fn(h.s)
}

// Stack returns the core. Use it only inside [Host.Do] or a callback: the
// stack is not safe for concurrent use.
func (h *Host) Stack() *stack.Stack { return h.s }

// UDP returns the UDP protocol. Use it (and its pcbs) only inside [Host.Do]
// or a callback.
func (h *Host) UDP() *udp.Protocol { return h.udp }

// Raw returns the raw IP protocol. Use it (and its pcbs) only inside
// [Host.Do] or a callback.
func (h *Host) Raw() *raw.Protocol { return h.raw }

// TCP returns the TCP protocol (callback API). Use it (and its pcbs) only
// inside [Host.Do] or a callback.
func (h *Host) TCP() *tcp.Protocol { return h.tcp }

// Now returns the host's clock: the monotonic time since New.
func (h *Host) Now() time.Duration { return h.clock.Now() }

// Stats returns a snapshot of every counter: the stack's, UDP's, TCP's and
// the shell's own.
func (h *Host) Stats() Stats {
	h.mu.Lock()
	st := Stats{Stack: h.s.Stats(), UDP: h.udp.Stats(), TCP: h.tcp.Stats()}
	h.mu.Unlock()
	st.Shell = ShellStats{
		FramesIn:      h.stats.framesIn.Load(),
		BytesIn:       h.stats.bytesIn.Load(),
		ReceiveErrors: h.stats.receiveErrors.Load(),
		TimerWakeups:  h.stats.timerWakeups.Load(),
		RcvbufErrors:  h.stats.rcvbufErrors.Load(),
		PingInErrors:  h.stats.pingInErrors.Load(),
		GROSegments:   h.stats.groSegments.Load(),
	}
	return st
}

// Close ends every socket (blocked reads and writes return net.ErrClosed;
// pcbs and queued datagrams are released), closes every link, stops the
// reader and timer goroutines and returns when all of them have exited. It must not be called from inside Do or a
// callback. Calling it again returns the first call's result.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.isDone.Store(true)
		close(h.done)
		h.mu.Lock()
		h.closed = true
		h.closeSocksLocked()
		links := h.links
		h.mu.Unlock()
		var errs []error
		for _, l := range links {
			if err := l.Close(); err != nil && !errors.Is(err, link.ErrClosed) {
				errs = append(errs, err)
			}
		}
		h.closeErr = errors.Join(errs...)
	})
	h.wg.Wait()
	return h.closeErr
}

// rearmLocked wakes the timer goroutine when the stack's next deadline is
// earlier than the one it sleeps for. h.mu must be held.
func (h *Host) rearmLocked() {
	d, ok := h.s.NextDeadline()
	if !ok || (h.armedOK && d >= h.armed) {
		return
	}
	// The timer will re-read the deadline; record it now so a burst of
	// frames sends one wake-up, not one per frame.
	h.armed, h.armedOK = d, true
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// maxDeferredWakes bounds the wake-ups a batch defers; beyond it they are
// sent at once.
const maxDeferredWakes = 4 * rxBatch

// wakeLocked hands ch its token (see signal). While a reader hands a
// batch of frames to the stack, the token waits until the reader has
// released the core lock: the woken goroutine, which takes the core lock
// first thing, then finds it free instead of blocking on it, and a
// burst of segments for one connection wakes its reader once. h.mu must
// be held.
func (h *Host) wakeLocked(ch chan struct{}) {
	if !h.deferWakes || len(h.wakes) >= maxDeferredWakes {
		signal(ch)
		return
	}
	for _, w := range h.wakes {
		if w == ch {
			return
		}
	}
	h.wakes = append(h.wakes, ch)
}

// deferWakesLocked starts deferring wake-ups (h.mu held).
func (h *Host) deferWakesLocked() { h.deferWakes = true }

// takeWakesLocked stops deferring and moves the deferred wake-ups into
// buf, to be sent with sendWakes once h.mu is released.
func (h *Host) takeWakesLocked(buf []chan struct{}) []chan struct{} {
	h.deferWakes = false
	buf = append(buf[:0], h.wakes...)
	clear(h.wakes)
	h.wakes = h.wakes[:0]
	return buf
}

// sendWakes signals every channel in ws and clears ws (h.mu not held).
func sendWakes(ws []chan struct{}) {
	for i, ch := range ws {
		signal(ch)
		ws[i] = nil
	}
}
