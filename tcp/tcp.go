package tcp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp/cc"
	"github.com/featherip/featherip/wire"
)

// Config configures a Protocol. The zero value selects the defaults, which
// follow Linux where the RFCs leave a choice.
type Config struct {
	// MaxPCBs bounds the number of PCBs (listeners, connections, TIME_WAIT)
	// that exist at once. When it is reached, a new connection reclaims the
	// oldest TIME_WAIT PCB, then the oldest PCB the application already
	// closed that is still in FIN_WAIT_1, FIN_WAIT_2, CLOSING or LAST_ACK
	// (it is reset); otherwise it is refused (ErrTooManyPCBs, or a dropped
	// SYN). Default 256, at most 1<<30.
	MaxPCBs int
	// SendBuffer and RecvBuffer are the default per-connection buffer sizes
	// in bytes (SetSendBuffer, SetRecvBuffer override them). Defaults 64 KiB
	// to send (its storage is allocated whole on the first Write) and
	// 256 KiB to receive: the receive window, which costs memory only while
	// the application lags behind the peer (the core keeps no receive
	// buffer of its own), and which a fast peer needs to fill a fast path
	// (Linux starts at 128 KiB and tunes up to 6 MiB). Left at the default,
	// a connection's buffers are raised to hold at
	// least four full-sized segments of its route's MSS (on links with a
	// jumbo MTU), so that a window keeps several segments in flight and a
	// loss can be repaired by fast retransmit (three duplicate ACKs, RFC
	// 5681 §3.2), as Linux sizes a socket's buffer to its initial window
	// unless the application set it.
	SendBuffer, RecvBuffer int
	// MaxOOOSegments and MaxOOOBytes bound each connection's out-of-order
	// queue. Defaults 64 segments (SACK recovery keeps that much of what
	// arrives past a hole) and the connection's receive buffer in bytes.
	MaxOOOSegments, MaxOOOBytes int
	// MaxChunks bounds the number of WriteNoCopy references (and copy
	// regions between them) queued per connection. Default 64.
	MaxChunks int
	// TimeWait is how long a connection stays in TIME_WAIT (2*MSL,
	// RFC 9293 §3.4.2). Default 60 s as in Linux; RFC 9293's MSL of 2
	// minutes gives 240 s.
	TimeWait time.Duration
	// FinWait2Timeout bounds FIN_WAIT_2 for connections the application
	// closed (Linux tcp_fin_timeout). Default 60 s.
	FinWait2Timeout time.Duration
	// MinRTO, MaxRTO and InitialRTO bound the retransmission timeout
	// (RFC 6298; RFC 6298 says 1 s minimum, Linux uses 200 ms). Defaults
	// 200 ms, 60 s and 1 s.
	MinRTO, MaxRTO, InitialRTO time.Duration
	// MaxRetries is the number of consecutive retransmission timeouts after
	// which a connection fails with ErrTimeout (RFC 1122 R2). Default 15.
	MaxRetries int
	// MaxSynRetries bounds SYN retransmissions of an active open, and
	// MaxSynAckRetries those of SYN-ACKs of a passive one. Defaults 6 and 5.
	MaxSynRetries, MaxSynAckRetries int
	// DelayedACK is the longest an ACK is delayed (RFC 1122 §4.2.3.2 allows
	// up to 500 ms; RFC 9293 recommends less). Default 40 ms. NoDelayedACK
	// acknowledges every segment at once.
	DelayedACK   time.Duration
	NoDelayedACK bool
	// CongestionControl names the algorithm of package tcp/cc: "cubic"
	// (default) or "reno".
	CongestionControl string
	// CongestionFactory, when set, makes each connection's congestion
	// control instead (a user algorithm behind the cc.Algorithm interface);
	// CongestionControl is then ignored.
	CongestionFactory cc.Factory
	// DisableSACK, DisableTimestamps and DisableWindowScale turn off the
	// negotiation of SACK (RFC 2018), timestamps (RFC 7323) and window
	// scaling (RFC 7323).
	DisableSACK, DisableTimestamps, DisableWindowScale bool
	// DisableSYNCookies turns off SYN cookies (RFC 4987): SYNs beyond a
	// listener's backlog are then dropped.
	DisableSYNCookies bool
	// ChallengeACKLimit bounds the challenge ACKs (RFC 5961 §7) sent per
	// second by the whole protocol. Default 100.
	ChallengeACKLimit int
	// EphemeralLow and EphemeralHigh give the range of local ports chosen
	// for Connect, inclusive. Default 49152..65535.
	EphemeralLow, EphemeralHigh uint16
	// KeepIdle, KeepInterval and KeepCount are the keepalive defaults
	// (RFC 1122 §4.2.3.6): 2 h, 75 s and 9 probes.
	KeepIdle, KeepInterval time.Duration
	KeepCount              int
	// DupThresh is the duplicate ACK threshold of fast retransmit (RFC
	// 5681, RFC 6675). Default 3.
	DupThresh int
}

// Default configuration values.
const (
	DefaultMaxPCBs           = 256
	DefaultSendBuffer        = 64 << 10
	DefaultRecvBuffer        = 256 << 10
	DefaultMaxOOOSegments    = 64
	DefaultMaxChunks         = 64
	DefaultTimeWait          = 60 * time.Second
	DefaultFinWait2Timeout   = 60 * time.Second
	DefaultMinRTO            = 200 * time.Millisecond
	DefaultMaxRTO            = 60 * time.Second
	DefaultInitialRTO        = time.Second
	DefaultMaxRetries        = 15
	DefaultMaxSynRetries     = 6
	DefaultMaxSynAckRetries  = 5
	DefaultDelayedACK        = 40 * time.Millisecond
	DefaultChallengeACKLimit = 100
	DefaultEphemeralLow      = 49152
	DefaultEphemeralHigh     = 65535
	DefaultKeepIdle          = 2 * time.Hour
	DefaultKeepInterval      = 75 * time.Second
	DefaultKeepCount         = 9
	DefaultDupThresh         = 3
)

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxPCBs, DefaultMaxPCBs)
	def(&c.SendBuffer, DefaultSendBuffer)
	def(&c.RecvBuffer, DefaultRecvBuffer)
	def(&c.MaxOOOSegments, DefaultMaxOOOSegments)
	def(&c.MaxOOOBytes, c.RecvBuffer)
	def(&c.MaxChunks, DefaultMaxChunks)
	defD(&c.TimeWait, DefaultTimeWait)
	defD(&c.FinWait2Timeout, DefaultFinWait2Timeout)
	defD(&c.MinRTO, DefaultMinRTO)
	defD(&c.MaxRTO, DefaultMaxRTO)
	defD(&c.InitialRTO, DefaultInitialRTO)
	def(&c.MaxRetries, DefaultMaxRetries)
	def(&c.MaxSynRetries, DefaultMaxSynRetries)
	def(&c.MaxSynAckRetries, DefaultMaxSynAckRetries)
	defD(&c.DelayedACK, DefaultDelayedACK)
	def(&c.ChallengeACKLimit, DefaultChallengeACKLimit)
	if c.EphemeralLow == 0 && c.EphemeralHigh == 0 {
		c.EphemeralLow, c.EphemeralHigh = DefaultEphemeralLow, DefaultEphemeralHigh
	}
	defD(&c.KeepIdle, DefaultKeepIdle)
	defD(&c.KeepInterval, DefaultKeepInterval)
	def(&c.KeepCount, DefaultKeepCount)
	def(&c.DupThresh, DefaultDupThresh)
	if c.CongestionControl == "" {
		c.CongestionControl = "cubic"
	}
}

func (c *Config) validate() error {
	bad := func(field string, v any, fix string) error {
		return fmt.Errorf("tcp: Config.%s = %v: %s", field, v, fix)
	}
	ints := []struct {
		name string
		v    int
	}{{"MaxPCBs", c.MaxPCBs}, {"SendBuffer", c.SendBuffer}, {"RecvBuffer", c.RecvBuffer},
		{"MaxOOOSegments", c.MaxOOOSegments}, {"MaxOOOBytes", c.MaxOOOBytes}, {"MaxChunks", c.MaxChunks},
		{"MaxRetries", c.MaxRetries}, {"MaxSynRetries", c.MaxSynRetries}, {"MaxSynAckRetries", c.MaxSynAckRetries},
		{"ChallengeACKLimit", c.ChallengeACKLimit}, {"KeepCount", c.KeepCount}, {"DupThresh", c.DupThresh}}
	for _, f := range ints {
		if f.v < 0 {
			return bad(f.name, f.v, "must be positive (0 selects the default)")
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{{"TimeWait", c.TimeWait}, {"FinWait2Timeout", c.FinWait2Timeout}, {"MinRTO", c.MinRTO}, {"MaxRTO", c.MaxRTO},
		{"InitialRTO", c.InitialRTO}, {"DelayedACK", c.DelayedACK}, {"KeepIdle", c.KeepIdle}, {"KeepInterval", c.KeepInterval}}
	for _, f := range durs {
		if f.v < 0 {
			return bad(f.name, f.v, "must be positive (0 selects the default)")
		}
	}
	if c.MinRTO > c.MaxRTO {
		return bad("MinRTO", c.MinRTO, fmt.Sprintf("must not exceed MaxRTO (%v)", c.MaxRTO))
	}
	if c.MaxPCBs > 1<<30 {
		return bad("MaxPCBs", c.MaxPCBs, "must be at most 1<<30")
	}
	if c.SendBuffer > 1<<30 || c.RecvBuffer > 1<<30 {
		return bad("SendBuffer/RecvBuffer", max(c.SendBuffer, c.RecvBuffer), "must be at most 1 GiB (RFC 7323 window limit)")
	}
	if c.EphemeralLow == 0 || c.EphemeralHigh < c.EphemeralLow {
		return bad("EphemeralLow..EphemeralHigh", fmt.Sprintf("%d..%d", c.EphemeralLow, c.EphemeralHigh),
			fmt.Sprintf("must be a range of nonzero ports (or both 0 for %d..%d)", DefaultEphemeralLow, DefaultEphemeralHigh))
	}
	if _, ok := newCC(c.CongestionControl); !ok && c.CongestionFactory == nil {
		return bad("CongestionControl", c.CongestionControl, `unknown algorithm; use "cubic" or "reno"`)
	}
	return nil
}

// Protocol is the TCP layer of one stack: it owns the PCBs, the
// demultiplexing tables, the timers and the counters. Like the stack it is
// single-threaded: call it from the goroutine that drives the stack.
//
// Timers are exact deadlines: Poll runs what is due and NextDeadline
// reports the earliest pending one (there is no periodic tick).
type Protocol struct {
	s   *stack.Stack
	cfg Config

	pcbs      []*PCB    // every PCB, bounded by MaxPCBs
	conns     connTable // connected PCBs (SYN_SENT .. TIME_WAIT), conntable.go
	listeners []*PCB

	isn       *isnGenerator
	portCount uint32

	stats Stats

	// challenge ACK throttling (RFC 5961 §7)
	chalStart time.Duration
	chalCount int

	now time.Duration // time of the event being processed

	theap []*PCB // PCBs with an armed deadline, a min-heap by PCB.next (timerheap.go)

	twHead, twTail *PCB   // PCBs in TIME_WAIT, oldest first (state.go)
	due            []*PCB // Poll's scratch: the PCBs due now
	deferredACKs   []*PCB // connections owing an ACK at the end of the input batch (batch.go)

	// scratch, reused per segment so the data path allocates nothing
	opts   wire.TCPOptions // output
	inOpts wire.TCPOptions // input
	inSeg  segment
	depth  int
	wo     stack.WriteOptions
	blocks [wire.TCPMaxSACKBlocks]sackBlock

	// SACK scoreboards of connections without data in flight, for reuse
	// (active.go); never more than maxFree
	sackFree []*scoreboard
	// out-of-order queues (capacity MaxOOOSegments) of connections with
	// nothing queued, for reuse; never more than maxFree
	oooFree []*oooQueue
	// built-in congestion control states of idle connections, for reuse;
	// never more than maxFree
	ccFree []ccResumable

	lastKeep *keepOpts // the keepalive settings made last, for sharing (keepalive.go)

	rtoBounds rtoBounds // RTO range and initial value of every connection (RFC 6298)

	// the Config left these at their defaults (Config.SendBuffer)
	defaultSndBuf, defaultRcvBuf, defaultOOOBytes bool

	isnHook func() uint32 // tests: fixed ISNs
}

// New creates the TCP layer of s and registers it for wire.ProtoTCP.
func New(s *stack.Stack, cfg Config) (*Protocol, error) {
	if s == nil {
		return nil, fmt.Errorf("tcp: New needs a stack, got nil")
	}
	defSnd, defRcv, defOOO := cfg.SendBuffer == 0, cfg.RecvBuffer == 0, cfg.MaxOOOBytes == 0
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var key [16]byte
	for i := 0; i < 16; i += 8 {
		r := s.Random()
		for j := 0; j < 8; j++ {
			key[i+j] = byte(r >> (8 * j))
		}
	}
	p := &Protocol{
		s:         s,
		cfg:       cfg,
		pcbs:      make([]*PCB, 0, min(cfg.MaxPCBs, 1024)),
		conns:     connTable{k0: s.Random(), k1: s.Random()},
		isn:       newISNGenerator(key),
		portCount: uint32(s.Random()),
		rtoBounds: newRTOBounds(cfg.MinRTO, cfg.MaxRTO, cfg.InitialRTO),

		defaultSndBuf: defSnd, defaultRcvBuf: defRcv, defaultOOOBytes: defOOO,
	}
	if err := s.RegisterTransport(wire.ProtoTCP, p); err != nil {
		return nil, fmt.Errorf("tcp: registering protocol %d: %w", wire.ProtoTCP, err)
	}
	s.AddPoller(p) // Stack.Poll runs our timers, Stack.NextDeadline includes them
	return p, nil
}

// AcceptsIPv6 implements stack.IPv6Transport: TCP runs over IPv6 too.
func (p *Protocol) AcceptsIPv6() bool { return true }

// Config returns the configuration in effect (defaults filled in).
func (p *Protocol) Config() Config { return p.cfg }

// Poll runs every timer that is due at now: retransmissions, delayed ACKs,
// persist and keepalive probes, TIME_WAIT expiry. It returns at once when
// nothing is due.
func (p *Protocol) Poll(now time.Duration) {
	if len(p.theap) == 0 || p.theap[0].next > now {
		return
	}
	p.now = now
	// Take every due PCB off the queue first: running one's timers may
	// change others' (each change requeues the PCB it concerns).
	due := p.due[:0]
	p.due = nil // a re-entrant Poll gets its own scratch
	for len(p.theap) > 0 && p.theap[0].next <= now {
		due = append(due, p.timerPop())
	}
	for i, c := range due {
		due[i] = nil
		if c.freed {
			continue
		}
		if c.next != 0 && c.next <= now {
			c.runTimers(now)
		}
		if !c.freed && c.hidx == 0 && c.next != 0 {
			p.timerSet(c) // still armed but not requeued
		}
	}
	p.due = due[:0]
}

// NextDeadline reports the earliest time at which Poll has work, and false
// when no timer is pending. It is O(1) (the top of the timer queue).
func (p *Protocol) NextDeadline() (time.Duration, bool) {
	if len(p.theap) == 0 {
		return 0, false
	}
	return p.theap[0].next, true
}

// NumPCBs returns the number of PCBs in use.
func (p *Protocol) NumPCBs() int { return len(p.pcbs) }

// NewPCB returns a new, closed PCB. Configure it, then Bind and Listen or
// Connect. It counts against Config.MaxPCBs (see there for the reclaim
// policy) until it is closed or fails.
func (p *Protocol) NewPCB() (*PCB, error) {
	c := p.allocPCB()
	if c == nil {
		return nil, ErrTooManyPCBs
	}
	return c, nil
}

// allocPCB makes a PCB with the protocol defaults, reclaiming an old one
// when the table is full; nil when nothing can be reclaimed.
func (p *Protocol) allocPCB() *PCB {
	if len(p.pcbs) >= p.cfg.MaxPCBs && !p.reclaim() {
		return nil
	}
	c := &PCB{
		p:          p,
		sndBufSize: int32(p.cfg.SendBuffer), // at most 1 GiB (Config.validate)
		rcvBufSize: int32(p.cfg.RecvBuffer),
		index:      int32(len(p.pcbs)), // MaxPCBs is at most 1<<30 (Config.validate)
	}
	p.pcbs = append(p.pcbs, c)
	p.stats.PCBs = len(p.pcbs)
	return c
}

// reclaim frees the oldest TIME_WAIT PCB, or else, of the PCBs the
// application closed that are still closing, the one that heard from its
// peer least recently (it is reset), like lwIP's tcp_alloc. It reports
// whether one was freed.
func (p *Protocol) reclaim() bool {
	victim := p.twHead // the oldest TIME_WAIT PCB
	if victim == nil {
		for _, c := range p.pcbs {
			switch c.state {
			case FinWait1, FinWait2, Closing, LastAck:
				if c.orphan && (victim == nil || c.lastRecv < victim.lastRecv) {
					victim = c
				}
			}
		}
		if victim != nil {
			victim.sendRST()
		}
	}
	if victim == nil {
		return false
	}
	p.stats.Reclaimed++
	victim.free()
	return true
}

// removePCB takes c out of every table.
func (p *Protocol) removePCB(c *PCB) {
	if c.inConns {
		p.conns.remove(c)
		c.inConns = false
	}
	if c.isListener {
		for i, l := range p.listeners {
			if l == c {
				copy(p.listeners[i:], p.listeners[i+1:])
				p.listeners[len(p.listeners)-1] = nil
				p.listeners = p.listeners[:len(p.listeners)-1]
				break
			}
		}
		c.isListener = false
	}
	if c.index >= 0 && int(c.index) < len(p.pcbs) && p.pcbs[c.index] == c {
		last := len(p.pcbs) - 1
		p.pcbs[c.index] = p.pcbs[last]
		p.pcbs[c.index].index = c.index
		p.pcbs[last] = nil
		p.pcbs = p.pcbs[:last]
		c.index = -1
	}
	p.stats.PCBs = len(p.pcbs)
}

// challengeAllowed applies the RFC 5961 §7 rate limit.
func (p *Protocol) challengeAllowed() bool {
	if p.now-p.chalStart >= time.Second || p.now < p.chalStart {
		p.chalStart, p.chalCount = p.now, 0
	}
	if p.chalCount >= p.cfg.ChallengeACKLimit {
		p.stats.ChallengeACKsThrottled++
		return false
	}
	p.chalCount++
	return true
}

// portInUse reports whether local's port is taken: by the exact
// connection local-remote when remote is valid, or by a listener or a
// bound, unconnected PCB on an overlapping address (dual: local is the
// wildcard of both families; stack.BindsOverlap).
func (p *Protocol) portInUse(local netip.AddrPort, dual bool, remote netip.AddrPort) bool {
	if remote.IsValid() {
		if p.conns.get(local, remote) != nil {
			return true
		}
	}
	for _, c := range p.pcbs {
		if !(c.isListener || c.bound && c.state == Closed) || c.local.Port() != local.Port() {
			continue
		}
		if stack.BindsOverlap(c.local.Addr(), c.dual, local.Addr(), dual) {
			return true
		}
	}
	return false
}

// ephemeralPort picks a local port for a connection to remote with RFC
// 6056 algorithm 3: a keyed hash of the addresses plus a counter.
func (p *Protocol) ephemeralPort(local netip.Addr, dual bool, remote netip.AddrPort) (uint16, error) {
	lo, hi := uint32(p.cfg.EphemeralLow), uint32(p.cfg.EphemeralHigh)
	num := hi - lo + 1
	off := uint32(p.isn.Hash(netip.AddrPortFrom(local, 0), remote))
	for i := uint32(0); i < num; i++ {
		port := uint16(lo + (off+p.portCount+i)%num)
		if !p.portInUse(netip.AddrPortFrom(local, port), dual, remote) {
			p.portCount += i + 1
			return port, nil
		}
	}
	return 0, ErrNoPorts
}
