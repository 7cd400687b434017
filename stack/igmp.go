package stack

import (
	"errors"
	"net/netip"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// IGMP, host side: IGMPv3 (RFC 3376) with the host compatibility modes
// for IGMPv2 (RFC 2236) and IGMPv1 (RFC 1112) queriers (RFC 3376 7.2.1).
//
// Interface state. Every JoinGroupSource call is one membership (like a
// socket's); the interface state of a group is merged from its
// memberships by the rules of RFC 3376 3.2, kept as counts: a group is in
// EXCLUDE mode when any membership excludes, with the sources every
// EXCLUDE membership excludes and no INCLUDE membership includes;
// otherwise it is in INCLUDE mode with the union of the included sources.
// JoinGroup is an EXCLUDE {} membership (any-source multicast). The merged
// state is the receive filter applied by IPv4 input.
//
// Reports. A change of the interface state sends a state-change report at
// once (TO_EX/TO_IN for a filter-mode change, ALLOW/BLOCK for a change of
// the source list, RFC 3376 5.1) and repeats it Robustness-1 more times at
// random intervals up to the Unsolicited Report Interval. Pending changes
// of one group are merged; the repetition count is kept per group, not per
// source (a simplification of RFC 3376 5.1). A general query is answered
// after a random delay up to its Max Resp Time with one report (several
// if they do not fit the MTU) holding the current state of every group; a
// group-specific query with the current state of that group; a
// group-and-source-specific query with the queried sources the interface
// state lets in (RFC 3376 5.2: in INCLUDE mode those in the source list,
// in EXCLUDE mode those not excluded), nothing when there are none. A
// pending response absorbs later queries as RFC 3376 5.2 says.
//
// Queries are accepted with any TTL and without the Router Alert option,
// as Linux (igmp_heard_query) accepts them, although RFC 3376 9.1 says
// hosts SHOULD ignore v2 and v3 queries without it. MLD, where RFC 3810
// 6.2 drops such queries and Linux does too, checks both (mld.go).
//
// Compatibility. A v1 or v2 query starts the Older Version Querier Present
// timer (Robustness * Query Interval + Query Response Interval, RFC 3376
// 8.12); while it runs the host sends v1 or v2 reports, v2 leaves (to
// 224.0.0.2, only when it sent the last report, RFC 2236 6), suppresses its
// report when another host's report for the group is heard, and treats v3
// queries as older ones. Switching to an older mode cancels every pending
// response and retransmission. No report is ever sent for 224.0.0.1.
//
// IGMP messages go out with TTL 1, TOS 0xc0 and the Router Alert option
// (RFC 2113), not looped back. Hosts ignore v3 reports and leaves.

// FilterMode is a multicast source filter mode (RFC 3376 3.1, RFC 3678).
type FilterMode uint8

const (
	// Include receives the group only from the listed sources (SSM).
	Include FilterMode = 1
	// Exclude receives the group from every source but the listed ones;
	// with no sources it is an ordinary any-source join.
	Exclude FilterMode = 2
)

// String names the mode.
func (m FilterMode) String() string {
	switch m {
	case Include:
		return "include"
	case Exclude:
		return "exclude"
	}
	return "invalid"
}

// IGMPConfig configures the IGMP host (RFC 3376 8). Zero fields take the defaults given.
type IGMPConfig struct {
	// Version is the newest IGMP version the host speaks: 3 (default, RFC
	// 3376) or 2 (RFC 2236, like Linux force_igmp_version=2).
	Version int
	// Robustness is the Robustness Variable used until a v3 querier
	// announces another (RFC 3376 8.1). Default 2.
	Robustness int
	// UnsolicitedReportInterval bounds the random delay between the
	// repetitions of a state-change report. Default 1s (RFC 3376 8.11).
	UnsolicitedReportInterval time.Duration
	// MaxSources bounds the distinct sources in the memberships of one
	// group on one interface. Default 16.
	MaxSources int
}

const (
	igmpDefaultQueryInterval = 125 * time.Second // RFC 3376 8.2
	igmpDefaultQRI           = 10 * time.Second  // RFC 3376 8.3
	igmpIPHeaderLen          = wire.IPv4MinHeaderLen + 4
)

var (
	allRouters     = netip.AddrFrom4([4]byte{224, 0, 0, 2})  // IGMPv2 leaves (RFC 2236)
	allIGMPRouters = netip.AddrFrom4([4]byte{224, 0, 0, 22}) // IGMPv3 reports (RFC 3376 4.2.14)
)

// routerAlert is the IPv4 Router Alert option (RFC 2113); never written.
var routerAlert = [4]byte{wire.IPv4OptionRouterAlert, 4, 0, 0}

// igmpIface is the IGMP state of one interface.
type igmpIface struct {
	v1Until, v2Until time.Duration // Older Version Querier Present timers
	genPending       bool          // a general-query response is scheduled at genAt
	genAt            time.Duration
	chgPending       bool // state-change retransmissions are scheduled at chgAt
	chgAt            time.Duration
	rv               int           // Robustness Variable learned from a querier (0: config)
	qi               time.Duration // Query Interval learned from a querier (0: default)
	qri              time.Duration // Max Resp Time of the last query (0: default)
}

// srcRef counts the memberships of a group that include and that exclude one source.
type srcRef struct {
	addr     netip.Addr
	inc, exc int
}

// igmpGroup is the IGMP state of one group on one interface. group.refs
// counts the EXCLUDE memberships.
type igmpGroup struct {
	inRefs int          // INCLUDE memberships
	srcs   []srcRef     // sources of all memberships, capacity MaxSources
	mode   FilterMode   // merged interface state (RFC 3376 3.2)
	filter []netip.Addr // its source list, capacity MaxSources

	retrans     int          // state-change transmissions left (v3) / unsolicited reports left (v1, v2)
	chgMode     bool         // a filter-mode change is pending: send TO_IN/TO_EX(filter)
	allow       []netip.Addr // pending ALLOW sources, capacity MaxSources
	block       []netip.Addr // pending BLOCK sources, capacity MaxSources
	respPending bool         // a query response is scheduled at respAt
	respAt      time.Duration
	qsrcs       []netip.Addr // sources of pending group-and-source-specific queries (empty: the whole state is due), capacity MaxSources
	lastReport  bool         // v1/v2: we sent the last report for the group (RFC 2236 6)
}

func (g *group) active() bool { return g.refs > 0 || g.inRefs > 0 }

// igmpVersion is the host compatibility mode of n at now (RFC 3376 7.2.1).
func (s *Stack) igmpVersion(n *nic, now time.Duration) int {
	switch {
	case n.igmp.v1Until > now:
		return 1
	case n.igmp.v2Until > now:
		return 2
	}
	return s.cfg.IGMP.Version
}

func (s *Stack) igmpRV(n *nic) int {
	if n.igmp.rv > 0 {
		return n.igmp.rv
	}
	return s.cfg.IGMP.Robustness
}

// randDelay returns a random duration in [0, max).
func (s *Stack) randDelay(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(s.rand.Uint64() % uint64(max))
}

// igmpReports reports whether IGMP messages are sent about g on n.
func igmpReports(n *nic, g netip.Addr) bool { return n.kind != LinkLoopback && g != allHosts }

// JoinGroupSource adds one membership with a source filter (RFC 3376 3.1,
// the IP_ADD_SOURCE_MEMBERSHIP / MCAST_JOIN_SOURCE_GROUP model of RFC
// 3678) to group g on an interface: Include receives g only from sources
// (which must not be empty), Exclude from all but sources. The
// interface's state is the merge of all memberships (RFC 3376 3.2); a
// change of it sends an IGMPv3 state-change report (or a v1/v2 report when
// an older querier is present). Sources must be IPv4 unicast addresses,
// without duplicates; at most IGMPConfig.MaxSources distinct sources per
// group (ErrBufferFull), and Config.MaxGroups groups per interface.
func (s *Stack) JoinGroupSource(id NIC, g netip.Addr, sources []netip.Addr, mode FilterMode) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	if err := s.checkSources(g, sources, mode); err != nil {
		return err
	}
	gr := n.findGroup(g)
	if gr != nil {
		if len(gr.srcs)+gr.newSources(sources) > s.cfg.IGMP.MaxSources {
			return ErrBufferFull
		}
	} else {
		if gr = s.newGroup(n, g); gr == nil {
			return ErrBufferFull
		}
	}
	was := gr.active()
	oldMode, oldF := gr.mode, append(s.igmpOld[:0], gr.filter...)
	gr.addMembership(sources, mode)
	s.igmpChanged(n, gr, was, oldMode, oldF)
	return nil
}

// LeaveGroupSource removes one membership added with JoinGroupSource
// with the same sources and mode (ErrNotFound when there is none).
func (s *Stack) LeaveGroupSource(id NIC, g netip.Addr, sources []netip.Addr, mode FilterMode) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	if err := s.checkSources(g, sources, mode); err != nil {
		return err
	}
	gr := n.findGroup(g)
	if !gr.hasMembership(sources, mode) {
		return ErrNotFound
	}
	oldMode, oldF := gr.mode, append(s.igmpOld[:0], gr.filter...)
	gr.dropMembership(sources, mode)
	s.igmpChanged(n, gr, true, oldMode, oldF)
	return nil
}

// GroupFilter returns the merged interface state of group g on an
// interface: its filter mode and source list (RFC 3376 3.2), and false
// when the interface has not joined g.
func (s *Stack) GroupFilter(id NIC, g netip.Addr) (FilterMode, []netip.Addr, bool) {
	n := s.nic(id)
	if n == nil {
		return 0, nil, false
	}
	gr := n.findGroup(g)
	if gr == nil || !gr.active() {
		return 0, nil, false
	}
	return gr.mode, append([]netip.Addr(nil), gr.filter...), true
}

func (s *Stack) checkSources(g netip.Addr, sources []netip.Addr, mode FilterMode) error {
	if !g.Is4() || !g.IsMulticast() || (mode != Include && mode != Exclude) || (mode == Include && len(sources) == 0) {
		return ErrInvalid
	}
	if len(sources) > s.cfg.IGMP.MaxSources {
		return ErrBufferFull
	}
	for i, a := range sources {
		if !a.Is4() || a.IsMulticast() || a.IsUnspecified() || a == limitedBroadcast {
			return ErrInvalid
		}
		for _, b := range sources[:i] {
			if a == b {
				return ErrInvalid
			}
		}
	}
	return nil
}

// findGroup returns n's entry for g (active or still reporting its leave), or nil.
func (n *nic) findGroup(g netip.Addr) *group {
	for i := range n.groups {
		if n.groups[i].addr == g {
			return &n.groups[i]
		}
	}
	return nil
}

// newGroup adds an (inactive) entry for g, reusing the slot of a group
// that only reports its leave when the table is full.
func (s *Stack) newGroup(n *nic, g netip.Addr) *group {
	k := s.cfg.IGMP.MaxSources
	fresh := group{addr: g, igmpGroup: igmpGroup{mode: Include}}
	if len(n.groups) < cap(n.groups) {
		fresh.srcs = make([]srcRef, 0, k)
		fresh.filter = make([]netip.Addr, 0, k)
		fresh.allow = make([]netip.Addr, 0, k)
		fresh.block = make([]netip.Addr, 0, k)
		fresh.qsrcs = make([]netip.Addr, 0, k)
		n.groups = append(n.groups, fresh)
		return &n.groups[len(n.groups)-1]
	}
	for i := range n.groups {
		old := &n.groups[i]
		if !old.active() {
			fresh.srcs, fresh.filter = old.srcs[:0], old.filter[:0]
			fresh.allow, fresh.block, fresh.qsrcs = old.allow[:0], old.block[:0], old.qsrcs[:0]
			*old = fresh
			return old
		}
	}
	return nil
}

func (g *group) srcIndex(a netip.Addr) int {
	for i := range g.srcs {
		if g.srcs[i].addr == a {
			return i
		}
	}
	return -1
}

// merge recomputes the interface state from the membership counts (RFC
// 3376 3.2) and forgets sources no membership names.
func (g *group) merge() {
	k := 0
	for _, r := range g.srcs {
		if r.inc > 0 || r.exc > 0 {
			g.srcs[k] = r
			k++
		}
	}
	clear(g.srcs[k:])
	g.srcs = g.srcs[:k]
	g.filter = g.filter[:0]
	if g.refs > 0 {
		g.mode = Exclude
		for _, r := range g.srcs {
			if r.exc == g.refs && r.inc == 0 {
				g.filter = append(g.filter, r.addr)
			}
		}
		return
	}
	g.mode = Include
	for _, r := range g.srcs {
		if r.inc > 0 {
			g.filter = append(g.filter, r.addr)
		}
	}
}

// accepts reports whether the group's filter lets traffic from src in.
func (g *group) accepts(src netip.Addr) bool {
	if !g.active() {
		return false
	}
	in := false
	for _, a := range g.filter {
		if a == src {
			in = true
			break
		}
	}
	return in == (g.mode == Include)
}

func addrIn(l []netip.Addr, a netip.Addr) bool {
	for _, b := range l {
		if a == b {
			return true
		}
	}
	return false
}

func removeAddr(l []netip.Addr, a netip.Addr) []netip.Addr {
	for i, b := range l {
		if a == b {
			return append(l[:i], l[i+1:]...)
		}
	}
	return l
}

// pend records a pending ALLOW (allow true) or BLOCK of a, cancelling
// the opposite; it reports false when the list is full.
func (g *group) pend(a netip.Addr, allow bool) bool {
	to, from := &g.allow, &g.block
	if !allow {
		to, from = &g.block, &g.allow
	}
	*from = removeAddr(*from, a)
	if addrIn(*to, a) {
		return true
	}
	if len(*to) == cap(*to) {
		return false
	}
	*to = append(*to, a)
	return true
}

// igmpChanged runs after a membership of gr changed: it merges the new
// interface state, sends the state-change report (or the v1/v2 report or
// leave), updates the link's multicast filter and drops an entry that has
// nothing left to report.
func (s *Stack) igmpChanged(n *nic, gr *group, was bool, oldMode FilterMode, oldF []netip.Addr) {
	gr.merge()
	now := s.clock.Now()
	is := gr.active()
	if was != is {
		defer s.syncMulticastFilter(n)
	}
	if !igmpReports(n, gr.addr) {
		if !is {
			s.igmpPrune(n)
		}
		return
	}
	if v := s.igmpVersion(n, now); v < 3 {
		switch {
		case !was && is:
			s.igmpSendOld(n, gr, v)
			gr.retrans = s.igmpRV(n) - 1
			s.igmpArmChange(n, now)
		case was && !is:
			if v == 2 && gr.lastReport {
				s.igmpSendLeave(n, gr.addr)
			}
			gr.retrans, gr.respPending = 0, false
			s.igmpPrune(n)
		}
		return
	}
	if !gr.noteChange(oldMode, oldF) {
		return // e.g. a second any-source join
	}
	gr.retrans = s.igmpRV(n)
	var w igmpBuilder
	s.igmpChangeRecords(n, &w, gr)
	s.igmpFlush(n, &w)
	s.igmpArmChange(n, now)
	s.igmpPrune(n)
}

// igmpArmChange schedules the next state-change retransmission unless one is scheduled.
func (s *Stack) igmpArmChange(n *nic, now time.Duration) {
	if n.igmp.chgPending {
		return
	}
	for i := range n.groups {
		if n.groups[i].retrans > 0 {
			n.igmp.chgPending = true
			n.igmp.chgAt = now + s.randDelay(s.cfg.IGMP.UnsolicitedReportInterval) + 1
			return
		}
	}
}

// igmpPrune drops inactive groups that have nothing left to report.
func (s *Stack) igmpPrune(n *nic) {
	k := 0
	for i := range n.groups {
		g := n.groups[i]
		if !g.active() && g.retrans == 0 {
			continue
		}
		n.groups[k] = g
		k++
	}
	for i := k; i < len(n.groups); i++ {
		n.groups[i] = group{}
	}
	n.groups = n.groups[:k]
}

// igmpChangeRecords adds gr's pending state-change records to w and counts one transmission.
func (s *Stack) igmpChangeRecords(n *nic, w *igmpBuilder, gr *group) {
	gr.changeRecords(func(typ uint8, srcs []netip.Addr) { s.igmpAddRecord(n, w, typ, gr.addr, srcs) })
}

// igmpCurrentRecord adds gr's current-state record (IS_IN/IS_EX) to w,
// or for a group-and-source-specific query (withSources) the queried
// sources the filter lets in (RFC 3376 5.2), nothing when there are none.
func (s *Stack) igmpCurrentRecord(n *nic, w *igmpBuilder, gr *group, withSources bool) {
	if !gr.active() || !igmpReports(n, gr.addr) {
		return
	}
	gr.currentRecord(withSources, func(typ uint8, srcs []netip.Addr) { s.igmpAddRecord(n, w, typ, gr.addr, srcs) })
}

// igmpBuilder collects IGMPv3 group records into reports that fit the MTU.
type igmpBuilder struct {
	b         *pbuf.Buf
	off, nrec int
}

// igmpAddRecord appends a record; a record with too many sources for one
// report is split into several (INCLUDE-type records) or truncated
// (EXCLUDE-type records), as RFC 3376 4.2.16 says.
func (s *Stack) igmpAddRecord(n *nic, w *igmpBuilder, typ uint8, g netip.Addr, srcs []netip.Addr) {
	limit := min(n.mtu, 1500) - igmpIPHeaderLen
	for {
		if w.b != nil && w.off+wire.IGMPv3GroupRecordLen(min(len(srcs), 1)) > limit {
			s.igmpFlush(n, w)
		}
		if w.b == nil {
			if w.b = s.NewPacket(limit); w.b == nil {
				s.stats.IP.OutDiscards++
				return
			}
			w.off, w.nrec = wire.IGMPHeaderLen, 0
		}
		chunk := srcs
		if fit := (limit - w.off - wire.IGMPv3GroupRecordMinLen) / 4; len(chunk) > fit {
			chunk = chunk[:fit]
		}
		w.off += wire.PutIGMPv3GroupRecord(w.b.Bytes()[w.off:], typ, g, chunk)
		w.nrec++
		srcs = srcs[len(chunk):]
		if len(srcs) == 0 || typ == wire.IGMPv3ModeIsExclude || typ == wire.IGMPv3ChangeToExclude {
			return
		}
	}
}

// igmpFlush sends the report being built, if any.
func (s *Stack) igmpFlush(n *nic, w *igmpBuilder) {
	b := w.b
	if b == nil {
		return
	}
	w.b = nil
	if w.nrec == 0 {
		b.Free()
		return
	}
	b.Truncate(w.off)
	m := b.Bytes()
	wire.PutIGMPv3ReportHeader(m, w.nrec)
	wire.SetIGMPChecksum(m)
	s.stats.IGMP.OutReports++
	s.igmpOut(n, b, allIGMPRouters)
}

// igmpSendOld sends a v1 or v2 membership report for gr (to the group).
func (s *Stack) igmpSendOld(n *nic, gr *group, v int) {
	b := s.NewPacket(wire.IGMPHeaderLen)
	if b == nil {
		s.stats.IP.OutDiscards++
		return
	}
	t := uint8(wire.IGMPv2MembershipReport)
	if v == 1 {
		t = wire.IGMPv1MembershipReport
	}
	wire.PutIGMP(b.Bytes(), t, 0, gr.addr)
	gr.lastReport = true
	s.stats.IGMP.OutReports++
	s.igmpOut(n, b, gr.addr)
}

// igmpSendLeave sends an IGMPv2 leave for g to 224.0.0.2 (RFC 2236 3).
func (s *Stack) igmpSendLeave(n *nic, g netip.Addr) {
	b := s.NewPacket(wire.IGMPHeaderLen)
	if b == nil {
		s.stats.IP.OutDiscards++
		return
	}
	wire.PutIGMP(b.Bytes(), wire.IGMPv2LeaveGroup, 0, g)
	s.stats.IGMP.OutLeaves++
	s.igmpOut(n, b, allRouters)
}

// igmpOut sends an IGMP message (TTL 1, Router Alert, not looped back) on n. Takes ownership of b.
func (s *Stack) igmpOut(n *nic, b *pbuf.Buf, dst netip.Addr) {
	if !n.up {
		b.Free()
		return
	}
	_ = s.WriteIPv4(b, &WriteOptions{Dst: dst, Protocol: wire.ProtoIGMP, TTL: 1, TOS: 0xc0, NIC: n.id, Options: routerAlert[:]})
}

// igmpInput handles a received IGMP message (raw handlers already saw it).
func (s *Stack) igmpInput(n *nic, p *Packet) {
	s.ctlChanged()
	st := &s.stats.IGMP
	st.InMsgs++
	m, err := wire.ParseIGMP(p.Payload)
	if errors.Is(err, wire.ErrUnsupported) {
		st.InUnknownTypes++
		return
	}
	if err != nil {
		st.InErrors++
		return
	}
	if !m.ChecksumValid() {
		st.InErrors++
		st.InCsumErrors++
		return
	}
	switch m.Type() {
	case wire.IGMPMembershipQuery:
		st.InQueries++
		if n.kind == LinkLoopback {
			st.InIgnored++
			return
		}
		s.igmpQuery(n, p, m)
	case wire.IGMPv1MembershipReport, wire.IGMPv2MembershipReport:
		st.InReports++
		s.igmpReportHeard(n, p, m)
	case wire.IGMPv3MembershipReport:
		st.InReports++ // for routers only
	}
}

// igmpQuery handles a membership query (RFC 3376 5.2, RFC 2236 3).
func (s *Stack) igmpQuery(n *nic, p *Packet, m wire.IGMP) {
	now := s.clock.Now()
	g := m.Group()
	general := g.IsUnspecified()
	if (general && p.Dst != allHosts) || (!general && !g.IsMulticast()) {
		s.stats.IGMP.InIgnored++ // RFC 3376 9.1: general queries only to 224.0.0.1
		return
	}
	mrt := m.MaxRespTime()
	before := s.igmpVersion(n, now)
	learnQuery(&n.igmp, m.Version() == 3, m, mrt)
	switch m.Version() {
	case 1:
		n.igmp.v1Until = now + s.igmpOlderTimeout(n)
	case 2:
		n.igmp.v2Until = now + s.igmpOlderTimeout(n)
	}
	v := s.igmpVersion(n, now)
	if v < before {
		s.igmpCancel(n) // RFC 3376 7.2.1
	}
	delay := s.randDelay(mrt)
	if v == 3 {
		if general {
			n.igmp.scheduleGeneral(now + delay)
			return
		}
		gr := n.findGroup(g)
		if gr == nil || !gr.active() {
			s.stats.IGMP.InIgnored++
			return
		}
		if n.igmp.genPending && n.igmp.genAt <= now+delay {
			return // the general response will cover it (RFC 3376 5.2 rule 2)
		}
		queried(gr, m, now+delay) // rules 3-5
		return
	}
	// v1/v2 (RFC 2236 3): start or shorten each group's report timer.
	found := false
	for i := range n.groups {
		gr := &n.groups[i]
		if !gr.active() || !igmpReports(n, gr.addr) || (!general && gr.addr != g) {
			continue
		}
		found = true
		if !gr.respPending || gr.respAt > now+mrt {
			gr.respPending, gr.respAt = true, now+s.randDelay(mrt)
			gr.qsrcs = gr.qsrcs[:0]
		}
	}
	if !general && !found {
		s.stats.IGMP.InIgnored++
	}
}

// igmpOlderTimeout is the Older Version Querier Present Timeout (RFC 3376 8.12).
func (s *Stack) igmpOlderTimeout(n *nic) time.Duration {
	return n.igmp.olderTimeout(s.igmpRV(n), igmpDefaultQueryInterval, igmpDefaultQRI)
}

// igmpCancel cancels every pending response and retransmission of n.
func (s *Stack) igmpCancel(n *nic) {
	n.igmp.genPending, n.igmp.chgPending = false, false
	for i := range n.groups {
		n.groups[i].cancelPending()
	}
	s.igmpPrune(n)
}

// igmpReportHeard handles another host's v1/v2 report: in v1/v2 mode it
// suppresses our pending report for the group (RFC 2236 3).
func (s *Stack) igmpReportHeard(n *nic, p *Packet, m wire.IGMP) {
	g := m.Group()
	if g != p.Dst {
		s.stats.IGMP.InIgnored++
		return
	}
	if s.igmpVersion(n, s.clock.Now()) == 3 {
		return
	}
	n.findGroup(g).reportHeard()
}

// igmpTimers sends the responses and retransmissions that are due.
func (s *Stack) igmpTimers(now time.Duration) {
	for _, n := range s.nics {
		if len(n.groups) == 0 && !n.igmp.genPending {
			continue
		}
		v := s.igmpVersion(n, now)
		var w igmpBuilder
		if n.igmp.genPending && n.igmp.genAt <= now {
			n.igmp.genPending = false
			if v == 3 {
				for i := range n.groups {
					s.igmpCurrentRecord(n, &w, &n.groups[i], false)
				}
			}
		}
		for i := range n.groups {
			gr := &n.groups[i]
			if !gr.respPending || gr.respAt > now {
				continue
			}
			gr.respPending = false
			if !gr.active() || !igmpReports(n, gr.addr) {
				continue
			}
			if v == 3 {
				s.igmpCurrentRecord(n, &w, gr, true)
			} else {
				s.igmpSendOld(n, gr, v)
			}
		}
		if n.igmp.chgPending && n.igmp.chgAt <= now {
			n.igmp.chgPending = false
			for i := range n.groups {
				gr := &n.groups[i]
				if gr.retrans <= 0 {
					continue
				}
				if v == 3 {
					s.igmpChangeRecords(n, &w, gr)
				} else if gr.active() {
					gr.retrans--
					s.igmpSendOld(n, gr, v)
				} else {
					gr.retrans = 0
				}
			}
			s.igmpArmChange(n, now)
		}
		s.igmpFlush(n, &w)
		s.igmpPrune(n)
	}
}

// igmpDeadline is the earliest IGMP timer.
func (s *Stack) igmpDeadline() (time.Duration, bool) {
	var t time.Duration
	ok := false
	take := func(d time.Duration) {
		if !ok || d < t {
			t, ok = d, true
		}
	}
	for _, n := range s.nics {
		n.igmp.timersDeadline(take)
		for i := range n.groups {
			if n.groups[i].respPending {
				take(n.groups[i].respAt)
			}
		}
	}
	return t, ok
}
