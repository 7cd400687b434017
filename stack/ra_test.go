package stack

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

type pio struct {
	p           netip.Prefix
	flags       uint8
	valid, pref uint32
}

type raSpec struct {
	hopLimit       uint8
	lifetime       uint16
	reach, retrans uint32
	prefixes       []pio
	mtu            uint32
	rdnss          []netip.Addr
	rdnssLife      uint32
	noSLLA         bool // leave out the source link-layer address option
}

func raMsg(r raSpec) []byte {
	b := make([]byte, 1024)
	a := wire.NDPRouterAdvert{CurHopLimit: r.hopLimit, RouterLifetime: r.lifetime, ReachableTime: r.reach, RetransTimer: r.retrans}
	l := a.Encode(b)
	if !r.noSLLA {
		l += wire.PutNDPLinkLayerOption(b[l:], wire.NDPOptSourceLinkAddr, routerMAC)
	}
	for _, p := range r.prefixes {
		l += wire.PutNDPPrefixInfo(b[l:], p.p, p.flags, p.valid, p.pref)
	}
	if r.mtu != 0 {
		l += wire.PutNDPMTUOption(b[l:], r.mtu)
	}
	if len(r.rdnss) > 0 {
		l += wire.PutNDPRDNSS(b[l:], r.rdnssLife, r.rdnss)
	}
	return b[:l]
}

// sendRA delivers a router advertisement from fe80::1 to ff02::1.
func (e *env6) sendRA(r raSpec) {
	e.t.Helper()
	e.inject(routerMAC, routerLL, wire.IPv6AllNodes, 255, false, raMsg(r))
}

const lA = wire.NDPPrefixFlagOnLink | wire.NDPPrefixFlagAutonomous

func TestRouterSolicitations(t *testing.T) {
	e := newEnv6(t, nil)
	var rs []sent6
	for i := 0; i < 2000; i++ { // 20 s in 10 ms steps
		e.advance(10 * time.Millisecond)
		for _, m := range ofType(e.take(), wire.ICMPv6RouterSolicitation) {
			m.at = e.clk.t - time.Hour
			rs = append(rs, m)
		}
	}
	if len(rs) != 3 {
		t.Fatalf("%d router solicitations, want 3", len(rs))
	}
	if rs[0].at > time.Second {
		t.Fatalf("first solicitation at %v, want within 1s", rs[0].at)
	}
	for i, m := range rs {
		if m.dst != wire.IPv6AllRouters || m.hop != 255 {
			t.Fatalf("RS %d to %v hop %d", i, m.dst, m.hop)
		}
		v, err := wire.ParseNDPRouterSolicitation(m.msg)
		if err != nil {
			t.Fatal(err)
		}
		hasSLLA := false
		v.ForEachOption(func(o wire.NDPOption) bool {
			if mac, ok := o.LinkLayerAddr(); ok && o.Type() == wire.NDPOptSourceLinkAddr && mac == ourMAC {
				hasSLLA = true
			}
			return true
		})
		if m.src.IsUnspecified() == hasSLLA {
			t.Fatalf("RS %d from %v with source link-layer option %v", i, m.src, hasSLLA)
		}
		if i > 0 {
			if d := m.at - rs[i-1].at; d != rtrSolicitationInterval {
				t.Fatalf("RS %d %v after the previous, want 4s", i, d)
			}
		}
	}
	if !rs[2].src.IsLinkLocalUnicast() {
		t.Fatalf("last RS from %v, want the link-local address", rs[2].src)
	}
	if e.s.Stats().Autoconf.OutRouterSolicits != 3 {
		t.Fatal("RS not counted")
	}
}

func TestRouterSolicitationsStopOnRA(t *testing.T) {
	e := newEnv6(t, nil)
	e.runUntil(2 * time.Second)
	e.sendRA(raSpec{lifetime: 1800})
	e.take()
	e.runUntil(20 * time.Second)
	if rs := ofType(e.take(), wire.ICMPv6RouterSolicitation); len(rs) != 0 {
		t.Fatalf("%d solicitations after an RA", len(rs))
	}
}

func TestRAFormsSLAACAddress(t *testing.T) {
	e := newEnv6(t, func(c *Config) { c.StableIIDSecret = [16]byte{7} })
	e.settle()
	e.events = nil
	raAt := e.clk.t
	e.sendRA(raSpec{lifetime: 1800, hopLimit: 42, reach: 20000, retrans: 500,
		prefixes: []pio{{prefixA, lA, 7200, 3600}}})
	a, ok := e.slaacAddr(prefixA)
	if !ok {
		t.Fatal("no SLAAC address formed")
	}
	var c uint8
	if want := e.s.interfaceAddr(e.n(), prefixA, &c); a.prefix.Addr() != want {
		t.Fatalf("SLAAC address %v, want the stable %v", a.prefix.Addr(), want)
	}
	if e.addrs6()[a.prefix.Addr()] != addrTentative {
		t.Fatal("SLAAC address not tentative first")
	}
	// Router, on-link prefix, hop limit, NDP timers.
	if got := e.s.DefaultRouters(e.nic); !slices.Equal(got, []netip.Addr{routerLL}) {
		t.Fatalf("default routers %v", got)
	}
	if !slices.ContainsFunc(e.s.Routes(), func(r Route) bool { return r.Dst == prefixA && r.NIC == e.nic }) {
		t.Fatalf("no on-link route for %v: %v", prefixA, e.s.Routes())
	}
	if !slices.ContainsFunc(e.s.Routes(), func(r Route) bool { return r.Dst.Bits() == 0 && r.Gateway == routerLL }) {
		t.Fatalf("no default route via %v: %v", routerLL, e.s.Routes())
	}
	n := e.n()
	if n.auto.curHopLimit != 42 || n.ip6.reachable != 20*time.Second || n.ip6.retrans != 500*time.Millisecond {
		t.Fatalf("hop limit %d reachable %v retrans %v", n.auto.curHopLimit, n.ip6.reachable, n.ip6.retrans)
	}
	// DAD with the new RetransTimer (500 ms), then preferred and reported.
	ns := 0
	for i := 0; i < 100 && e.addrs6()[a.prefix.Addr()] == addrTentative; i++ {
		e.advance(10 * time.Millisecond)
		ns += len(ofType(e.take(), wire.ICMPv6NeighborSolicitation))
	}
	if ns != 1 || e.addrs6()[a.prefix.Addr()] != addrPreferred {
		t.Fatalf("%d probes, state %v", ns, e.addrs6()[a.prefix.Addr()])
	}
	if len(e.events) != 1 || e.events[0] != (addrEvent{a.prefix, true}) {
		t.Fatalf("events %v", e.events)
	}
	// Deprecated when the preferred lifetime (3600 s from the RA) ends, removed at the valid lifetime.
	until := func(t time.Duration) { e.runUntil(raAt + t - e.clk.t) }
	until(3600*time.Second - time.Millisecond)
	if e.addrs6()[a.prefix.Addr()] != addrPreferred {
		t.Fatal("deprecated early")
	}
	until(3600 * time.Second)
	if e.addrs6()[a.prefix.Addr()] != addrDeprecated {
		t.Fatalf("state %v after the preferred lifetime", e.addrs6()[a.prefix.Addr()])
	}
	until(7200*time.Second - time.Millisecond)
	if _, ok := e.addrs6()[a.prefix.Addr()]; !ok {
		t.Fatal("removed before the valid lifetime")
	}
	until(7200 * time.Second)
	if _, ok := e.addrs6()[a.prefix.Addr()]; ok {
		t.Fatal("not removed after the valid lifetime")
	}
	if last := e.events[len(e.events)-1]; last != (addrEvent{a.prefix, false}) {
		t.Fatalf("removal not reported: %v", e.events)
	}
	st := e.s.Stats().Autoconf
	if st.AddressesDeprecated != 1 || st.AddressesExpired != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The router (1800 s) and the prefix (7200 s) expired too.
	if len(e.s.DefaultRouters(e.nic)) != 0 || slices.ContainsFunc(e.s.Routes(), func(r Route) bool { return r.Dst == prefixA }) {
		t.Fatal("router or on-link prefix kept past its lifetime")
	}
}

func TestSLAACTwoHourRule(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 86400, 86400}}})
	e.runUntil(2 * time.Second)
	start := e.clk.t
	remaining := func() time.Duration { a, _ := e.slaacAddr(prefixA); return a.validUntil - e.clk.t }
	// A short valid lifetime cannot cut a long remaining one below 2 hours.
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 60, 30}}})
	if r := remaining(); r != twoHours {
		t.Fatalf("remaining %v after a 60 s update, want 2h", r)
	}
	// Within 2 hours, shorter updates are ignored.
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 60, 30}}})
	if r := remaining(); r != twoHours {
		t.Fatalf("remaining %v, want 2h unchanged", r)
	}
	// Longer than remaining: taken.
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 3 * 3600, 30}}})
	if r := remaining(); r != 3*time.Hour {
		t.Fatalf("remaining %v, want 3h", r)
	}
	// Infinite.
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 0xffffffff, 0xffffffff}}})
	if a, _ := e.slaacAddr(prefixA); a.validUntil != forever || a.preferredUntil != forever {
		t.Fatal("infinite lifetimes not kept")
	}
	_ = start
	// Preferred 0 deprecates at once; a later non-zero one makes it preferred again.
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 0xffffffff, 0}}})
	a, _ := e.slaacAddr(prefixA)
	if e.addrs6()[a.prefix.Addr()] != addrDeprecated {
		t.Fatal("preferred lifetime 0 did not deprecate")
	}
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 0xffffffff, 100}}})
	if e.addrs6()[a.prefix.Addr()] != addrPreferred {
		t.Fatal("a new preferred lifetime did not make it preferred again")
	}
}

func TestPrefixIgnored(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{prefixes: []pio{
		{netip.MustParsePrefix("2001:db8:3::/48"), lA, 100, 100},                       // not /64
		{netip.MustParsePrefix("fe80::/64"), lA, 100, 100},                             // link-local
		{prefixB, lA, 100, 200},                                                        // preferred > valid
		{netip.MustParsePrefix("2001:db8:4::/64"), wire.NDPPrefixFlagOnLink, 100, 100}, // no A flag
	}})
	for _, a := range e.n().auto.addrs {
		if !a.linkLocal {
			t.Fatalf("address %v formed from an unusable prefix", a.prefix)
		}
	}
	if got := e.s.Stats().Autoconf.PrefixIgnored; got != 3 {
		t.Fatalf("PrefixIgnored %d, want 3", got)
	}
	// SLAAC disabled: on-link only.
	e2 := newEnv6(t, func(c *Config) { c.SLAAC.Disabled = true })
	e2.settle()
	e2.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 100, 100}}})
	if _, ok := e2.slaacAddr(prefixA); ok {
		t.Fatal("SLAAC address formed with SLAAC disabled")
	}
}

func TestSpoofedRA(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	ra := raMsg(raSpec{lifetime: 1800, prefixes: []pio{{prefixA, lA, 100, 100}}})
	dropped := func() uint64 { st := e.s.Stats(); return st.NDP.InInvalid + st.Autoconf.InSpoofedRAs }
	// A global source address.
	e.inject(routerMAC, netip.MustParseAddr("2001:db8::1"), wire.IPv6AllNodes, 255, false, ra)
	if dropped() != 1 {
		t.Fatalf("stats %+v %+v", e.s.Stats().NDP, e.s.Stats().Autoconf)
	}
	// Hop limit 254: forwarded, so not from the link (dropped by ICMPv6 input).
	e.inject(routerMAC, routerLL, wire.IPv6AllNodes, 254, false, ra)
	if dropped() != 2 {
		t.Fatalf("stats %+v %+v", e.s.Stats().NDP, e.s.Stats().Autoconf)
	}
	// Straight to the hook, as if ICMPv6 input had not checked the source.
	m, _ := wire.ParseICMPv6(ra)
	e.s.handleRouterAdvert(e.n(), netip.MustParseAddr("2001:db8::1"), wire.IPv6AllNodes, m)
	if e.s.Stats().Autoconf.InSpoofedRAs == 0 {
		t.Fatal("spoofed RA not counted by the hook")
	}
	if len(e.s.DefaultRouters(e.nic)) != 0 || len(e.n().auto.addrs) != 1 || e.s.Stats().Autoconf.InRouterAdvertisements != 0 {
		t.Fatal("spoofed RA used")
	}
}

func TestRAMTU(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{mtu: 1400})
	if got := e.n().mtu6(); got != 1400 {
		t.Fatalf("MTU %d, want 1400", got)
	}
	e.sendRA(raSpec{mtu: 1000})
	e.sendRA(raSpec{mtu: 9000})
	if got := e.n().mtu6(); got != 1400 {
		t.Fatalf("MTU %d after bad options, want 1400", got)
	}
	if got := e.s.Stats().Autoconf.MTUIgnored; got != 2 {
		t.Fatalf("MTUIgnored %d, want 2", got)
	}
}

func TestRDNSS(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	d1, d2 := netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8::54")
	e.sendRA(raSpec{rdnss: []netip.Addr{d1, d2}, rdnssLife: 600})
	if got := e.s.RDNSS(e.nic); !slices.Equal(got, []netip.Addr{d1, d2}) {
		t.Fatalf("RDNSS %v", got)
	}
	e.runUntil(300 * time.Second)
	e.sendRA(raSpec{rdnss: []netip.Addr{d2}, rdnssLife: 600}) // refresh d2 only
	e.runUntil(301 * time.Second)
	if got := e.s.RDNSS(e.nic); !slices.Equal(got, []netip.Addr{d2}) {
		t.Fatalf("RDNSS %v after d1 expired", got)
	}
	e.sendRA(raSpec{rdnss: []netip.Addr{d2}, rdnssLife: 0})
	if got := e.s.RDNSS(e.nic); len(got) != 0 {
		t.Fatalf("RDNSS %v after lifetime 0", got)
	}
}

func TestRAFloodBounded(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	cfg := e.s.cfg.SLAAC
	for i := 0; i < 50; i++ {
		src := netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 14: byte(i >> 8), 15: byte(i + 10)})
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 4: 0x10, 5: byte(i)}), 64)
		dns := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 15: byte(i + 1)})
		e.inject(routerMAC, src, wire.IPv6AllNodes, 255, false,
			raMsg(raSpec{lifetime: 1800, prefixes: []pio{{p, lA, 3600, 3600}}, rdnss: []netip.Addr{dns}, rdnssLife: 600}))
	}
	n := e.n()
	slaac := len(n.auto.addrs) - 1
	if slaac != cfg.MaxAddresses || len(n.auto.routers) != cfg.MaxRouters || len(n.auto.prefixes) != cfg.MaxPrefixes || len(n.auto.rdnss) != cfg.MaxRDNSS {
		t.Fatalf("addresses %d routers %d prefixes %d rdnss %d", slaac, len(n.auto.routers), len(n.auto.prefixes), len(n.auto.rdnss))
	}
	st := e.s.Stats().Autoconf
	if st.AddressesFull != uint64(50-cfg.MaxAddresses) || st.RoutersFull != uint64(50-cfg.MaxRouters) ||
		st.PrefixesFull != uint64(50-cfg.MaxPrefixes) || st.RDNSSFull != uint64(50-cfg.MaxRDNSS) || st.InRouterAdvertisements != 50 {
		t.Fatalf("stats %+v", st)
	}
}

// redirectMsg builds a redirect for dst to target with a target link-layer option.
func redirectMsg(target, dst netip.Addr) []byte {
	b := make([]byte, wire.NDPRedirectLen+8)
	l := wire.PutNDPRedirect(b, target, dst)
	l += wire.PutNDPLinkLayerOption(b[l:], wire.NDPOptTargetLinkAddr, otherMAC)
	return b[:l]
}

func TestRedirect(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{lifetime: 1800, prefixes: []pio{{prefixA, lA, 3600, 3600}}})
	e.runUntil(3 * time.Second)
	e.link.take()
	ll := e.linkLocal()
	far := netip.MustParseAddr("2001:db8:99::1")
	better := netip.MustParseAddr("fe80::77")
	if hop, ok := e.s.firstHop6(e.n(), far); !ok || hop != routerLL {
		t.Fatalf("first hop %v %v before the redirect", hop, ok)
	}
	// From a link-local address that is not the router: dropped.
	e.inject(otherMAC, router2LL, ll, 255, false, redirectMsg(better, far))
	if st := e.s.Stats().Autoconf; st.RedirectsFromNonRouters != 1 || st.InRedirects != 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, ok := e.s.redirectNextHop(e.n(), far); ok {
		t.Fatal("redirect from a non-router used")
	}
	// Invalid: target neither link-local nor the destination.
	e.inject(routerMAC, routerLL, ll, 255, false, redirectMsg(netip.MustParseAddr("2001:db8::5"), far))
	if e.s.Stats().Autoconf.InRedirectErrors != 1 {
		t.Fatalf("stats %+v", e.s.Stats().Autoconf)
	}
	// From the router: accepted.
	e.inject(routerMAC, routerLL, ll, 255, false, redirectMsg(better, far))
	if hop, ok := e.s.redirectNextHop(e.n(), far); !ok || hop != better {
		t.Fatalf("next hop %v %v after the redirect", hop, ok)
	}
	if e.s.Stats().Autoconf.InRedirects != 1 {
		t.Fatal("redirect not counted")
	}
	if ne := e.s.ip6.ndp.find(e.nic, better); ne == nil || ne.mac != otherMAC || !ne.router {
		t.Fatalf("target link-layer address not recorded: %+v", ne)
	}
	if ne := e.s.ip6.ndp.find(e.nic, routerLL); ne == nil || ne.mac != routerMAC || !ne.router {
		t.Fatalf("RA source link-layer address not recorded: %+v", ne)
	}
	// Now the first hop for far is fe80::77: the old router may no longer redirect it.
	e.inject(routerMAC, routerLL, ll, 255, false, redirectMsg(router2LL, far))
	if hop, _ := e.s.redirectNextHop(e.n(), far); hop != better || e.s.Stats().Autoconf.RedirectsFromNonRouters != 2 {
		t.Fatal("redirect from the former first hop accepted")
	}
	// Redirected to the destination itself: it is on-link.
	near := netip.MustParseAddr("2001:db8:98::5")
	e.inject(routerMAC, routerLL, ll, 255, false, redirectMsg(near, near))
	if hop, ok := e.s.redirectNextHop(e.n(), near); !ok || hop != near {
		t.Fatalf("on-link redirect gave %v %v", hop, ok)
	}
	// Multicast destinations cannot be redirected.
	e.inject(routerMAC, routerLL, ll, 255, false, redirectMsg(better, grp6A))
	if e.s.Stats().Autoconf.InRedirectErrors != 2 {
		t.Fatalf("stats %+v", e.s.Stats().Autoconf)
	}
	// The router's default-router lifetime ends: its redirects go.
	e.sendRA(raSpec{lifetime: 0})
	if _, ok := e.s.redirectNextHop(e.n(), far); ok {
		t.Fatal("redirect kept after its router left")
	}
}

// TestAutoconfSteadyStateAllocs checks that refreshing router
// advertisements and answering MLD queries allocate nothing.
func TestAutoconfSteadyStateAllocs(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	if err := e.s.JoinGroup(e.nic, grp6A); err != nil {
		t.Fatal(err)
	}
	ra := raMsg(raSpec{lifetime: 1800, mtu: 1400, prefixes: []pio{{prefixA, lA, 3600, 3600}},
		rdnss: []netip.Addr{netip.MustParseAddr("2001:db8::53")}, rdnssLife: 600})
	q := v2Query(time.Second, netip.IPv6Unspecified(), 2)
	build := func(src, dst netip.Addr, hop uint8, alert bool, msg []byte) []byte {
		m := append([]byte(nil), msg...)
		wire.SetICMPv6Checksum(m, src, dst)
		var ext []byte
		next := uint8(wire.ProtoICMPv6)
		if alert { // MLD's hop-by-hop router alert (RFC 3810 5)
			opts := []wire.IPv6Option{{Type: wire.IPv6OptRouterAlert, Data: []byte{0, 0}}}
			ext = make([]byte, wire.IPv6OptionsHeaderLen(opts))
			wire.PutIPv6OptionsHeader(ext, wire.ProtoICMPv6, opts)
			next = wire.ProtoHopByHop
		}
		pkt := make([]byte, wire.IPv6HeaderLen+len(ext)+len(m))
		h := wire.IPv6Header{PayloadLength: len(ext) + len(m), NextHeader: next, HopLimit: hop, Src: src, Dst: dst}
		h.Encode(pkt)
		copy(pkt[wire.IPv6HeaderLen:], ext)
		copy(pkt[wire.IPv6HeaderLen+len(ext):], m)
		return ethFrame(wire.IPv6MulticastMAC(dst), routerMAC, wire.EtherTypeIPv6, pkt)
	}
	raF := build(routerLL, wire.IPv6AllNodes, 255, false, ra)
	qF := build(routerLL, wire.IPv6AllNodes, 1, true, q)
	e.s.Input(e.nic, raF)
	e.runUntil(5 * time.Second)
	e.link.take()
	sink := &sinkLink{}
	e.n().link = sink
	allocs := testing.AllocsPerRun(100, func() {
		e.s.Input(e.nic, raF)
		e.s.Input(e.nic, qF)
		e.clk.t += 2 * time.Second
		e.s.Poll()
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per RA + query + report", allocs)
	}
	if sink.n < 100 {
		t.Fatalf("%d reports sent in 101 rounds", sink.n)
	}
}

// sinkLink counts the frames it is given without keeping them.
type sinkLink struct{ n int }

func (l *sinkLink) Send([]byte) error { l.n++; return nil }

// BenchmarkRouterAdvertisement measures processing a refreshing router
// advertisement (router, prefix with SLAAC address, MTU, RDNSS).
func BenchmarkRouterAdvertisement(b *testing.B) {
	e := newEnv6(b, nil)
	e.settle()
	ra := raMsg(raSpec{lifetime: 1800, mtu: 1400, prefixes: []pio{{prefixA, lA, 3600, 3600}},
		rdnss: []netip.Addr{netip.MustParseAddr("2001:db8::53")}, rdnssLife: 600})
	wire.SetICMPv6Checksum(ra, routerLL, wire.IPv6AllNodes)
	m, err := wire.ParseICMPv6(ra)
	if err != nil {
		b.Fatal(err)
	}
	n := e.n()
	e.s.handleRouterAdvert(n, routerLL, wire.IPv6AllNodes, m)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.s.handleRouterAdvert(n, routerLL, wire.IPv6AllNodes, m)
	}
}

// TestNAClearingRouterFlagRemovesDefaultRouter: a neighbor advertisement
// that clears the router flag of a default router removes it from the
// Default Router List with its default route (RFC 4861 7.2.5); other
// routers stay, an advertisement that keeps the flag changes nothing,
// and one ignored for a changed address without Override (7.2.5) does not
// change the flag either.
func TestNAClearingRouterFlagRemovesDefaultRouter(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{lifetime: 1800})
	e.inject(routerMAC, router2LL, wire.IPv6AllNodes, 255, false, raMsg(raSpec{lifetime: 1800}))
	if got := e.s.DefaultRouters(e.nic); !slices.Equal(got, []netip.Addr{routerLL, router2LL}) {
		t.Fatalf("default routers %v", got)
	}
	na := func(flags uint8, mac wire.MAC) {
		t.Helper()
		m := make([]byte, 32)
		l := wire.PutNDPNeighborAdvertisement(m, flags, routerLL)
		l += wire.PutNDPLinkLayerOption(m[l:], wire.NDPOptTargetLinkAddr, mac)
		e.inject(mac, routerLL, wire.IPv6AllNodes, 255, false, m[:l])
	}
	hasDefault := func(gw netip.Addr) bool {
		return slices.ContainsFunc(e.s.Routes(), func(r Route) bool { return r.Dst.Bits() == 0 && r.Gateway == gw })
	}
	isRouter := func(ip netip.Addr) bool {
		for _, nb := range e.s.Neighbors() {
			if nb.IP == ip {
				return nb.Router
			}
		}
		t.Fatalf("no neighbor entry for %v", ip)
		return false
	}
	if !isRouter(routerLL) || !hasDefault(routerLL) {
		t.Fatal("router advertisement did not mark the router")
	}
	na(wire.NDPNAFlagRouter|wire.NDPNAFlagOverride, routerMAC) // still a router
	if !slices.Contains(e.s.DefaultRouters(e.nic), routerLL) || !isRouter(routerLL) {
		t.Fatal("router dropped by an advertisement with the router flag")
	}
	na(0, otherMAC) // another address without Override: ignored but for STALE
	if !slices.Contains(e.s.DefaultRouters(e.nic), routerLL) || !isRouter(routerLL) {
		t.Fatal("router dropped by an ignored advertisement")
	}
	na(wire.NDPNAFlagOverride, routerMAC) // router flag cleared
	if got := e.s.DefaultRouters(e.nic); !slices.Equal(got, []netip.Addr{router2LL}) {
		t.Fatalf("default routers %v after the router flag was cleared", got)
	}
	if hasDefault(routerLL) || !hasDefault(router2LL) {
		t.Fatalf("routes %v", e.s.Routes())
	}
	if isRouter(routerLL) || e.s.Stats().NDP.RouterToHost != 1 {
		t.Fatalf("neighbor still a router, or not counted: %+v", e.s.Stats().NDP)
	}
	// A later router advertisement makes it a default router again, and
	// marks its existing neighbor entry a router even without a source
	// link-layer address option (RFC 4861 6.3.4).
	e.sendRA(raSpec{lifetime: 1800, noSLLA: true})
	if !slices.Contains(e.s.DefaultRouters(e.nic), routerLL) || !isRouter(routerLL) {
		t.Fatal("router not restored by its advertisement")
	}
}
