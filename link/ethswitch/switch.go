// Package ethswitch is an in-memory learning Ethernet switch (a transparent
// bridge after IEEE 802.1D): it learns which port each source MAC address
// lives behind, forwards unicast frames to the learned port, and floods
// broadcast, multicast and unknown unicast to every other port.
//
// The address table is bounded (Config.MaxEntries); entries age out after
// Config.AgingTime measured by the switch's clock, and when the table is
// full the least recently seen entry is evicted. Each port has a bounded
// receive queue with the same delay and drop model as link/pipe: a frame
// that finds the queue full is dropped and counted at that port.
//
// Ports implement link.Link and link.Poller, so a switch runs under virtual
// time (TryReceive/NextDue with the simulation's clock) or in real time
// (blocking Receive).
package ethswitch

import (
	"fmt"
	"sync"
	"time"

	"github.com/featherip/featherip/link"
)

// Defaults for Config's zero fields.
const (
	DefaultMTU        = 1500
	DefaultQueueLen   = 128
	DefaultMaxEntries = 1024
	// DefaultAgingTime is IEEE 802.1D's recommended ageing time.
	DefaultAgingTime = 300 * time.Second
)

// Config configures a switch. The zero value is a usable real-time switch.
type Config struct {
	// MTU is the largest IP packet carried (default 1500).
	MTU int
	// Clock gives the time for delays, aging and TryReceive; nil means a
	// real monotonic clock.
	Clock link.Clock
	// Delay is how long a frame takes from ingress to egress port.
	Delay time.Duration
	// QueueLen bounds each port's receive queue in frames (default 128).
	QueueLen int
	// MaxEntries bounds the MAC address table (default 1024).
	MaxEntries int
	// AgingTime is how long a learned address stays without traffic from
	// it (default 300s).
	AgingTime time.Duration
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	switch {
	case c.MTU < 0:
		return fmt.Errorf("ethswitch: Config.MTU %d is negative; use 0 for the default %d", c.MTU, DefaultMTU)
	case c.QueueLen < 0:
		return fmt.Errorf("ethswitch: Config.QueueLen %d is negative; use 0 for the default %d", c.QueueLen, DefaultQueueLen)
	case c.MaxEntries < 0:
		return fmt.Errorf("ethswitch: Config.MaxEntries %d is negative; use 0 for the default %d", c.MaxEntries, DefaultMaxEntries)
	case c.Delay < 0:
		return fmt.Errorf("ethswitch: Config.Delay %v is negative", c.Delay)
	case c.AgingTime < 0:
		return fmt.Errorf("ethswitch: Config.AgingTime %v is negative; use 0 for the default %v", c.AgingTime, DefaultAgingTime)
	}
	return nil
}

// Stats counts the switch's forwarding decisions.
type Stats struct {
	// Forwarded counts unicast frames sent to their one learned port.
	Forwarded uint64
	// Flooded counts frames sent to all other ports (broadcast,
	// multicast, unknown unicast).
	Flooded uint64
	// Filtered counts frames dropped because the destination was learned
	// on the ingress port itself.
	Filtered uint64
	// Runts counts frames shorter than an Ethernet header, dropped.
	Runts uint64
	// Learned counts new table entries (including moves to another port).
	Learned uint64
	// Aged counts entries removed because they were older than AgingTime.
	Aged uint64
	// Evicted counts entries removed to make room in a full table.
	Evicted uint64
}

type entry struct {
	port *Port
	seen time.Duration
}

// Switch is an in-memory learning Ethernet switch. It is safe for
// concurrent use.
type Switch struct {
	mtu, maxFrame, queueLen, maxEntries int
	clock                               link.Clock
	delay, aging                        time.Duration

	mu     sync.Mutex
	ports  []*Port
	table  map[[6]byte]entry
	nextID int
	stats  Stats
}

// New returns a switch with no ports. It panics with a message naming the
// field when cfg is invalid (see Config.Validate).
func New(cfg Config) *Switch {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.AgingTime == 0 {
		cfg.AgingTime = DefaultAgingTime
	}
	if cfg.Clock == nil {
		cfg.Clock = link.MonotonicClock()
	}
	return &Switch{
		mtu:        cfg.MTU,
		maxFrame:   link.MaxFrameLen(link.Ethernet, cfg.MTU),
		queueLen:   cfg.QueueLen,
		maxEntries: cfg.MaxEntries,
		clock:      cfg.Clock,
		delay:      cfg.Delay,
		aging:      cfg.AgingTime,
		table:      make(map[[6]byte]entry, cfg.MaxEntries),
	}
}

// Stats returns the switch's counters.
func (s *Switch) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// TableLen reports how many addresses the table holds (aged entries that
// were not yet looked at included).
func (s *Switch) TableLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.table)
}

// Lookup reports the port a MAC address was learned on, if the entry is
// present and not aged out.
func (s *Switch) Lookup(mac []byte) (*Port, bool) {
	if len(mac) != 6 {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.table[[6]byte(mac)]
	if !ok || s.clock.Now()-e.seen > s.aging {
		return nil, false
	}
	return e.port, true
}

// learn records that src was seen on port p. Called with s.mu held.
func (s *Switch) learn(src [6]byte, p *Port, now time.Duration) {
	if src[0]&1 != 0 { // a group address is never a source: do not learn
		return
	}
	if e, ok := s.table[src]; ok {
		if e.port != p {
			s.stats.Learned++
		}
		s.table[src] = entry{port: p, seen: now}
		return
	}
	if len(s.table) >= s.maxEntries {
		s.makeRoom(now)
	}
	s.table[src] = entry{port: p, seen: now}
	s.stats.Learned++
}

// makeRoom removes aged entries, or else the least recently seen one.
func (s *Switch) makeRoom(now time.Duration) {
	var oldest [6]byte
	var oldestSeen time.Duration
	found := false
	for mac, e := range s.table {
		if now-e.seen > s.aging {
			delete(s.table, mac)
			s.stats.Aged++
			continue
		}
		if !found || e.seen < oldestSeen {
			oldest, oldestSeen, found = mac, e.seen, true
		}
	}
	if len(s.table) >= s.maxEntries && found {
		delete(s.table, oldest)
		s.stats.Evicted++
	}
}

// forward takes a frame from ingress port in.
func (s *Switch) forward(in *Port, frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(frame) < link.EthernetHeaderLen {
		s.stats.Runts++
		return
	}
	now := s.clock.Now()
	dst := [6]byte(frame[0:6])
	s.learn([6]byte(frame[6:12]), in, now)
	due := now + s.delay
	if dst[0]&1 == 0 {
		if e, ok := s.table[dst]; ok {
			if now-e.seen <= s.aging {
				if e.port == in {
					s.stats.Filtered++
					return
				}
				e.port.rx.Push(frame, due)
				s.stats.Forwarded++
				return
			}
			delete(s.table, dst)
			s.stats.Aged++
		}
	}
	for _, p := range s.ports {
		if p != in {
			p.rx.Push(frame, due)
		}
	}
	s.stats.Flooded++
}

// detach removes port p and the addresses learned on it.
func (s *Switch) detach(p *Port) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.ports {
		if q == p {
			s.ports = append(s.ports[:i], s.ports[i+1:]...)
			break
		}
	}
	for mac, e := range s.table {
		if e.port == p {
			delete(s.table, mac)
		}
	}
}
