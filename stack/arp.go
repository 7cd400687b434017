package stack

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// ARP (RFC 826) neighbor cache with the host requirements of RFC 1122
// 2.3.2: bounded size with LRU eviction of dynamic entries, aging of
// resolved entries, limited retries, a bounded queue of datagrams waiting
// for resolution, and static entries.

type arpState uint8

const (
	arpFree arpState = iota
	arpIncomplete
	arpReachable
	arpStatic
)

func (st arpState) String() string {
	switch st {
	case arpIncomplete:
		return "incomplete"
	case arpReachable:
		return "reachable"
	case arpStatic:
		return "permanent"
	}
	return "free"
}

type arpEntry struct {
	state    arpState
	nic      NIC
	ip       netip.Addr
	mac      wire.MAC
	src      netip.Addr    // sender IP for our requests
	timer    time.Duration // next retry (incomplete) or expiry (reachable)
	tries    int           // requests sent (incomplete)
	lastUsed uint64        // arpTable.uses at the last use, for LRU eviction
	qhead    *pbuf.Buf     // datagrams waiting (IPv4 header first), linked with SetNext
	qtail    *pbuf.Buf
	qlen     int
}

type arpTable struct {
	entries []arpEntry // grown on demand up to max (a stack that never resolves costs nothing)
	max     int        // ARPConfig.CacheSize
	queued  int        // datagrams waiting in all queues
	uses    uint64     // use counter: entries' lastUsed orders them for LRU without reading the clock

	// The earliest ARP timer (entries' timers and the interfaces'
	// announcements), kept so that NextDeadline and Poll do not scan the
	// table: valid unless dirty. Everything that changes an entry's state
	// or timer, or an announcement, calls Stack.arpChanged.
	next    time.Duration
	hasNext bool
	dirty   bool
}

// touch marks e as just used.
func (t *arpTable) touch(e *arpEntry) {
	t.uses++
	e.lastUsed = t.uses
}

// arpChanged invalidates the cached earliest ARP timer.
func (s *Stack) arpChanged() { s.arp.dirty = true }

func (t *arpTable) init(c *ARPConfig) { t.max = c.CacheSize }

// grow appends a free entry when the table is below its bound (doubling
// the backing array, capped at max) and returns it, or nil at the bound.
// It moves the entries: pointers to them from before are stale.
func (t *arpTable) grow() *arpEntry {
	n := len(t.entries)
	if n >= t.max {
		return nil
	}
	if n == cap(t.entries) {
		e := make([]arpEntry, n, min(max(2*n, 8), t.max))
		copy(e, t.entries)
		t.entries = e
	}
	t.entries = t.entries[:n+1]
	return &t.entries[n]
}

func (t *arpTable) find(id NIC, ip netip.Addr) *arpEntry {
	for i := range t.entries {
		e := &t.entries[i]
		if e.state != arpFree && e.nic == id && e.ip == ip {
			return e
		}
	}
	return nil
}

// NeighborInfo describes one ARP cache entry.
type NeighborInfo struct {
	NIC    NIC
	IP     netip.Addr
	MAC    wire.MAC
	State  string // "incomplete", "reachable", "stale", "delay", "probe" (IPv6) or "permanent"
	Static bool
	Router bool // IPv6: the neighbor is a router (RFC 4861 IsRouter)
}

// Neighbors lists the ARP cache, then the IPv6 neighbor cache (ndp.go).
func (s *Stack) Neighbors() []NeighborInfo {
	var out []NeighborInfo
	for i := range s.arp.entries {
		e := &s.arp.entries[i]
		if e.state != arpFree {
			out = append(out, NeighborInfo{NIC: e.nic, IP: e.ip, MAC: e.mac, State: e.state.String(), Static: e.state == arpStatic})
		}
	}
	return s.appendNDPNeighbors(out)
}

// AddStaticNeighbor adds or replaces a permanent ARP entry on an Ethernet
// interface. Static entries never age and are never evicted.
func (s *Stack) AddStaticNeighbor(id NIC, ip netip.Addr, mac wire.MAC) error {
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	if is6(ip) {
		return s.ndpAddStatic(n, ip, mac)
	}
	if n.kind != LinkEthernet || !ip.Is4() || ip.IsMulticast() || ip.IsUnspecified() || ip == limitedBroadcast ||
		mac == (wire.MAC{}) || mac.IsMulticast() {
		return ErrInvalid
	}
	e := s.arp.find(id, ip)
	if e == nil {
		e = s.arpNew(id, ip, true)
		if e == nil {
			return ErrBufferFull
		}
	}
	e.state, e.mac = arpStatic, mac
	s.arpChanged()
	s.arpFlushQueue(n, e)
	return nil
}

// RemoveNeighbor removes an ARP entry, static or dynamic.
func (s *Stack) RemoveNeighbor(id NIC, ip netip.Addr) error {
	if is6(ip) {
		return s.ndpRemove(id, ip)
	}
	e := s.arp.find(id, ip)
	if e == nil {
		return ErrNotFound
	}
	s.arpDropQueue(e)
	*e = arpEntry{}
	s.arpChanged()
	return nil
}

// arpNew returns a fresh entry for (id, ip), evicting the least recently
// used dynamic entry when the cache is full; nil when every entry is static.
// It may move the table's entries: pointers to entries taken before the
// call are stale after it.
func (s *Stack) arpNew(id NIC, ip netip.Addr, static bool) *arpEntry {
	var victim *arpEntry
	for i := range s.arp.entries {
		e := &s.arp.entries[i]
		if e.state == arpFree {
			victim = e
			break
		}
		if e.state != arpStatic && (victim == nil || e.lastUsed < victim.lastUsed) {
			victim = e
		}
	}
	if victim == nil || victim.state != arpFree {
		if e := s.arp.grow(); e != nil {
			victim = e
		}
	}
	if victim == nil {
		s.stats.ARP.CacheFull++
		return nil
	}
	if victim.state != arpFree {
		s.stats.ARP.CacheEvictions++
		s.arpDropQueue(victim)
	}
	*victim = arpEntry{nic: id, ip: ip}
	s.arp.touch(victim)
	s.arpChanged()
	return victim
}

// arpDropQueue frees the datagrams waiting on e (counted as drops).
func (s *Stack) arpDropQueue(e *arpEntry) {
	for b := e.qhead; b != nil; {
		next := b.Next()
		b.Free()
		s.stats.ARP.QueueDrops++
		s.stats.IP.OutDiscards++
		b = next
	}
	s.arp.queued -= e.qlen
	e.qhead, e.qtail, e.qlen = nil, nil, 0
}

// arpFlushQueue sends the datagrams waiting on a resolved entry.
func (s *Stack) arpFlushQueue(n *nic, e *arpEntry) {
	b := e.qhead
	s.arp.queued -= e.qlen
	e.qhead, e.qtail, e.qlen = nil, nil, 0
	mac := e.mac
	for b != nil {
		next := b.Next()
		b.SetNext(nil)
		_ = s.transmit(n, b, mac)
		b = next
	}
}

// arpEnqueue parks b on e, dropping the oldest waiting datagram when the
// entry's queue is full (RFC 1122 2.3.2.2 keeps the latest) and b itself
// when the total bound is reached.
func (s *Stack) arpEnqueue(e *arpEntry, b *pbuf.Buf) {
	if e.qlen >= s.cfg.ARP.QueueLen {
		old := e.qhead
		e.qhead = old.Next()
		if e.qhead == nil {
			e.qtail = nil
		}
		old.SetNext(nil)
		old.Free()
		e.qlen--
		s.arp.queued--
		s.stats.ARP.QueueDrops++
		s.stats.IP.OutDiscards++
	} else if s.arp.queued >= s.cfg.ARP.QueueTotal {
		b.Free()
		s.stats.ARP.QueueDrops++
		s.stats.IP.OutDiscards++
		return
	}
	b.SetNext(nil)
	if e.qtail == nil {
		e.qhead = b
	} else {
		e.qtail.SetNext(b)
	}
	e.qtail = b
	e.qlen++
	s.arp.queued++
}

// arpResolve sends b (an IPv4 datagram) to nextHop on the Ethernet
// interface n, resolving its MAC first if needed. It takes ownership of b.
func (s *Stack) arpResolve(n *nic, b *pbuf.Buf, nextHop netip.Addr) error {
	e := s.arp.find(n.id, nextHop)
	if e != nil && (e.state == arpReachable || e.state == arpStatic) {
		s.arp.touch(e)
		return s.transmit(n, b, e.mac)
	}
	if e == nil {
		e = s.arpNew(n.id, nextHop, false)
		if e == nil {
			b.Free()
			s.stats.IP.OutDiscards++
			return ErrBufferFull
		}
		e.state = arpIncomplete
		e.src = n.sourceFor(nextHop)
		e.tries = 1
		e.timer = s.clock.Now() + s.cfg.ARP.RetryInterval
		s.arpChanged()
		s.sendARP(n, wire.ARPRequest, wire.BroadcastMAC, e.src, wire.MAC{}, nextHop)
	}
	s.arp.touch(e)
	s.arpEnqueue(e, b)
	return nil
}

// sendARP builds and sends one ARP packet from n.
func (s *Stack) sendARP(n *nic, op uint16, ethDst wire.MAC, spa netip.Addr, tha wire.MAC, tpa netip.Addr) {
	f := s.arpFrame[:]
	wire.PutEthernet(f, ethDst, n.mac, wire.EtherTypeARP)
	wire.PutARP(f[wire.EthernetHeaderLen:], op, n.mac, spa, tha, tpa)
	if op == wire.ARPRequest {
		s.stats.ARP.OutRequests++
	} else {
		s.stats.ARP.OutReplies++
	}
	s.linkSendRaw(n, f)
}

// arpInput handles one received ARP packet (RFC 826 "packet reception").
func (s *Stack) arpInput(n *nic, b []byte) {
	a, err := wire.ParseARP(b)
	if err != nil {
		s.stats.ARP.InErrors++
		return
	}
	op := a.Op()
	if op != wire.ARPRequest && op != wire.ARPReply {
		s.stats.ARP.InErrors++
		return
	}
	sha, spa, tpa := a.SenderMAC(), a.SenderIP(), a.TargetIP()
	if sha == n.mac || sha.IsMulticast() || sha == (wire.MAC{}) {
		s.stats.ARP.InIgnored++
		return
	}
	if op == wire.ARPRequest {
		s.stats.ARP.InRequests++
	} else {
		s.stats.ARP.InReplies++
	}
	forUs := n.hasAddr(tpa)
	if spa.IsUnspecified() {
		// An RFC 5227 probe: answer it when it asks for one of our
		// addresses (that is how the prober learns the address is taken),
		// but learn nothing from it.
		if op == wire.ARPRequest && forUs {
			s.sendARP(n, wire.ARPReply, sha, tpa, sha, spa)
		} else {
			s.stats.ARP.InIgnored++
		}
		return
	}
	if spa == limitedBroadcast || spa.IsMulticast() || n.isDirectedBroadcast(spa) || isLoopbackAddr(spa) {
		s.stats.ARP.InIgnored++
		return
	}
	if n.hasAddr(spa) {
		// Someone else claims one of our addresses (RFC 5227 conflict).
		s.stats.ARP.Conflicts++
		return
	}
	now := s.clock.Now()
	// RFC 826 merge: update an existing entry for the sender whatever the target.
	merged := false
	if e := s.arp.find(n.id, spa); e != nil {
		merged = true
		if e.state != arpStatic {
			e.mac = sha
			e.state = arpReachable
			e.timer = now + s.cfg.ARP.ReachableTime
			s.arpChanged()
			s.arpFlushQueue(n, e)
		}
	}
	if !forUs {
		return
	}
	if !merged {
		if e := s.arpNew(n.id, spa, false); e != nil {
			e.mac = sha
			e.state = arpReachable
			e.timer = now + s.cfg.ARP.ReachableTime
			s.arpChanged()
		}
	}
	if op == wire.ARPRequest {
		s.sendARP(n, wire.ARPReply, sha, tpa, sha, spa)
	}
}

// arpTimers runs ARP retries, resolution failures, aging and announcements.
func (s *Stack) arpTimers(now time.Duration) {
	if t, ok := s.arpDeadline(); !ok || t > now {
		return
	}
	s.arpChanged()
	for i := range s.arp.entries {
		e := &s.arp.entries[i]
		if e.timer > now {
			continue
		}
		switch e.state {
		case arpIncomplete:
			n := s.nic(e.nic)
			if e.tries < s.cfg.ARP.Retries && n != nil && n.up {
				e.tries++
				e.timer = now + s.cfg.ARP.RetryInterval
				s.sendARP(n, wire.ARPRequest, wire.BroadcastMAC, e.src, wire.MAC{}, e.ip)
				continue
			}
			s.arpFail(e)
		case arpReachable:
			s.stats.ARP.Expired++
			*e = arpEntry{}
		}
	}
	for _, n := range s.nics {
		if n.announceLeft > 0 && n.announceAt <= now {
			n.announceLeft--
			n.announceAt = now + s.cfg.ARP.AnnounceInterval
			s.sendAnnouncements(n)
		}
	}
}

// arpFail abandons a resolution: the waiting datagrams are dropped and,
// for those we originated, ICMP host unreachable is looped back to their
// transport (RFC 1122 2.3.2.2 / 3.2.2.1).
func (s *Stack) arpFail(e *arpEntry) {
	s.stats.ARP.ResolutionFailures++
	b := e.qhead
	s.arp.queued -= e.qlen
	*e = arpEntry{}
	s.arpChanged()
	for b != nil {
		next := b.Next()
		b.SetNext(nil)
		s.stats.IP.OutDiscards++
		if p, err := wire.ParseIPv4(b.Bytes()); err == nil && s.IsLocal(p.Src()) {
			s.sendICMPError(p.Header(), p.Payload(), false, wire.ICMPv4DestUnreachable, wire.ICMPv4HostUnreachable, 0)
		}
		b.Free()
		b = next
	}
}

// arpFlushNIC forgets the dynamic entries of an interface going down.
func (s *Stack) arpFlushNIC(id NIC) {
	for i := range s.arp.entries {
		e := &s.arp.entries[i]
		if e.nic == id && e.state != arpFree && e.state != arpStatic {
			s.arpDropQueue(e)
			*e = arpEntry{}
		}
	}
	s.arpChanged()
}

// arpDeadline is the earliest ARP timer, from the cache unless something
// changed since it was computed.
func (s *Stack) arpDeadline() (time.Duration, bool) {
	if s.arp.dirty {
		s.arp.next, s.arp.hasNext = s.arpScanDeadline()
		s.arp.dirty = false
	}
	return s.arp.next, s.arp.hasNext
}

// arpScanDeadline computes the earliest ARP timer from the table.
func (s *Stack) arpScanDeadline() (time.Duration, bool) {
	var t time.Duration
	ok := false
	for i := range s.arp.entries {
		e := &s.arp.entries[i]
		if (e.state == arpIncomplete || e.state == arpReachable) && (!ok || e.timer < t) {
			t, ok = e.timer, true
		}
	}
	for _, n := range s.nics {
		if n.announceLeft > 0 && (!ok || n.announceAt < t) {
			t, ok = n.announceAt, true
		}
	}
	return t, ok
}

// scheduleAnnounce sends the first gratuitous ARP announcement for n's
// addresses now and schedules the rest (RFC 5227 2.3).
func (s *Stack) scheduleAnnounce(n *nic) {
	if n.kind != LinkEthernet || s.cfg.ARP.Announcements <= 0 || len(n.addrs) == 0 || !n.up {
		return
	}
	s.sendAnnouncements(n)
	n.announceLeft = s.cfg.ARP.Announcements - 1
	n.announceAt = s.clock.Now() + s.cfg.ARP.AnnounceInterval
	s.arpChanged()
}

func (s *Stack) sendAnnouncements(n *nic) {
	for _, p := range n.addrs {
		s.stats.ARP.Announcements++
		s.sendARP(n, wire.ARPRequest, wire.BroadcastMAC, p.Addr(), wire.MAC{}, p.Addr())
	}
}
