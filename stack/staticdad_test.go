package stack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// Tests of duplicate address detection for static IPv6 addresses
// (staticdad.go, RFC 4862 5.4), on virtual time.

var (
	staticA   = netip.MustParseAddr("2001:db8:5::99")
	staticPfx = netip.PrefixFrom(staticA, 64)
	peer5     = netip.MustParseAddr("2001:db8:5::1")
)

// echo6Msg builds an ICMPv6 echo request (inject fills in the checksum).
func echo6Msg(id, seq uint16) []byte {
	m := make([]byte, 8+4)
	wire.PutICMPv6(m, wire.ICMPv6EchoRequest, 0, uint32(id)<<16|uint32(seq))
	copy(m[8:], "ping")
	return m
}

// probesFor returns the DAD probes for target among ms, checking each is
// a well-formed DAD NS (RFC 4862 5.4.2): from ::, to the target's
// solicited-node group, hop limit 255, no options.
func probesFor(t *testing.T, ms []sent6, target netip.Addr) []sent6 {
	t.Helper()
	var out []sent6
	for _, m := range ofType(ms, wire.ICMPv6NeighborSolicitation) {
		ns, err := wire.ParseNDPNeighborSolicitation(m.msg)
		if err != nil {
			t.Fatal(err)
		}
		if ns.Target() != target {
			continue
		}
		if m.src != unspec6() || m.dst != wire.SolicitedNodeMulticast(target) || m.hop != 255 || len(ns.Options()) != 0 {
			t.Fatalf("DAD probe %v -> %v hop %d options %x", m.src, m.dst, m.hop, ns.Options())
		}
		out = append(out, m)
	}
	return out
}

// answersFor reports whether ms holds an echo reply from a or an NA for a.
func answersFor(t *testing.T, ms []sent6, a netip.Addr) bool {
	t.Helper()
	for _, m := range ms {
		if m.typ == wire.ICMPv6EchoReply && m.src == a {
			return true
		}
		if m.typ == wire.ICMPv6NeighborAdvertisement {
			na, err := wire.ParseNDPNeighborAdvertisement(m.msg)
			if err != nil {
				t.Fatal(err)
			}
			if na.Target() == a {
				return true
			}
		}
	}
	return false
}

// poke sends a to-be-ignored echo request and address resolution NS to a
// (the NS from a unicast source is not a DAD conflict) and returns what
// the stack sent.
func (e *env6) poke(a netip.Addr) []sent6 {
	e.inject(otherMAC, peer5, a, 64, false, echo6Msg(7, 1))
	b := make([]byte, wire.NDPNeighborSolicitationLen+8)
	l := wire.PutNDPNeighborSolicitation(b, a)
	l += wire.PutNDPLinkLayerOption(b[l:], wire.NDPOptSourceLinkAddr, otherMAC)
	e.inject(otherMAC, peer5, wire.SolicitedNodeMulticast(a), 255, false, b[:l])
	return e.take()
}

func TestStaticDADPasses(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.events = nil
	before := e.s.Stats().Autoconf
	if err := e.s.AddAddress(e.nic, staticPfx); err != nil {
		t.Fatal(err)
	}
	if st, ok := e.addrs6()[staticA]; !ok || st != addrTentative {
		t.Fatalf("static address state %v (present %v), want tentative", st, ok)
	}
	if !e.s.hasRoute(Route{Dst: staticPfx.Masked(), NIC: e.nic}) {
		t.Fatal("no connected route for the tentative address's prefix")
	}
	// The solicited-node group is joined (MLD) before the probe.
	_, recs := mldMsgs(t, e.take())
	if len(recsFor(recs, wire.SolicitedNodeMulticast(staticA))) == 0 {
		t.Fatalf("solicited-node group not reported before the probe: %v", recs)
	}
	// Tentative: not a source, not answered for.
	if src, _ := e.s.SelectSource(peer5, e.nic); src == staticA {
		t.Fatal("tentative address selected as a source")
	}
	if e.s.IsLocal(staticA) {
		t.Fatal("tentative address is local")
	}
	start := e.clk.t
	e.advance(0) // the probe goes out at the next Poll
	ms := e.take()
	if p := probesFor(t, ms, staticA); len(p) != 1 {
		t.Fatalf("%d DAD probes at once, want 1 (sent %d messages)", len(p), len(ms))
	}
	if ms := e.poke(staticA); answersFor(t, ms, staticA) {
		t.Fatal("a tentative address answered an echo request or a solicitation")
	}
	if _, ok := e.addrs6()[staticA]; !ok {
		t.Fatal("address resolution for a tentative address taken as a conflict")
	}
	e.runUntil(start + time.Second - time.Millisecond - e.clk.t)
	if st := e.addrs6()[staticA]; st != addrTentative {
		t.Fatalf("state %v before RetransTimer passed", st)
	}
	if len(e.events) != 0 {
		t.Fatalf("events before DAD passed: %v", e.events)
	}
	e.runUntil(time.Millisecond)
	if st := e.addrs6()[staticA]; st != addrPreferred {
		t.Fatalf("state %v after RetransTimer, want preferred", st)
	}
	if len(e.events) != 1 || e.events[0] != (addrEvent{staticPfx, true}) {
		t.Fatalf("events %v, want %v added", e.events, staticPfx)
	}
	after := e.s.Stats().Autoconf
	if after.OutDADSolicits-before.OutDADSolicits != 1 || after.AddressesFormed-before.AddressesFormed != 1 || after.DADFailures != 0 {
		t.Fatalf("stats before %+v after %+v", before, after)
	}
	if src, _ := e.s.SelectSource(peer5, e.nic); src != staticA {
		t.Fatalf("source for %v is %v, want the static address", peer5, src)
	}
	if !e.s.IsLocal(staticA) {
		t.Fatal("preferred static address not local")
	}
	e.take()
	if ms := e.poke(staticA); !answersFor(t, ms, staticA) {
		t.Fatal("the preferred static address answers nothing")
	}
	// Nothing more to do: no further probes.
	e.runUntil(10 * time.Second)
	if p := probesFor(t, e.take(), staticA); len(p) != 0 {
		t.Fatalf("%d probes after DAD passed", len(p))
	}
}

func TestStaticDADTransmits(t *testing.T) {
	e := newEnv6(t, func(c *Config) { c.SLAAC.DupAddrDetectTransmits = 3 })
	e.settle()
	if err := e.s.AddAddress(e.nic, staticPfx); err != nil {
		t.Fatal(err)
	}
	start := e.clk.t
	var at []time.Duration
	for e.addrs6()[staticA] == addrTentative && e.clk.t < start+10*time.Second {
		e.advance(100 * time.Millisecond)
		for range probesFor(t, e.take(), staticA) {
			at = append(at, e.clk.t-start)
		}
	}
	want := []time.Duration{100 * time.Millisecond, 1100 * time.Millisecond, 2100 * time.Millisecond}
	if len(at) != 3 || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
		t.Fatalf("probes at %v, want %v", at, want)
	}
	if got := e.clk.t - start; got != 3100*time.Millisecond || e.addrs6()[staticA] != addrPreferred {
		t.Fatalf("preferred after %v (state %v), want 3.1s", got, e.addrs6()[staticA])
	}
}

func TestStaticDADFailure(t *testing.T) {
	for _, tc := range []struct {
		name          string
		src, dst      netip.Addr
		msg           []byte
		beforeProbing bool
	}{
		{"NA", netip.MustParseAddr("fe80::99"), wire.IPv6AllNodes, naMsg(staticA, wire.NDPNAFlagOverride), false},
		{"NS from ::", unspec6(), wire.SolicitedNodeMulticast(staticA), nsMsg(staticA), false},
		{"NA before the first probe", netip.MustParseAddr("fe80::99"), wire.IPv6AllNodes, naMsg(staticA, wire.NDPNAFlagOverride), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv6(t, nil)
			e.settle()
			e.events = nil
			if err := e.s.AddAddress(e.nic, staticPfx); err != nil {
				t.Fatal(err)
			}
			if !tc.beforeProbing {
				e.advance(200 * time.Millisecond)
				if p := probesFor(t, e.take(), staticA); len(p) != 1 {
					t.Fatalf("%d probes", len(p))
				}
			}
			e.take()
			e.inject(otherMAC, tc.src, tc.dst, 255, false, tc.msg)
			if ms := e.take(); answersFor(t, ms, staticA) {
				t.Fatal("the duplicate was defended")
			}
			if _, ok := e.addrs6()[staticA]; ok {
				t.Fatal("duplicate static address still on the interface")
			}
			for _, p := range e.s.Addresses(e.nic) {
				if p.Addr() == staticA {
					t.Fatalf("Addresses lists the duplicate: %v", e.s.Addresses(e.nic))
				}
			}
			if e.s.hasRoute(Route{Dst: staticPfx.Masked(), NIC: e.nic}) {
				t.Fatal("the duplicate's connected route stays")
			}
			if len(e.dadFails) != 1 || e.dadFails[0] != staticA {
				t.Fatalf("DAD failures reported %v, want %v", e.dadFails, staticA)
			}
			if st := e.s.Stats().Autoconf; st.DADFailures != 1 || st.DADRetries != 0 {
				t.Fatalf("stats %+v", st)
			}
			// Never used: no further probe, no event, no answer, no source.
			e.runUntil(5 * time.Second)
			ms := e.take()
			if p := probesFor(t, ms, staticA); len(p) != 0 {
				t.Fatalf("%d probes after the failure", len(p))
			}
			if len(e.events) != 0 {
				t.Fatalf("events %v", e.events)
			}
			if ms := e.poke(staticA); answersFor(t, ms, staticA) {
				t.Fatal("the duplicate answers")
			}
			if src, _ := e.s.SelectSource(peer5, e.nic); src == staticA {
				t.Fatal("the duplicate is selected as a source")
			}
			if err := e.s.RemoveAddress(e.nic, staticA); err != ErrNotFound {
				t.Fatalf("RemoveAddress of the duplicate: %v, want ErrNotFound", err)
			}
			// Added again, DAD runs again and (no conflict now) passes.
			if err := e.s.AddAddress(e.nic, staticPfx); err != nil {
				t.Fatal(err)
			}
			e.runUntil(2 * time.Second)
			if e.addrs6()[staticA] != addrPreferred || len(e.events) != 1 {
				t.Fatalf("re-added: state %v, events %v", e.addrs6()[staticA], e.events)
			}
		})
	}
}

func TestStaticNoDAD(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		add  func(s *Stack, n NIC, p netip.Prefix) error
	}{
		{"AddAddressNoDAD", nil, (*Stack).AddAddressNoDAD},
		{"DupAddrDetectTransmits -1", func(c *Config) { c.SLAAC.DupAddrDetectTransmits = -1 }, (*Stack).AddAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv6(t, tc.mut)
			e.settle()
			e.events = nil
			before := e.s.Stats().Autoconf
			if err := tc.add(e.s, e.nic, staticPfx); err != nil {
				t.Fatal(err)
			}
			if st := e.addrs6()[staticA]; st != addrPreferred {
				t.Fatalf("state %v, want preferred at once", st)
			}
			if ms := e.poke(staticA); !answersFor(t, ms, staticA) {
				t.Fatal("the address answers nothing")
			}
			e.runUntil(3 * time.Second)
			if p := probesFor(t, e.take(), staticA); len(p) != 0 {
				t.Fatalf("%d DAD probes", len(p))
			}
			if after := e.s.Stats().Autoconf; after.OutDADSolicits != before.OutDADSolicits || len(e.events) != 0 {
				t.Fatalf("probes %d -> %d, events %v", before.OutDADSolicits, after.OutDADSolicits, e.events)
			}
			// Down and up: still no DAD.
			_ = e.s.SetUp(e.nic, false)
			_ = e.s.SetUp(e.nic, true)
			if st := e.addrs6()[staticA]; st != addrPreferred {
				t.Fatalf("state %v after down and up", st)
			}
		})
	}
	// IPv4 addresses: AddAddressNoDAD is AddAddress.
	e := newEnv6(t, nil)
	if err := e.s.AddAddressNoDAD(e.nic, netip.MustParsePrefix("192.168.5.2/24")); err != nil || !e.s.IsLocal(netip.MustParseAddr("192.168.5.2")) {
		t.Fatalf("IPv4 AddAddressNoDAD: %v", err)
	}
}

func TestStaticDADRemovedDuringDAD(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.events = nil
	if err := e.s.AddAddress(e.nic, staticPfx); err != nil {
		t.Fatal(err)
	}
	e.advance(100 * time.Millisecond)
	if p := probesFor(t, e.take(), staticA); len(p) != 1 {
		t.Fatalf("%d probes", len(p))
	}
	if err := e.s.RemoveAddress(e.nic, staticA); err != nil {
		t.Fatal(err)
	}
	pending := false
	e.n().staticDADDeadline(func(time.Duration) { pending = true })
	if pending {
		t.Fatal("a DAD timer is still pending after the tentative address was removed")
	}
	e.runUntil(5 * time.Second)
	if p := probesFor(t, e.take(), staticA); len(p) != 0 {
		t.Fatalf("%d probes after removal", len(p))
	}
	if len(e.events) != 0 || e.s.Stats().Autoconf.DADFailures != 0 {
		t.Fatalf("events %v, stats %+v", e.events, e.s.Stats().Autoconf)
	}
	// A later NA for it is not a DAD failure of ours.
	e.inject(otherMAC, netip.MustParseAddr("fe80::99"), wire.IPv6AllNodes, 255, false, naMsg(staticA, 0))
	if len(e.dadFails) != 0 {
		t.Fatalf("DAD failure reported for a removed address: %v", e.dadFails)
	}
}

func TestStaticDADInterfaceUpDown(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	_ = e.s.SetUp(e.nic, false)
	e.events = nil
	// Added while down: tentative, no probes until up.
	if err := e.s.AddAddress(e.nic, staticPfx); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.s.NextDeadline(); ok {
		t.Fatal("timers pending on a down interface")
	}
	if st := e.addrs6()[staticA]; st != addrTentative {
		t.Fatalf("state %v while down, want tentative", st)
	}
	up := func() {
		t.Helper()
		_ = e.s.SetUp(e.nic, true)
		start := e.clk.t
		var first time.Duration = -1
		for e.addrs6()[staticA] == addrTentative && e.clk.t < start+5*time.Second {
			e.advance(10 * time.Millisecond)
			if p := probesFor(t, e.take(), staticA); len(p) > 0 && first < 0 {
				first = e.clk.t - start
			}
		}
		// The first probe after up waits a random delay (RFC 4862 5.4.2).
		if first < 0 || first > time.Second+10*time.Millisecond {
			t.Fatalf("first probe after up at %v", first)
		}
		if st := e.addrs6()[staticA]; st != addrPreferred {
			t.Fatalf("state %v after DAD at up", st)
		}
	}
	up()
	if n := countEvents(e.events, addrEvent{staticPfx, true}); n != 1 {
		t.Fatalf("events %v: %v added %d times, want once", e.events, staticPfx, n)
	}
	// Down: reported gone, tentative again; up: DAD again.
	e.events = nil
	_ = e.s.SetUp(e.nic, false)
	if st := e.addrs6()[staticA]; st != addrTentative {
		t.Fatalf("state %v after down, want tentative", st)
	}
	if countEvents(e.events, addrEvent{staticPfx, false}) != 1 {
		t.Fatalf("events at down %v lack %v removed", e.events, staticPfx)
	}
	e.events = nil
	up()
	if countEvents(e.events, addrEvent{staticPfx, true}) != 1 {
		t.Fatalf("events after up %v lack %v added", e.events, staticPfx)
	}
}

func TestStaticDADLoopback(t *testing.T) {
	e := newEnv6(t, nil)
	lo := e.s.nic(1)
	if lo == nil || lo.kind != LinkLoopback {
		t.Skip("no loopback interface at NIC 1")
	}
	if e := lo.find6(netip.IPv6Loopback()); e == nil || e.state != addrPreferred {
		t.Fatal("::1 is not preferred at once")
	}
}

func countEvents(evs []addrEvent, want addrEvent) int {
	n := 0
	for _, ev := range evs {
		if ev == want {
			n++
		}
	}
	return n
}
