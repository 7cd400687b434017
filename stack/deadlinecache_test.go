package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// TestNDPDeadlineCache drives the IPv6 neighbor cache through a random
// sequence of resolutions, solicited and unsolicited advertisements (with
// and without override, changed link addresses), solicitations, static
// entries, removals, interface down/up and clock steps, and checks after
// every step that the cached earliest NDP timer equals a fresh scan of the
// table, and that Poll leaves no NDP timer in the past.
func TestNDPDeadlineCache(t *testing.T) {
	h := newHost6(t, func(c *Config) { c.IPv6.NDP.CacheSize = 8 })
	r := rand.New(rand.NewPCG(7, 8))
	// The neighbors come from a pool whose size changes every 100 steps: a
	// missed invalidation only shows when the changed timer is the
	// earliest, which a small table makes likely.
	pool := 12
	// Half are link-local (zone eth0), so that router advertisements,
	// which come from link-local addresses, meet existing entries.
	ip := func() netip.Addr {
		if r.IntN(2) == 0 {
			return netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(2 + r.IntN(pool))}).WithZone("eth0")
		}
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(2 + r.IntN(pool))})
	}
	mac := func(a netip.Addr) wire.MAC { return wire.MAC{2, 0, 0, 0, byte(r.IntN(2)), a.As16()[15]} }
	check := func(step int, what string) {
		t.Helper()
		gt, gok := h.s.ndpDeadline()
		wt, wok := h.s.ndpScanDeadline()
		if gt != wt || gok != wok {
			t.Fatalf("step %d (%s): cached NDP deadline %v %v, scan %v %v", step, what, gt, gok, wt, wok)
		}
	}
	states := map[ndpState]int{}
	for step := range 6000 {
		if step%100 == 0 {
			pool = 1 + r.IntN(12)
		}
		var what string
		switch k := r.IntN(12); k {
		case 0, 1:
			what = "send"
			b := h.s.NewPacket(8)
			if b == nil {
				t.Fatal("pool exhausted")
			}
			_ = h.s.WriteIP(b, &WriteOptions{Dst: ip(), Protocol: 253})
		case 2, 3:
			what = "advert"
			a := ip()
			flags := uint8(0)
			if r.IntN(2) == 0 {
				flags |= wire.NDPNAFlagSolicited
			}
			if r.IntN(2) == 0 {
				flags |= wire.NDPNAFlagOverride
			}
			dst := h6Our
			if flags&wire.NDPNAFlagSolicited == 0 && r.IntN(2) == 0 {
				dst = wire.IPv6AllNodes
			}
			h.in(naFrom(a, dst, a, flags, mac(a), 255))
		case 4:
			what = "solicit"
			a := ip()
			h.in(nsFrom(a, h6Our, h6Our, mac(a), 255))
		case 11:
			what = "router advert"
			a := ip().WithZone("")
			if !a.IsLinkLocalUnicast() {
				break
			}
			m := make([]byte, 64)
			l := (&wire.NDPRouterAdvert{CurHopLimit: 64}).Encode(m)
			l += wire.PutNDPLinkLayerOption(m[l:], wire.NDPOptSourceLinkAddr, mac(a))
			wire.SetICMPv6Checksum(m[:l], a, wire.IPv6AllNodes)
			h.in(pkt6(a, wire.IPv6AllNodes, wire.ProtoICMPv6, 255, m[:l]))
		case 5:
			what = "remove"
			_ = h.s.RemoveNeighbor(h.nic, ip())
		case 6:
			what = "static"
			a := ip()
			_ = h.s.AddStaticNeighbor(h.nic, a, mac(a))
		case 7:
			what = "down/up"
			_ = h.s.SetUp(h.nic, r.IntN(3) != 0)
		default:
			what = "advance"
			h.clk.t += time.Duration(r.IntN(4000)) * time.Millisecond
			h.s.Poll()
			if t0, ok := h.s.ndpScanDeadline(); ok && t0 <= h.s.Now() {
				t.Fatalf("step %d: NDP timer %v not run by Poll at %v", step, t0, h.s.Now())
			}
		}
		h.link.take()
		check(step, what)
		for i := range h.s.ip6.ndp.entries {
			states[h.s.ip6.ndp.entries[i].state]++
		}
	}
	// The walk must have visited every state, or it tested little.
	for st := ndpIncomplete; st <= ndpStatic; st++ {
		if states[st] == 0 {
			t.Errorf("no entry was ever %v", st)
		}
	}
}

// TestReassemblyDeadlineCache feeds random fragments of random datagrams
// (some completing, some overlapping, more than the table holds) with
// clock steps, and checks after every step that the cached earliest IPv4
// reassembly timeout equals a fresh scan, and that Poll leaves none in the past.
func TestReassemblyDeadlineCache(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Reassembly.MaxDatagrams = 4 })
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	r := rand.New(rand.NewPCG(9, 10))
	data := make([]byte, 48)
	for step := range 3000 {
		what := "fragment"
		if r.IntN(6) == 0 {
			what = "advance"
			e.advance(time.Duration(r.IntN(20000)) * time.Millisecond)
			if t0, ok := e.s.reasm.scanDeadline(); ok && t0 <= e.s.Now() {
				t.Fatalf("step %d: reassembly timeout %v not run by Poll at %v", step, t0, e.s.Now())
			}
		} else {
			part := r.IntN(4) // 0..2: the three 16-byte pieces; 3: an overlapping one
			off := 16 * part
			if part == 3 {
				off = 8
			}
			e.s.Input(e.nic, frag(uint16(r.IntN(8)), off, part != 2, data[:16]))
		}
		e.link.take()
		gt, gok := e.s.reasm.deadline()
		wt, wok := e.s.reasm.scanDeadline()
		if gt != wt || gok != wok {
			t.Fatalf("step %d (%s): cached reassembly deadline %v %v, scan %v %v", step, what, gt, gok, wt, wok)
		}
	}
	st := e.s.Stats().IP
	if st.ReasmOKs == 0 || st.ReasmTimeouts == 0 || st.ReasmEvictions == 0 {
		t.Fatalf("the walk missed a path: %+v", st)
	}
}

// TestReassembly6DeadlineCache is TestReassemblyDeadlineCache for IPv6
// (RFC 8200 4.5), including the dead entries overlaps leave (RFC 5722).
func TestReassembly6DeadlineCache(t *testing.T) {
	h := newHost6(t, func(c *Config) { c.IPv6.Reassembly.MaxDatagrams = 4 })
	h.staticPeer()
	h.s.AddRawHandler(wire.ProtoUDP, &rawRec{})
	r := rand.New(rand.NewPCG(11, 12))
	full := pkt6(h6Peer, h6Our, wire.ProtoUDP, 64, udp6(h6Peer, h6Our, make([]byte, 3000)))
	for step := range 3000 {
		what := "fragment"
		if r.IntN(6) == 0 {
			what = "advance"
			h.clk.t += time.Duration(r.IntN(40000)) * time.Millisecond
			h.s.Poll()
			if t0, ok := h.s.ip6.reasm.scanDeadline(); ok && t0 <= h.s.Now() {
				t.Fatalf("step %d: reassembly timeout %v not run by Poll at %v", step, t0, h.s.Now())
			}
		} else {
			frags := frag6Split(full, 1280, uint32(r.IntN(8)))
			i := r.IntN(len(frags) + 1)
			var f []byte
			if i == len(frags) { // overlapping the first fragment
				f = append([]byte(nil), frags[1]...)
				binary.BigEndian.PutUint16(f[42:44], binary.BigEndian.Uint16(f[42:44])-8)
			} else {
				f = frags[i]
			}
			h.in(f)
		}
		h.link.take()
		gt, gok := h.s.ip6.reasm.deadline()
		wt, wok := h.s.ip6.reasm.scanDeadline()
		if gt != wt || gok != wok {
			t.Fatalf("step %d (%s): cached IPv6 reassembly deadline %v %v, scan %v %v", step, what, gt, gok, wt, wok)
		}
	}
	st := h.s.Stats().IPv6
	if st.ReasmOKs == 0 || st.ReasmTimeouts == 0 || st.ReasmEvictions == 0 || st.ReasmOverlaps == 0 {
		t.Fatalf("the walk missed a path: %+v", st)
	}
}

// BenchmarkNextDeadline measures Stack.NextDeadline on a settled IPv6 host
// with a full neighbor cache (64 entries, the default size) between events,
// which the root package's shell calls after every frame.
func BenchmarkNextDeadline(b *testing.B) {
	h := newHost6(b, nil)
	for i := range h.s.ip6.ndp.entries {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i + 2)})
		m := wire.MAC{2, 0, 0, 0, 1, byte(i + 2)}
		h.in(nsFrom(a, h6Our, h6Our, m, 255))
	}
	h.link.take()
	if _, ok := h.s.NextDeadline(); !ok {
		b.Fatal("no deadline with a full neighbor cache")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.s.NextDeadline()
	}
}

// TestControlDeadlineCache drives IPv6 autoconfiguration, MLD and IGMP
// through a random sequence of router advertisements (short router,
// prefix and RDNSS lifetimes), MLD and IGMP general queries, group joins
// and leaves of both families, addresses added and removed, forwarding
// switched, the interface going down and up, and clock steps, and checks
// after every step, before any Poll, that the cached earliest
// control-plane timer equals a fresh scan of every list.
func TestControlDeadlineCache(t *testing.T) {
	e := newEnv6(t, nil)
	e.s.verifyDeadlines = false // checked here after each step, before Poll could mask a stale cache
	if err := e.s.AddAddress(e.nic, netip.MustParsePrefix("192.168.7.1/24")); err != nil {
		t.Fatal(err)
	}
	e.settle()
	r := rand.New(rand.NewPCG(13, 14))
	extra := netip.MustParsePrefix("2001:db8:5::1/64")
	g4 := netip.MustParseAddr("239.1.2.3")
	g6 := netip.MustParseAddr("ff15::1234")
	kinds := map[string]int{}
	for step := range 4000 {
		var what string
		switch k := r.IntN(12); k {
		case 0, 1:
			what = "router advert"
			src := routerLL
			if r.IntN(2) == 0 {
				src = router2LL
			}
			valid := uint32(r.IntN(60))
			spec := raSpec{lifetime: uint16(r.IntN(40)), prefixes: []pio{{prefixA, lA, valid, uint32(r.IntN(int(valid) + 1))}}}
			if r.IntN(2) == 0 {
				spec.rdnss, spec.rdnssLife = []netip.Addr{netip.MustParseAddr("2001:db8::53")}, uint32(r.IntN(30))
			}
			e.inject(routerMAC, src, wire.IPv6AllNodes, 255, false, raMsg(spec))
		case 2:
			what = "MLD query"
			e.query(v2Query(time.Duration(1+r.IntN(10000))*time.Millisecond, netip.IPv6Unspecified(), 2), wire.IPv6AllNodes)
		case 3:
			what = "IGMP query"
			e.s.Input(e.nic, igmpFrame(netip.MustParseAddr("192.168.7.254"), netip.MustParseAddr("224.0.0.1"), v3Query(uint8(1+r.IntN(100)), netip.IPv4Unspecified())))
		case 4:
			what = "join/leave 4"
			if r.IntN(2) == 0 {
				_ = e.s.JoinGroup(e.nic, g4)
			} else {
				_ = e.s.LeaveGroup(e.nic, g4)
			}
		case 5:
			what = "join/leave 6"
			if r.IntN(2) == 0 {
				_ = e.s.JoinGroup(e.nic, g6)
			} else {
				_ = e.s.LeaveGroup(e.nic, g6)
			}
		case 6:
			what = "address"
			if r.IntN(2) == 0 {
				_ = e.s.AddAddress(e.nic, extra)
			} else {
				_ = e.s.RemoveAddress(e.nic, extra.Addr())
			}
		case 7:
			what = "forwarding"
			_ = e.s.SetForwarding(e.nic, r.IntN(4) == 0)
		case 8:
			what = "down/up"
			_ = e.s.SetUp(e.nic, r.IntN(4) != 0)
		default:
			what = "advance"
			e.clk.t += time.Duration(r.IntN(3000)) * time.Millisecond
			e.s.Poll()
		}
		kinds[what]++
		e.link.take()
		gt, gok := e.s.ctlDeadline()
		wt, wok := e.s.ctlScanDeadline()
		if gt != wt || gok != wok {
			t.Fatalf("step %d (%s): cached control-plane deadline %v %v, scan %v %v", step, what, gt, gok, wt, wok)
		}
	}
	if st := e.s.Stats().Autoconf; st.InRouterAdvertisements == 0 {
		t.Fatalf("no router advertisement accepted: %+v", st)
	}
}

// verifyDeadlineCaches makes s check every deadline cache against a scan
// of its table in each NextDeadline and Poll, for tests (not benchmarks,
// which would time the scans).
func verifyDeadlineCaches(tb testing.TB, s *Stack) {
	if _, bench := tb.(*testing.B); !bench && s != nil {
		s.verifyDeadlines = true
	}
}
