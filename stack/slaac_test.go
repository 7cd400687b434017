package stack

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// Helpers for the autoconfiguration and MLD tests (slaac_test.go,
// ra_test.go, mld_test.go).

var (
	routerMAC = wire.MAC{2, 0, 0, 0, 0, 0xfe}
	routerLL  = netip.MustParseAddr("fe80::1")
	router2LL = netip.MustParseAddr("fe80::2")
	otherMAC  = wire.MAC{2, 0, 0, 0, 0, 0x33}
	prefixA   = netip.MustParsePrefix("2001:db8:1::/64")
	prefixB   = netip.MustParsePrefix("2001:db8:2::/64")
)

type addrEvent struct {
	p     netip.Prefix
	added bool
}

type env6 struct {
	t        testing.TB
	s        *Stack
	clk      *fakeClock
	link     *recLink
	nic      NIC
	events   []addrEvent
	dadFails []netip.Addr
}

// newEnv6 builds a stack with eth0 on a recording link and brings it up
// at virtual time 1h; nothing has been sent yet.
func newEnv6(t testing.TB, mut func(*Config)) *env6 {
	t.Helper()
	e := &env6{t: t, clk: &fakeClock{t: time.Hour}, link: &recLink{}}
	cfg := Config{Clock: e.clk, Rand: rand.NewPCG(1, 2)}
	cfg.OnAddressChange = func(nic NIC, p netip.Prefix, added bool) { e.events = append(e.events, addrEvent{p, added}) }
	cfg.OnDADFailure = func(nic NIC, a netip.Addr) { e.dadFails = append(e.dadFails, a) }
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.AddInterface(InterfaceConfig{Name: "eth0", Link: e.link, Kind: LinkEthernet, MTU: 1500, MAC: ourMAC})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUp(n, true); err != nil {
		t.Fatal(err)
	}
	e.s, e.nic = s, n
	return e
}

func (e *env6) advance(d time.Duration) {
	e.clk.t += d
	e.s.Poll()
}

// runUntil polls at every deadline up to now+d, so timers fire on time.
func (e *env6) runUntil(d time.Duration) {
	end := e.clk.t + d
	last, same := time.Duration(-1), 0
	for polls := 0; ; polls++ {
		if polls > 1000000 {
			e.t.Fatalf("more than a million timer events in %v", d)
		}
		t, ok := e.s.NextDeadline()
		if !ok || t > end {
			break
		}
		if t == last {
			if same++; same > 100 {
				e.t.Fatalf("timer at %v does not move after Poll", t)
			}
		}
		last = t
		if t > e.clk.t {
			e.clk.t = t
		}
		e.s.Poll()
	}
	e.clk.t = end
	e.s.Poll()
}

// settle runs DAD and router solicitation to the end and forgets what was sent.
func (e *env6) settle() {
	e.runUntil(15 * time.Second)
	e.link.take()
}

func (e *env6) n() *nic { return e.s.nic(e.nic) }

// sent6 is one ICMPv6 message the stack sent.
type sent6 struct {
	at       time.Duration
	src, dst netip.Addr
	hop      uint8
	alert    bool // hop-by-hop router alert (MLD, RFC 2711 value 0)
	typ      uint8
	msg      []byte
}

// icmp6Frames decodes recorded frames as ICMPv6 messages, checking what
// any receiver would: the Ethernet source and (multicast) destination
// MAC, the extension headers and the ICMPv6 checksum. Other frames are
// skipped.
func icmp6Frames(t testing.TB, frames [][]byte) []sent6 {
	t.Helper()
	var out []sent6
	for _, f := range frames {
		eth, err := wire.ParseEthernet(f)
		if err != nil {
			t.Fatal(err)
		}
		if eth.EtherType() != wire.EtherTypeIPv6 {
			continue
		}
		p, err := wire.ParseIPv6(eth.Payload())
		if err != nil {
			t.Fatalf("bad IPv6 packet: %v", err)
		}
		if eth.Src() != ourMAC {
			t.Fatalf("frame from %v", eth.Src())
		}
		if p.Dst().IsMulticast() && eth.Dst() != wire.IPv6MulticastMAC(p.Dst()) {
			t.Fatalf("frame to %v for %v", eth.Dst(), p.Dst())
		}
		alert := false
		proto, off, err := p.ForEachExtension(func(x wire.IPv6Extension) bool {
			if x.Type == wire.ProtoHopByHop {
				h, err := wire.ParseIPv6Options(x.Data)
				if err != nil {
					t.Fatalf("bad hop-by-hop header: %v", err)
				}
				_ = h.ForEachOption(func(o wire.IPv6Option) bool {
					if v, ok := o.RouterAlert(); ok && v == 0 {
						alert = true
					}
					return true
				})
			}
			return true
		})
		if err != nil || proto != wire.ProtoICMPv6 {
			continue
		}
		m, err := wire.ParseICMPv6(p.Payload()[off:])
		if err != nil || !m.ChecksumValid(p.Src(), p.Dst()) {
			t.Fatalf("bad ICMPv6 message: %v", err)
		}
		out = append(out, sent6{src: p.Src(), dst: p.Dst(), hop: p.HopLimit(), alert: alert, typ: m.Type(),
			msg: append([]byte(nil), m.Bytes()...)})
	}
	return out
}

// take returns the ICMPv6 messages sent since the last take.
func (e *env6) take() []sent6 {
	e.t.Helper()
	return icmp6Frames(e.t, e.link.take())
}

// ofType filters messages by ICMPv6 type.
func ofType(ms []sent6, typ uint8) []sent6 {
	var out []sent6
	for _, m := range ms {
		if m.typ == typ {
			out = append(out, m)
		}
	}
	return out
}

// inject delivers an ICMPv6 message from srcMAC/src to dst with hop
// limit hop (and a router alert hop-by-hop header when alert is set).
func (e *env6) inject(srcMAC wire.MAC, src, dst netip.Addr, hop uint8, alert bool, msg []byte) {
	e.t.Helper()
	var opts []wire.IPv6Option
	if alert {
		opts = []wire.IPv6Option{{Type: wire.IPv6OptRouterAlert, Data: []byte{0, wire.IPv6RouterAlertMLD}}}
	}
	e.injectOpts(srcMAC, src, dst, hop, opts, msg)
}

// injectOpts is inject with the given hop-by-hop options (none: no
// hop-by-hop header).
func (e *env6) injectOpts(srcMAC wire.MAC, src, dst netip.Addr, hop uint8, opts []wire.IPv6Option, msg []byte) {
	e.t.Helper()
	m := append([]byte(nil), msg...)
	wire.SetICMPv6Checksum(m, src, dst)
	var ext []byte
	next := uint8(wire.ProtoICMPv6)
	if len(opts) > 0 {
		ext = make([]byte, wire.IPv6OptionsHeaderLen(opts))
		wire.PutIPv6OptionsHeader(ext, wire.ProtoICMPv6, opts)
		next = wire.ProtoHopByHop
	}
	pkt := make([]byte, wire.IPv6HeaderLen+len(ext)+len(m))
	h := wire.IPv6Header{PayloadLength: len(ext) + len(m), NextHeader: next, HopLimit: hop, Src: src, Dst: dst}
	h.Encode(pkt)
	copy(pkt[wire.IPv6HeaderLen:], ext)
	copy(pkt[wire.IPv6HeaderLen+len(ext):], m)
	dmac := ourMAC
	if dst.IsMulticast() {
		dmac = wire.IPv6MulticastMAC(dst)
	}
	e.s.Input(e.nic, ethFrame(dmac, srcMAC, wire.EtherTypeIPv6, pkt))
}

// addrs6 returns eth0's IPv6 addresses and their states.
func (e *env6) addrs6() map[netip.Addr]addrState {
	out := map[netip.Addr]addrState{}
	for _, a := range e.n().ip6.addrs {
		out[a.prefix.Addr()] = a.state
	}
	return out
}

// linkLocal returns eth0's autoconfigured link-local address (any state).
func (e *env6) linkLocal() netip.Addr {
	for _, a := range e.n().auto.addrs {
		if a.linkLocal {
			return a.prefix.Addr()
		}
	}
	return netip.Addr{}
}

// slaacAddr returns eth0's autoconfigured address in p.
func (e *env6) slaacAddr(p netip.Prefix) (autoAddr, bool) {
	for _, a := range e.n().auto.addrs {
		if a.prefix.Masked() == p {
			return a, true
		}
	}
	return autoAddr{}, false
}

func unspec6() netip.Addr { return netip.IPv6Unspecified() }

// naMsg builds a neighbor advertisement for target.
func naMsg(target netip.Addr, flags uint8) []byte {
	b := make([]byte, wire.NDPNeighborAdvertisementLen+8)
	l := wire.PutNDPNeighborAdvertisement(b, flags, target)
	l += wire.PutNDPLinkLayerOption(b[l:], wire.NDPOptTargetLinkAddr, otherMAC)
	return b[:l]
}

// nsMsg builds a neighbor solicitation for target without options.
func nsMsg(target netip.Addr) []byte {
	b := make([]byte, wire.NDPNeighborSolicitationLen)
	wire.PutNDPNeighborSolicitation(b, target)
	return b
}

func TestStableIID(t *testing.T) {
	e := newEnv6(t, func(c *Config) { c.StableIIDSecret = [16]byte{1, 2, 3} })
	n := e.n()
	var c uint8
	a1 := e.s.interfaceAddr(n, prefixA, &c)
	c = 0
	a2 := e.s.interfaceAddr(n, prefixA, &c)
	if a1 != a2 {
		t.Fatalf("same inputs gave %v and %v", a1, a2)
	}
	if !prefixA.Contains(a1) {
		t.Fatalf("%v not in %v", a1, prefixA)
	}
	c = 0
	b16, a16 := e.s.interfaceAddr(n, prefixB, &c).As16(), a1.As16()
	if [8]byte(b16[8:]) == [8]byte(a16[8:]) {
		t.Fatalf("another prefix gave the same interface identifier %x", b16[8:])
	}
	c = 1
	if b := e.s.interfaceAddr(n, prefixA, &c); b == a1 {
		t.Fatal("another DAD counter gave the same address")
	}
	// The same secret on another stack gives the same address; another
	// interface name or secret does not.
	e2 := newEnv6(t, func(c *Config) { c.StableIIDSecret = [16]byte{1, 2, 3}; c.Rand = rand.NewPCG(9, 9) })
	c = 0
	if b := e2.s.interfaceAddr(e2.n(), prefixA, &c); b != a1 {
		t.Fatalf("same secret on another stack: %v, want %v", b, a1)
	}
	e3 := newEnv6(t, func(c *Config) { c.StableIIDSecret = [16]byte{9} })
	c = 0
	if b := e3.s.interfaceAddr(e3.n(), prefixA, &c); b == a1 {
		t.Fatal("another secret gave the same address")
	}
	n2 := *e2.n()
	n2.name = "eth1"
	c = 0
	if b := e2.s.interfaceAddr(&n2, prefixA, &c); b == a1 {
		t.Fatal("another interface gave the same address")
	}
	// EUI-64 when asked.
	e4 := newEnv6(t, func(c *Config) { c.SLAAC.EUI64 = true })
	c = 0
	if got, want := e4.s.interfaceAddr(e4.n(), linkLocalPrefix, &c), wire.LinkLocalFromMAC(ourMAC); got != want {
		t.Fatalf("EUI-64 address %v, want %v", got, want)
	}
	// A zero secret is derived from Rand: not zero, and stable per stack.
	e5 := newEnv6(t, nil)
	if e5.s.cfg.StableIIDSecret == ([16]byte{}) {
		t.Fatal("secret not derived")
	}
}

func TestReservedIID(t *testing.T) {
	for _, tc := range []struct {
		id   [8]byte
		want bool
	}{
		{[8]byte{}, true},
		{[8]byte{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80}, true},
		{[8]byte{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, false},
		{[8]byte{0x02, 0x00, 0x5e, 0xff, 0xfe, 0x00, 0x52, 0x13}, true},
		{[8]byte{0x02, 0x00, 0x5e, 0xff, 0xfe, 0x01, 0, 0}, false},
		{[8]byte{1}, false},
	} {
		if got := reservedIID(tc.id); got != tc.want {
			t.Errorf("reservedIID(%x) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestLinkLocalDAD(t *testing.T) {
	e := newEnv6(t, nil)
	ll := e.linkLocal()
	if !ll.IsLinkLocalUnicast() {
		t.Fatalf("no link-local address formed: %v", ll)
	}
	var c uint8
	if want := e.s.interfaceAddr(e.n(), linkLocalPrefix, &c); ll != want {
		t.Fatalf("link-local %v, want the stable address %v", ll, want)
	}
	if st, ok := e.addrs6()[ll]; !ok || st != addrTentative {
		t.Fatalf("link-local state %v (present %v), want tentative", st, ok)
	}
	if ms := e.take(); len(ofType(ms, wire.ICMPv6NeighborSolicitation)) != 0 {
		t.Fatal("DAD probe sent before the random delay")
	}
	start := e.clk.t
	// The probe goes out within MAX_RTR_SOLICITATION_DELAY, after the MLD
	// report joining the solicited-node group.
	var ns []sent6
	var joinedBefore bool
	sol := wire.SolicitedNodeMulticast(ll)
	for e.clk.t < start+time.Second && len(ns) == 0 {
		e.advance(10 * time.Millisecond)
		for _, m := range e.take() {
			switch m.typ {
			case wire.ICMPv6MLDv2Report:
				mm, err := wire.ParseMLD(m.msg)
				if err != nil {
					t.Fatal(err)
				}
				mm.ForEachAddressRecord(func(r wire.MLDAddressRecord) bool {
					if r.Group() == sol && r.Type() == wire.MLDv2ChangeToExclude {
						joinedBefore = true
					}
					return true
				})
			case wire.ICMPv6NeighborSolicitation:
				ns = append(ns, m)
			}
		}
	}
	if len(ns) != 1 {
		t.Fatalf("%d DAD probes in the first second", len(ns))
	}
	if !joinedBefore {
		t.Fatal("solicited-node group not joined (MLD) before the probe")
	}
	p := ns[0]
	nsv, err := wire.ParseNDPNeighborSolicitation(p.msg)
	if err != nil {
		t.Fatal(err)
	}
	if p.src != unspec6() || p.dst != sol || p.hop != 255 || nsv.Target() != ll || len(nsv.Options()) != 0 {
		t.Fatalf("DAD probe %v -> %v hop %d target %v options %x", p.src, p.dst, p.hop, nsv.Target(), nsv.Options())
	}
	// RetransTimer later the address is preferred and reported.
	e.advance(999 * time.Millisecond)
	if st := e.addrs6()[ll]; st != addrTentative {
		t.Fatalf("state %v before RetransTimer passed", st)
	}
	e.advance(time.Millisecond)
	if st := e.addrs6()[ll]; st != addrPreferred {
		t.Fatalf("state %v after DAD, want preferred", st)
	}
	if len(e.events) != 1 || e.events[0] != (addrEvent{netip.PrefixFrom(ll, 64), true}) {
		t.Fatalf("events %v", e.events)
	}
	if st := e.s.Stats().Autoconf; st.OutDADSolicits != 1 || st.AddressesFormed != 1 || st.DADFailures != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDADTransmits(t *testing.T) {
	e := newEnv6(t, func(c *Config) { c.SLAAC.DupAddrDetectTransmits = 3 })
	e.runUntil(10 * time.Second)
	ns := ofType(e.take(), wire.ICMPv6NeighborSolicitation)
	if len(ns) != 3 {
		t.Fatalf("%d probes, want 3", len(ns))
	}
	if e.s.Stats().Autoconf.OutDADSolicits != 3 || e.addrs6()[e.linkLocal()] != addrPreferred {
		t.Fatal("address not preferred after three probes")
	}
	// DAD off: preferred at once.
	e2 := newEnv6(t, func(c *Config) { c.SLAAC.DupAddrDetectTransmits = -1 })
	if st := e2.addrs6()[e2.linkLocal()]; st != addrPreferred {
		t.Fatalf("state %v without DAD", st)
	}
}

func TestDADFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  func(ll netip.Addr) (netip.Addr, netip.Addr, []byte)
	}{
		{"NA", func(ll netip.Addr) (netip.Addr, netip.Addr, []byte) {
			return netip.MustParseAddr("fe80::99"), wire.IPv6AllNodes, naMsg(ll, wire.NDPNAFlagOverride)
		}},
		{"NS from ::", func(ll netip.Addr) (netip.Addr, netip.Addr, []byte) {
			return unspec6(), wire.SolicitedNodeMulticast(ll), nsMsg(ll)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv6(t, nil)
			ll := e.linkLocal()
			e.advance(time.Second) // the first probe is out
			src, dst, m := tc.msg(ll)
			e.inject(otherMAC, src, dst, 255, false, m)
			if _, ok := e.addrs6()[ll]; ok {
				t.Fatal("duplicate address still on the interface")
			}
			if len(e.dadFails) != 1 || e.dadFails[0] != ll {
				t.Fatalf("DAD failures reported %v", e.dadFails)
			}
			st := e.s.Stats().Autoconf
			if st.DADFailures != 1 || st.DADRetries != 1 {
				t.Fatalf("stats %+v", st)
			}
			// RFC 7217: a new address with DAD_Counter 1.
			ll2 := e.linkLocal()
			var c uint8 = 1
			if want := e.s.interfaceAddr(e.n(), linkLocalPrefix, &c); ll2 != want || ll2 == ll {
				t.Fatalf("retry address %v, want %v", ll2, want)
			}
			e.runUntil(3 * time.Second)
			if e.addrs6()[ll2] != addrPreferred {
				t.Fatal("retry address not preferred")
			}
			for _, ev := range e.events {
				if ev.p.Addr() == ll {
					t.Fatalf("duplicate address reported as %v", ev)
				}
			}
		})
	}
}

func TestDADFailureRetriesBounded(t *testing.T) {
	e := newEnv6(t, nil)
	for i := 0; i <= idgenRetries; i++ {
		ll := e.linkLocal()
		e.inject(otherMAC, netip.MustParseAddr("fe80::99"), wire.IPv6AllNodes, 255, false, naMsg(ll, 0))
	}
	st := e.s.Stats().Autoconf
	if st.DADFailures != idgenRetries+1 || st.DADRetries != idgenRetries {
		t.Fatalf("stats %+v", st)
	}
	if len(e.addrs6()) != 0 {
		t.Fatalf("addresses left: %v", e.addrs6())
	}
	e.runUntil(10 * time.Second)
	if len(e.events) != 0 {
		t.Fatalf("events %v", e.events)
	}
}

func TestDADIgnoresResolution(t *testing.T) {
	e := newEnv6(t, nil)
	ll := e.linkLocal()
	// An NS from a unicast source is address resolution: not a conflict.
	e.inject(otherMAC, netip.MustParseAddr("fe80::99"), wire.SolicitedNodeMulticast(ll), 255, false, nsMsg(ll))
	e.runUntil(3 * time.Second)
	if e.s.Stats().Autoconf.DADFailures != 0 || e.addrs6()[ll] != addrPreferred {
		t.Fatal("address resolution for a tentative address taken as a conflict")
	}
}

func TestInterfaceDownForgets(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	ll := e.linkLocal()
	e.events = nil
	if err := e.s.SetUp(e.nic, false); err != nil {
		t.Fatal(err)
	}
	if len(e.n().auto.addrs) != 0 || len(e.addrs6()) != 0 {
		t.Fatal("addresses kept after down")
	}
	if len(e.events) != 1 || e.events[0] != (addrEvent{netip.PrefixFrom(ll, 64), false}) {
		t.Fatalf("events %v", e.events)
	}
	if _, ok := e.s.NextDeadline(); ok {
		t.Fatal("timers pending on a down interface")
	}
	if err := e.s.SetUp(e.nic, true); err != nil {
		t.Fatal(err)
	}
	e.runUntil(5 * time.Second)
	if e.linkLocal() != ll || e.addrs6()[ll] != addrPreferred {
		t.Fatal("the same link-local address not formed again after up")
	}
}

// FuzzAutoconfInput feeds arbitrary router advertisements, redirects,
// MLD messages and DAD conflicts to the autoconfiguration hooks (as
// ICMPv6 input would after its checks) and checks that nothing panics and
// every table stays within its bound. data[0] picks the handler and
// source, data[1] how far the clock moves afterwards, the rest is the
// ICMPv6 message.
func FuzzAutoconfInput(f *testing.F) {
	f.Add(append([]byte{0, 3}, raMsg(raSpec{lifetime: 1800, mtu: 1400, prefixes: []pio{{prefixA, lA, 3600, 1800}},
		rdnss: []netip.Addr{netip.MustParseAddr("2001:db8::53")}, rdnssLife: 600})...))
	f.Add(append([]byte{1, 1}, redirectMsg(netip.MustParseAddr("fe80::77"), netip.MustParseAddr("2001:db8:99::1"))...))
	f.Add(append([]byte{2, 2}, v2Query(time.Second, netip.IPv6Unspecified(), 2)...))
	f.Add(append([]byte{2, 2}, v2Query(time.Second, grp6A, 2, src6A, src6B)...))
	f.Add(append([]byte{2, 9}, v1Msg(wire.ICMPv6MLDQuery, time.Second, netip.IPv6Unspecified())...))
	f.Add([]byte{3, 0})
	f.Add([]byte{4, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		e := newEnv6(t, nil)
		e.settle()
		_ = e.s.JoinGroup(e.nic, grp6A)
		n := e.n()
		src := routerLL
		if data[0]&0x80 != 0 {
			src = netip.MustParseAddr("2001:db8::1")
		}
		msg := data[2:]
		if m, err := wire.ParseICMPv6(msg); err == nil {
			for i := 0; i < 3; i++ {
				switch data[0] & 0x7 {
				case 0:
					e.s.handleRouterAdvert(n, src, wire.IPv6AllNodes, m)
				case 1:
					e.s.handleRedirect(n, src, e.linkLocal(), m)
				case 2:
					e.s.handleMLD(n, src, wire.IPv6AllNodes, 1+63*(data[0]>>6&1), data[0]&0x20 == 0, m) // bits 6, 5: hop limit 64, no router alert
				case 3:
					e.s.dadNeighborMessage(n, e.linkLocal(), unspec6(), true)
				default:
					e.s.handleRouterSolicit(n, src, wire.IPv6AllRouters, m)
				}
			}
		} else if data[0]&7 == 3 {
			e.s.dadNeighborMessage(n, e.linkLocal(), unspec6(), true)
		}
		e.runUntil(time.Duration(data[1]) * time.Minute)
		c := e.s.cfg
		a := &n.auto
		slaac := 0
		for _, x := range a.addrs {
			if !x.linkLocal {
				slaac++
			}
		}
		if slaac > c.SLAAC.MaxAddresses || len(a.routers) > c.SLAAC.MaxRouters || len(a.prefixes) > c.SLAAC.MaxPrefixes ||
			len(a.rdnss) > c.SLAAC.MaxRDNSS || len(a.redirects) > c.SLAAC.MaxRedirects ||
			len(a.groups) > c.MaxGroups+c.MaxAddresses || len(n.ip6.addrs) > c.MaxAddresses {
			t.Fatalf("bounds exceeded: %d addrs %d routers %d prefixes %d rdnss %d redirects %d groups",
				slaac, len(a.routers), len(a.prefixes), len(a.rdnss), len(a.redirects), len(a.groups))
		}
		if mtu := n.mtu6(); mtu < minMTU6 || mtu > n.mtu {
			t.Fatalf("link MTU %d", mtu)
		}
		for _, m := range e.take() { // whatever is sent decodes
			if m.typ == wire.ICMPv6MLDv2Report {
				if _, err := wire.ParseMLD(m.msg); err != nil {
					t.Fatalf("bad report sent: %v", err)
				}
			}
		}
	})
}

func TestSLAACDADFailureRetry(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 3600, 3600}}})
	a, ok := e.slaacAddr(prefixA)
	if !ok {
		t.Fatal("no SLAAC address")
	}
	e.advance(10 * time.Millisecond)
	e.inject(otherMAC, unspec6(), wire.SolicitedNodeMulticast(a.prefix.Addr()), 255, false, nsMsg(a.prefix.Addr()))
	b, ok := e.slaacAddr(prefixA)
	var c uint8 = 1
	if want := e.s.interfaceAddr(e.n(), prefixA, &c); !ok || b.prefix.Addr() != want || b.dadCount != 1 {
		t.Fatalf("retry %v (counter %d), want %v", b.prefix.Addr(), b.dadCount, want)
	}
	// The router repeats the prefix: no third address, the retry stays.
	e.sendRA(raSpec{prefixes: []pio{{prefixA, lA, 3600, 3600}}})
	e.runUntil(3 * time.Second)
	if got := len(e.n().auto.addrs); got != 2 || e.addrs6()[b.prefix.Addr()] != addrPreferred {
		t.Fatalf("%d autoconfigured addresses, retry state %v", got, e.addrs6()[b.prefix.Addr()])
	}
	if _, ok := e.addrs6()[a.prefix.Addr()]; ok {
		t.Fatal("duplicate address kept")
	}
}

func TestStaticAddressSolicitedNode(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	static := netip.MustParseAddr("2001:db8:5::99")
	sol := wire.SolicitedNodeMulticast(static)
	if err := e.s.AddAddress(e.nic, netip.PrefixFrom(static, 64)); err != nil {
		t.Fatal(err)
	}
	_, recs := mldMsgs(t, e.take())
	if r := recsFor(recs, sol); len(r) == 0 || r[0].typ != wire.MLDv2ChangeToExclude {
		t.Fatalf("solicited-node group of a static address not reported: %v", recs)
	}
	// Down and up: reported again at up.
	_ = e.s.SetUp(e.nic, false)
	_ = e.s.SetUp(e.nic, true)
	_, recs = mldMsgs(t, e.take())
	if len(recsFor(recs, sol)) == 0 {
		t.Fatalf("not reported again after up: %v", recs)
	}
	// RemoveAddress reports the leave (TO_IN {}).
	e.runUntil(5 * time.Second)
	e.take()
	if err := e.s.RemoveAddress(e.nic, static); err != nil {
		t.Fatal(err)
	}
	_, recs = mldMsgs(t, e.take())
	if r := recsFor(recs, sol); len(r) == 0 || r[0].typ != wire.MLDv2ChangeToInclude || len(r[0].srcs) != 0 {
		t.Fatalf("leave of a removed static address's group not reported: %v", recs)
	}
}

func TestAutoconfConfigValidation(t *testing.T) {
	for _, mut := range []func(*Config){
		func(c *Config) { c.MLD.Version = 3 },
		func(c *Config) { c.MLD.Robustness = 8 },
		func(c *Config) { c.MLD.Robustness = -1 },
		func(c *Config) { c.SLAAC.MaxRouters = -1 },
		func(c *Config) { c.SLAAC.RetransTimer = -time.Second },
	} {
		cfg := Config{Clock: &fakeClock{}, Rand: rand.NewPCG(1, 2)}
		mut(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v %+v accepted", cfg.MLD, cfg.SLAAC)
		}
	}
}

func TestInterfaceDownDropsLearnedState(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{lifetime: 1800, prefixes: []pio{{prefixA, lA, 3600, 3600}},
		rdnss: []netip.Addr{netip.MustParseAddr("2001:db8::53")}, rdnssLife: 600})
	e.runUntil(3 * time.Second)
	_ = e.s.SetUp(e.nic, false)
	for _, r := range e.s.Routes() {
		if r.NIC == e.nic && (r.Dst == prefixA || r.Gateway == routerLL) {
			t.Fatalf("route %v kept after down", r)
		}
	}
	if len(e.s.RDNSS(e.nic)) != 0 || len(e.s.DefaultRouters(e.nic)) != 0 || len(e.addrs6()) != 0 {
		t.Fatal("learned state kept after down")
	}
}
