package stack

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

var (
	querierIP = netip.MustParseAddr("192.168.7.254")
	grpA      = netip.MustParseAddr("239.1.2.3")
	grpB      = netip.MustParseAddr("239.4.5.6")
	grpC      = netip.MustParseAddr("232.1.1.1")
	srcS1     = netip.MustParseAddr("10.9.0.1")
	srcS2     = netip.MustParseAddr("10.9.0.2")
	srcS3     = netip.MustParseAddr("10.9.0.3")
)

// igmpRec is a decoded IGMPv3 group record.
type igmpRec struct {
	typ   uint8
	group netip.Addr
	srcs  []netip.Addr
}

// igmpSent is one IGMP message the stack sent.
type igmpSent struct {
	dst  netip.Addr
	typ  uint8
	grp  netip.Addr // v1/v2 messages
	recs []igmpRec  // v3 reports
}

// igmpFrames decodes recorded frames as IGMP messages, checking every
// header the way a router would: group MAC, TTL 1, Router Alert, checksums.
func igmpFrames(t testing.TB, frames [][]byte) []igmpSent {
	t.Helper()
	var out []igmpSent
	for _, f := range frames {
		e, err := wire.ParseEthernet(f)
		if err != nil || e.EtherType() != wire.EtherTypeIPv4 {
			t.Fatalf("not an IPv4 frame: %v", err)
		}
		p, err := wire.ParseIPv4(e.Payload())
		if err != nil || !p.ChecksumValid() {
			t.Fatalf("bad IPv4 header: %v", err)
		}
		if p.Protocol() != wire.ProtoIGMP {
			t.Fatalf("protocol %d, want IGMP", p.Protocol())
		}
		if e.Dst() != wire.IPv4MulticastMAC(p.Dst()) || e.Src() != ourMAC {
			t.Fatalf("frame to %v for %v", e.Dst(), p.Dst())
		}
		if p.TTL() != 1 || p.TOS() != 0xc0 || p.Src() != ourIP || !bytes.Equal(p.Options(), []byte{148, 4, 0, 0}) {
			t.Fatalf("IGMP header ttl %d tos %#x src %v options %x", p.TTL(), p.TOS(), p.Src(), p.Options())
		}
		m, err := wire.ParseIGMP(p.Payload())
		if err != nil || !m.ChecksumValid() {
			t.Fatalf("bad IGMP message %x: %v", p.Payload(), err)
		}
		s := igmpSent{dst: p.Dst(), typ: m.Type()}
		if m.Type() == wire.IGMPv3MembershipReport {
			if p.Dst() != allIGMPRouters {
				t.Fatalf("v3 report to %v", p.Dst())
			}
			m.ForEachGroupRecord(func(r wire.IGMPGroupRecord) bool {
				rec := igmpRec{typ: r.Type(), group: r.Group()}
				for i := 0; i < r.NumSources(); i++ {
					rec.srcs = append(rec.srcs, r.Source(i))
				}
				s.recs = append(s.recs, rec)
				return true
			})
		} else {
			s.grp = m.Group()
		}
		out = append(out, s)
	}
	return out
}

func rec(typ uint8, g netip.Addr, srcs ...netip.Addr) igmpRec {
	return igmpRec{typ: typ, group: g, srcs: srcs}
}

// wantV3 checks that msgs is exactly one v3 report with the records want (any order).
func wantV3(t testing.TB, msgs []igmpSent, want ...igmpRec) {
	t.Helper()
	if len(msgs) != 1 || msgs[0].typ != wire.IGMPv3MembershipReport {
		t.Fatalf("sent %+v, want one v3 report with %+v", msgs, want)
	}
	got := msgs[0].recs
	if len(got) != len(want) {
		t.Fatalf("records %+v, want %+v", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if g.typ == w.typ && g.group == w.group && sameAddrs(g.srcs, w.srcs) {
				found = true
			}
		}
		if !found {
			t.Fatalf("records %+v lack %+v", got, w)
		}
	}
}

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !addrIn(b, x) {
			return false
		}
	}
	return true
}

// igmpFrame wraps an IGMP message from the querier (or another host) in a frame to dst.
func igmpFrame(src, dst netip.Addr, msg []byte) []byte {
	return ethFrame(wire.IPv4MulticastMAC(dst), peerMAC, wire.EtherTypeIPv4,
		ipPkt(wire.IPv4Header{TTL: 1, Protocol: wire.ProtoIGMP, Src: src, Dst: dst, Options: []byte{148, 4, 0, 0}}, msg))
}

func v3Query(code uint8, g netip.Addr, srcs ...netip.Addr) []byte {
	b := make([]byte, wire.IGMPv3QueryLen(len(srcs)))
	wire.PutIGMPv3Query(b, code, g, false, 2, 125, srcs)
	return b
}

func oldMsg(typ, code uint8, g netip.Addr) []byte {
	b := make([]byte, 8)
	wire.PutIGMP(b, typ, code, g)
	return b
}

// runUntil advances virtual time deadline by deadline up to limit and returns what was sent and when.
func (e *env) runUntil(limit time.Duration) (msgs []igmpSent, at []time.Duration) {
	for {
		d, ok := e.s.NextDeadline()
		if !ok || d > limit {
			e.clk.t = max(e.clk.t, limit)
			e.s.Poll()
			return
		}
		e.clk.t = max(e.clk.t, d)
		e.s.Poll()
		for _, m := range igmpFrames(e.t, e.link.take()) {
			msgs = append(msgs, m)
			at = append(at, e.clk.t)
		}
	}
}

func TestIGMPJoinSendsV3StateChange(t *testing.T) {
	e := newEnv(t, nil)
	t0 := e.clk.t
	if err := e.s.JoinGroup(e.nic, grpA); err != nil {
		t.Fatal(err)
	}
	wantV3(t, igmpFrames(t, e.link.take()), rec(wire.IGMPv3ChangeToExclude, grpA))
	msgs, at := e.runUntil(t0 + time.Minute)
	if len(msgs) != 1 {
		t.Fatalf("%d retransmissions, want 1 (Robustness 2)", len(msgs))
	}
	wantV3(t, msgs, rec(wire.IGMPv3ChangeToExclude, grpA))
	if at[0] <= t0 || at[0] > t0+time.Second {
		t.Fatalf("retransmitted after %v, want within (0, 1s]", at[0]-t0)
	}
	// A second any-source join changes nothing: no report.
	_ = e.s.JoinGroup(e.nic, grpA)
	if len(e.link.take()) != 0 {
		t.Fatal("report for an unchanged state")
	}
	if _, ok := e.s.NextDeadline(); ok {
		t.Fatal("timer left after the retransmissions")
	}
	// 224.0.0.1 is never reported.
	_ = e.s.JoinGroup(e.nic, allHosts)
	_ = e.s.LeaveGroup(e.nic, allHosts)
	if len(e.link.take()) != 0 {
		t.Fatal("report for 224.0.0.1")
	}
	if st := e.s.Stats().IGMP; st.OutReports != 2 {
		t.Fatalf("%+v", st)
	}
	// Robustness 3 sends three in all.
	e3 := newEnv(t, func(c *Config) { c.IGMP.Robustness = 3 })
	_ = e3.s.JoinGroup(e3.nic, grpA)
	e3.link.take()
	if msgs, _ := e3.runUntil(e3.clk.t + time.Minute); len(msgs) != 2 {
		t.Fatalf("robustness 3: %d retransmissions", len(msgs))
	}
}

func TestIGMPLeave(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	_ = e.s.JoinGroup(e.nic, grpA)
	_ = e.s.JoinGroup(e.nic, grpA)
	e.runUntil(e.clk.t + time.Minute)
	e.link.take()
	_ = e.s.LeaveGroup(e.nic, grpA)
	if len(e.link.take()) != 0 {
		t.Fatal("report while a membership remains")
	}
	t0 := e.clk.t
	_ = e.s.LeaveGroup(e.nic, grpA)
	wantV3(t, igmpFrames(t, e.link.take()), rec(wire.IGMPv3ChangeToInclude, grpA))
	if len(e.s.Groups(e.nic)) != 0 {
		t.Fatal("group listed after leave")
	}
	e.s.Input(e.nic, udpFrame(t, wire.IPv4MulticastMAC(grpA), peerIP, grpA, "late"))
	if len(tr.pkts) != 0 {
		t.Fatal("left group still received")
	}
	msgs, at := e.runUntil(t0 + time.Minute)
	if len(msgs) != 1 || at[0] > t0+time.Second {
		t.Fatalf("leave retransmissions %+v at %v", msgs, at)
	}
	wantV3(t, msgs, rec(wire.IGMPv3ChangeToInclude, grpA))
	if e.s.LeaveGroup(e.nic, grpA) != ErrNotFound {
		t.Fatal("second leave")
	}
	if len(e.s.nic(e.nic).groups) != 0 {
		t.Fatal("entry kept after its leave was reported")
	}
	// Rejoining during the leave's retransmissions restates the group.
	_ = e.s.JoinGroup(e.nic, grpB)
	_ = e.s.LeaveGroup(e.nic, grpB)
	_ = e.s.JoinGroup(e.nic, grpB)
	fr := igmpFrames(t, e.link.take())
	if len(fr) != 3 {
		t.Fatalf("%d reports", len(fr))
	}
	wantV3(t, fr[2:], rec(wire.IGMPv3ChangeToExclude, grpB))
	msgs, _ = e.runUntil(e.clk.t + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ChangeToExclude, grpB))
}

func TestIGMPGeneralQuery(t *testing.T) {
	e := newEnv(t, nil)
	_ = e.s.JoinGroup(e.nic, grpA)
	_ = e.s.JoinGroup(e.nic, grpB)
	_ = e.s.JoinGroupSource(e.nic, grpC, []netip.Addr{srcS1, srcS2}, Include)
	e.runUntil(e.clk.t + time.Minute)
	e.link.take()
	t0 := e.clk.t
	e.s.Input(e.nic, igmpFrame(querierIP, allHosts, v3Query(100, netip.IPv4Unspecified()))) // Max Resp Time 10s
	e.s.Input(e.nic, igmpFrame(querierIP, allHosts, v3Query(100, netip.IPv4Unspecified())))
	if len(e.link.take()) != 0 {
		t.Fatal("answered without a delay")
	}
	msgs, at := e.runUntil(t0 + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsExclude, grpA), rec(wire.IGMPv3ModeIsExclude, grpB),
		rec(wire.IGMPv3ModeIsInclude, grpC, srcS1, srcS2))
	if at[0] > t0+10*time.Second {
		t.Fatalf("answered after %v, Max Resp Time 10s", at[0]-t0)
	}
	st := e.s.Stats().IGMP
	if st.InQueries != 2 || st.InMsgs != 2 {
		t.Fatalf("%+v", st)
	}
	// A general query not sent to 224.0.0.1 is ignored (RFC 3376 9.1).
	e.s.Input(e.nic, igmpFrame(querierIP, grpA, v3Query(10, netip.IPv4Unspecified())))
	if msgs, _ := e.runUntil(e.clk.t + time.Minute); len(msgs) != 0 || e.s.Stats().IGMP.InIgnored != 1 {
		t.Fatal("general query to a group address answered")
	}
	// The delays are random: over many queries they spread over the interval.
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		t1 := e.clk.t
		e.s.Input(e.nic, igmpFrame(querierIP, allHosts, v3Query(20, netip.IPv4Unspecified())))
		_, at := e.runUntil(t1 + time.Minute)
		if len(at) != 1 || at[0]-t1 >= 2*time.Second {
			t.Fatalf("query %d answered at %v", i, at)
		}
		seen[(at[0]-t1)/(200*time.Millisecond)] = true
	}
	if len(seen) < 4 {
		t.Fatalf("response delays not spread: %v", seen)
	}
}

func TestIGMPGeneralQuerySplitsByMTU(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxGroups = 16 })
	e.s.nic(e.nic).mtu = 100 // 76 bytes of IGMP: 8 records of 8 bytes fit in one report
	var want []igmpRec
	for i := 0; i < 12; i++ {
		g := netip.AddrFrom4([4]byte{239, 0, 0, byte(i + 1)})
		_ = e.s.JoinGroup(e.nic, g)
		want = append(want, rec(wire.IGMPv3ModeIsExclude, g))
	}
	e.runUntil(e.clk.t + time.Minute)
	e.link.take()
	e.s.Input(e.nic, igmpFrame(querierIP, allHosts, v3Query(10, netip.IPv4Unspecified())))
	msgs, _ := e.runUntil(e.clk.t + time.Minute)
	if len(msgs) != 2 {
		t.Fatalf("%d reports, want 2", len(msgs))
	}
	got := append(msgs[0].recs, msgs[1].recs...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records %+v", got)
	}
}

func TestIGMPGroupQuery(t *testing.T) {
	e := newEnv(t, nil)
	_ = e.s.JoinGroup(e.nic, grpA)
	_ = e.s.JoinGroupSource(e.nic, grpC, []netip.Addr{srcS1}, Include)
	e.runUntil(e.clk.t + time.Minute)
	e.link.take()
	t0 := e.clk.t
	e.s.Input(e.nic, igmpFrame(querierIP, grpA, v3Query(10, grpA)))
	msgs, at := e.runUntil(t0 + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsExclude, grpA))
	if at[0] > t0+time.Second {
		t.Fatal("late answer")
	}
	// Group-and-source-specific: the queried sources that are included
	// (TestIGMPGroupAndSourceQuery covers the partial overlaps).
	e.s.Input(e.nic, igmpFrame(querierIP, grpC, v3Query(10, grpC, srcS1, srcS2)))
	msgs, _ = e.runUntil(e.clk.t + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsInclude, grpC, srcS1))
	// A query for a group we are not in.
	e.s.Input(e.nic, ethFrame(wire.IPv4MulticastMAC(grpB), peerMAC, wire.EtherTypeIPv4,
		ipPkt(wire.IPv4Header{TTL: 1, Protocol: wire.ProtoIGMP, Src: querierIP, Dst: allHosts}, v3Query(10, grpB))))
	if msgs, _ := e.runUntil(e.clk.t + time.Minute); len(msgs) != 0 {
		t.Fatal("answered a query for a group we did not join")
	}
}

// TestIGMPGroupAndSourceQuery: a group-and-source-specific query is
// answered with exactly the queried sources the interface state lets in
// (RFC 3376 5.2): IS_IN of the intersection in INCLUDE mode, IS_IN of
// the queried sources not excluded in EXCLUDE mode, nothing when none is;
// queries arriving while a response is pending merge (rules 4 and 5).
func TestIGMPGroupAndSourceQuery(t *testing.T) {
	e := newEnv(t, nil)
	srcS4 := netip.MustParseAddr("10.9.0.4")
	if err := e.s.JoinGroupSource(e.nic, grpC, []netip.Addr{srcS1, srcS2}, Include); err != nil {
		t.Fatal(err)
	}
	if err := e.s.JoinGroupSource(e.nic, grpA, []netip.Addr{srcS1}, Exclude); err != nil {
		t.Fatal(err)
	}
	e.runUntil(e.clk.t + time.Minute)
	e.link.take()
	query := func(g netip.Addr, srcs ...netip.Addr) {
		e.s.Input(e.nic, igmpFrame(querierIP, g, v3Query(10, g, srcs...)))
	}
	// INCLUDE {S1, S2}, query {S2, S3}: IS_IN {S2}, not the whole {S1, S2}.
	query(grpC, srcS2, srcS3)
	msgs, _ := e.runUntil(e.clk.t + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsInclude, grpC, srcS2))
	// INCLUDE {S1, S2}, query {S3, S4}: no overlap, no report.
	query(grpC, srcS3, srcS4)
	if msgs, _ := e.runUntil(e.clk.t + time.Minute); len(msgs) != 0 {
		t.Fatalf("answered a query for sources we do not include: %+v", msgs)
	}
	// EXCLUDE {S1}, query {S1, S2, S3}: IS_IN {S2, S3}.
	query(grpA, srcS1, srcS2, srcS3)
	msgs, _ = e.runUntil(e.clk.t + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsInclude, grpA, srcS2, srcS3))
	// EXCLUDE {S1}, query {S1}: every queried source is excluded, no report.
	query(grpA, srcS1)
	if msgs, _ := e.runUntil(e.clk.t + time.Minute); len(msgs) != 0 {
		t.Fatalf("answered a query for excluded sources: %+v", msgs)
	}
	// Two source queries before the response: one report with both sets
	// (rule 5), still filtered: INCLUDE {S1, S2}, {S1, S3} + {S2, S4} -> {S1, S2}.
	query(grpC, srcS1, srcS3)
	query(grpC, srcS2, srcS4)
	msgs, _ = e.runUntil(e.clk.t + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsInclude, grpC, srcS1, srcS2))
	// A source query then a group-specific one: the whole state (rule 4).
	query(grpA, srcS2)
	query(grpA)
	msgs, _ = e.runUntil(e.clk.t + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsExclude, grpA, srcS1))
	// A group-specific query then a source one: still the whole state.
	query(grpC)
	query(grpC, srcS3)
	msgs, _ = e.runUntil(e.clk.t + time.Minute)
	wantV3(t, msgs, rec(wire.IGMPv3ModeIsInclude, grpC, srcS1, srcS2))
}

func TestIGMPv2QuerierCompatibility(t *testing.T) {
	e := newEnv(t, nil)
	_ = e.s.JoinGroup(e.nic, grpA)
	e.link.take() // retransmission still pending: the v2 query cancels it
	t0 := e.clk.t
	e.s.Input(e.nic, igmpFrame(querierIP, allHosts, oldMsg(wire.IGMPMembershipQuery, 50, netip.IPv4Unspecified()))) // v2, 5s
	msgs, at := e.runUntil(t0 + time.Minute)
	if len(msgs) != 1 || msgs[0].typ != wire.IGMPv2MembershipReport || msgs[0].grp != grpA || msgs[0].dst != grpA || at[0] > t0+5*time.Second {
		t.Fatalf("v2 mode answer %+v at %v", msgs, at)
	}
	// Joins now send v2 reports (and one repetition); leaves go to 224.0.0.2.
	_ = e.s.JoinGroup(e.nic, grpB)
	msgs = igmpFrames(t, e.link.take())
	if len(msgs) != 1 || msgs[0].typ != wire.IGMPv2MembershipReport || msgs[0].grp != grpB {
		t.Fatalf("v2 join %+v", msgs)
	}
	if msgs, _ := e.runUntil(e.clk.t + 2*time.Second); len(msgs) != 1 || msgs[0].grp != grpB {
		t.Fatalf("v2 join repetition %+v", msgs)
	}
	_ = e.s.LeaveGroup(e.nic, grpB)
	msgs = igmpFrames(t, e.link.take())
	if len(msgs) != 1 || msgs[0].typ != wire.IGMPv2LeaveGroup || msgs[0].dst != allRouters || msgs[0].grp != grpB {
		t.Fatalf("v2 leave %+v", msgs)
	}
	// A v3 query in v2 mode is answered as a v2 query.
	e.s.Input(e.nic, igmpFrame(querierIP, allHosts, v3Query(10, netip.IPv4Unspecified())))
	if msgs, _ := e.runUntil(e.clk.t + 2*time.Second); len(msgs) != 1 || msgs[0].typ != wire.IGMPv2MembershipReport {
		t.Fatalf("v3 query in v2 mode: %+v", msgs)
	}
	// Older Version Querier Present Timeout: 2 * 125s + 5s (the last Max Resp Time)... still v2 just before.
	e.runUntil(t0 + 254*time.Second)
	_ = e.s.JoinGroup(e.nic, grpC)
	if msgs := igmpFrames(t, e.link.take()); len(msgs) != 1 || msgs[0].typ != wire.IGMPv2MembershipReport {
		t.Fatalf("before the timeout %+v", msgs)
	}
	e.runUntil(t0 + 256*time.Second)
	_ = e.s.LeaveGroup(e.nic, grpC)
	e.link.take()
	_ = e.s.JoinGroup(e.nic, grpC)
	wantV3(t, igmpFrames(t, e.link.take()), rec(wire.IGMPv3ChangeToExclude, grpC))
	if st := e.s.Stats().IGMP; st.OutLeaves != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestIGMPv2ReportSuppression(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IGMP.Version = 2 })
	_ = e.s.JoinGroup(e.nic, grpA)
	_ = e.s.JoinGroup(e.nic, grpB)
	if msgs := igmpFrames(t, e.link.take()); len(msgs) != 2 || msgs[0].typ != wire.IGMPv2MembershipReport {
		t.Fatalf("IGMP.Version 2 join: %+v", msgs)
	}
	e.runUntil(e.clk.t + time.Minute)
	e.link.take()
	e.s.Input(e.nic, igmpFrame(querierIP, allHosts, oldMsg(wire.IGMPMembershipQuery, 100, netip.IPv4Unspecified())))
	// Another member answers for A first: we stay quiet for A.
	e.s.Input(e.nic, igmpFrame(peerIP, grpA, oldMsg(wire.IGMPv2MembershipReport, 0, grpA)))
	msgs, _ := e.runUntil(e.clk.t + time.Minute)
	if len(msgs) != 1 || msgs[0].grp != grpB {
		t.Fatalf("after suppression %+v", msgs)
	}
	if e.s.Stats().IGMP.InReports != 1 {
		t.Fatal("report not counted")
	}
	// We did not send the last report for A: no leave (RFC 2236 6); we did for B.
	_ = e.s.LeaveGroup(e.nic, grpA)
	if len(e.link.take()) != 0 {
		t.Fatal("leave sent though another host reported last")
	}
	_ = e.s.LeaveGroup(e.nic, grpB)
	if msgs := igmpFrames(t, e.link.take()); len(msgs) != 1 || msgs[0].typ != wire.IGMPv2LeaveGroup {
		t.Fatalf("leave %+v", msgs)
	}
}

func TestIGMPv1Query(t *testing.T) {
	e := newEnv(t, nil)
	_ = e.s.JoinGroup(e.nic, grpA)
	e.link.take()
	t0 := e.clk.t
	e.s.Input(e.nic, igmpFrame(querierIP, allHosts, oldMsg(wire.IGMPMembershipQuery, 0, netip.IPv4Unspecified())))
	msgs, at := e.runUntil(t0 + time.Minute)
	if len(msgs) != 1 || msgs[0].typ != wire.IGMPv1MembershipReport || msgs[0].grp != grpA || at[0] > t0+10*time.Second {
		t.Fatalf("v1 answer %+v at %v", msgs, at)
	}
	_ = e.s.LeaveGroup(e.nic, grpA)
	if len(e.link.take()) != 0 {
		t.Fatal("IGMPv1 has no leave")
	}
}

func TestIGMPSourceFilters(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	recv := func(src netip.Addr) bool {
		n := len(tr.pkts)
		e.s.Input(e.nic, udpFrame(t, wire.IPv4MulticastMAC(grpA), src, grpA, "x"))
		return len(tr.pkts) > n
	}
	change := func(want ...igmpRec) {
		t.Helper()
		wantV3(t, igmpFrames(t, e.link.take()), want...)
		msgs, _ := e.runUntil(e.clk.t + time.Minute) // the retransmission repeats it
		wantV3(t, msgs, want...)
	}
	filter := func(mode FilterMode, srcs ...netip.Addr) {
		t.Helper()
		m, got, ok := e.s.GroupFilter(e.nic, grpA)
		if !ok || m != mode || !sameAddrs(got, srcs) {
			t.Fatalf("filter %v %v %v, want %v %v", m, got, ok, mode, srcs)
		}
	}
	// Socket 1: INCLUDE {S1}.
	if err := e.s.JoinGroupSource(e.nic, grpA, []netip.Addr{srcS1}, Include); err != nil {
		t.Fatal(err)
	}
	change(rec(wire.IGMPv3AllowNewSources, grpA, srcS1))
	filter(Include, srcS1)
	if !recv(srcS1) || recv(srcS2) {
		t.Fatal("INCLUDE {S1} filter")
	}
	if e.s.Stats().IP.InSourceFiltered != 1 {
		t.Fatal("filtered datagram not counted")
	}
	// Socket 2: INCLUDE {S2} adds S2.
	_ = e.s.JoinGroupSource(e.nic, grpA, []netip.Addr{srcS2}, Include)
	change(rec(wire.IGMPv3AllowNewSources, grpA, srcS2))
	filter(Include, srcS1, srcS2)
	// Socket 3: EXCLUDE {S2, S3}: the interface goes EXCLUDE ({S2,S3} minus the included S1, S2) = {S3}.
	_ = e.s.JoinGroupSource(e.nic, grpA, []netip.Addr{srcS2, srcS3}, Exclude)
	change(rec(wire.IGMPv3ChangeToExclude, grpA, srcS3))
	filter(Exclude, srcS3)
	if !recv(srcS1) || !recv(srcS2) || recv(srcS3) || !recv(netip.MustParseAddr("10.9.9.9")) {
		t.Fatal("EXCLUDE {S3} filter")
	}
	// Socket 2 leaves: S2 is excluded again -> BLOCK {S2}.
	if err := e.s.LeaveGroupSource(e.nic, grpA, []netip.Addr{srcS2}, Include); err != nil {
		t.Fatal(err)
	}
	change(rec(wire.IGMPv3BlockOldSources, grpA, srcS2))
	filter(Exclude, srcS2, srcS3)
	if recv(srcS2) {
		t.Fatal("S2 received after its exclusion")
	}
	// Socket 3 leaves: back to INCLUDE {S1}.
	_ = e.s.LeaveGroupSource(e.nic, grpA, []netip.Addr{srcS2, srcS3}, Exclude)
	change(rec(wire.IGMPv3ChangeToInclude, grpA, srcS1))
	filter(Include, srcS1)
	// Socket 1 leaves: BLOCK {S1}; the group is gone.
	_ = e.s.LeaveGroupSource(e.nic, grpA, []netip.Addr{srcS1}, Include)
	change(rec(wire.IGMPv3BlockOldSources, grpA, srcS1))
	if _, _, ok := e.s.GroupFilter(e.nic, grpA); ok || recv(srcS1) {
		t.Fatal("group still joined")
	}
	// Two EXCLUDE sockets: the interface excludes only what both exclude.
	_ = e.s.JoinGroupSource(e.nic, grpA, []netip.Addr{srcS1, srcS2}, Exclude)
	_ = e.s.JoinGroupSource(e.nic, grpA, []netip.Addr{srcS2, srcS3}, Exclude)
	filter(Exclude, srcS2)
	// IGMP from an excluded source still gets through (queries are never filtered).
	e.link.take()
	e.runUntil(e.clk.t + time.Minute)
	e.s.Input(e.nic, igmpFrame(srcS2, grpA, v3Query(10, grpA)))
	if msgs, _ := e.runUntil(e.clk.t + time.Minute); len(msgs) != 1 {
		t.Fatal("query from a filtered source not answered")
	}
	// Errors.
	for _, c := range []struct {
		srcs []netip.Addr
		mode FilterMode
		err  error
	}{
		{nil, Include, ErrInvalid},
		{[]netip.Addr{srcS1, srcS1}, Include, ErrInvalid},
		{[]netip.Addr{grpB}, Exclude, ErrInvalid},
		{[]netip.Addr{srcS1}, 7, ErrInvalid},
		{make17(), Include, ErrBufferFull},
	} {
		if err := e.s.JoinGroupSource(e.nic, grpB, c.srcs, c.mode); err != c.err {
			t.Errorf("join %v %v: %v, want %v", c.srcs, c.mode, err, c.err)
		}
	}
	if err := e.s.LeaveGroupSource(e.nic, grpA, []netip.Addr{srcS3}, Include); err != ErrNotFound {
		t.Errorf("leave of a membership that does not exist: %v", err)
	}
	if err := e.s.LeaveGroupSource(e.nic, grpA, []netip.Addr{srcS3, netip.MustParseAddr("10.7.7.7")}, Exclude); err != ErrNotFound {
		t.Errorf("leave with an unknown source: %v", err)
	}
}

func make17() []netip.Addr {
	var l []netip.Addr
	for i := 0; i < 17; i++ {
		l = append(l, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}))
	}
	return l
}

// filterLink is a driver with a multicast filter.
type filterLink struct {
	recLink
	sets [][]wire.MAC
}

func (l *filterLink) SetMulticast(macs []wire.MAC) error {
	l.sets = append(l.sets, append([]wire.MAC(nil), macs...))
	return nil
}

func TestMulticastFilterInterface(t *testing.T) {
	clk := &fakeClock{}
	s, _ := New(Config{Clock: clk, Rand: newEnv(t, nil).s.rand, IPv6: IPv6Config{Disabled: true}}) // IPv4 groups only
	verifyDeadlineCaches(t, s)
	l := &filterLink{}
	n, _ := s.AddInterface(InterfaceConfig{Name: "eth0", Link: l, MAC: ourMAC})
	_ = s.AddAddress(n, netip.MustParsePrefix("192.168.7.1/24"))
	_ = s.SetUp(n, true)
	all := wire.IPv4MulticastMAC(allHosts)
	_ = s.JoinGroup(n, grpA)
	_ = s.JoinGroup(n, grpA)
	_ = s.JoinGroup(n, netip.MustParseAddr("239.129.2.3")) // same MAC as 239.1.2.3
	_ = s.JoinGroup(n, grpB)
	_ = s.LeaveGroup(n, grpB)
	want := [][]wire.MAC{
		{all}, // SetUp
		{all, wire.IPv4MulticastMAC(grpA)},
		{all, wire.IPv4MulticastMAC(grpA)},
		{all, wire.IPv4MulticastMAC(grpA), wire.IPv4MulticastMAC(grpB)},
		{all, wire.IPv4MulticastMAC(grpA)},
	}
	if !reflect.DeepEqual(l.sets, want) {
		t.Fatalf("filters %v, want %v", l.sets, want)
	}
}

func TestIGMPHostile(t *testing.T) {
	e := newEnv(t, nil)
	_ = e.s.JoinGroup(e.nic, grpA)
	e.runUntil(e.clk.t + time.Minute)
	e.link.take()
	badSum := v3Query(10, netip.IPv4Unspecified())
	badSum[2] ^= 0xff
	bogusRecords := make([]byte, 16)
	wire.PutIGMPv3ReportHeader(bogusRecords, 3) // three records announced, one fits
	wire.PutIGMPv3GroupRecord(bogusRecords[8:], wire.IGMPv3ModeIsExclude, grpA, nil)
	wire.SetIGMPChecksum(bogusRecords)
	bogusSources := v3Query(10, netip.IPv4Unspecified())
	bogusSources[11] = 200 // 200 sources announced
	wire.SetIGMPChecksum(bogusSources)
	nineBytes := append(oldMsg(wire.IGMPMembershipQuery, 10, netip.IPv4Unspecified()), 0)
	wire.SetIGMPChecksum(nineBytes)
	for _, c := range []struct {
		name   string
		msg    []byte
		errors uint64
	}{
		{"short", []byte{0x11, 10, 0, 0}, 1},
		{"empty", nil, 1},
		{"bad checksum", badSum, 1},
		{"bogus records", bogusRecords, 1},
		{"bogus sources", bogusSources, 1},
		{"9-byte query", nineBytes, 1},
		{"unknown type", oldMsg(0x30, 0, grpA), 0},
		{"group query for a unicast group", oldMsg(wire.IGMPMembershipQuery, 10, peerIP), 0},
	} {
		before := e.s.Stats().IGMP
		e.s.Input(e.nic, igmpFrame(querierIP, allHosts, c.msg))
		after := e.s.Stats().IGMP
		if after.InMsgs != before.InMsgs+1 || after.InErrors != before.InErrors+c.errors {
			t.Errorf("%s: %+v -> %+v", c.name, before, after)
		}
	}
	if st := e.s.Stats().IGMP; st.InCsumErrors != 1 || st.InUnknownTypes != 1 || st.InQueries != 1 {
		t.Fatalf("%+v", st)
	}
	if msgs, _ := e.runUntil(e.clk.t + time.Minute); len(msgs) != 0 {
		t.Fatalf("hostile input answered: %+v", msgs)
	}
}

func TestIGMPConfigValidation(t *testing.T) {
	for _, c := range []IGMPConfig{{Version: 1}, {Version: 4}, {Robustness: 8}, {Robustness: -1}, {MaxSources: -1}, {UnsolicitedReportInterval: -1}} {
		if _, err := New(Config{Clock: &fakeClock{}, Rand: newEnv(t, nil).s.rand, IGMP: c}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestWriteIPv4Options(t *testing.T) {
	e := newEnv(t, nil)
	e.learnPeer()
	b := e.s.NewPacket(4)
	copy(b.Bytes(), "data")
	if err := e.s.WriteIPv4(b, &WriteOptions{Dst: peerIP, Protocol: 99, Options: []byte{wire.IPv4OptionNOP, wire.IPv4OptionNOP, wire.IPv4OptionNOP}}); err != nil {
		t.Fatal(err)
	}
	f := ipFrames(t, e.link.take(), peerMAC)
	p, err := wire.ParseIPv4(f[0])
	if err != nil || !p.ChecksumValid() || p.HeaderLen() != 24 || !bytes.Equal(p.Options(), []byte{1, 1, 1, 0}) || string(p.Payload()) != "data" {
		t.Fatalf("header %x: %v", f[0], err)
	}
	if err := e.s.WriteIPv4(e.s.NewPacket(4), &WriteOptions{Dst: peerIP, Protocol: 99, Options: make([]byte, 41)}); err != ErrInvalid {
		t.Fatalf("41 bytes of options: %v", err)
	}
	if e.s.Pool().Stats().InUse != 0 {
		t.Fatal("buffer leaked")
	}
}
