package stack

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// An IPv6 router with eth0 2001:db8:a::1/64 (host A ::2, host C ::50,
// router C fe80::c for 2001:db8:dd::/48) and eth1 2001:db8:b::1/64 (host
// B ::2, gateway G fe80::e for 2001:db8:cc::/48).
var (
	a6   = netip.MustParseAddr("2001:db8:a::2")
	c6   = netip.MustParseAddr("2001:db8:a::50")
	b6   = netip.MustParseAddr("2001:db8:b::2")
	r06  = netip.MustParseAddr("2001:db8:a::1")
	g6LL = netip.MustParseAddr("fe80::e")
	c6LL = netip.MustParseAddr("fe80::c")
	a6LL = netip.MustParseAddr("fe80::a")
	cc6  = netip.MustParseAddr("2001:db8:cc::5")
	dd6  = netip.MustParseAddr("2001:db8:dd::5")
)

type router6 struct {
	t          testing.TB
	s          *Stack
	clk        *fakeClock
	l0         *recLink
	l1         Link
	eth0, eth1 NIC
}

func newRouter6(t testing.TB, forwarding bool, mtu1 int, link1 Link) *router6 {
	t.Helper()
	clk := &fakeClock{t: time.Hour}
	cfg := Config{Clock: clk, Rand: rand.NewPCG(3, 4), ARP: ARPConfig{Announcements: -1}}
	cfg.IPv6.Forwarding = forwarding
	s, err := New(cfg)
	verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
	if err != nil {
		t.Fatal(err)
	}
	l0 := &recLink{}
	if link1 == nil {
		link1 = &recLink{}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	e0, err := s.AddInterface(InterfaceConfig{Name: "eth0", Link: l0, MAC: r0MAC})
	must(err)
	e1, err := s.AddInterface(InterfaceConfig{Name: "eth1", Link: link1, MAC: r1MAC, MTU: mtu1})
	must(err)
	must(s.AddAddress(e0, netip.MustParsePrefix("2001:db8:a::1/64")))
	must(s.AddAddress(e1, netip.MustParsePrefix("2001:db8:b::1/64")))
	must(s.SetUp(e0, true))
	must(s.SetUp(e1, true))
	must(s.AddRoute(Route{Dst: netip.MustParsePrefix("2001:db8:cc::/48"), Gateway: g6LL, NIC: e1}))
	must(s.AddRoute(Route{Dst: netip.MustParsePrefix("2001:db8:dd::/48"), Gateway: c6LL, NIC: e0}))
	must(s.AddStaticNeighbor(e0, a6, aMAC))
	must(s.AddStaticNeighbor(e0, a6LL, aMAC))
	must(s.AddStaticNeighbor(e0, c6, cMAC))
	must(s.AddStaticNeighbor(e0, c6LL, cMAC))
	must(s.AddStaticNeighbor(e1, b6, bMAC))
	must(s.AddStaticNeighbor(e1, g6LL, gMAC))
	r := &router6{t: t, s: s, clk: clk, l0: l0, l1: link1, eth0: e0, eth1: e1}
	r.run(30 * time.Second) // DAD of the link-local addresses, MLD reports
	l0.take()
	if rl, ok := link1.(*recLink); ok {
		rl.take()
	}
	return r
}

func (r *router6) run(d time.Duration) {
	end := r.clk.t + d
	for i := 0; i < 100000; i++ {
		t, ok := r.s.NextDeadline()
		if !ok || t > end {
			break
		}
		if t > r.clk.t {
			r.clk.t = t
		}
		r.s.Poll()
	}
	r.clk.t = end
	r.s.Poll()
}

func (r *router6) rec1() *recLink { return r.l1.(*recLink) }

// from0 feeds pkt to eth0 from A's MAC.
func (r *router6) from0(pkt []byte) {
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv6, pkt))
}

// fwd6 is what the router must emit for pkt: hop limit - 1, nothing else changed.
func fwd6(pkt []byte) []byte {
	w := append([]byte(nil), pkt...)
	w[7]--
	return w
}

// frame6 checks an Ethernet frame's addresses and returns its IPv6 payload.
func frame6(t testing.TB, f []byte, dst, src wire.MAC) []byte {
	t.Helper()
	e, err := wire.ParseEthernet(f)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dst() != dst || e.Src() != src || e.EtherType() != wire.EtherTypeIPv6 {
		t.Fatalf("frame %v -> %v type %#x, want %v -> %v IPv6", e.Src(), e.Dst(), e.EtherType(), src, dst)
	}
	return e.Payload()
}

// icmp6In decodes the ICMPv6 messages (MLD excluded) in frames sent from src.
func icmp6In(t testing.TB, frames [][]byte, src wire.MAC) (ms []wire.ICMPv6, ips []wire.IPv6) {
	t.Helper()
	for _, f := range frames {
		e, err := wire.ParseEthernet(f)
		if err != nil || e.EtherType() != wire.EtherTypeIPv6 {
			continue
		}
		if e.Src() != src {
			t.Fatalf("frame from %v", e.Src())
		}
		ip, err := wire.ParseIPv6(e.Payload())
		if err != nil {
			t.Fatal(err)
		}
		proto, data, err := ip.UpperLayer()
		if err != nil || proto != wire.ProtoICMPv6 {
			continue
		}
		m, err := wire.ParseICMPv6(data)
		if err != nil || !m.ChecksumValid(ip.Src(), ip.Dst()) {
			t.Fatalf("bad ICMPv6: %v", err)
		}
		switch m.Type() {
		case wire.ICMPv6MLDv2Report, wire.ICMPv6MLDv1Report, wire.ICMPv6MLDv1Done:
			continue
		}
		ms, ips = append(ms, m), append(ips, ip)
	}
	return ms, ips
}

func TestForward6BothDirections(t *testing.T) {
	r := newRouter6(t, true, 1500, nil)
	l1 := r.rec1()
	// A -> B, out eth1.
	pkt := pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, []byte("a to b")))
	r.from0(pkt)
	f := l1.take()
	if len(f) != 1 || !bytes.Equal(frame6(t, f[0], bMAC, r1MAC), fwd6(pkt)) {
		t.Fatalf("A -> B: %d frames, or not byte-exact", len(f))
	}
	if len(r.l0.take()) != 0 {
		t.Fatal("something went back to eth0")
	}
	// B -> A, out eth0.
	back := pkt6(b6, a6, wire.ProtoUDP, 2, udp6(b6, a6, []byte("b to a")))
	r.s.Input(r.eth1, ethFrame(r1MAC, bMAC, wire.EtherTypeIPv6, back))
	if f := r.l0.take(); len(f) != 1 || !bytes.Equal(frame6(t, f[0], aMAC, r0MAC), fwd6(back)) {
		t.Fatal("B -> A not forwarded byte-exact")
	}
	// A -> a network behind gateway G (static route via a link-local gateway).
	far := pkt6(a6, cc6, wire.ProtoUDP, 64, udp6(a6, cc6, make([]byte, 1000)))
	r.from0(far)
	if f := l1.take(); len(f) != 1 || !bytes.Equal(frame6(t, f[0], gMAC, r1MAC), fwd6(far)) {
		t.Fatal("A -> cc via G not forwarded byte-exact")
	}
	// Extension headers (destination options) are forwarded untouched.
	dopt := append(optsHdr(wire.ProtoUDP, 0x3e), udp6(a6, b6, []byte("x"))...) // unknown option, action 00: skip
	ext := pkt6(a6, b6, wire.ProtoDestOpts, 64, dopt)
	r.from0(ext)
	if f := l1.take(); len(f) != 1 || !bytes.Equal(frame6(t, f[0], bMAC, r1MAC), fwd6(ext)) {
		t.Fatal("destination options not forwarded untouched")
	}
	if st := r.s.Stats().IPv6; st.ForwDatagrams != 4 || st.InDelivers != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !r.s.Forwarding6(r.eth0) || r.s.Forwarding6(LoopbackNIC) || r.s.Forwarding(r.eth0) {
		t.Fatal("Forwarding6/Forwarding report")
	}
	if r.s.Pool().Stats().InUse != 0 {
		t.Fatal("buffers leaked")
	}
}

func TestForward6Off(t *testing.T) {
	r := newRouter6(t, false, 1500, nil)
	r.from0(pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, nil)))
	if len(r.rec1().take()) != 0 || r.s.Stats().IPv6.InAddrErrors != 1 {
		t.Fatal("forwarded with IPv6 forwarding off")
	}
	// On for the stack, off for eth0: not forwarded either.
	r = newRouter6(t, true, 1500, nil)
	if err := r.s.SetForwarding(r.eth0, false); err != nil {
		t.Fatal(err)
	}
	r.from0(pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, nil)))
	if len(r.rec1().take()) != 0 || r.s.Stats().IPv6.ForwDatagrams != 0 {
		t.Fatal("forwarded from an interface with forwarding off")
	}
	_ = r.s.SetForwarding(r.eth0, true)
	r.from0(pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, nil)))
	if len(r.rec1().take()) != 1 {
		t.Fatal("not forwarded after SetForwarding(true)")
	}
}

func TestForward6HopLimit(t *testing.T) {
	for _, hop := range []uint8{1, 0} {
		r := newRouter6(t, true, 1500, nil)
		pkt := pkt6(a6, b6, wire.ProtoUDP, hop, udp6(a6, b6, []byte("expiring")))
		r.from0(pkt)
		if len(r.rec1().take()) != 0 {
			t.Fatalf("hop limit %d forwarded", hop)
		}
		ms, ips := icmp6In(t, r.l0.take(), r0MAC)
		if len(ms) != 1 || ms[0].Type() != wire.ICMPv6TimeExceeded || ms[0].Code() != wire.ICMPv6HopLimitExceeded {
			t.Fatalf("hop limit %d: %d messages", hop, len(ms))
		}
		if ips[0].Src() != r06 || ips[0].Dst() != a6 || !bytes.Equal(ms[0].Payload(), pkt) {
			t.Fatalf("time exceeded %v -> %v, quote ok %v", ips[0].Src(), ips[0].Dst(), bytes.Equal(ms[0].Payload(), pkt))
		}
		if st := r.s.Stats().IPv6; st.ForwHopLimitExceeded != 1 || st.InHdrErrors != 1 || r.s.Stats().ICMPv6.OutTimeExcds != 1 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestForward6PacketTooBig(t *testing.T) {
	r := newRouter6(t, true, 1280, nil)
	pkt := pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, make([]byte, 1400)))
	r.from0(pkt)
	if len(r.rec1().take()) != 0 {
		t.Fatal("too big packet forwarded (or fragmented)")
	}
	ms, ips := icmp6In(t, r.l0.take(), r0MAC)
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6PacketTooBig || ms[0].MTU() != 1280 || ips[0].Dst() != a6 {
		t.Fatalf("packet too big: %d messages", len(ms))
	}
	if len(ms[0].Bytes()) > minMTU6-wire.IPv6HeaderLen || !bytes.HasPrefix(pkt, ms[0].Payload()) {
		t.Fatal("quote longer than the minimum MTU allows or not the packet")
	}
	if r.s.Stats().IPv6.ForwTooBigs != 1 {
		t.Fatal("not counted")
	}
	// Exactly the MTU passes.
	fit := pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, make([]byte, 1280-48)))
	r.from0(fit)
	if f := r.rec1().take(); len(f) != 1 || !bytes.Equal(frame6(t, f[0], bMAC, r1MAC), fwd6(fit)) {
		t.Fatal("packet of exactly the MTU not forwarded")
	}
}

func TestForward6NoRoute(t *testing.T) {
	r := newRouter6(t, true, 1500, nil)
	dst := netip.MustParseAddr("2001:db8:ee::1")
	pkt := pkt6(a6, dst, wire.ProtoUDP, 64, udp6(a6, dst, nil))
	r.from0(pkt)
	ms, ips := icmp6In(t, r.l0.take(), r0MAC)
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6DestUnreachable || ms[0].Code() != wire.ICMPv6NoRoute ||
		ips[0].Dst() != a6 || !bytes.Equal(ms[0].Payload(), pkt) {
		t.Fatalf("no route: %d messages", len(ms))
	}
	if r.s.Stats().IPv6.OutNoRoutes != 1 || len(r.rec1().take()) != 0 {
		t.Fatal("stats or output")
	}
}

func TestForward6LinkLocal(t *testing.T) {
	r := newRouter6(t, true, 1500, nil)
	// A link-local source going to another link: beyond scope.
	pkt := pkt6(a6LL, b6, wire.ProtoUDP, 64, udp6(a6LL, b6, nil))
	r.from0(pkt)
	if len(r.rec1().take()) != 0 {
		t.Fatal("link-local source forwarded off-link")
	}
	ms, ips := icmp6In(t, r.l0.take(), r0MAC)
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6DestUnreachable || ms[0].Code() != wire.ICMPv6BeyondScope ||
		ips[0].Dst() != a6LL || !ips[0].Src().IsLinkLocalUnicast() {
		t.Fatalf("beyond scope: %d messages", len(ms))
	}
	if r.s.Stats().IPv6.ForwBeyondScope != 1 {
		t.Fatal("not counted")
	}
	// A link-local destination that is not ours: dropped silently.
	ll := netip.MustParseAddr("fe80::99")
	r.from0(pkt6(a6, ll, wire.ProtoUDP, 64, udp6(a6, ll, nil)))
	if len(r.rec1().take())+len(r.l0.take()) != 0 {
		t.Fatal("link-local destination forwarded or answered")
	}
	// Unspecified source, multicast destination, unicast in a link multicast frame: dropped.
	r.from0(pkt6(netip.IPv6Unspecified(), b6, wire.ProtoUDP, 64, udp6(netip.IPv6Unspecified(), b6, nil)))
	g := netip.MustParseAddr("ff0e::42")
	r.s.Input(r.eth0, ethFrame(wire.IPv6MulticastMAC(g), aMAC, wire.EtherTypeIPv6, pkt6(a6, g, wire.ProtoUDP, 64, udp6(a6, g, nil))))
	r.s.Input(r.eth0, ethFrame(wire.IPv6MulticastMAC(wire.IPv6AllNodes), aMAC, wire.EtherTypeIPv6, pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, nil))))
	if len(r.rec1().take())+len(r.l0.take()) != 0 {
		t.Fatal("martian forwarded or answered")
	}
	if st := r.s.Stats().IPv6; st.ForwDatagrams != 0 || st.InAddrErrors != 4 || st.InMartians != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A link-local source staying on its link is forwarded.
	same := pkt6(a6LL, c6, wire.ProtoUDP, 64, udp6(a6LL, c6, nil))
	r.from0(same)
	f := r.l0.take()
	var got []byte
	for _, x := range f {
		if e, _ := wire.ParseEthernet(x); e.Dst() == cMAC {
			got = e.Payload()
		}
	}
	if !bytes.Equal(got, fwd6(same)) {
		t.Fatal("link-local source on its own link not forwarded")
	}
}

func TestForward6Redirect(t *testing.T) {
	r := newRouter6(t, true, 1500, nil)
	ll := r.s.nic(r.eth0).usableLinkLocal()
	if ll.IsUnspecified() {
		t.Fatal("router has no link-local address")
	}
	for _, c := range []struct {
		name        string
		dst, target netip.Addr
		mac         wire.MAC
	}{
		{"via router C", dd6, c6LL, cMAC},
		{"on-link C", c6, c6, cMAC},
	} {
		pkt := pkt6(a6, c.dst, wire.ProtoUDP, 64, udp6(a6, c.dst, make([]byte, 1300)))
		r.from0(pkt)
		frames := r.l0.take()
		var fw []byte
		for _, f := range frames {
			if e, _ := wire.ParseEthernet(f); e.Dst() == c.mac {
				fw = e.Payload()
			}
		}
		if !bytes.Equal(fw, fwd6(pkt)) {
			t.Fatalf("%s: hairpinned packet not forwarded byte-exact", c.name)
		}
		ms, ips := icmp6In(t, frames, r0MAC)
		if len(ms) != 1 || ms[0].Type() != wire.ICMPv6Redirect || ips[0].Src() != ll || ips[0].Dst() != a6 || ips[0].HopLimit() != 255 {
			t.Fatalf("%s: %d messages", c.name, len(ms))
		}
		if l := len(ips[0].Bytes()); l > minMTU6 {
			t.Fatalf("%s: redirect of %d bytes", c.name, l)
		}
		rd, err := wire.ParseNDPRedirect(ms[0].Bytes())
		if err != nil || rd.Target() != c.target || rd.Destination() != c.dst {
			t.Fatalf("%s: redirect %v -> %v (%v)", c.name, rd.Target(), rd.Destination(), err)
		}
		var tll wire.MAC
		var quoted []byte
		rd.ForEachOption(func(o wire.NDPOption) bool {
			if m, ok := o.LinkLayerAddr(); ok && o.Type() == wire.NDPOptTargetLinkAddr {
				tll = m
			}
			if q, ok := o.RedirectedHeader(); ok {
				quoted = q
			}
			return true
		})
		if tll != c.mac || len(quoted) < 1000 || !bytes.HasPrefix(pkt, bytes.TrimRight(quoted, "\x00")[:1000]) {
			t.Fatalf("%s: options: target %v, %d quoted bytes", c.name, tll, len(quoted))
		}
	}
	if r.s.Stats().ICMPv6.OutRedirects != 2 {
		t.Fatal("redirects not counted")
	}
	// Gateways given by global address get no redirect (RFC 4861 8.2 names routers by link-local address).
	_ = r.s.AddRoute(Route{Dst: netip.MustParsePrefix("2001:db8:ef::/48"), Gateway: c6, NIC: r.eth0})
	ef := netip.MustParseAddr("2001:db8:ef::1")
	r.from0(pkt6(a6, ef, wire.ProtoUDP, 64, udp6(a6, ef, nil)))
	if ms, _ := icmp6In(t, r.l0.take(), r0MAC); len(ms) != 0 || r.s.Stats().IPv6.ForwDatagrams != 3 {
		t.Fatal("redirect naming a global router address, or not forwarded")
	}
}

func TestForward6HopByHop(t *testing.T) {
	r := newRouter6(t, true, 1500, nil)
	// Unknown option, action 00 (skip): forwarded untouched.
	skip := pkt6(a6, b6, wire.ProtoHopByHop, 64, append(optsHdr(wire.ProtoUDP, 0x1e), udp6(a6, b6, nil)...))
	r.from0(skip)
	if f := r.rec1().take(); len(f) != 1 || !bytes.Equal(frame6(t, f[0], bMAC, r1MAC), fwd6(skip)) {
		t.Fatal("hop-by-hop with a skippable option not forwarded")
	}
	// Action 10: discarded with a parameter problem pointing at the option.
	bad := pkt6(a6, b6, wire.ProtoHopByHop, 64, append(optsHdr(wire.ProtoUDP, 0x9e), udp6(a6, b6, nil)...))
	r.from0(bad)
	if len(r.rec1().take()) != 0 {
		t.Fatal("option of action 10 forwarded")
	}
	ms, _ := icmp6In(t, r.l0.take(), r0MAC)
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6ParamProblem || ms[0].Code() != wire.ICMPv6UnrecognizedOption || ms[0].Pointer() != 42 {
		t.Fatalf("parameter problem: %d messages", len(ms))
	}
	// Action 01: discarded silently; a truncated header: dropped.
	r.from0(pkt6(a6, b6, wire.ProtoHopByHop, 64, append(optsHdr(wire.ProtoUDP, 0x5e), udp6(a6, b6, nil)...)))
	r.from0(pkt6(a6, b6, wire.ProtoHopByHop, 64, []byte{wire.ProtoUDP, 1, 0, 0}))
	if len(r.rec1().take())+len(r.l0.take()) != 0 {
		t.Fatal("discarded options forwarded or answered")
	}
}

func TestForward6RouterRole(t *testing.T) {
	r := newRouter6(t, true, 1500, nil)
	n := r.s.nic(r.eth0)
	if !n.inGroup6(wire.IPv6AllRouters) {
		t.Fatal("all-routers not joined")
	}
	// An NA answering an NS carries the router flag.
	ns := make([]byte, 32)
	l := wire.PutNDPNeighborSolicitation(ns, r06)
	l += wire.PutNDPLinkLayerOption(ns[l:], wire.NDPOptSourceLinkAddr, aMAC)
	ns = ns[:l]
	wire.SetICMPv6Checksum(ns, a6, r06)
	r.from0(pkt6(a6, r06, wire.ProtoICMPv6, 255, ns))
	naFlags := func() uint8 {
		t.Helper()
		ms, _ := icmp6In(t, r.l0.take(), r0MAC)
		for _, m := range ms {
			if na, err := wire.ParseNDPNeighborAdvertisement(m.Bytes()); err == nil {
				return na.Flags()
			}
		}
		t.Fatal("no NA")
		return 0
	}
	if f := naFlags(); f&wire.NDPNAFlagRouter == 0 || f&wire.NDPNAFlagSolicited == 0 {
		t.Fatalf("NA flags %#x", f)
	}
	// Router advertisements do not configure a router.
	ra := raMsg(raSpec{hopLimit: 9, lifetime: 1800, prefixes: []pio{{prefixA, lA, 3600, 3600}}})
	wire.SetICMPv6Checksum(ra, routerLL, wire.IPv6AllNodes)
	r.s.Input(r.eth0, ethFrame(wire.IPv6MulticastMAC(wire.IPv6AllNodes), routerMAC, wire.EtherTypeIPv6, pkt6(routerLL, wire.IPv6AllNodes, wire.ProtoICMPv6, 255, ra)))
	r.run(5 * time.Second)
	for _, p := range r.s.Addresses(r.eth0) {
		if prefixA.Contains(p.Addr()) {
			t.Fatal("router formed a SLAAC address")
		}
	}
	if len(r.s.DefaultRouters(r.eth0)) != 0 || n.auto.curHopLimit != 0 || r.s.Stats().Autoconf.RouterIgnoredRAs != 1 {
		t.Fatal("router took configuration from an RA")
	}
	// Forwarding off on eth0: a host again there (leaves all-routers, no R flag).
	r.l0.take()
	_ = r.s.SetForwarding(r.eth0, false)
	if n.inGroup6(wire.IPv6AllRouters) || r.s.Forwarding6(r.eth0) {
		t.Fatal("all-routers kept after forwarding went off")
	}
	r.run(5 * time.Second)
	r.from0(pkt6(a6, r06, wire.ProtoICMPv6, 255, ns))
	if f := naFlags(); f&wire.NDPNAFlagRouter != 0 {
		t.Fatalf("NA flags %#x from a host", f)
	}
	_ = r.s.SetForwarding(r.eth0, true)
	if !n.inGroup6(wire.IPv6AllRouters) {
		t.Fatal("all-routers not joined again")
	}
}

// TestForward6ZeroAllocs checks that forwarding allocates nothing per packet.
func TestForward6ZeroAllocs(t *testing.T) {
	l := &countLink{}
	r := newRouter6(t, true, 1500, l)
	frame := ethFrame(r0MAC, aMAC, wire.EtherTypeIPv6, pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, make([]byte, 1000))))
	r.s.Input(r.eth0, frame) // warm the pool
	before := l.n
	allocs := testing.AllocsPerRun(1000, func() { r.s.Input(r.eth0, frame) })
	if allocs != 0 {
		t.Fatalf("%v allocations per forwarded packet", allocs)
	}
	if l.n-before != 1001 || l.ln != len(frame) {
		t.Fatalf("%d frames of %d bytes forwarded", l.n-before, l.ln)
	}
	if r.s.Pool().Stats().InUse != 0 {
		t.Fatal("buffers leaked")
	}
}

func BenchmarkForward6(b *testing.B) {
	l := &countLink{}
	r := newRouter6(b, true, 1500, l)
	frame := ethFrame(r0MAC, aMAC, wire.EtherTypeIPv6, pkt6(a6, b6, wire.ProtoUDP, 64, udp6(a6, b6, make([]byte, 1000))))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		r.s.Input(r.eth0, frame)
	}
	if l.n == 0 {
		b.Fatal("nothing forwarded")
	}
}

// TestMulticastFilterIPv6 checks the link-layer groups handed to a
// driver's filter: IPv6's all-nodes, solicited-node and joined groups
// beside IPv4's, at up and on every change; all-routers on a router.
func TestMulticastFilterIPv6(t *testing.T) {
	clk := &fakeClock{t: time.Hour}
	cfg := Config{Clock: clk, Rand: rand.NewPCG(7, 8)}
	cfg.IPv6.Forwarding = true
	s, _ := New(cfg)
	verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
	l := &filterLink{}
	n, _ := s.AddInterface(InterfaceConfig{Name: "eth0", Link: l, MAC: ourMAC})
	_ = s.SetForwarding(n, false) // a host at first
	static := netip.MustParseAddr("2001:db8:5::1234:5678")
	_ = s.AddAddress(n, netip.PrefixFrom(static, 64))
	l.sets = nil
	_ = s.SetUp(n, true)
	last := func() map[wire.MAC]bool {
		t.Helper()
		if len(l.sets) == 0 {
			t.Fatal("filter never set")
		}
		m := map[wire.MAC]bool{}
		for _, x := range l.sets[len(l.sets)-1] {
			if m[x] {
				t.Fatalf("%v listed twice", x)
			}
			m[x] = true
		}
		return m
	}
	if f := l.sets[0]; len(f) == 0 {
		t.Fatal("no filter at up")
	}
	allNodes := wire.IPv6MulticastMAC(wire.IPv6AllNodes)
	solStatic := wire.IPv6MulticastMAC(wire.SolicitedNodeMulticast(static))
	if m := last(); !m[wire.IPv4MulticastMAC(allHosts)] || !m[allNodes] || !m[solStatic] {
		t.Fatalf("filter at up: %v", l.sets[len(l.sets)-1])
	}
	// The link-local address formed at up: its solicited-node group.
	for i := 0; i < 100; i++ {
		clk.t += 100 * time.Millisecond
		s.Poll()
	}
	ll := s.nic(n).usableLinkLocal()
	if ll.IsUnspecified() || !last()[wire.IPv6MulticastMAC(wire.SolicitedNodeMulticast(ll))] {
		t.Fatalf("link-local %v's solicited-node group not in the filter", ll)
	}
	g := netip.MustParseAddr("ff05::1:3")
	_ = s.JoinGroup(n, g)
	if !last()[wire.IPv6MulticastMAC(g)] {
		t.Fatal("joined IPv6 group not in the filter")
	}
	_ = s.LeaveGroup(n, g)
	if last()[wire.IPv6MulticastMAC(g)] {
		t.Fatal("left IPv6 group still in the filter")
	}
	_ = s.RemoveAddress(n, static)
	if last()[solStatic] {
		t.Fatal("removed address's solicited-node group still in the filter")
	}
	_ = s.SetForwarding(n, true)
	if !last()[wire.IPv6MulticastMAC(wire.IPv6AllRouters)] {
		t.Fatal("all-routers not in a router's filter")
	}
}
