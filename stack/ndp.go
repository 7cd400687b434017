package stack

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// IPv6 neighbor discovery (RFC 4861): the neighbor cache with the
// neighbor unreachability detection states of section 7.3.2
// (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE), neighbor solicitations and
// advertisements sent and received with the validity checks of 7.1.1 and
// 7.1.2, and a bounded queue of packets waiting for address resolution.
// Router discovery and redirects live in ra.go.

// NDPConfig bounds and times the IPv6 neighbor cache. Zero fields take
// the defaults given (RFC 4861 section 10 constants).
type NDPConfig struct {
	// CacheSize is the number of neighbor entries (all interfaces). Default
	// 64. When full, a STALE entry is evicted first, else the least
	// recently used non-static one (counted in NDPStats.CacheEvictions).
	CacheSize int
	// QueueLen is how many packets may wait for one resolution. Default 4;
	// when full, the oldest is dropped.
	QueueLen int
	// QueueTotal bounds the packets waiting for all resolutions. Default 64.
	QueueTotal int
	// MaxMulticastSolicit is the number of multicast solicitations sent
	// while resolving. Default 3.
	MaxMulticastSolicit int
	// MaxUnicastSolicit is the number of unicast probes sent in PROBE.
	// Default 3.
	MaxUnicastSolicit int
	// RetransTimer is the time between solicitations. Default 1s (router
	// advertisements may change it per interface).
	RetransTimer time.Duration
	// ReachableTime is the base reachable time; each entry uses a random
	// value between 0.5 and 1.5 times it (RFC 4861 6.3.2). Default 30s.
	ReachableTime time.Duration
	// DelayFirstProbeTime is the time spent in DELAY. Default 5s.
	DelayFirstProbeTime time.Duration
}

func (c *NDPConfig) setDefaults() {
	if c.CacheSize == 0 {
		c.CacheSize = 64
	}
	if c.QueueLen == 0 {
		c.QueueLen = 4
	}
	if c.QueueTotal == 0 {
		c.QueueTotal = 64
	}
	if c.MaxMulticastSolicit == 0 {
		c.MaxMulticastSolicit = 3
	}
	if c.MaxUnicastSolicit == 0 {
		c.MaxUnicastSolicit = 3
	}
	if c.RetransTimer == 0 {
		c.RetransTimer = time.Second
	}
	if c.ReachableTime == 0 {
		c.ReachableTime = 30 * time.Second
	}
	if c.DelayFirstProbeTime == 0 {
		c.DelayFirstProbeTime = 5 * time.Second
	}
}

type ndpState uint8

const (
	ndpFree ndpState = iota
	ndpIncomplete
	ndpReachable
	ndpStale
	ndpDelay
	ndpProbe
	ndpStatic
)

func (st ndpState) String() string {
	switch st {
	case ndpIncomplete:
		return "incomplete"
	case ndpReachable:
		return "reachable"
	case ndpStale:
		return "stale"
	case ndpDelay:
		return "delay"
	case ndpProbe:
		return "probe"
	case ndpStatic:
		return "permanent"
	}
	return "free"
}

type ndpEntry struct {
	state    ndpState
	nic      NIC
	ip       netip.Addr
	mac      wire.MAC
	router   bool
	src      netip.Addr    // source of our solicitations
	timer    time.Duration // next retransmission or state change
	probes   int           // solicitations sent in INCOMPLETE / PROBE
	lastUsed time.Duration
	qhead    *pbuf.Buf
	qtail    *pbuf.Buf
	qlen     int
}

type ndpTable struct {
	entries []ndpEntry
	queued  int
	msg     [wire.NDPNeighborAdvertisementLen + wire.NDPLinkLayerOptionLen]byte

	// The earliest NDP timer, kept so that NextDeadline and Poll do not
	// scan the table: valid unless dirty. Everything that changes an
	// entry's state or timer calls Stack.ndpChanged (as arpTable does).
	next    time.Duration
	hasNext bool
	dirty   bool
}

// ndpChanged invalidates the cached earliest NDP timer.
func (s *Stack) ndpChanged() { s.ip6.ndp.dirty = true }

func (t *ndpTable) init(c *NDPConfig) { t.entries = make([]ndpEntry, c.CacheSize) }

func (t *ndpTable) find(id NIC, ip netip.Addr) *ndpEntry {
	for i := range t.entries {
		e := &t.entries[i]
		if e.state != ndpFree && e.nic == id && e.ip == ip {
			return e
		}
	}
	return nil
}

func (s *Stack) retrans6(n *nic) time.Duration {
	if n.ip6.retrans > 0 {
		return n.ip6.retrans
	}
	return s.cfg.IPv6.NDP.RetransTimer
}

// reachableTime draws a reachable time for n (RFC 4861 6.3.2).
func (s *Stack) reachableTime(n *nic) time.Duration {
	base := s.cfg.IPv6.NDP.ReachableTime
	if n != nil && n.ip6.reachable > 0 {
		base = n.ip6.reachable
	}
	return base/2 + time.Duration(s.rand.Uint64()%uint64(base+1))
}

// ndpNew returns a fresh entry, evicting when the cache is full: a STALE
// entry first, else the least recently used non-static entry.
func (s *Stack) ndpNew(id NIC, ip netip.Addr) *ndpEntry {
	var free, stale, lru *ndpEntry
	for i := range s.ip6.ndp.entries {
		e := &s.ip6.ndp.entries[i]
		switch {
		case e.state == ndpFree:
			if free == nil {
				free = e
			}
		case e.state == ndpStatic:
		case e.state == ndpStale:
			if stale == nil || e.lastUsed < stale.lastUsed {
				stale = e
			}
		default:
			if lru == nil || e.lastUsed < lru.lastUsed {
				lru = e
			}
		}
	}
	v := free
	if v == nil {
		v = stale
	}
	if v == nil {
		v = lru
	}
	if v == nil {
		s.stats.NDP.CacheFull++
		return nil
	}
	if v.state != ndpFree {
		s.stats.NDP.CacheEvictions++
		s.ndpDropQueue(v)
	}
	*v = ndpEntry{nic: id, ip: ip, lastUsed: s.clock.Now()}
	s.ndpChanged()
	return v
}

func (s *Stack) ndpDropQueue(e *ndpEntry) {
	for b := e.qhead; b != nil; {
		next := b.Next()
		b.Free()
		s.stats.NDP.QueueDrops++
		s.stats.IPv6.OutDiscards++
		b = next
	}
	s.ip6.ndp.queued -= e.qlen
	e.qhead, e.qtail, e.qlen = nil, nil, 0
}

func (s *Stack) ndpFlushQueue(n *nic, e *ndpEntry) {
	b := e.qhead
	s.ip6.ndp.queued -= e.qlen
	e.qhead, e.qtail, e.qlen = nil, nil, 0
	mac := e.mac
	for b != nil {
		next := b.Next()
		b.SetNext(nil)
		_ = s.transmit6(n, b, mac)
		b = next
	}
}

func (s *Stack) ndpEnqueue(e *ndpEntry, b *pbuf.Buf) {
	t := &s.ip6.ndp
	if e.qlen >= s.cfg.IPv6.NDP.QueueLen {
		old := e.qhead
		e.qhead = old.Next()
		if e.qhead == nil {
			e.qtail = nil
		}
		old.SetNext(nil)
		old.Free()
		e.qlen--
		t.queued--
		s.stats.NDP.QueueDrops++
		s.stats.IPv6.OutDiscards++
	} else if t.queued >= s.cfg.IPv6.NDP.QueueTotal {
		b.Free()
		s.stats.NDP.QueueDrops++
		s.stats.IPv6.OutDiscards++
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
	t.queued++
}

// ndpResolve sends the IPv6 packet b to nextHop on the Ethernet interface
// n, resolving its link address first when needed (RFC 4861 7.2.2, 7.3.3).
// Takes ownership of b.
func (s *Stack) ndpResolve(n *nic, b *pbuf.Buf, nextHop netip.Addr) error {
	now := s.clock.Now()
	e := s.ip6.ndp.find(n.id, nextHop)
	if e != nil {
		e.lastUsed = now
		switch e.state {
		case ndpReachable, ndpStatic, ndpDelay, ndpProbe:
			return s.transmit6(n, b, e.mac)
		case ndpStale:
			e.state = ndpDelay
			e.timer = now + s.cfg.IPv6.NDP.DelayFirstProbeTime
			s.ndpChanged()
			return s.transmit6(n, b, e.mac)
		}
		s.ndpEnqueue(e, b)
		return nil
	}
	e = s.ndpNew(n.id, nextHop)
	if e == nil {
		b.Free()
		s.stats.IPv6.OutDiscards++
		return ErrBufferFull
	}
	e.state = ndpIncomplete
	// RFC 4861 7.2.2: the packet's source when it is ours on n, else one of n's.
	if d := b.Bytes(); len(d) >= wire.IPv6HeaderLen {
		if src := netip.AddrFrom16([16]byte(d[8:24])); n.hasAddr6(src) {
			e.src = src
		}
	}
	if !e.src.IsValid() {
		e.src = s.selectSource(nextHop, n)
	}
	e.probes = 1
	e.timer = now + s.retrans6(n)
	s.ndpEnqueue(e, b)
	s.sendNS(n, e.src, nextHop, false)
	return nil
}

// sendNS sends a neighbor solicitation for target from src: to the
// solicited-node group, or unicast to target when probing (RFC 4861 7.2.2,
// 7.3.3). src :: (DAD) sends no source link-layer option.
func (s *Stack) sendNS(n *nic, src, target netip.Addr, unicast bool) {
	if !src.IsValid() {
		return
	}
	m := s.ip6.ndp.msg[:]
	l := wire.PutNDPNeighborSolicitation(m, target)
	if !src.IsUnspecified() && n.kind == LinkEthernet {
		l += wire.PutNDPLinkLayerOption(m[l:], wire.NDPOptSourceLinkAddr, n.mac)
	}
	dst := wire.SolicitedNodeMulticast(target)
	if unicast {
		dst = target
	}
	s.stats.NDP.OutSolicits++
	_ = s.sendICMPv6(n, src, dst, 255, false, m[:l])
}

// ndpTimers runs retransmissions and NUD state changes (RFC 4861 7.3.3).
func (s *Stack) ndpTimers(now time.Duration) {
	if t, ok := s.ndpDeadline(); !ok || t > now {
		return
	}
	s.ndpChanged()
	c := &s.cfg.IPv6.NDP
	for i := range s.ip6.ndp.entries {
		e := &s.ip6.ndp.entries[i]
		if e.timer > now {
			continue
		}
		n := s.nic(e.nic)
		switch e.state {
		case ndpIncomplete:
			if e.probes < c.MaxMulticastSolicit && n != nil && n.up {
				e.probes++
				e.timer = now + s.retrans6(n)
				s.sendNS(n, e.src, e.ip, false)
				continue
			}
			s.ndpFail(e)
		case ndpReachable:
			e.state = ndpStale
			e.timer = 0
		case ndpDelay:
			if n == nil || !n.up {
				*e = ndpEntry{}
				continue
			}
			e.state = ndpProbe
			e.probes = 1
			e.timer = now + s.retrans6(n)
			s.sendNS(n, s.selectSource(e.ip, n), e.ip, true)
		case ndpProbe:
			if e.probes < c.MaxUnicastSolicit && n != nil && n.up {
				e.probes++
				e.timer = now + s.retrans6(n)
				s.sendNS(n, s.selectSource(e.ip, n), e.ip, true)
				continue
			}
			s.stats.NDP.Unreachable++
			s.ndpDropQueue(e)
			*e = ndpEntry{}
		}
	}
}

// ndpFail abandons a resolution: waiting packets are dropped and those we
// originated get ICMPv6 address unreachable (RFC 4861 7.2.2).
func (s *Stack) ndpFail(e *ndpEntry) {
	s.stats.NDP.ResolutionFailures++
	b := e.qhead
	s.ip6.ndp.queued -= e.qlen
	n := s.nic(e.nic)
	*e = ndpEntry{} // ndpTimers, the caller, has invalidated the cached deadline
	for b != nil {
		next := b.Next()
		b.SetNext(nil)
		s.stats.IPv6.OutDiscards++
		if d := b.Bytes(); n != nil && len(d) >= wire.IPv6HeaderLen && s.isLocal6(netip.AddrFrom16([16]byte(d[8:24]))) {
			s.icmp6Error(n, d, false, wire.ICMPv6DestUnreachable, wire.ICMPv6AddressUnreachable, 0)
		}
		b.Free()
		b = next
	}
}

// ndpDeadline is the earliest NDP timer, from the cache unless something
// changed since it was computed.
func (s *Stack) ndpDeadline() (time.Duration, bool) {
	t := &s.ip6.ndp
	if t.dirty {
		t.next, t.hasNext = s.ndpScanDeadline()
		t.dirty = false
	}
	return t.next, t.hasNext
}

// ndpScanDeadline computes the earliest NDP timer from the table.
func (s *Stack) ndpScanDeadline() (time.Duration, bool) {
	var t time.Duration
	ok := false
	for i := range s.ip6.ndp.entries {
		e := &s.ip6.ndp.entries[i]
		switch e.state {
		case ndpIncomplete, ndpReachable, ndpDelay, ndpProbe:
			if !ok || e.timer < t {
				t, ok = e.timer, true
			}
		}
	}
	return t, ok
}

// ndpFlushNIC forgets the dynamic entries of an interface going down.
func (s *Stack) ndpFlushNIC(id NIC) {
	for i := range s.ip6.ndp.entries {
		e := &s.ip6.ndp.entries[i]
		if e.nic == id && e.state != ndpFree && e.state != ndpStatic {
			s.ndpDropQueue(e)
			*e = ndpEntry{}
		}
	}
	s.ndpChanged()
}

// ndpAddStatic adds or replaces a permanent IPv6 neighbor.
func (s *Stack) ndpAddStatic(n *nic, ip netip.Addr, mac wire.MAC) error {
	ip = ip.WithZone("")
	if n.kind != LinkEthernet || ip.IsMulticast() || ip.IsUnspecified() || mac == (wire.MAC{}) || mac.IsMulticast() {
		return ErrInvalid
	}
	e := s.ip6.ndp.find(n.id, ip)
	if e == nil {
		if e = s.ndpNew(n.id, ip); e == nil {
			return ErrBufferFull
		}
	}
	e.state, e.mac, e.timer = ndpStatic, mac, 0
	s.ndpChanged()
	s.ndpFlushQueue(n, e)
	return nil
}

// ndpRemove removes an IPv6 neighbor entry.
func (s *Stack) ndpRemove(id NIC, ip netip.Addr) error {
	e := s.ip6.ndp.find(id, ip.WithZone(""))
	if e == nil {
		return ErrNotFound
	}
	s.ndpDropQueue(e)
	*e = ndpEntry{}
	s.ndpChanged()
	return nil
}

// appendNDPNeighbors appends the IPv6 neighbor cache to out.
func (s *Stack) appendNDPNeighbors(out []NeighborInfo) []NeighborInfo {
	for i := range s.ip6.ndp.entries {
		e := &s.ip6.ndp.entries[i]
		if e.state != ndpFree {
			out = append(out, NeighborInfo{NIC: e.nic, IP: e.ip, MAC: e.mac, State: e.state.String(),
				Static: e.state == ndpStatic, Router: e.router})
		}
	}
	return out
}

// ndpNoteLinkAddr records the link address a router solicitation,
// advertisement or redirect carried (RFC 4861 6.3.4, 7.2.3, 8.3): a new
// entry is STALE, a changed address makes the entry STALE, an
// unchanged one leaves it. router marks the neighbor as a router (RA).
func (s *Stack) ndpNoteLinkAddr(n *nic, ip netip.Addr, mac wire.MAC, router bool) {
	ip = ip.WithZone("")
	if n.kind != LinkEthernet || ip.IsUnspecified() || ip.IsMulticast() || mac == (wire.MAC{}) || mac.IsMulticast() {
		return
	}
	e := s.ip6.ndp.find(n.id, ip)
	if e == nil {
		if e = s.ndpNew(n.id, ip); e == nil {
			return
		}
		e.state, e.mac = ndpStale, mac
	} else if e.state == ndpStatic {
		return
	} else if e.state == ndpIncomplete {
		e.state, e.mac, e.timer = ndpStale, mac, 0
		s.ndpChanged()
		s.ndpFlushQueue(n, e)
	} else if e.mac != mac {
		e.state, e.mac, e.timer = ndpStale, mac, 0
		s.ndpChanged()
	}
	if router {
		e.router = true
	}
}

// ndpLinkOption finds the source or target link-layer address option
// (typ) in NDP options; present reports whether the option is there at
// all, ok whether it holds an Ethernet address.
func ndpLinkOption(opts []byte, typ uint8) (mac wire.MAC, present, ok bool) {
	for len(opts) >= 2 {
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return mac, present, false
		}
		if opts[0] == typ {
			present = true
			if l == wire.NDPLinkLayerOptionLen {
				copy(mac[:], opts[2:8])
				ok = true
			}
		}
		opts = opts[l:]
	}
	return mac, present, ok
}

// ndpSolicitInput handles a neighbor solicitation (RFC 4861 7.1.1, 7.2.3, 7.2.4).
func (s *Stack) ndpSolicitInput(n *nic, p *Packet, m wire.ICMPv6) {
	st := &s.stats.NDP
	ns, err := wire.ParseNDPNeighborSolicitation(m.Bytes())
	if err != nil || p.TTL != 255 || m.Code() != 0 {
		st.InInvalid++
		return
	}
	target := ns.Target()
	mac, present, ok := ndpLinkOption(ns.Options(), wire.NDPOptSourceLinkAddr)
	srcUnspec := p.Src.IsUnspecified()
	if target.IsMulticast() || (srcUnspec && (!isSolicitedNode(p.Dst) || present)) || (present && !ok && n.kind == LinkEthernet) {
		st.InInvalid++
		return
	}
	a := n.find6(target)
	if a == nil {
		st.InIgnored++ // not ours (no proxy)
		return
	}
	if a.state == addrTentative {
		s.dadNeighborMessage(n, target, p.Src, false)
		return
	}
	if !srcUnspec && ok {
		s.ndpNoteLinkAddr(n, p.Src, mac, false)
	}
	// RFC 4861 7.2.4: answer with our link address, override set.
	flags := uint8(wire.NDPNAFlagOverride)
	dst := p.Src
	if srcUnspec {
		dst = wire.IPv6AllNodes
	} else {
		flags |= wire.NDPNAFlagSolicited
	}
	s.sendNA(n, target, dst, flags)
}

// sendNA sends a neighbor advertisement for our address target.
func (s *Stack) sendNA(n *nic, target, dst netip.Addr, flags uint8) {
	buf := s.ip6.ndp.msg[:]
	if s.forwards6(n) {
		flags |= wire.NDPNAFlagRouter // RFC 4861 7.2.4: we act as a router here
	}
	l := wire.PutNDPNeighborAdvertisement(buf, flags, target)
	if n.kind == LinkEthernet {
		l += wire.PutNDPLinkLayerOption(buf[l:], wire.NDPOptTargetLinkAddr, n.mac)
	}
	s.stats.NDP.OutAdverts++
	_ = s.sendICMPv6(n, target, dst, 255, false, buf[:l])
}

// ndpAdvertInput handles a neighbor advertisement (RFC 4861 7.1.2, 7.2.5).
func (s *Stack) ndpAdvertInput(n *nic, p *Packet, m wire.ICMPv6) {
	st := &s.stats.NDP
	na, err := wire.ParseNDPNeighborAdvertisement(m.Bytes())
	if err != nil || p.TTL != 255 || m.Code() != 0 {
		st.InInvalid++
		return
	}
	target := na.Target()
	if target.IsMulticast() || (p.Dst.IsMulticast() && na.Solicited()) {
		st.InInvalid++
		return
	}
	mac, present, ok := ndpLinkOption(na.Options(), wire.NDPOptTargetLinkAddr)
	if present && !ok && n.kind == LinkEthernet {
		st.InInvalid++
		return
	}
	if a := n.find6(target); a != nil {
		if a.state == addrTentative {
			s.dadNeighborMessage(n, target, p.Src, true)
		} else {
			st.DuplicateAddrs++ // someone else claims an address we use
		}
		return
	}
	e := s.ip6.ndp.find(n.id, target)
	if e == nil || e.state == ndpStatic {
		st.InIgnored++
		return
	}
	now := s.clock.Now()
	s.ndpChanged() // every path below may change the entry's state or timer
	if e.state == ndpIncomplete {
		if !ok {
			st.InIgnored++
			return
		}
		e.mac = mac
		if na.Solicited() {
			e.state, e.timer = ndpReachable, now+s.reachableTime(n)
		} else {
			e.state, e.timer = ndpStale, 0
		}
		s.ndpFlushQueue(n, e)
		s.ndpSetRouter(n, e, na.Router())
		return
	}
	changed := ok && mac != e.mac
	if !na.Override() && changed {
		if e.state == ndpReachable {
			e.state, e.timer = ndpStale, 0
		}
		return
	}
	if ok {
		e.mac = mac
	}
	switch {
	case na.Solicited():
		e.state, e.timer = ndpReachable, now+s.reachableTime(n)
	case changed:
		e.state, e.timer = ndpStale, 0
	}
	s.ndpSetRouter(n, e, na.Router())
}

// ndpSetRouter sets e's IsRouter flag from a neighbor advertisement. A
// router that stops being one (the flag goes from true to false) leaves
// n's Default Router List, with its default route and the redirects it
// gave (RFC 4861 7.2.5, 7.3.3; Linux's rt6_clean_tohost).
func (s *Stack) ndpSetRouter(n *nic, e *ndpEntry, router bool) {
	was := e.router
	e.router = router
	if !was || router {
		return
	}
	for i := range n.auto.routers {
		if n.auto.routers[i].addr == e.ip {
			s.stats.NDP.RouterToHost++
			s.removeRouter(n, i)
			return
		}
	}
}
