// Package stack is featherip's protocol core: interfaces (including
// loopback), the routing table, the ARP neighbor cache (RFC 826), IPv4 input
// and output (RFC 791, RFC 1122) with fragmentation and reassembly, ICMPv4
// (RFC 792), IPv4 forwarding between interfaces (RFC 1812, forward.go),
// the IGMPv3/v2 host with source filters (RFC 3376, RFC 2236, igmp.go), the
// multicast receive filter, and per-layer counters.
//
// A Stack is single-threaded and poll-driven: frames go in through Input,
// timers run in Poll, time comes from the injected Clock and randomness from
// the injected Rand. It starts no goroutines, takes no locks, keeps no global
// state and never reads the wall clock; the caller serializes all calls (the
// root package does so under one lock). NextDeadline tells the caller when
// Poll next has work, so a loop can sleep exactly until then.
//
// Every table and queue is bounded by a Config field with a documented
// default; when a bound is hit the stack drops, counts and carries on.
// Transports (UDP, TCP, raw) plug in by protocol number with
// RegisterTransport and AddRawHandler and send with WriteIPv4.
//
// The code is split so that an IPv6 path can sit beside the IPv4 one: the
// IPv4 files are named ipv4_*.go, arp.go and icmp.go; interface, route and
// timer handling are address-family neutral where it costs nothing.
package stack

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// Clock gives monotonic time since an arbitrary origin.
type Clock interface{ Now() time.Duration }

// Rand gives randomness; *rand.PCG and *rand.ChaCha8 from math/rand/v2 satisfy it.
type Rand interface{ Uint64() uint64 }

// ARPConfig bounds and times the ARP neighbor cache (RFC 826, RFC 1122 2.3.2).
// Zero fields take the defaults given.
type ARPConfig struct {
	// CacheSize is the number of neighbor entries (all interfaces). Default 64.
	// When full, the least recently used non-static entry is evicted (counted).
	CacheSize int
	// QueueLen is how many datagrams may wait for one resolution. Default 4.
	// When full, the oldest waiting datagram is dropped (counted), RFC 1122 2.3.2.2.
	QueueLen int
	// QueueTotal bounds the datagrams waiting for all resolutions together. Default 64.
	QueueTotal int
	// Retries is the number of requests sent before a resolution fails. Default 3.
	Retries int
	// RetryInterval is the time between requests. Default 1s.
	RetryInterval time.Duration
	// ReachableTime is how long a resolved entry lives without being refreshed
	// by ARP traffic from its owner (aging, RFC 1122 2.3.2.1). Default 5 minutes.
	ReachableTime time.Duration
	// Announcements is the number of gratuitous ARP announcements (RFC 5227
	// section 2.3: requests with sender IP = target IP) sent when an Ethernet
	// interface comes up or gets an address. Default 2; negative disables them.
	Announcements int
	// AnnounceInterval is the time between announcements. Default 2s (RFC 5227 ANNOUNCE_INTERVAL).
	AnnounceInterval time.Duration
}

// ReassemblyConfig bounds IPv4 reassembly (RFC 791 section 3.2, RFC 815).
type ReassemblyConfig struct {
	// MaxBytes bounds the buffer memory held by incomplete datagrams, counted
	// as the full size of each held packet buffer. Default 256 KiB. When a
	// new fragment does not fit, the oldest incomplete datagrams are dropped.
	MaxBytes int
	// MaxDatagrams bounds the datagrams reassembled at once. Default 16.
	MaxDatagrams int
	// MaxFragments bounds the fragments held for one datagram. Default 64
	// (a 65535-byte datagram over Ethernet needs 45).
	MaxFragments int
	// Timeout is how long an incomplete datagram is kept after its first
	// fragment arrived. Default 15s (RFC 791's suggested initial timer;
	// Linux uses 30s).
	Timeout time.Duration
}

// RateLimitConfig is a token bucket (RFC 1812 4.3.2.8, like Linux icmp_ratelimit).
type RateLimitConfig struct {
	// PerSecond is the refill rate in messages per second. Default 100;
	// negative disables the limit.
	PerSecond int
	// Burst is the bucket size. Default 50.
	Burst int
}

// Config configures a Stack. Clock and Rand are required; zero values
// elsewhere select the documented defaults.
type Config struct {
	// Clock supplies monotonic time. Required.
	Clock Clock
	// Rand supplies randomness (initial IP identification). Required.
	Rand Rand
	// Pool supplies packet buffers. Nil => pbuf.New(pbuf.Config{}). Its
	// headroom must hold an Ethernet and an IPv6 header (54 bytes).
	Pool *pbuf.Pool
	// ARP configures the neighbor cache.
	ARP ARPConfig
	// Reassembly configures IPv4 reassembly.
	Reassembly ReassemblyConfig
	// DefaultTTL is the TTL of datagrams sent without one. Default 64 (RFC 1700).
	DefaultTTL uint8
	// ICMPRateLimit limits the ICMP errors we send. Default 100/s, burst 50.
	ICMPRateLimit RateLimitConfig
	// EchoBroadcast makes the stack answer echo requests sent to broadcast or
	// multicast addresses (RFC 1122 3.2.2.6 allows either). Default false,
	// like Linux icmp_echo_ignore_broadcasts.
	EchoBroadcast bool
	// MaxInterfaces bounds the interfaces, loopback included. Default 16.
	MaxInterfaces int
	// MaxAddresses bounds the IPv4 addresses per interface. Default 8.
	MaxAddresses int
	// MaxRoutes bounds the routing table, connected routes included. Default 64.
	MaxRoutes int
	// MaxGroups bounds the multicast groups joined per interface. Default 16.
	// A group that was left keeps its slot while its leave is reported.
	MaxGroups int
	// LoopbackQueueLen bounds the datagrams waiting on the loopback queue. Default 64.
	LoopbackQueueLen int
	// IPv6 configures IPv6 (RFC 8200): on by default; see IPv6Config.
	IPv6 IPv6Config
	// Forwarding makes the stack an IPv4 router (RFC 1812): datagrams for
	// other hosts received on an interface with forwarding on (see
	// SetForwarding) are forwarded. Default false (a host, RFC 1122).
	Forwarding bool
	// IGMP configures the IGMP host (RFC 3376, RFC 2236).
	IGMP IGMPConfig
	// SLAAC configures IPv6 host autoconfiguration: link-local and SLAAC
	// addresses with DAD (RFC 4862), router discovery (RFC 4861 6.3),
	// DNS servers from router advertisements (RFC 8106). On by default.
	SLAAC SLAACConfig
	// MLD configures the MLD host (RFC 3810, RFC 2710).
	MLD MLDConfig
	// StableIIDSecret is the secret key of the RFC 7217 stable interface
	// identifiers. Zero: 16 bytes are drawn from Rand once, so addresses are
	// stable for the life of the stack only; set it (and keep it) for
	// addresses stable across restarts.
	StableIIDSecret [16]byte
	// OnAddressChange, when set, is called when an autoconfigured IPv6
	// address, or a static one that went through DAD, becomes usable or
	// goes (see the type).
	OnAddressChange OnAddressChange
	// OnDADFailure, when set, is called with a tentative IPv6 address
	// (autoconfigured or static) found duplicate by DAD (RFC 4862 5.4.5).
	// It runs inside Input or Poll and must not call back into the stack.
	OnDADFailure func(nic NIC, a netip.Addr)
}

// minPoolHeadroom is the headroom the stack needs in front of a transport
// payload: an Ethernet header plus the larger (IPv6) fixed IP header.
const minPoolHeadroom = wire.EthernetHeaderLen + 40

func (c *Config) setDefaults() {
	d := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	dt := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	d(&c.ARP.CacheSize, 64)
	d(&c.ARP.QueueLen, 4)
	d(&c.ARP.QueueTotal, 64)
	d(&c.ARP.Retries, 3)
	dt(&c.ARP.RetryInterval, time.Second)
	dt(&c.ARP.ReachableTime, 5*time.Minute)
	d(&c.ARP.Announcements, 2)
	dt(&c.ARP.AnnounceInterval, 2*time.Second)
	d(&c.Reassembly.MaxBytes, 256<<10)
	d(&c.Reassembly.MaxDatagrams, 16)
	d(&c.Reassembly.MaxFragments, 64)
	dt(&c.Reassembly.Timeout, 15*time.Second)
	if c.DefaultTTL == 0 {
		c.DefaultTTL = 64
	}
	d(&c.ICMPRateLimit.PerSecond, 100)
	d(&c.ICMPRateLimit.Burst, 50)
	d(&c.MaxInterfaces, 16)
	d(&c.MaxAddresses, 8)
	d(&c.MaxRoutes, 64)
	d(&c.MaxGroups, 16)
	d(&c.LoopbackQueueLen, 64)
	c.IPv6.setDefaults()
	d(&c.IGMP.Version, 3)
	d(&c.IGMP.Robustness, 2)
	dt(&c.IGMP.UnsolicitedReportInterval, time.Second)
	d(&c.IGMP.MaxSources, 16)
	c.autoconfDefaults()
}

func (c *Config) validate() error {
	bad := func(field string, v any, fix string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrConfig, field, v, fix)
	}
	if c.Clock == nil {
		return bad("Clock", nil, "pass a clock (a virtual clock in tests, a monotonic one in production)")
	}
	if c.Rand == nil {
		return bad("Rand", nil, "pass a random source, e.g. rand.NewPCG(seed1, seed2) or rand.NewChaCha8(seed)")
	}
	if c.Pool != nil && c.Pool.Headroom() < minPoolHeadroom {
		return bad("Pool", c.Pool.Headroom(), fmt.Sprintf("the pool's headroom must be at least %d bytes", minPoolHeadroom))
	}
	pos := []struct {
		name string
		v    int
	}{
		{"ARP.CacheSize", c.ARP.CacheSize}, {"ARP.QueueLen", c.ARP.QueueLen},
		{"ARP.QueueTotal", c.ARP.QueueTotal}, {"ARP.Retries", c.ARP.Retries},
		{"Reassembly.MaxBytes", c.Reassembly.MaxBytes}, {"Reassembly.MaxDatagrams", c.Reassembly.MaxDatagrams},
		{"Reassembly.MaxFragments", c.Reassembly.MaxFragments},
		{"ICMPRateLimit.Burst", c.ICMPRateLimit.Burst},
		{"MaxInterfaces", c.MaxInterfaces}, {"MaxAddresses", c.MaxAddresses},
		{"MaxRoutes", c.MaxRoutes}, {"MaxGroups", c.MaxGroups}, {"LoopbackQueueLen", c.LoopbackQueueLen},
		{"IGMP.Robustness", c.IGMP.Robustness}, {"IGMP.MaxSources", c.IGMP.MaxSources},
	}
	for _, p := range pos {
		if p.v < 0 {
			return bad(p.name, p.v, "must be positive (0 selects the default)")
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"ARP.RetryInterval", c.ARP.RetryInterval}, {"ARP.ReachableTime", c.ARP.ReachableTime},
		{"ARP.AnnounceInterval", c.ARP.AnnounceInterval}, {"Reassembly.Timeout", c.Reassembly.Timeout},
		{"IGMP.UnsolicitedReportInterval", c.IGMP.UnsolicitedReportInterval},
	}
	for _, p := range durs {
		if p.v < 0 {
			return bad(p.name, p.v, "must be positive (0 selects the default)")
		}
	}
	if name, v, fix := c.IPv6.validate(); name != "" {
		return bad(name, v, fix)
	}
	if c.MaxInterfaces < 2 {
		return bad("MaxInterfaces", c.MaxInterfaces, "must be at least 2 (loopback plus one interface)")
	}
	if c.MaxRoutes < 2 {
		return bad("MaxRoutes", c.MaxRoutes, "must be at least 2 (loopback route plus one)")
	}
	if c.IGMP.Version != 2 && c.IGMP.Version != 3 {
		return bad("IGMP.Version", c.IGMP.Version, "must be 3 (IGMPv3, the default) or 2 (IGMPv2)")
	}
	if c.IGMP.Robustness > 7 {
		return bad("IGMP.Robustness", c.IGMP.Robustness, "must be at most 7 (RFC 3376 4.1.6)")
	}
	if name, v, fix := c.autoconfValidate(); name != "" {
		return bad(name, v, fix)
	}
	if c.ARP.QueueTotal < c.ARP.QueueLen {
		return bad("ARP.QueueTotal", c.ARP.QueueTotal, fmt.Sprintf("must be at least ARP.QueueLen (%d)", c.ARP.QueueLen))
	}
	return nil
}

// Stack is one IPv4 host. It is not safe for concurrent use.
type Stack struct {
	cfg   Config
	clock Clock
	rand  Rand
	pool  *pbuf.Pool
	stats Stats
	off   offloadState // offload.go

	nics   []*nic // index i holds NIC i+1
	routes []Route

	routeGen uint64     // bumped by routeInputsChanged (routecache.go)
	rcache   routeCache // one-entry IPv4 destination cache

	arp    arpTable
	reasm  reassembler
	lo     loopQueue
	icmpRL rateLimiter
	ip6    stack6           // IPv6 state (ipv6_addr.go)
	ctl    ctlDeadlineCache // earliest autoconfiguration, MLD and IGMP timer (ctldeadline.go)

	// verifyDeadlines makes NextDeadline check every deadline cache
	// against a scan (set by the package's tests).
	verifyDeadlines bool

	ipID uint16

	// transports by IP protocol number: tidx[proto] is 1 + the index in
	// tlist, 0 for none (256 bytes instead of 256 interface values)
	tidx    [256]uint8
	tlist   []Transport
	pollers []Poller
	inBatch bool       // between BeginBatch and EndBatch (batch.go)
	raw     []rawEntry // raw handlers in registration order (transport.go)

	// scratch values handed to transports and raw handlers, reused per packet
	// so delivery allocates nothing; depth guards against re-entrant delivery.
	pkt      Packet
	icmpErr  ICMPError
	depth    int
	arpFrame [wire.EthernetHeaderLen + wire.ARPLen]byte
	igmpOld  []netip.Addr // scratch: a group's source list before a change
}

// New validates cfg, fills in defaults and creates a stack with the
// loopback interface (NIC 1, "lo", 127.0.0.1/8, route 127.0.0.0/8), up.
func New(cfg Config) (*Stack, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, clock: cfg.Clock, rand: cfg.Rand, pool: cfg.Pool}
	if s.pool == nil {
		p, err := pbuf.New(pbuf.Config{})
		if err != nil {
			return nil, err
		}
		s.pool = p
	}
	s.ipID = uint16(s.rand.Uint64())
	s.arp.init(&s.cfg.ARP)
	s.reasm.init(&s.cfg.Reassembly)
	s.lo.init(s.cfg.LoopbackQueueLen)
	s.icmpRL.init(s.cfg.ICMPRateLimit)
	s.init6()
	s.routes = make([]Route, 0, s.cfg.MaxRoutes)
	s.igmpOld = make([]netip.Addr, 0, s.cfg.IGMP.MaxSources)
	if err := s.addLoopback(); err != nil {
		return nil, err
	}
	return s, nil
}

// Now returns the stack's clock reading.
func (s *Stack) Now() time.Duration { return s.clock.Now() }

// Random returns 64 random bits from the stack's source.
func (s *Stack) Random() uint64 { return s.rand.Uint64() }

// Pool returns the stack's packet buffer pool.
func (s *Stack) Pool() *pbuf.Pool { return s.pool }

// Poll runs everything that is due now: ARP retries, aging and
// announcements, reassembly timeouts, IGMP reports, and the datagrams waiting on the
// loopback queue (those queued while Poll runs wait for the next Poll, so a
// ping-pong over loopback cannot spin).
func (s *Stack) Poll() {
	if s.verifyDeadlines {
		s.verifyDeadlineCaches()
	}
	now := s.clock.Now()
	s.ctlChanged()
	s.arpTimers(now)
	s.reasmTimers(now)
	s.timers6(now)
	s.igmpTimers(now)
	for _, p := range s.pollers {
		p.Poll(now)
	}
	s.drainLoopback()
}

// NextDeadline reports the earliest time at which Poll has work, and false
// when no timer is pending. A non-empty loopback queue reports Now.
func (s *Stack) NextDeadline() (time.Duration, bool) {
	if s.verifyDeadlines {
		s.verifyDeadlineCaches()
	}
	var best time.Duration
	ok := false
	take := func(t time.Duration, has bool) {
		if has && (!ok || t < best) {
			best, ok = t, true
		}
	}
	if s.lo.n > 0 {
		take(s.clock.Now(), true)
	}
	take(s.arpDeadline())
	take(s.reasm.deadline())
	take(s.deadline6())
	take(s.ctlDeadline())
	for _, p := range s.pollers {
		take(p.NextDeadline())
	}
	return best, ok
}
