package stack

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// The group-membership logic shared by the IGMPv3 host (igmp.go, RFC 3376)
// and the MLDv2 host (mld.go, RFC 3810): the two protocols keep the same
// per-group state (group, igmpGroup) and per-interface state (igmpIface),
// merge memberships into the interface state by the same rules (RFC 3376
// 3.2, RFC 3810 4.2), derive the same state-change records from a change
// of it (RFC 3376 5.1, RFC 3810 6.1), run the same query timers and
// answer group and group-and-source-specific queries by the same rules
// (RFC 3376 5.2, RFC 3810 6.2-6.3). What differs (addresses, message formats, version numbers, how a report is
// sent) stays in igmp.go and mld.go.

// IGMPv3 group record types and MLDv2 address record types have the same
// values (RFC 3376 4.2.12, RFC 3810 5.2.12); the shared code below uses
// the IGMPv3 names for both. These fail to compile if that ever changes.
var (
	_ = [1]struct{}{}[wire.IGMPv3ModeIsInclude-wire.MLDv2ModeIsInclude]
	_ = [1]struct{}{}[wire.IGMPv3ModeIsExclude-wire.MLDv2ModeIsExclude]
	_ = [1]struct{}{}[wire.IGMPv3ChangeToInclude-wire.MLDv2ChangeToInclude]
	_ = [1]struct{}{}[wire.IGMPv3ChangeToExclude-wire.MLDv2ChangeToExclude]
	_ = [1]struct{}{}[wire.IGMPv3AllowNewSources-wire.MLDv2AllowNewSources]
	_ = [1]struct{}{}[wire.IGMPv3BlockOldSources-wire.MLDv2BlockOldSources]
)

// newSources counts the sources that g's memberships do not name yet.
func (g *group) newSources(sources []netip.Addr) int {
	extra := 0
	for _, a := range sources {
		if g.srcIndex(a) < 0 {
			extra++
		}
	}
	return extra
}

// addMembership counts one more membership of g with mode and sources;
// the caller checked that the sources fit.
func (g *group) addMembership(sources []netip.Addr, mode FilterMode) {
	if mode == Exclude {
		g.refs++
	} else {
		g.inRefs++
	}
	for _, a := range sources {
		i := g.srcIndex(a)
		if i < 0 {
			g.srcs = append(g.srcs, srcRef{addr: a})
			i = len(g.srcs) - 1
		}
		if mode == Exclude {
			g.srcs[i].exc++
		} else {
			g.srcs[i].inc++
		}
	}
}

// hasMembership reports whether g (which may be nil) is active and counts
// a membership with mode naming every one of sources.
func (g *group) hasMembership(sources []netip.Addr, mode FilterMode) bool {
	if g == nil || !g.active() || (mode == Exclude && g.refs == 0) || (mode == Include && g.inRefs == 0) {
		return false
	}
	for _, a := range sources {
		i := g.srcIndex(a)
		if i < 0 || (mode == Exclude && g.srcs[i].exc == 0) || (mode == Include && g.srcs[i].inc == 0) {
			return false
		}
	}
	return true
}

// dropMembership uncounts one membership of g with mode and sources; the
// caller checked it with hasMembership.
func (g *group) dropMembership(sources []netip.Addr, mode FilterMode) {
	if mode == Exclude {
		g.refs--
	} else {
		g.inRefs--
	}
	for _, a := range sources {
		i := g.srcIndex(a)
		if mode == Exclude {
			g.srcs[i].exc--
		} else {
			g.srcs[i].inc--
		}
	}
}

// noteChange compares g's merged interface state with the one before a
// membership change (oldMode, oldF) and records what a state-change report
// must say: a filter-mode change (TO_IN/TO_EX) or the sources to ALLOW and
// BLOCK (RFC 3376 5.1, RFC 3810 6.1). It reports false when the state did
// not change (e.g. a second any-source join), so there is nothing to send.
func (g *group) noteChange(oldMode FilterMode, oldF []netip.Addr) bool {
	if oldMode == g.mode && len(oldF) == len(g.filter) {
		same := true
		for _, a := range oldF {
			if !addrIn(g.filter, a) {
				same = false
			}
		}
		if same {
			return false
		}
	}
	if oldMode != g.mode {
		g.chgMode = true
	}
	if !g.chgMode {
		// Same mode, new source list (RFC 3376 5.1 table): in INCLUDE
		// added sources are allowed and removed ones blocked, in EXCLUDE
		// the other way round.
		ok := true
		for _, a := range g.filter {
			if !addrIn(oldF, a) {
				ok = ok && g.pend(a, g.mode == Include)
			}
		}
		for _, a := range oldF {
			if !addrIn(g.filter, a) {
				ok = ok && g.pend(a, g.mode != Include)
			}
		}
		if !ok {
			g.chgMode = true // too many changes to list: restate the whole filter
		}
	}
	if g.chgMode {
		g.allow, g.block = g.allow[:0], g.block[:0]
	}
	return true
}

// changeRecords passes g's pending state-change records to add (TO_IN or
// TO_EX with the filter, or ALLOW and BLOCK with the pending sources) and
// counts one transmission; nothing when no transmission is left.
func (g *group) changeRecords(add func(typ uint8, srcs []netip.Addr)) {
	if g.retrans <= 0 {
		return
	}
	if g.chgMode {
		t := uint8(wire.IGMPv3ChangeToInclude)
		if g.mode == Exclude {
			t = wire.IGMPv3ChangeToExclude
		}
		add(t, g.filter)
	} else {
		if len(g.allow) > 0 {
			add(wire.IGMPv3AllowNewSources, g.allow)
		}
		if len(g.block) > 0 {
			add(wire.IGMPv3BlockOldSources, g.block)
		}
	}
	g.retrans--
	if g.retrans == 0 {
		g.chgMode = false
		g.allow, g.block = g.allow[:0], g.block[:0]
	}
}

// currentType is the type of g's current-state record: IS_IN or IS_EX.
func (g *group) currentType() uint8 {
	if g.mode == Exclude {
		return wire.IGMPv3ModeIsExclude
	}
	return wire.IGMPv3ModeIsInclude
}

// cancelPending cancels g's pending query response and state-change
// retransmissions.
func (g *group) cancelPending() {
	g.respPending, g.retrans, g.chgMode = false, 0, false
	g.allow, g.block, g.qsrcs = g.allow[:0], g.block[:0], g.qsrcs[:0]
}

// sourceQuery is what queried reads from an IGMPv3 or MLDv2 query.
type sourceQuery interface {
	NumSources() int
	Source(i int) netip.Addr
}

// queried schedules g's response to a group-specific query (no sources)
// or a group-and-source-specific one q, to be sent at at (RFC 3376 5.2
// rules 3-5, RFC 3810 6.2 rules 2-4): without a pending response, the
// queried sources are recorded; a pending response for the whole group
// state, or a group-specific query, makes the response one for the whole
// state; otherwise the sources are added to the recorded ones. A pending
// response is never delayed. When the sources do not fit (MaxSources)
// the response covers the whole group state, a superset of what was asked.
func queried[Q sourceQuery](g *group, q Q, at time.Duration) {
	ns := q.NumSources()
	switch {
	case !g.respPending:
		g.qsrcs = g.qsrcs[:0]
		for i := 0; i < ns && len(g.qsrcs) < cap(g.qsrcs); i++ {
			g.qsrcs = append(g.qsrcs, q.Source(i))
		}
		if ns > cap(g.qsrcs) {
			g.qsrcs = g.qsrcs[:0] // too many to track: answer for the whole group
		}
		g.respPending, g.respAt = true, at
		return
	case ns == 0 || len(g.qsrcs) == 0:
		g.qsrcs = g.qsrcs[:0] // the whole group state
	default:
		for i := 0; i < ns; i++ { // add the sources
			if src := q.Source(i); !addrIn(g.qsrcs, src) {
				if len(g.qsrcs) == cap(g.qsrcs) {
					g.qsrcs = g.qsrcs[:0]
					break
				}
				g.qsrcs = append(g.qsrcs, src)
			}
		}
	}
	g.respAt = min(g.respAt, at)
}

// currentRecord passes g's current-state record to add: IS_IN or IS_EX
// with the filter or, for a pending group-and-source-specific query
// (withSources and recorded sources), IS_IN with the queried sources the
// interface state lets in (RFC 3376 5.2, RFC 3810 6.3: in INCLUDE mode
// those in the source list, in EXCLUDE mode those not excluded); nothing
// when there are none. Answering the query forgets its sources.
func (g *group) currentRecord(withSources bool, add func(typ uint8, srcs []netip.Addr)) {
	if withSources && len(g.qsrcs) > 0 {
		k := 0
		for _, a := range g.qsrcs {
			if g.accepts(a) {
				g.qsrcs[k] = a
				k++
			}
		}
		g.qsrcs = g.qsrcs[:k]
		if k > 0 {
			add(wire.IGMPv3ModeIsInclude, g.qsrcs)
		}
		g.qsrcs = g.qsrcs[:0]
		return
	}
	add(g.currentType(), g.filter)
}

// reportHeard suppresses g's pending report when another host reported
// the group (the v1/v2 report suppression of RFC 2236 3 and RFC 2710 4).
func (g *group) reportHeard() {
	if g != nil && g.active() && g.respPending {
		g.respPending = false
		g.lastReport = false
	}
}

// querier is what learnQuery reads from an IGMPv3 or MLDv2 query.
type querier interface {
	QRV() uint8
	QQIC() uint8
	QueryInterval() time.Duration
}

// learnQuery records what a query says about the querier: its Robustness
// Variable and Query Interval when it is of the newest version (RFC 3376
// 4.1.6-4.1.7, RFC 3810 5.1.8-5.1.9), and its Max Resp Time mrt.
func learnQuery[Q querier](m *igmpIface, newest bool, q Q, mrt time.Duration) {
	if newest {
		if v := q.QRV(); v != 0 {
			m.rv = int(v)
		}
		if q.QQIC() != 0 {
			m.qi = q.QueryInterval()
		}
	}
	if mrt > 0 {
		m.qri = mrt
	}
}

// olderTimeout is the Older Version Querier Present Timeout (RFC 3376
// 8.12, RFC 3810 9.12) for Robustness Variable rv, with the default Query
// Interval and Query Response Interval where no query gave them.
func (m *igmpIface) olderTimeout(rv int, defQI, defQRI time.Duration) time.Duration {
	qi, qri := m.qi, m.qri
	if qi == 0 {
		qi = defQI
	}
	if qri == 0 {
		qri = defQRI
	}
	return time.Duration(rv)*qi + qri
}

// scheduleGeneral schedules the response to a general query at at, unless
// one is scheduled earlier.
func (m *igmpIface) scheduleGeneral(at time.Duration) {
	if !m.genPending || m.genAt > at {
		m.genPending, m.genAt = true, at
	}
}

// timersDeadline passes the interface's pending general-response and
// state-change deadlines to take.
func (m *igmpIface) timersDeadline(take func(time.Duration)) {
	if m.genPending {
		take(m.genAt)
	}
	if m.chgPending {
		take(m.chgAt)
	}
}
