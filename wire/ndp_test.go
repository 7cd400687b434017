package wire

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	testLL1    = netip.MustParseAddr("fe80::1")
	testLL2    = netip.MustParseAddr("fe80::2")
	testPrefix = netip.MustParsePrefix("2001:db8:1::/64")
	testDNS1   = netip.MustParseAddr("2001:db8::53")
	testDNS2   = netip.MustParseAddr("2001:db8::5353")
)

// ndpMessages builds one message of each NDP type with options; each entry
// is the message with its checksum for testLL1 -> IPv6AllNodes.
func ndpMessages() map[string][]byte {
	out := map[string][]byte{}
	fin := func(name string, b []byte, n int) {
		SetICMPv6Checksum(b[:n], testLL1, IPv6AllNodes)
		out[name] = b[:n]
	}
	b := make([]byte, 256)
	n := PutNDPRouterSolicitation(b)
	n += PutNDPLinkLayerOption(b[n:], NDPOptSourceLinkAddr, testMAC1)
	fin("rs", b, n)

	b = make([]byte, 256)
	ra := NDPRouterAdvert{CurHopLimit: 64, Flags: NDPRAFlagManaged | NDPRAFlagOther | 0x08, RouterLifetime: 1800, ReachableTime: 30000, RetransTimer: 1000}
	n = ra.Encode(b)
	n += PutNDPLinkLayerOption(b[n:], NDPOptSourceLinkAddr, testMAC2)
	n += PutNDPMTUOption(b[n:], 1480)
	n += PutNDPPrefixInfo(b[n:], testPrefix, NDPPrefixFlagOnLink|NDPPrefixFlagAutonomous, 86400, 14400)
	n += PutNDPRDNSS(b[n:], 600, []netip.Addr{testDNS1, testDNS2})
	fin("ra", b, n)

	b = make([]byte, 256)
	n = PutNDPNeighborSolicitation(b, testSrc6)
	n += PutNDPLinkLayerOption(b[n:], NDPOptSourceLinkAddr, testMAC1)
	fin("ns", b, n)

	b = make([]byte, 256)
	n = PutNDPNeighborAdvertisement(b, NDPNAFlagSolicited|NDPNAFlagOverride, testSrc6)
	n += PutNDPLinkLayerOption(b[n:], NDPOptTargetLinkAddr, testMAC2)
	fin("na", b, n)

	b = make([]byte, 256)
	n = PutNDPRedirect(b, testLL2, testDst6)
	n += PutNDPLinkLayerOption(b[n:], NDPOptTargetLinkAddr, testMAC2)
	n += PutNDPRedirectedHeader(b[n:], []byte("quoted ipv6 packet, 37 bytes long...."))
	fin("redirect", b, n)
	return out
}

// goNDP decodes msg in an IPv6 packet with gopacket and returns the packet
// after checking the ICMPv6 checksum.
func goNDP(t *testing.T, msg []byte) gopacket.Packet {
	t.Helper()
	pkt := make([]byte, 40+len(msg))
	(&IPv6Header{PayloadLength: len(msg), NextHeader: ProtoICMPv6, HopLimit: 255, Src: testLL1, Dst: IPv6AllNodes}).Encode(pkt)
	copy(pkt[40:], msg)
	p := decode(t, pkt, layers.LayerTypeIPv6)
	g := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	_ = g.SetNetworkLayerForChecksum(p.NetworkLayer())
	if _, res := g.VerifyChecksum(); !res.Valid {
		t.Errorf("gopacket checksum %+v", res)
	}
	return p
}

// ourOpts collects the options of a message as gopacket options.
func ourOpts(each func(func(NDPOption) bool)) layers.ICMPv6Options {
	var out layers.ICMPv6Options
	each(func(o NDPOption) bool {
		out = append(out, layers.ICMPv6Option{Type: layers.ICMPv6Opt(o.Type()), Data: o.Data()})
		return true
	})
	return out
}

func sameNDPOpts(a, b layers.ICMPv6Options) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestNDPBuildGopacket(t *testing.T) {
	msgs := ndpMessages()

	t.Run("rs", func(t *testing.T) {
		b := msgs["rs"]
		g := goNDP(t, b).Layer(layers.LayerTypeICMPv6RouterSolicitation).(*layers.ICMPv6RouterSolicitation)
		m, err := ParseNDPRouterSolicitation(b)
		if err != nil {
			t.Fatal(err)
		}
		if !sameNDPOpts(ourOpts(m.ForEachOption), g.Options) || len(g.Options) != 1 || m.Code() != 0 || !bytes.Equal(m.Bytes(), b) {
			t.Errorf("options %v vs %v", ourOpts(m.ForEachOption), g.Options)
		}
		m.ForEachOption(func(o NDPOption) bool {
			if mac, ok := o.LinkLayerAddr(); !ok || mac != testMAC1 {
				t.Errorf("SLLA %v %v", mac, ok)
			}
			return true
		})
		c := make([]byte, len(b))
		n := PutNDPRouterSolicitation(c)
		copy(c[n:], m.Options())
		SetICMPv6Checksum(c, testLL1, IPv6AllNodes)
		if !bytes.Equal(c, b) {
			t.Error("rebuild")
		}
	})

	t.Run("ra", func(t *testing.T) {
		b := msgs["ra"]
		g := goNDP(t, b).Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
		m, err := ParseNDPRouterAdvertisement(b)
		if err != nil {
			t.Fatal(err)
		}
		if g.HopLimit != 64 || !g.ManagedAddressConfig() || !g.OtherConfig() || g.RouterLifetime != 1800 || g.ReachableTime != 30000 || g.RetransTimer != 1000 {
			t.Errorf("gopacket %+v", g)
		}
		if m.CurHopLimit() != g.HopLimit || m.Flags() != g.Flags || !m.Managed() || !m.Other() || m.Preference() != 1 ||
			m.RouterLifetime() != g.RouterLifetime || m.ReachableTime() != g.ReachableTime || m.RetransTimer() != g.RetransTimer {
			t.Errorf("parse mismatch")
		}
		if !sameNDPOpts(ourOpts(m.ForEachOption), g.Options) || len(g.Options) != 4 {
			t.Errorf("options %v vs %v", ourOpts(m.ForEachOption), g.Options)
		}
		var sawPI, sawMTU, sawRDNSS, sawLL bool
		m.ForEachOption(func(o NDPOption) bool {
			if mac, ok := o.LinkLayerAddr(); ok {
				sawLL = mac == testMAC2
			}
			if mtu, ok := o.MTU(); ok {
				sawMTU = mtu == 1480
			}
			if pi, ok := o.PrefixInfo(); ok {
				sawPI = pi.Prefix() == testPrefix && pi.PrefixLength() == 64 && pi.OnLink() && pi.Autonomous() &&
					pi.Flags() == 0xc0 && pi.ValidLifetime() == 86400 && pi.PreferredLifetime() == 14400 && pi.Addr() == testPrefix.Addr()
			}
			if r, ok := o.RDNSS(); ok {
				sawRDNSS = r.Lifetime() == 600 && r.NumServers() == 2 && r.Server(0) == testDNS1 && r.Server(1) == testDNS2 &&
					!r.Server(2).IsValid() && !r.Server(-1).IsValid()
			}
			return true
		})
		if !sawPI || !sawMTU || !sawRDNSS || !sawLL {
			t.Errorf("typed options: PI %v MTU %v RDNSS %v LL %v", sawPI, sawMTU, sawRDNSS, sawLL)
		}
		// Rebuild from the accessors.
		c := make([]byte, len(b))
		a := NDPRouterAdvert{CurHopLimit: m.CurHopLimit(), Flags: m.Flags(), RouterLifetime: m.RouterLifetime(), ReachableTime: m.ReachableTime(), RetransTimer: m.RetransTimer()}
		n := a.Encode(c)
		m.ForEachOption(func(o NDPOption) bool {
			if mac, ok := o.LinkLayerAddr(); ok {
				n += PutNDPLinkLayerOption(c[n:], o.Type(), mac)
			} else if mtu, ok := o.MTU(); ok {
				n += PutNDPMTUOption(c[n:], mtu)
			} else if pi, ok := o.PrefixInfo(); ok {
				n += PutNDPPrefixInfo(c[n:], pi.Prefix(), pi.Flags(), pi.ValidLifetime(), pi.PreferredLifetime())
			} else if r, ok := o.RDNSS(); ok {
				n += PutNDPRDNSS(c[n:], r.Lifetime(), []netip.Addr{r.Server(0), r.Server(1)})
			}
			return true
		})
		SetICMPv6Checksum(c[:n], testLL1, IPv6AllNodes)
		if !bytes.Equal(c[:n], b) {
			t.Errorf("rebuild\n%x\n%x", c[:n], b)
		}
	})

	t.Run("ns", func(t *testing.T) {
		b := msgs["ns"]
		g := goNDP(t, b).Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
		m, err := ParseNDPNeighborSolicitation(b)
		if err != nil {
			t.Fatal(err)
		}
		if !g.TargetAddress.Equal(testSrc6.AsSlice()) || m.Target() != testSrc6 || !sameNDPOpts(ourOpts(m.ForEachOption), g.Options) {
			t.Errorf("target %v / %v", g.TargetAddress, m.Target())
		}
		c := make([]byte, len(b))
		n := PutNDPNeighborSolicitation(c, m.Target())
		copy(c[n:], m.Options())
		SetICMPv6Checksum(c, testLL1, IPv6AllNodes)
		if !bytes.Equal(c, b) {
			t.Error("rebuild")
		}
	})

	t.Run("na", func(t *testing.T) {
		b := msgs["na"]
		g := goNDP(t, b).Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		m, err := ParseNDPNeighborAdvertisement(b)
		if err != nil {
			t.Fatal(err)
		}
		if g.Router() || !g.Solicited() || !g.Override() || !g.TargetAddress.Equal(testSrc6.AsSlice()) {
			t.Errorf("gopacket %+v", g)
		}
		if m.Router() || !m.Solicited() || !m.Override() || m.Flags() != g.Flags || m.Target() != testSrc6 ||
			!sameNDPOpts(ourOpts(m.ForEachOption), g.Options) {
			t.Errorf("parse mismatch")
		}
		c := make([]byte, len(b))
		n := PutNDPNeighborAdvertisement(c, m.Flags(), m.Target())
		copy(c[n:], m.Options())
		SetICMPv6Checksum(c, testLL1, IPv6AllNodes)
		if !bytes.Equal(c, b) {
			t.Error("rebuild")
		}
	})

	t.Run("redirect", func(t *testing.T) {
		b := msgs["redirect"]
		g := goNDP(t, b).Layer(layers.LayerTypeICMPv6Redirect).(*layers.ICMPv6Redirect)
		m, err := ParseNDPRedirect(b)
		if err != nil {
			t.Fatal(err)
		}
		if !g.TargetAddress.Equal(testLL2.AsSlice()) || !g.DestinationAddress.Equal(testDst6.AsSlice()) ||
			m.Target() != testLL2 || m.Destination() != testDst6 || !sameNDPOpts(ourOpts(m.ForEachOption), g.Options) {
			t.Errorf("gopacket %+v", g)
		}
		saw := false
		m.ForEachOption(func(o NDPOption) bool {
			if q, ok := o.RedirectedHeader(); ok {
				saw = len(q) == 40 && bytes.HasPrefix(q, []byte("quoted ipv6 packet, 37 bytes long....")) && allZero(q[37:]) && o.Len() == 48
			}
			return true
		})
		if !saw {
			t.Error("redirected header")
		}
		c := make([]byte, len(b))
		n := PutNDPRedirect(c, m.Target(), m.Destination())
		copy(c[n:], m.Options())
		SetICMPv6Checksum(c, testLL1, IPv6AllNodes)
		if !bytes.Equal(c, b) {
			t.Error("rebuild")
		}
	})
}

func TestParseNDPGopacket(t *testing.T) {
	ip := goIPv6(testLL2, IPv6AllNodes, layers.IPProtocolICMPv6)
	ip.HopLimit = 255
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(ICMPv6RouterAdvertisement, 0)}
	_ = ic.SetNetworkLayerForChecksum(ip)
	pi := make([]byte, 32)
	PutNDPPrefixInfo(pi, testPrefix, NDPPrefixFlagAutonomous, 0xffffffff, 0xffffffff)
	ra := &layers.ICMPv6RouterAdvertisement{HopLimit: 32, Flags: 0x18, RouterLifetime: 0, ReachableTime: 1, RetransTimer: 2,
		Options: layers.ICMPv6Options{
			{Type: layers.ICMPv6OptSourceAddress, Data: testMAC1[:]},
			{Type: layers.ICMPv6OptPrefixInfo, Data: pi[2:]},
		}}
	b := serialize(t, ip, ic, ra)
	v, _ := ParseIPv6(b)
	msg, err := ParseICMPv6(v.Payload())
	if err != nil || !msg.ChecksumValid(v.Src(), v.Dst()) {
		t.Fatalf("checksum: %v", err)
	}
	m, err := ParseNDPRouterAdvertisement(msg.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if m.CurHopLimit() != 32 || m.Managed() || m.Other() || m.Preference() != -1 || m.RouterLifetime() != 0 || m.ReachableTime() != 1 || m.RetransTimer() != 2 {
		t.Errorf("fields")
	}
	n := 0
	m.ForEachOption(func(o NDPOption) bool {
		n++
		if p, ok := o.PrefixInfo(); ok && (p.Prefix() != testPrefix || p.OnLink() || !p.Autonomous() || p.ValidLifetime() != 0xffffffff) {
			t.Error("prefix info")
		}
		return true
	})
	if n != 2 {
		t.Errorf("%d options", n)
	}
}

func TestNDPErrors(t *testing.T) {
	msgs := ndpMessages()
	parsers := []struct {
		name  string
		min   int
		parse func([]byte) error
	}{
		{"rs", NDPRouterSolicitationLen, func(b []byte) error { _, err := ParseNDPRouterSolicitation(b); return err }},
		{"ra", NDPRouterAdvertisementLen, func(b []byte) error { _, err := ParseNDPRouterAdvertisement(b); return err }},
		{"ns", NDPNeighborSolicitationLen, func(b []byte) error { _, err := ParseNDPNeighborSolicitation(b); return err }},
		{"na", NDPNeighborAdvertisementLen, func(b []byte) error { _, err := ParseNDPNeighborAdvertisement(b); return err }},
		{"redirect", NDPRedirectLen, func(b []byte) error { _, err := ParseNDPRedirect(b); return err }},
	}
	for _, p := range parsers {
		b := msgs[p.name]
		if err := p.parse(b); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		checkShort(t, b, p.min, ErrTooShort, p.parse)
		// Without options, with the fixed part only: fine.
		if err := p.parse(b[:p.min]); err != nil {
			t.Errorf("%s fixed part: %v", p.name, err)
		}
		// Every cut inside the options is a bad length (options are 8-byte units).
		bounds := map[int]bool{p.min: true}
		off := p.min
		_ = ForEachNDPOption(b[p.min:], func(o NDPOption) bool { off += o.Len(); bounds[off] = true; return true })
		for n := p.min + 1; n < len(b); n++ {
			want := ErrBadLength
			if bounds[n] {
				want = nil
			}
			if err := p.parse(b[:n]); err != want {
				t.Errorf("%s cut %d: %v, want %v", p.name, n, err, want)
			}
		}
		// A zero-length option (RFC 4861 §4.6).
		z := append(append([]byte(nil), b...), NDPOptMTU, 0, 0, 0, 0, 0, 0, 0)
		if err := p.parse(z); err != ErrBadLength {
			t.Errorf("%s zero-length option: %v", p.name, err)
		}
		// An option longer than the message.
		z = append(append([]byte(nil), b...), NDPOptMTU, 2, 0, 0, 0, 0, 0, 0)
		if err := p.parse(z); err != ErrBadLength {
			t.Errorf("%s overlong option: %v", p.name, err)
		}
		// The wrong type (ErrTooShort when shorter than the other type's fixed part).
		for _, q := range parsers {
			if q.name != p.name && q.parse(b) == nil {
				t.Errorf("%s accepts %s", q.name, p.name)
			}
		}
	}
	if _, err := ParseNDPRouterSolicitation(msgs["na"]); err != ErrUnsupported {
		t.Errorf("NA as RS: %v", err)
	}
	// ForEachNDPOption reports the options before a bad one.
	opts := []byte{NDPOptMTU, 1, 0, 0, 0, 0, 5, 0xdc, 99, 0}
	n := 0
	if err := ForEachNDPOption(opts, func(NDPOption) bool { n++; return true }); err != ErrBadLength || n != 1 {
		t.Errorf("bad second option: %v after %d", err, n)
	}
	if err := ForEachNDPOption(opts[:9], nil); err != ErrBadLength {
		t.Errorf("one trailing byte: %v", err)
	}
	if err := ForEachNDPOption(nil, nil); err != nil {
		t.Error(err)
	}
	// Typed accessors refuse wrong lengths and types.
	var wrong []NDPOption
	_ = ForEachNDPOption([]byte{
		NDPOptSourceLinkAddr, 2, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, // 16-byte link-layer (not Ethernet)
		NDPOptMTU, 2, 0, 0, 0, 0, 5, 0xdc, 0, 0, 0, 0, 0, 0, 0, 0, // 16-byte MTU
		NDPOptPrefixInfo, 1, 64, 0, 0, 0, 0, 0, // 8-byte prefix info
		NDPOptRDNSS, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // RDNSS length 2 (even)
		NDPOptRDNSS, 1, 0, 0, 0, 0, 0, 0, // RDNSS without servers
		NDPOptDNSSL, 1, 0, 0, 0, 0, 0, 0,
	}, func(o NDPOption) bool { wrong = append(wrong, o); return true })
	if len(wrong) != 6 {
		t.Fatalf("%d options", len(wrong))
	}
	for i, o := range wrong {
		_, ll := o.LinkLayerAddr()
		_, mtu := o.MTU()
		_, pi := o.PrefixInfo()
		_, rd := o.RDNSS()
		_, rh := o.RedirectedHeader()
		if ll || mtu || pi || rd || rh {
			t.Errorf("option %d (type %d) accepted: %v %v %v %v %v", i, o.Type(), ll, mtu, pi, rd, rh)
		}
	}
	// A prefix length above 128 gives an invalid Prefix.
	b := make([]byte, 32)
	PutNDPPrefixInfo(b, testPrefix, 0, 1, 1)
	b[2] = 129
	_ = ForEachNDPOption(b, func(o NDPOption) bool {
		if p, ok := o.PrefixInfo(); !ok || p.Prefix().IsValid() {
			t.Error("prefix length 129")
		}
		return true
	})
}

func TestNDPZeroAllocs(t *testing.T) {
	b := make([]byte, 64)
	var sink int
	checkZeroAllocs(t, "build", func() {
		n := PutNDPNeighborAdvertisement(b, NDPNAFlagSolicited, testSrc6)
		n += PutNDPLinkLayerOption(b[n:], NDPOptTargetLinkAddr, testMAC1)
		SetICMPv6Checksum(b[:n], testSrc6, testDst6)
		sink += n
	})
	fn := func(o NDPOption) bool {
		if mac, ok := o.LinkLayerAddr(); ok {
			sink += int(mac[5])
		}
		return true
	}
	checkZeroAllocs(t, "parse", func() {
		m, err := ParseNDPNeighborAdvertisement(b[:32])
		if err != nil {
			panic(err)
		}
		m.ForEachOption(fn)
		if m.Target() == testSrc6 {
			sink++
		}
	})
	_ = sink
}
