package stack

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

var (
	grp6A = netip.MustParseAddr("ff05::1:3")
	grp6B = netip.MustParseAddr("ff0e::1234")
	src6A = netip.MustParseAddr("2001:db8:9::1")
	src6B = netip.MustParseAddr("2001:db8:9::2")
)

// mldRec is a decoded MLDv2 address record.
type mldRec struct {
	typ   uint8
	group netip.Addr
	srcs  []netip.Addr
}

// mldMsgs checks the MLD messages among ms the way a router would (hop
// limit 1, router alert, link-local or :: source, v2 reports to ff02::16)
// and returns them with the records of v2 reports.
func mldMsgs(t testing.TB, ms []sent6) (out []sent6, recs [][]mldRec) {
	t.Helper()
	for _, m := range ms {
		if m.typ != wire.ICMPv6MLDv2Report && m.typ != wire.ICMPv6MLDv1Report && m.typ != wire.ICMPv6MLDv1Done {
			continue
		}
		if m.hop != 1 || !m.alert || !(m.src.IsLinkLocalUnicast() || m.src.IsUnspecified()) {
			t.Fatalf("MLD message type %d hop %d alert %v src %v", m.typ, m.hop, m.alert, m.src)
		}
		mm, err := wire.ParseMLD(m.msg)
		if err != nil {
			t.Fatalf("MLD message does not parse: %v", err)
		}
		var rs []mldRec
		switch m.typ {
		case wire.ICMPv6MLDv2Report:
			if m.dst != wire.IPv6AllMLDv2Routers {
				t.Fatalf("v2 report to %v", m.dst)
			}
			mm.ForEachAddressRecord(func(r wire.MLDAddressRecord) bool {
				rec := mldRec{typ: r.Type(), group: r.Group()}
				for i := 0; i < r.NumSources(); i++ {
					rec.srcs = append(rec.srcs, r.Source(i))
				}
				rs = append(rs, rec)
				return true
			})
		case wire.ICMPv6MLDv1Report:
			if m.dst != mm.Group() {
				t.Fatalf("v1 report for %v to %v", mm.Group(), m.dst)
			}
		case wire.ICMPv6MLDv1Done:
			if m.dst != wire.IPv6AllRouters {
				t.Fatalf("done to %v", m.dst)
			}
		}
		out = append(out, m)
		recs = append(recs, rs)
	}
	return out, recs
}

// recsFor returns the records about g.
func recsFor(recs [][]mldRec, g netip.Addr) []mldRec {
	var out []mldRec
	for _, rs := range recs {
		for _, r := range rs {
			if r.group == g {
				out = append(out, r)
			}
		}
	}
	return out
}

func v2Query(maxResp time.Duration, g netip.Addr, qrv uint8, srcs ...netip.Addr) []byte {
	b := make([]byte, wire.MLDv2QueryLen(len(srcs)))
	wire.PutMLDv2Query(b, wire.MLDEncodeCode(int(maxResp/time.Millisecond)), g, false, qrv, 125, srcs)
	return b
}

func v1Msg(typ uint8, maxResp time.Duration, g netip.Addr) []byte {
	b := make([]byte, wire.MLDv1Len)
	wire.PutMLDv1(b, typ, uint16(maxResp/time.Millisecond), g)
	return b
}

func (e *env6) query(msg []byte, dst netip.Addr) {
	e.t.Helper()
	e.inject(routerMAC, routerLL, dst, 1, true, msg)
}

func TestMLDJoinLeave(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	ll := e.linkLocal()
	if err := e.s.JoinGroup(e.nic, grp6A); err != nil {
		t.Fatal(err)
	}
	ms, recs := mldMsgs(t, e.take())
	if len(ms) != 1 || ms[0].src != ll {
		t.Fatalf("%d reports at join (src %v)", len(ms), ms)
	}
	if r := recsFor(recs, grp6A); len(r) != 1 || r[0].typ != wire.MLDv2ChangeToExclude || len(r[0].srcs) != 0 {
		t.Fatalf("join records %v", recs)
	}
	if !slices.Contains(e.s.Groups(e.nic), grp6A) {
		t.Fatalf("groups %v", e.s.Groups(e.nic))
	}
	if j, ok := e.n().acceptMulticast6(grp6A, src6A); !j || !ok {
		t.Fatal("joined group not received")
	}
	// One retransmission (Robustness 2) within the Unsolicited Report Interval.
	start := e.clk.t
	var at []time.Duration
	for e.clk.t < start+5*time.Second {
		e.advance(10 * time.Millisecond)
		_, recs := mldMsgs(t, e.take())
		for range recsFor(recs, grp6A) {
			at = append(at, e.clk.t-start)
		}
	}
	if len(at) != 1 || at[0] > time.Second+10*time.Millisecond {
		t.Fatalf("retransmissions at %v", at)
	}
	// Leave: TO_IN {} twice.
	if err := e.s.LeaveGroup(e.nic, grp6A); err != nil {
		t.Fatal(err)
	}
	e.runUntil(5 * time.Second)
	_, recs = mldMsgs(t, e.take())
	r := recsFor(recs, grp6A)
	if len(r) != 2 || r[0].typ != wire.MLDv2ChangeToInclude || r[1].typ != wire.MLDv2ChangeToInclude {
		t.Fatalf("leave records %v", r)
	}
	if slices.Contains(e.s.Groups(e.nic), grp6A) {
		t.Fatal("group still listed")
	}
	if j, _ := e.n().acceptMulticast6(grp6A, src6A); j {
		t.Fatal("left group still received")
	}
	if err := e.s.LeaveGroup(e.nic, grp6A); err != ErrNotFound {
		t.Fatalf("second leave: %v", err)
	}
	if st := e.s.Stats().MLD; st.OutReports < 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMLDNoReportsForAllNodesAndSmallScopes(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	for _, g := range []netip.Addr{wire.IPv6AllNodes, netip.MustParseAddr("ff01::5")} {
		if err := e.s.JoinGroup(e.nic, g); err != nil {
			t.Fatal(err)
		}
	}
	e.query(v2Query(time.Second, netip.IPv6Unspecified(), 2), wire.IPv6AllNodes)
	e.runUntil(5 * time.Second)
	_, recs := mldMsgs(t, e.take())
	if len(recsFor(recs, wire.IPv6AllNodes))+len(recsFor(recs, netip.MustParseAddr("ff01::5"))) != 0 {
		t.Fatalf("reports %v", recs)
	}
}

func TestMLDSolicitedNodeReported(t *testing.T) {
	e := newEnv6(t, nil)
	// The link-local's solicited-node group is reported at DAD time from ::.
	e.runUntil(time.Second)
	ms, recs := mldMsgs(t, e.take())
	sol := wire.SolicitedNodeMulticast(e.linkLocal())
	if r := recsFor(recs, sol); len(r) == 0 || ms[0].src != unspec6() {
		t.Fatalf("solicited-node join %v from %v", recs, ms)
	}
	if slices.Contains(e.s.Groups(e.nic), sol) {
		t.Fatal("the stack's own membership listed as joined")
	}
	if err := e.s.LeaveGroup(e.nic, sol); err != ErrNotFound {
		t.Fatalf("leaving the stack's own membership: %v", err)
	}
}

func TestMLDGeneralQuery(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	for _, g := range []netip.Addr{grp6A, grp6B} {
		if err := e.s.JoinGroup(e.nic, g); err != nil {
			t.Fatal(err)
		}
	}
	e.runUntil(5 * time.Second)
	e.take()
	sol := wire.SolicitedNodeMulticast(e.linkLocal())
	e.query(v2Query(3*time.Second, netip.IPv6Unspecified(), 2), wire.IPv6AllNodes)
	start := e.clk.t
	var got []time.Duration
	var all [][]mldRec
	for e.clk.t < start+10*time.Second {
		e.advance(10 * time.Millisecond)
		ms, recs := mldMsgs(t, e.take())
		for range ms {
			got = append(got, e.clk.t-start)
		}
		all = append(all, recs...)
	}
	if len(got) != 1 || got[0] > 3*time.Second {
		t.Fatalf("reports at %v, want one within 3s", got)
	}
	for _, g := range []netip.Addr{grp6A, grp6B, sol} {
		if r := recsFor(all, g); len(r) != 1 || r[0].typ != wire.MLDv2ModeIsExclude {
			t.Fatalf("records for %v: %v", g, all)
		}
	}
	// A general query not sent to ff02::1 is ignored; one from a global
	// source is dropped (RFC 3810 5.1.14).
	before := e.s.Stats().MLD
	e.query(v2Query(time.Second, netip.IPv6Unspecified(), 2), grp6A)
	e.inject(routerMAC, netip.MustParseAddr("2001:db8::1"), wire.IPv6AllNodes, 1, true, v2Query(time.Second, netip.IPv6Unspecified(), 2))
	e.runUntil(5 * time.Second)
	if ms, _ := mldMsgs(t, e.take()); len(ms) != 0 {
		t.Fatalf("%d reports to ignored queries", len(ms))
	}
	if st := e.s.Stats().MLD; st.InIgnored != before.InIgnored+1 || st.InBadHeader != before.InBadHeader+1 {
		t.Fatalf("ignored %d -> %d, bad header %d -> %d", before.InIgnored, st.InIgnored, before.InBadHeader, st.InBadHeader)
	}
}

func TestMLDSourceFilterAndQueries(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	if err := e.s.JoinGroupSource6(e.nic, grp6A, []netip.Addr{src6A}, Include); err != nil {
		t.Fatal(err)
	}
	_, recs := mldMsgs(t, e.take())
	if r := recsFor(recs, grp6A); len(r) != 1 || r[0].typ != wire.MLDv2AllowNewSources || !slices.Equal(r[0].srcs, []netip.Addr{src6A}) {
		t.Fatalf("records %v", recs)
	}
	if _, ok := e.n().acceptMulticast6(grp6A, src6A); !ok {
		t.Fatal("included source refused")
	}
	if _, ok := e.n().acceptMulticast6(grp6A, src6B); ok {
		t.Fatal("other source accepted")
	}
	mode, srcs, ok := e.s.GroupFilter6(e.nic, grp6A)
	if !ok || mode != Include || !slices.Equal(srcs, []netip.Addr{src6A}) {
		t.Fatalf("filter %v %v %v", mode, srcs, ok)
	}
	e.runUntil(5 * time.Second)
	e.take()
	// Group-and-source query for A and B: only A is reported.
	e.query(v2Query(time.Second, grp6A, 2, src6A, src6B), grp6A)
	e.runUntil(2 * time.Second)
	_, recs = mldMsgs(t, e.take())
	if r := recsFor(recs, grp6A); len(r) != 1 || r[0].typ != wire.MLDv2ModeIsInclude || !slices.Equal(r[0].srcs, []netip.Addr{src6A}) {
		t.Fatalf("group-and-source response %v", recs)
	}
	// Group-specific query: the whole state.
	e.query(v2Query(time.Second, grp6A, 2), grp6A)
	e.runUntil(2 * time.Second)
	_, recs = mldMsgs(t, e.take())
	if r := recsFor(recs, grp6A); len(r) != 1 || r[0].typ != wire.MLDv2ModeIsInclude || !slices.Equal(r[0].srcs, []netip.Addr{src6A}) {
		t.Fatalf("group response %v", recs)
	}
	// Query for a group we are not in: ignored.
	e.query(v2Query(time.Second, grp6B, 2), grp6B)
	e.runUntil(2 * time.Second)
	if ms, _ := mldMsgs(t, e.take()); len(ms) != 0 {
		t.Fatal("answered a query for another group")
	}
	// Bad arguments.
	if err := e.s.JoinGroupSource6(e.nic, grp6A, nil, Include); err != ErrInvalid {
		t.Fatalf("include {}: %v", err)
	}
	if err := e.s.JoinGroupSource6(e.nic, src6A, nil, Exclude); err != ErrInvalid {
		t.Fatalf("unicast group: %v", err)
	}
}

func TestMLDv1Compatibility(t *testing.T) {
	e := joinedEnv6(t)
	// A v1 general query: v1 reports within its max delay.
	e.query(v1Msg(wire.ICMPv6MLDQuery, 2*time.Second, netip.IPv6Unspecified()), wire.IPv6AllNodes)
	e.runUntil(2 * time.Second)
	ms, _ := mldMsgs(t, e.take())
	var v1 []netip.Addr
	for _, m := range ms {
		if m.typ != wire.ICMPv6MLDv1Report {
			t.Fatalf("type %d in v1 mode", m.typ)
		}
		v1 = append(v1, m.dst)
	}
	if !slices.Contains(v1, grp6A) {
		t.Fatalf("v1 reports to %v", v1)
	}
	// Join in v1 mode: v1 report (and one repetition); leave: done.
	if err := e.s.JoinGroup(e.nic, grp6B); err != nil {
		t.Fatal(err)
	}
	e.runUntil(3 * time.Second)
	ms, _ = mldMsgs(t, e.take())
	if len(ms) != 2 || ms[0].typ != wire.ICMPv6MLDv1Report || ms[0].dst != grp6B {
		t.Fatalf("join in v1 mode sent %v", ms)
	}
	if err := e.s.LeaveGroup(e.nic, grp6B); err != nil {
		t.Fatal(err)
	}
	ms, _ = mldMsgs(t, e.take())
	if len(ms) != 1 || ms[0].typ != wire.ICMPv6MLDv1Done || e.s.Stats().MLD.OutDones != 1 {
		t.Fatalf("leave in v1 mode sent %v", ms)
	}
	// Report suppression: another listener's report cancels ours.
	e.query(v1Msg(wire.ICMPv6MLDQuery, 5*time.Second, netip.IPv6Unspecified()), wire.IPv6AllNodes)
	e.inject(otherMAC, netip.MustParseAddr("fe80::99"), grp6A, 1, true, v1Msg(wire.ICMPv6MLDv1Report, 0, grp6A))
	e.runUntil(6 * time.Second)
	ms, _ = mldMsgs(t, e.take())
	for _, m := range ms {
		if m.dst == grp6A {
			t.Fatal("report not suppressed")
		}
	}
	// Back to v2 after the Older Version Querier Present timeout
	// (2 * 125 s + 5 s from the last query).
	e.runUntil(250 * time.Second)
	if err := e.s.JoinGroup(e.nic, grp6B); err != nil {
		t.Fatal(err)
	}
	if ms, _ := mldMsgs(t, e.take()); len(ms) != 1 || ms[0].typ != wire.ICMPv6MLDv2Report {
		t.Fatalf("after the timeout sent %v", ms)
	}
}

func TestMLDFloodBounded(t *testing.T) {
	e := joinedEnv6(t)
	for i := 0; i < 1000; i++ {
		e.query(v2Query(2*time.Second, netip.IPv6Unspecified(), 2), wire.IPv6AllNodes)
		e.query(v2Query(2*time.Second, grp6A, 2, src6A), grp6A)
		e.inject(otherMAC, netip.MustParseAddr("fe80::99"), wire.IPv6AllNodes, 1, true, []byte{143, 0, 0, 0, 0, 0, 0, 9}) // bad v2 report
	}
	e.runUntil(3 * time.Second)
	if ms, _ := mldMsgs(t, e.take()); len(ms) > 2 {
		t.Fatalf("%d reports for a query flood", len(ms))
	}
	st := e.s.Stats().MLD
	if st.InQueries != 2000 || st.InErrors != 1000 {
		t.Fatalf("stats %+v", st)
	}
	if len(e.n().auto.groups) > e.s.cfg.MaxGroups+e.s.cfg.MaxAddresses {
		t.Fatal("group table grew")
	}
	// Joins are bounded by MaxGroups.
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = e.s.JoinGroup(e.nic, netip.AddrFrom16([16]byte{0: 0xff, 1: 0x05, 15: byte(i + 1)}))
	}
	if err != ErrBufferFull {
		t.Fatalf("joins not bounded: %v", err)
	}
}

func TestMLDReportsSplitByMTU(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	var groups []netip.Addr
	for i := 0; i < e.s.cfg.MaxGroups; i++ {
		g := netip.AddrFrom16([16]byte{0: 0xff, 1: 0x3e, 15: byte(i + 1)})
		var srcs []netip.Addr
		for j := 0; j < e.s.cfg.MLD.MaxSources; j++ {
			srcs = append(srcs, netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 14: byte(i), 15: byte(j + 1)}))
		}
		if err := e.s.JoinGroupSource6(e.nic, g, srcs, Include); err != nil {
			t.Fatal(err)
		}
		groups = append(groups, g)
	}
	e.runUntil(5 * time.Second)
	e.take()
	e.query(v2Query(time.Second, netip.IPv6Unspecified(), 2), wire.IPv6AllNodes)
	e.runUntil(2 * time.Second)
	frames := e.link.take()
	for _, f := range frames {
		if len(f)-wire.EthernetHeaderLen > 1500 {
			t.Fatalf("report of %d bytes", len(f)-wire.EthernetHeaderLen)
		}
	}
	ms, recs := mldMsgs(t, icmp6Frames(t, frames))
	if len(ms) < 2 {
		t.Fatalf("%d reports, want the records split over several", len(ms))
	}
	for _, g := range groups {
		r := recsFor(recs, g)
		if len(r) != 1 || r[0].typ != wire.MLDv2ModeIsInclude || len(r[0].srcs) != e.s.cfg.MLD.MaxSources {
			t.Fatalf("records for %v: %v", g, r)
		}
	}
}

func TestMLDLongRecordSplit(t *testing.T) {
	e := newEnv6(t, func(c *Config) { c.MLD.MaxSources = 100 })
	e.settle()
	var srcs []netip.Addr
	for j := 0; j < 100; j++ {
		srcs = append(srcs, netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 15: byte(j + 1)}))
	}
	if err := e.s.JoinGroupSource6(e.nic, grp6A, srcs, Include); err != nil {
		t.Fatal(err)
	}
	ms, recs := mldMsgs(t, e.take())
	r := recsFor(recs, grp6A)
	if len(ms) != 2 || len(r) != 2 {
		t.Fatalf("%d reports, %d records", len(ms), len(r))
	}
	var got []netip.Addr
	for _, x := range r {
		if x.typ != wire.MLDv2AllowNewSources {
			t.Fatalf("record type %d", x.typ)
		}
		got = append(got, x.srcs...)
	}
	if !slices.Equal(got, srcs) {
		t.Fatalf("sources %v", got)
	}
}

func TestMLDJoinWhileDown(t *testing.T) {
	e := newEnv6(t, nil)
	_ = e.s.SetUp(e.nic, false)
	e.take()
	if err := e.s.JoinGroup(e.nic, grp6A); err != nil {
		t.Fatal(err)
	}
	if ms, _ := mldMsgs(t, e.take()); len(ms) != 0 {
		t.Fatal("report sent on a down interface")
	}
	_ = e.s.SetUp(e.nic, true)
	_, recs := mldMsgs(t, e.take())
	if r := recsFor(recs, grp6A); len(r) != 1 || r[0].typ != wire.MLDv2ChangeToExclude {
		t.Fatalf("not reported at up: %v", recs)
	}
	// Once the link-local address passed DAD the state is reported again from it.
	e.runUntil(3 * time.Second)
	ms, recs := mldMsgs(t, e.take())
	found := false
	for i, m := range ms {
		if m.src == e.linkLocal() && len(recsFor(recs[i:i+1], grp6A)) > 0 {
			found = true
		}
	}
	if !found {
		t.Fatal("not reported from the link-local address after DAD")
	}
}

// TestMLDQueryHeaderChecks: a query (v2 or v1) with a hop limit other than
// 1, without a hop-by-hop Router Alert, or with a Router Alert of another
// value than MLD's, is dropped and counted (RFC 3810 5.1.14, 6.2, as
// Linux's igmp6_event_query does): it gets no report and does not switch
// the host to MLDv1. The same query with a proper header is answered.
func TestMLDQueryHeaderChecks(t *testing.T) {
	e := joinedEnv6(t)
	general := v2Query(time.Second, netip.IPv6Unspecified(), 2)
	mldRA := []wire.IPv6Option{{Type: wire.IPv6OptRouterAlert, Data: []byte{0, wire.IPv6RouterAlertMLD}}}
	rsvpRA := []wire.IPv6Option{{Type: wire.IPv6OptRouterAlert, Data: []byte{0, 1}}} // RSVP (RFC 2711)
	pad := []wire.IPv6Option{{Type: wire.IPv6OptPadN, Data: []byte{0, 0}}}           // a hop-by-hop header, no alert
	bad := []struct {
		name string
		hop  uint8
		opts []wire.IPv6Option
		msg  []byte
		dst  netip.Addr
	}{
		{"v2 general, hop limit 64", 64, mldRA, general, wire.IPv6AllNodes},
		{"v2 general, hop limit 255", 255, mldRA, general, wire.IPv6AllNodes},
		{"v2 general, no hop-by-hop header", 1, nil, general, wire.IPv6AllNodes},
		{"v2 general, hop-by-hop without alert", 1, pad, general, wire.IPv6AllNodes},
		{"v2 general, RSVP router alert", 1, rsvpRA, general, wire.IPv6AllNodes},
		{"v2 group-specific, no alert", 1, nil, v2Query(time.Second, grp6A, 2), grp6A},
		{"v1 general, hop limit 64", 64, mldRA, v1Msg(wire.ICMPv6MLDQuery, time.Second, netip.IPv6Unspecified()), wire.IPv6AllNodes},
		{"v1 general, no alert", 1, nil, v1Msg(wire.ICMPv6MLDQuery, time.Second, netip.IPv6Unspecified()), wire.IPv6AllNodes},
	}
	for _, c := range bad {
		before := e.s.Stats().MLD
		e.injectOpts(routerMAC, routerLL, c.dst, c.hop, c.opts, c.msg)
		e.runUntil(3 * time.Second)
		if ms, _ := mldMsgs(t, e.take()); len(ms) != 0 {
			t.Fatalf("%s: %d reports sent", c.name, len(ms))
		}
		st := e.s.Stats().MLD
		if st.InBadHeader != before.InBadHeader+1 || st.InQueries != before.InQueries+1 {
			t.Fatalf("%s: bad header %d -> %d, queries %d -> %d", c.name, before.InBadHeader, st.InBadHeader, before.InQueries, st.InQueries)
		}
	}
	// A proper query is answered, in MLDv2 (the dropped v1 queries did
	// not start the Older Version Querier Present timer).
	before := e.s.Stats().MLD
	e.injectOpts(routerMAC, routerLL, wire.IPv6AllNodes, 1, mldRA, general)
	e.runUntil(3 * time.Second)
	ms, recs := mldMsgs(t, e.take())
	if len(ms) != 1 || ms[0].typ != wire.ICMPv6MLDv2Report {
		t.Fatalf("proper query: %d reports %v", len(ms), ms)
	}
	if r := recsFor(recs, grp6A); len(r) != 1 || r[0].typ != wire.MLDv2ModeIsExclude {
		t.Fatalf("proper query: records %v", recs)
	}
	if st := e.s.Stats().MLD; st.InBadHeader != before.InBadHeader {
		t.Fatalf("proper query counted as bad: %+v", st)
	}
}

// joinedEnv6 is an IPv6 env whose interface joined grp6A, with the
// unsolicited reports of the join already sent and discarded.
func joinedEnv6(t *testing.T) *env6 {
	t.Helper()
	e := newEnv6(t, nil)
	e.settle()
	if err := e.s.JoinGroup(e.nic, grp6A); err != nil {
		t.Fatal(err)
	}
	e.runUntil(5 * time.Second)
	e.take()
	return e
}
