package stack

import (
	"errors"
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// MLD, host side: MLDv2 (RFC 3810) with the MLDv1 compatibility mode (RFC
// 2710, RFC 3810 8.2), the IPv6 twin of igmp.go. It shares IGMP's
// per-group state (group, igmpGroup: membership counts merged into one
// interface state by the rules of RFC 3810 4.2, pending ALLOW/BLOCK
// changes, response timers) and per-interface state (igmpIface, whose
// v1Until is the MLDv1 Older Version Querier Present timer).
//
// A change of the interface state of a group sends a state-change report
// at once and Robustness-1 more times, each after a random delay up to the
// Unsolicited Report Interval (RFC 3810 6.1). A general query is answered
// after a random delay up to its Maximum Response Delay with the current
// state of every group, a group-specific query with that of the group, a
// group-and-source-specific query with the queried sources the filter
// lets in (RFC 3810 6.3); a pending response absorbs later queries as RFC
// 3810 6.2 says. A v1 query starts the Older Version Querier Present timer
// (Robustness * Query Interval + Query Response Interval, RFC 3810 9.12):
// while it runs the host sends MLDv1 reports and dones (a done only when
// it sent the last report, RFC 2710 4), suppresses its report when it
// hears another listener's, and switching to it cancels pending responses
// and retransmissions.
//
// Queries are accepted only from a link-local source, with hop limit 1
// and a Router Alert option with the MLD value (RFC 3810 5.1.14, 6.2; for
// MLDv1 queries too, as Linux does); others are counted in
// MLDStats.InBadHeader and dropped.
//
// Messages go out with hop limit 1 and the Router Alert option, from the
// link-local address, or from :: while none has passed DAD (RFC 3810
// 5.2.13). Nothing is ever sent for ff02::1 or for groups of a scope
// smaller than link-local (RFC 3810 6). The solicited-node groups of the
// interface's addresses are joined by the stack itself (slaac.go) and
// reported like any other group.

// MLDConfig configures the MLD host (RFC 3810 9). Zero fields take the defaults given.
type MLDConfig struct {
	// Version is the newest MLD version the host speaks: 2 (default, RFC
	// 3810) or 1 (RFC 2710).
	Version int
	// Robustness is the Robustness Variable used until a querier
	// announces another (RFC 3810 9.1). Default 2.
	Robustness int
	// UnsolicitedReportInterval bounds the random delay between the
	// repetitions of a state-change report. Default 1s (RFC 3810 9.11).
	UnsolicitedReportInterval time.Duration
	// MaxSources bounds the distinct sources in the memberships of one
	// group on one interface. Default 16.
	MaxSources int
}

func (c *MLDConfig) setDefaults() {
	if c.Version == 0 {
		c.Version = 2
	}
	if c.Robustness == 0 {
		c.Robustness = 2
	}
	if c.UnsolicitedReportInterval == 0 {
		c.UnsolicitedReportInterval = time.Second
	}
	if c.MaxSources == 0 {
		c.MaxSources = 16
	}
}

// MLDStats counts MLD (RFC 2710, RFC 3810) messages of the host side.
type MLDStats struct {
	InMsgs      uint64 // MLD messages received
	InErrors    uint64 // malformed messages
	InQueries   uint64 // valid queries (any version)
	InReports   uint64 // reports of other listeners (v1, v2)
	InDones     uint64 // dones of other listeners (ignored by hosts)
	InIgnored   uint64 // valid messages ignored: query before MLD started, general query not to ff02::1, query for a group we are not in
	InBadHeader uint64 // queries dropped for their IPv6 header: source not link-local, hop limit not 1, or no MLD Router Alert (RFC 3810 5.1.14, 6.2)
	OutReports  uint64 // reports sent (v1 and v2)
	OutDones    uint64 // MLDv1 dones sent
}

const (
	mldDefaultQueryInterval = 125 * time.Second // RFC 3810 9.2
	mldDefaultQRI           = 10 * time.Second  // RFC 3810 9.3
	mldHeaderRoom           = wire.IPv6HeaderLen + 8
)

// mldGroup is the MLD state of one IPv6 group on one interface. sys
// counts the stack's own EXCLUDE {} memberships (solicited-node groups),
// which are part of group.refs.
type mldGroup struct {
	group
	sys int
}

// mldReports reports whether MLD messages are sent about g: never for
// ff02::1 and groups of a scope below link-local (RFC 3810 6).
func mldReports(g netip.Addr) bool {
	b := g.As16()
	return g != wire.IPv6AllNodes && b[1]&0x0f >= 2
}

func (s *Stack) mldVersion(n *nic, now time.Duration) int {
	if n.auto.mld.v1Until > now {
		return 1
	}
	return s.cfg.MLD.Version
}

func (s *Stack) mldRV(n *nic) int {
	if n.auto.mld.rv > 0 {
		return n.auto.mld.rv
	}
	return s.cfg.MLD.Robustness
}

// JoinGroupSource6 adds one membership with a source filter to the IPv6
// multicast group g on an interface, like JoinGroupSource for IPv4 (RFC
// 3810 4.1, RFC 3678): Include receives g only from sources (not empty),
// Exclude from all but sources. The interface state merges all memberships
// (RFC 3810 4.2); a change of it sends an MLDv2 state-change report (or an
// MLDv1 report when a v1 querier is present). Sources must be IPv6
// unicast addresses without duplicates; at most MLDConfig.MaxSources
// distinct sources per group (ErrBufferFull), and Config.MaxGroups groups
// per interface.
func (s *Stack) JoinGroupSource6(id NIC, g netip.Addr, sources []netip.Addr, mode FilterMode) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	return s.mldJoin(n, g.WithZone(""), sources, mode, false)
}

// LeaveGroupSource6 removes one membership added with JoinGroupSource6
// with the same sources and mode (ErrNotFound when there is none).
func (s *Stack) LeaveGroupSource6(id NIC, g netip.Addr, sources []netip.Addr, mode FilterMode) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	return s.mldLeave(n, g.WithZone(""), sources, mode, false)
}

// GroupFilter6 returns the merged interface state of IPv6 group g on an
// interface: its filter mode and source list (RFC 3810 4.2), and false
// when the interface has not joined g.
func (s *Stack) GroupFilter6(id NIC, g netip.Addr) (FilterMode, []netip.Addr, bool) {
	n := s.nic(id)
	if n == nil {
		return 0, nil, false
	}
	gr := n.findGroup6(g.WithZone(""))
	if gr == nil || !gr.active() {
		return 0, nil, false
	}
	return gr.mode, append([]netip.Addr(nil), gr.filter...), true
}

// acceptMulticast6 reports whether n joined the IPv6 group g and whether
// its source filter (RFC 3810 4.2) admits datagrams from src. ff02::1 and
// the solicited-node groups of n's addresses are always received.
func (n *nic) acceptMulticast6(g, src netip.Addr) (joined, accepted bool) {
	if gr := n.findGroup6(g); gr != nil && gr.active() {
		return true, gr.accepts(src)
	}
	if n.inGroup6(g) {
		return true, true
	}
	return false, false
}

func (s *Stack) checkSources6(g netip.Addr, sources []netip.Addr, mode FilterMode) error {
	if !g.Is6() || g.Is4In6() || !g.IsMulticast() || (mode != Include && mode != Exclude) || (mode == Include && len(sources) == 0) {
		return ErrInvalid
	}
	if len(sources) > s.cfg.MLD.MaxSources {
		return ErrBufferFull
	}
	for i, a := range sources {
		if !a.Is6() || a.Is4In6() || a.IsMulticast() || a.IsUnspecified() || a.Zone() != "" {
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

// findGroup6 returns n's MLD entry for g (active or still reporting its leave), or nil.
func (n *nic) findGroup6(g netip.Addr) *mldGroup {
	for i := range n.auto.groups {
		if n.auto.groups[i].addr == g {
			return &n.auto.groups[i]
		}
	}
	return nil
}

// mldNewGroup adds an inactive entry for g. Application groups are
// bounded by Config.MaxGroups; the stack's own (sys) groups use the
// extra room for one solicited-node group per address. The slot of a
// group that only reports its leave is reused when needed.
func (s *Stack) mldNewGroup(n *nic, g netip.Addr, sys bool) *mldGroup {
	a := &n.auto
	if a.groups == nil {
		a.groups = make([]mldGroup, 0, s.cfg.MaxGroups+s.cfg.MaxAddresses)
	}
	user := 0
	for i := range a.groups {
		if a.groups[i].refs > a.groups[i].sys || a.groups[i].inRefs > 0 {
			user++
		}
	}
	if !sys && user >= s.cfg.MaxGroups {
		return nil
	}
	k := s.cfg.MLD.MaxSources
	fresh := mldGroup{group: group{addr: g, igmpGroup: igmpGroup{mode: Include}}}
	if len(a.groups) < cap(a.groups) {
		a.groups = a.groups[:len(a.groups)+1]
		slot := &a.groups[len(a.groups)-1]
		if slot.srcs == nil { // never used: give it its lists
			fresh.srcs = make([]srcRef, 0, k)
			fresh.filter = make([]netip.Addr, 0, k)
			fresh.allow = make([]netip.Addr, 0, k)
			fresh.block = make([]netip.Addr, 0, k)
			fresh.qsrcs = make([]netip.Addr, 0, k)
		} else { // left by mldPrune with its lists
			fresh.srcs, fresh.filter = slot.srcs[:0], slot.filter[:0]
			fresh.allow, fresh.block, fresh.qsrcs = slot.allow[:0], slot.block[:0], slot.qsrcs[:0]
		}
		*slot = fresh
		return slot
	}
	for i := range a.groups {
		old := &a.groups[i]
		if !old.active() {
			fresh.srcs, fresh.filter = old.srcs[:0], old.filter[:0]
			fresh.allow, fresh.block, fresh.qsrcs = old.allow[:0], old.block[:0], old.qsrcs[:0]
			*old = fresh
			return old
		}
	}
	return nil
}

// mldJoin adds one membership of g to n (sys: the stack's own).
func (s *Stack) mldJoin(n *nic, g netip.Addr, sources []netip.Addr, mode FilterMode, sys bool) error {
	if err := s.checkSources6(g, sources, mode); err != nil {
		return err
	}
	gr := n.findGroup6(g)
	if gr != nil {
		if len(gr.srcs)+gr.newSources(sources) > s.cfg.MLD.MaxSources {
			return ErrBufferFull
		}
		if !sys && gr.refs == gr.sys && gr.inRefs == 0 && s.mldUserGroups(n) >= s.cfg.MaxGroups {
			return ErrBufferFull
		}
	} else if gr = s.mldNewGroup(n, g, sys); gr == nil {
		return ErrBufferFull
	}
	was := gr.active()
	oldMode, oldF := gr.mode, append(n.auto.old[:0], gr.filter...)
	gr.addMembership(sources, mode)
	if sys && mode == Exclude {
		gr.sys++
	}
	s.mldChanged(n, gr, was, oldMode, oldF)
	return nil
}

// mldUserGroups counts n's groups with application memberships.
func (s *Stack) mldUserGroups(n *nic) int {
	c := 0
	for i := range n.auto.groups {
		g := &n.auto.groups[i]
		if g.refs > g.sys || g.inRefs > 0 {
			c++
		}
	}
	return c
}

// mldLeave removes one membership of g from n (sys: the stack's own).
func (s *Stack) mldLeave(n *nic, g netip.Addr, sources []netip.Addr, mode FilterMode, sys bool) error {
	if err := s.checkSources6(g, sources, mode); err != nil {
		return err
	}
	gr := n.findGroup6(g)
	if gr == nil || !gr.hasMembership(sources, mode) {
		return ErrNotFound
	}
	if mode == Exclude && len(sources) == 0 && ((sys && gr.sys == 0) || (!sys && gr.refs == gr.sys)) {
		return ErrNotFound
	}
	oldMode, oldF := gr.mode, append(n.auto.old[:0], gr.filter...)
	gr.dropMembership(sources, mode)
	if sys && mode == Exclude {
		gr.sys--
	}
	s.mldChanged(n, gr, true, oldMode, oldF)
	return nil
}

// mldJoinSys and mldLeaveSys add and drop the stack's own membership of
// a solicited-node group (RFC 4862 5.4.2).
func (s *Stack) mldJoinSys(n *nic, g netip.Addr) { _ = s.mldJoin(n, g, nil, Exclude, true) }

func (s *Stack) mldLeaveSys(n *nic, g netip.Addr) { _ = s.mldLeave(n, g, nil, Exclude, true) }

// mldChanged runs after a membership of gr changed: it merges the new
// interface state, updates the receive filter, sends the state-change
// report (or the v1 report or done) and drops an entry that has nothing
// left to report. Mirrors igmpChanged.
func (s *Stack) mldChanged(n *nic, gr *mldGroup, was bool, oldMode FilterMode, oldF []netip.Addr) {
	gr.merge()
	g := gr.addr
	is := gr.active()
	if was != is && !isSolicitedNode(g) {
		// the receive filter keeps solicited-node groups by itself
		if is {
			_ = s.joinIPv6Group(n, g)
		} else {
			_ = s.leaveIPv6Group(n, g)
		}
	}
	now := s.clock.Now()
	if !mldReports(g) || !n.auto.started || !n.up {
		if !is {
			gr.retrans = 0
			s.mldPrune(n)
		}
		return
	}
	if s.mldVersion(n, now) == 1 {
		switch {
		case !was && is:
			s.mldSendV1(n, &gr.group, wire.ICMPv6MLDv1Report)
			gr.retrans = s.mldRV(n) - 1
			s.mldArmChange(n, now)
		case was && !is:
			if gr.lastReport {
				s.mldSendV1(n, &gr.group, wire.ICMPv6MLDv1Done)
			}
			gr.retrans, gr.respPending = 0, false
			s.mldPrune(n)
		}
		return
	}
	if !gr.noteChange(oldMode, oldF) {
		return // e.g. a second any-source join
	}
	gr.retrans = s.mldRV(n)
	var w mldBuilder
	s.mldChangeRecords(n, &w, gr)
	s.mldFlush(n, &w)
	s.mldArmChange(n, now)
	s.mldPrune(n)
}

// mldRestate reports every active group of n again as a state change (on
// interface up, and once the link-local address passed DAD).
func (s *Stack) mldRestate(n *nic, now time.Duration) {
	if !n.up || !n.auto.started {
		return
	}
	v := s.mldVersion(n, now)
	var w mldBuilder
	for i := range n.auto.groups {
		gr := &n.auto.groups[i]
		if !gr.active() || !mldReports(gr.addr) {
			continue
		}
		if v == 1 {
			s.mldSendV1(n, &gr.group, wire.ICMPv6MLDv1Report)
			gr.retrans = s.mldRV(n) - 1
			continue
		}
		gr.chgMode = true
		gr.allow, gr.block = gr.allow[:0], gr.block[:0]
		gr.retrans = s.mldRV(n)
		s.mldChangeRecords(n, &w, gr)
	}
	s.mldFlush(n, &w)
	s.mldArmChange(n, now)
}

// mldArmChange schedules the next state-change retransmission unless one is scheduled.
func (s *Stack) mldArmChange(n *nic, now time.Duration) {
	m := &n.auto.mld
	if m.chgPending {
		return
	}
	for i := range n.auto.groups {
		if n.auto.groups[i].retrans > 0 {
			m.chgPending = true
			m.chgAt = now + s.randDelay(s.cfg.MLD.UnsolicitedReportInterval) + 1
			return
		}
	}
}

// mldPrune drops inactive groups that have nothing left to report.
func (s *Stack) mldPrune(n *nic) {
	gs := n.auto.groups
	k := 0
	for i := range gs {
		if !gs[i].active() && gs[i].retrans == 0 {
			continue
		}
		gs[k], gs[i] = gs[i], gs[k] // keep the slices of dropped entries for reuse
		k++
	}
	for i := k; i < len(gs); i++ {
		g := &gs[i]
		srcs, filter, allow, block, qsrcs := g.srcs[:0], g.filter[:0], g.allow[:0], g.block[:0], g.qsrcs[:0]
		clear(g.srcs[:cap(g.srcs)])
		clear(g.filter[:cap(g.filter)])
		*g = mldGroup{}
		g.srcs, g.filter, g.allow, g.block, g.qsrcs = srcs, filter, allow, block, qsrcs
	}
	n.auto.groups = gs[:k]
}

// mldCancel cancels every pending response and retransmission of n and
// drops the stack's own memberships (interface down).
func (s *Stack) mldCancel(n *nic) {
	for i := range n.auto.groups {
		if g := &n.auto.groups[i]; g.sys > 0 {
			g.refs -= g.sys
			g.sys = 0
			g.merge()
		}
	}
	s.mldCancelResponses(n)
}

// mldChangeRecords adds gr's pending state-change records to w and counts one transmission.
func (s *Stack) mldChangeRecords(n *nic, w *mldBuilder, gr *mldGroup) {
	gr.changeRecords(func(typ uint8, srcs []netip.Addr) { s.mldAddRecord(n, w, typ, gr.addr, srcs) })
}

// mldCurrentRecord adds gr's current-state record to w: IS_IN/IS_EX, or
// for a group-and-source-specific query the queried sources the filter
// lets in (RFC 3810 6.3), nothing when there are none.
func (s *Stack) mldCurrentRecord(n *nic, w *mldBuilder, gr *mldGroup, withSources bool) {
	if !gr.active() || !mldReports(gr.addr) {
		return
	}
	gr.currentRecord(withSources, func(typ uint8, srcs []netip.Addr) { s.mldAddRecord(n, w, typ, gr.addr, srcs) })
}

// mldBuilder collects MLDv2 address records into n.auto.buf.
type mldBuilder struct {
	open      bool
	off, nrec int
}

// mldAddRecord appends a record, starting a new report when it does not
// fit in the current one, splitting INCLUDE-type records with too many
// sources for one report and truncating EXCLUDE-type ones (RFC 3810
// 5.2.15).
func (s *Stack) mldAddRecord(n *nic, w *mldBuilder, typ uint8, g netip.Addr, srcs []netip.Addr) {
	limit := min(n.mtu6(), len(n.auto.buf)+mldHeaderRoom) - mldHeaderRoom
	for {
		if w.open && w.nrec > 0 && w.off+wire.MLDv2AddressRecordLen(len(srcs)) > limit {
			s.mldFlush(n, w)
		}
		if !w.open {
			w.open, w.off, w.nrec = true, wire.MLDv2ReportHeaderLen, 0
		}
		chunk := srcs
		if fit := (limit - w.off - wire.MLDv2AddressRecordMinLen) / 16; len(chunk) > fit {
			chunk = chunk[:fit]
		}
		w.off += wire.PutMLDv2AddressRecord(n.auto.buf[w.off:], typ, g, chunk)
		w.nrec++
		srcs = srcs[len(chunk):]
		if len(srcs) == 0 || typ == wire.MLDv2ModeIsExclude || typ == wire.MLDv2ChangeToExclude {
			return
		}
	}
}

// mldFlush sends the report being built, if any, to ff02::16.
func (s *Stack) mldFlush(n *nic, w *mldBuilder) {
	if !w.open {
		return
	}
	w.open = false
	if w.nrec == 0 {
		return
	}
	b := n.auto.buf[:w.off]
	wire.PutMLDv2ReportHeader(b, w.nrec)
	s.stats.MLD.OutReports++
	_ = s.sendICMPv6(n, n.usableLinkLocal(), wire.IPv6AllMLDv2Routers, 1, true, b)
}

// mldSendV1 sends an MLDv1 report (to the group) or done (to ff02::2) for gr.
func (s *Stack) mldSendV1(n *nic, gr *group, typ uint8) {
	b := n.auto.buf
	l := wire.PutMLDv1(b, typ, 0, gr.addr)
	dst := gr.addr
	if typ == wire.ICMPv6MLDv1Done {
		dst = wire.IPv6AllRouters
		s.stats.MLD.OutDones++
	} else {
		gr.lastReport = true
		s.stats.MLD.OutReports++
	}
	_ = s.sendICMPv6(n, n.usableLinkLocal(), dst, 1, true, b[:l])
}

// handleMLD processes an MLD message (RFC 2710, RFC 3810) for the host
// side; hop is the IPv6 hop limit, mldAlert says the packet carried a
// Router Alert option with the MLD value (RFC 2711).
func (s *Stack) handleMLD(n *nic, src, dst netip.Addr, hop uint8, mldAlert bool, m wire.ICMPv6) {
	st := &s.stats.MLD
	st.InMsgs++
	mm, err := wire.ParseMLD(m.Bytes())
	if errors.Is(err, wire.ErrUnsupported) {
		return
	}
	if err != nil {
		st.InErrors++
		return
	}
	switch mm.Type() {
	case wire.ICMPv6MLDQuery:
		st.InQueries++
		// RFC 3810 5.1.14, 6.2: a query (of either version, as Linux
		// checks too) must come from a link-local source with hop limit
		// 1 and the MLD Router Alert; else it may come from off-link.
		if !src.IsLinkLocalUnicast() || hop != 1 || !mldAlert {
			st.InBadHeader++
			return
		}
		if !n.auto.started {
			st.InIgnored++
			return
		}
		s.mldQuery(n, dst.WithZone(""), mm)
	case wire.ICMPv6MLDv1Report:
		st.InReports++
		s.mldReportHeard(n, dst.WithZone(""), mm)
	case wire.ICMPv6MLDv2Report:
		st.InReports++ // for routers only
	case wire.ICMPv6MLDv1Done:
		st.InDones++
	}
}

// mldQuery handles a query (RFC 3810 6.2, RFC 2710 4).
func (s *Stack) mldQuery(n *nic, dst netip.Addr, m wire.MLD) {
	now := s.clock.Now()
	a := &n.auto
	g := m.Group()
	general := g.IsUnspecified()
	if (general && dst != wire.IPv6AllNodes) || (!general && !g.IsMulticast()) {
		s.stats.MLD.InIgnored++
		return
	}
	mrd := m.MaxRespDelay()
	before := s.mldVersion(n, now)
	learnQuery(&a.mld, m.Version() == 2, m, mrd)
	if m.Version() == 1 {
		a.mld.v1Until = now + s.mldOlderTimeout(n)
	}
	v := s.mldVersion(n, now)
	if v < before {
		s.mldCancelResponses(n) // RFC 3810 8.2.1
	}
	delay := s.randDelay(mrd)
	if v == 2 {
		if general {
			a.mld.scheduleGeneral(now + delay)
			return
		}
		gr := n.findGroup6(g)
		if gr == nil || !gr.active() || !mldReports(g) {
			s.stats.MLD.InIgnored++
			return
		}
		if a.mld.genPending && a.mld.genAt <= now+delay {
			return // RFC 3810 6.2 rule 1
		}
		queried(&gr.group, m, now+delay) // rules 2-4
		return
	}
	// v1 (RFC 2710 4): start or shorten each group's report timer.
	found := false
	for i := range a.groups {
		gr := &a.groups[i]
		if !gr.active() || !mldReports(gr.addr) || (!general && gr.addr != g) {
			continue
		}
		found = true
		if !gr.respPending || gr.respAt > now+mrd {
			gr.respPending, gr.respAt = true, now+s.randDelay(mrd)
			gr.qsrcs = gr.qsrcs[:0]
		}
	}
	if !general && !found {
		s.stats.MLD.InIgnored++
	}
}

// mldOlderTimeout is the Older Version Querier Present Timeout (RFC 3810 9.12).
func (s *Stack) mldOlderTimeout(n *nic) time.Duration {
	return n.auto.mld.olderTimeout(s.mldRV(n), mldDefaultQueryInterval, mldDefaultQRI)
}

// mldCancelResponses cancels every pending response and retransmission of n.
func (s *Stack) mldCancelResponses(n *nic) {
	m := &n.auto.mld
	m.genPending, m.chgPending = false, false
	for i := range n.auto.groups {
		n.auto.groups[i].cancelPending()
	}
	s.mldPrune(n)
}

// mldReportHeard handles another listener's MLDv1 report: in v1 mode it
// suppresses our pending report for the group (RFC 2710 4).
func (s *Stack) mldReportHeard(n *nic, dst netip.Addr, m wire.MLD) {
	g := m.Group()
	if g != dst {
		s.stats.MLD.InIgnored++
		return
	}
	if s.mldVersion(n, s.clock.Now()) != 1 {
		return
	}
	if gr := n.findGroup6(g); gr != nil {
		gr.reportHeard()
	}
}

// mldTimers sends n's MLD responses and retransmissions that are due.
func (s *Stack) mldTimers(n *nic, now time.Duration) {
	a := &n.auto
	if len(a.groups) == 0 && !a.mld.genPending {
		return
	}
	v := s.mldVersion(n, now)
	var w mldBuilder
	if a.mld.genPending && a.mld.genAt <= now {
		a.mld.genPending = false
		if v == 2 {
			for i := range a.groups {
				s.mldCurrentRecord(n, &w, &a.groups[i], false)
			}
		}
	}
	for i := range a.groups {
		gr := &a.groups[i]
		if !gr.respPending || gr.respAt > now {
			continue
		}
		gr.respPending = false
		if !gr.active() || !mldReports(gr.addr) {
			continue
		}
		if v == 2 {
			s.mldCurrentRecord(n, &w, gr, true)
		} else {
			s.mldSendV1(n, &gr.group, wire.ICMPv6MLDv1Report)
		}
	}
	if a.mld.chgPending && a.mld.chgAt <= now {
		a.mld.chgPending = false
		for i := range a.groups {
			gr := &a.groups[i]
			if gr.retrans <= 0 {
				continue
			}
			if v == 2 {
				s.mldChangeRecords(n, &w, gr)
			} else if gr.active() {
				gr.retrans--
				s.mldSendV1(n, &gr.group, wire.ICMPv6MLDv1Report)
			} else {
				gr.retrans = 0
			}
		}
		s.mldArmChange(n, now)
	}
	s.mldFlush(n, &w)
	s.mldPrune(n)
}

// mldDeadline reports n's earliest MLD timer.
func (n *nic) mldDeadline(take func(time.Duration)) {
	n.auto.mld.timersDeadline(take)
	for i := range n.auto.groups {
		if n.auto.groups[i].respPending {
			take(n.auto.groups[i].respAt)
		}
	}
}
