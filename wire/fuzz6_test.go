package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// Fuzz targets for the IPv6 parsers, in the manner of fuzz_test.go. Seeds
// come from fuzz6Seeds, which also writes the committed corpus under
// testdata/fuzz (run with FEATHERIP_WRITE_CORPUS=1 to regenerate).

var fuzz6Targets = []string{"FuzzIPv6", "FuzzIPv6Extensions", "FuzzIPv6Options", "FuzzICMPv6", "FuzzNDP", "FuzzNDPOptions", "FuzzMLD"}

func fuzz6Seeds(name string) [][]byte {
	var out [][]byte
	switch name {
	case "FuzzIPv6":
		b := make([]byte, 128)
		chain := extChain(b[40:])
		n := 40 + chain + 8
		(&IPv6Header{PayloadLength: n - 40, NextHeader: ProtoHopByHop, HopLimit: 1, Src: testSrc6, Dst: testDst6}).Encode(b)
		e := make([]byte, 100)
		m := buildIPv6Echo(e, []byte("ping"))
		f := make([]byte, 64)
		(&IPv6Header{PayloadLength: 24, NextHeader: ProtoFragment, HopLimit: 9, Src: testSrc6, Dst: testDst6}).Encode(f)
		PutIPv6Fragment(f[40:], ProtoUDP, 1448, true, 42)
		out = append(out, b[:n], e[:m], f[:64], e[:39])
	case "FuzzIPv6Extensions":
		b := make([]byte, 128)
		chain := extChain(b[1:])
		b[0] = ProtoHopByHop
		ah := []byte{ProtoAH, ProtoTCP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		out = append(out, b[:1+chain+4], ah, []byte{ProtoDestOpts, ProtoHopByHop, 0, 1, 4, 0, 0, 0, 0, ProtoUDP, 0, 1, 4, 0, 0, 0, 0})
	case "FuzzIPv6Options":
		b := make([]byte, 32)
		n := PutIPv6OptionsHeader(b, ProtoICMPv6, []IPv6Option{{Type: IPv6OptRouterAlert, Data: []byte{0, 0}}})
		c := make([]byte, 32)
		k := PutIPv6OptionsHeader(c, ProtoUDP, []IPv6Option{{Type: IPv6OptPad1}, {Type: 0xc2, Data: []byte{0, 1, 0, 0}}, {Type: 0x7e, Data: []byte{9}}})
		out = append(out, b[:n], c[:k], []byte{ProtoUDP, 0, 0x3e, 9, 0, 0, 0, 0})
	case "FuzzICMPv6":
		b := make([]byte, 16)
		PutICMPv6(b, ICMPv6EchoRequest, 0, 0x12340001)
		copy(b[8:], "pingdata")
		SetICMPv6Checksum(b, testSrc6, testDst6)
		u := make([]byte, 56)
		PutICMPv6(u, ICMPv6PacketTooBig, 0, 1280)
		SetICMPv6Checksum(u, testSrc6, testDst6)
		out = append(out, b, u, b[:7])
	case "FuzzNDP":
		msgs := ndpMessages()
		for _, k := range []string{"rs", "ra", "ns", "na", "redirect"} {
			out = append(out, msgs[k])
		}
		out = append(out, append(append([]byte(nil), msgs["ns"]...), 1, 0))
	case "FuzzNDPOptions":
		msgs := ndpMessages()
		out = append(out, msgs["ra"][NDPRouterAdvertisementLen:], msgs["redirect"][NDPRedirectLen:], []byte{1, 0}, []byte{25, 1, 0, 0, 0, 0, 0, 0})
	case "FuzzMLD":
		q := make([]byte, MLDv1Len)
		PutMLDv1(q, ICMPv6MLDQuery, 1000, netip.IPv6Unspecified())
		q2 := make([]byte, MLDv2QueryLen(2))
		PutMLDv2Query(q2, MLDEncodeCode(40000), testGroup6, true, 2, 125, []netip.Addr{testSrc6, testDst6})
		r := make([]byte, 128)
		n := PutMLDv2ReportHeader(r, 2)
		n += PutMLDv2AddressRecord(r[n:], MLDv2ChangeToExclude, testGroup6, nil)
		n += PutMLDv2AddressRecord(r[n:], MLDv2AllowNewSources, testGroup6, []netip.Addr{testSrc6})
		d := make([]byte, MLDv1Len)
		PutMLDv1(d, ICMPv6MLDv1Done, 0, testGroup6)
		out = append(out, q, q2, r[:n], d, q2[:26])
	}
	return out
}

// TestWriteFuzz6Corpus regenerates the IPv6 part of testdata/fuzz.
func TestWriteFuzz6Corpus(t *testing.T) { writeCorpus(t, fuzz6Targets, fuzz6Seeds) }

// TestFuzz6CorpusCommitted checks that every IPv6 fuzz target has its
// seed corpus on disk, so plain go test runs it.
func TestFuzz6CorpusCommitted(t *testing.T) { checkCorpus(t, fuzz6Targets, fuzz6Seeds) }

func addSeeds6(f *testing.F) {
	for _, s := range fuzz6Seeds(f.Name()) {
		f.Add(s)
	}
}

// checkExtension checks one header met by the walker: the matching view
// parser accepts it and agrees on the length.
func checkExtension(t *testing.T, e IPv6Extension) {
	if len(e.Data) < 8 || e.NextHeader() != e.Data[0] {
		t.Fatalf("extension %d: %d bytes", e.Type, len(e.Data))
	}
	switch e.Type {
	case ProtoHopByHop, ProtoDestOpts:
		o, err := ParseIPv6Options(e.Data)
		if err != nil || o.HeaderLen() != len(e.Data) {
			t.Fatalf("options header: %v", err)
		}
		_ = o.ForEachOption(func(x IPv6Option) bool { _, _ = x.RouterAlert(); return true })
	case ProtoRouting:
		r, err := ParseIPv6Routing(e.Data)
		if err != nil || r.HeaderLen() != len(e.Data) || len(r.Data()) != len(e.Data)-4 {
			t.Fatalf("routing header: %v", err)
		}
	case ProtoFragment:
		f, err := ParseIPv6Fragment(e.Data)
		if err != nil || len(e.Data) != 8 || f.FragmentOffset()%8 != 0 {
			t.Fatalf("fragment header: %v", err)
		}
		c := make([]byte, 8)
		PutIPv6Fragment(c, f.NextHeader(), f.FragmentOffset(), f.MoreFragments(), f.ID())
		if c[0] != e.Data[0] || !bytes.Equal(c[4:], e.Data[4:]) || c[2] != e.Data[2] || c[3] != e.Data[3]&^6 {
			t.Fatalf("fragment re-encode %x %x", c, e.Data)
		}
	}
}

// walkChecked walks b and checks the walker's invariants.
func walkChecked(t *testing.T, w IPv6ExtensionWalker, next uint8, b []byte) {
	maxH, maxB := w.MaxHeaders, w.MaxBytes
	if maxH <= 0 {
		maxH = IPv6DefaultMaxExtensions
	}
	if maxB <= 0 {
		maxB = IPv6DefaultMaxExtensionBytes
	}
	end, n := 0, 0
	var last IPv6Extension
	proto, off, err := w.Walk(next, b, func(e IPv6Extension) bool {
		if e.Offset != end {
			t.Fatalf("extension at %d, want %d", e.Offset, end)
		}
		checkExtension(t, e)
		end += len(e.Data)
		n++
		last = e
		return true
	})
	if n > maxH || end > maxB || end > len(b) {
		t.Fatalf("%d headers, %d bytes", n, end)
	}
	switch {
	case err != nil:
		if err != ErrBadLength && err != ErrExtensionOrder && err != ErrExtensionLimit {
			t.Fatal(err)
		}
	case proto == ProtoFragment && n > 0 && last.Type == ProtoFragment && off == last.Offset:
		// stopped at a non-first fragment
		if f, _ := ParseIPv6Fragment(last.Data); f.FragmentOffset() == 0 {
			t.Fatal("stopped at a first fragment")
		}
	default:
		if off != end || isIPv6Extension(proto) {
			t.Fatalf("walk ended at %d (proto %d), headers end at %d", off, proto, end)
		}
	}
}

func FuzzIPv6(f *testing.F) {
	addSeeds6(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseIPv6(b)
		if err != nil {
			if len(b) >= 40 && b[0]>>4 == 6 && err != ErrBadLength {
				t.Fatalf("rejected: %v", err)
			}
			return
		}
		if len(p.Header())+len(p.Payload()) != len(p.Bytes()) || len(p.Payload()) != p.PayloadLength() || len(p.Bytes()) > len(b) {
			t.Fatal("lengths")
		}
		h := IPv6Header{TrafficClass: p.TrafficClass(), FlowLabel: p.FlowLabel(), PayloadLength: p.PayloadLength(),
			NextHeader: p.NextHeader(), HopLimit: p.HopLimit(), Src: p.Src(), Dst: p.Dst()}
		c := make([]byte, 40)
		h.Encode(c)
		if !bytes.Equal(c, b[:40]) {
			t.Fatalf("re-encode\n%x\n%x", c, b[:40])
		}
		walkChecked(t, IPv6ExtensionWalker{}, p.NextHeader(), p.Payload())
		proto, data, err := p.UpperLayer()
		if err == nil && (len(data) > len(p.Payload()) || isIPv6Extension(proto) && proto != ProtoFragment) {
			t.Fatalf("UpperLayer %d, %d bytes", proto, len(data))
		}
	})
}

func FuzzIPv6Extensions(f *testing.F) {
	addSeeds6(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		walkChecked(t, IPv6ExtensionWalker{}, b[0], b[1:])
		walkChecked(t, IPv6ExtensionWalker{MaxHeaders: 2, MaxBytes: 64}, b[0], b[1:])
	})
}

func FuzzIPv6Options(f *testing.F) {
	addSeeds6(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseIPv6Options(b)
		if err != nil {
			return
		}
		if o.HeaderLen()%8 != 0 || o.HeaderLen() > len(b) || len(o.Options()) != o.HeaderLen()-2 {
			t.Fatal("lengths")
		}
		var opts []IPv6Option
		if err := o.ForEachOption(func(x IPv6Option) bool {
			if x.Type == IPv6OptPad1 || x.Type == IPv6OptPadN || x.Action() > 3 {
				t.Fatalf("option %d passed", x.Type)
			}
			opts = append(opts, x)
			return true
		}); err != nil {
			if err != ErrBadLength {
				t.Fatal(err)
			}
			return
		}
		// Re-encode without the pads and parse again: the same options.
		l := IPv6OptionsHeaderLen(opts)
		if l > o.HeaderLen() {
			t.Fatalf("re-encoded %d > %d", l, o.HeaderLen())
		}
		c := make([]byte, l)
		if PutIPv6OptionsHeader(c, o.NextHeader(), opts) != l {
			t.Fatal("length")
		}
		p, err := ParseIPv6Options(c)
		if err != nil || p.NextHeader() != o.NextHeader() {
			t.Fatal(err)
		}
		var again []IPv6Option
		if err := p.ForEachOption(func(x IPv6Option) bool { again = append(again, x); return true }); err != nil || !sameOpts(again, opts) {
			t.Fatalf("round trip %v: %+v vs %+v", err, again, opts)
		}
	})
}

func FuzzICMPv6(f *testing.F) {
	addSeeds6(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseICMPv6(b)
		if err != nil {
			if len(b) >= 8 {
				t.Fatal("rejected a long enough message")
			}
			return
		}
		_, _, _, _, _ = m.ID(), m.Seq(), m.MTU(), m.Pointer(), m.IsError()
		c := make([]byte, len(b))
		PutICMPv6(c, m.Type(), m.Code(), m.Rest())
		copy(c[8:], m.Payload())
		SetICMPv6Checksum(c, testSrc6, testDst6)
		if !bytes.Equal(c[4:], b[4:]) || c[0] != b[0] || c[1] != b[1] {
			t.Fatal("re-encode")
		}
		if v, _ := ParseICMPv6(c); !v.ChecksumValid(testSrc6, testDst6) {
			t.Fatal("SetICMPv6Checksum result does not verify")
		}
		if m.ChecksumValid(testSrc6, testDst6) != sameChecksum(binary.BigEndian.Uint16(c[2:]), m.Checksum()) {
			t.Fatalf("ChecksumValid %v but recomputed %#04x vs %#04x", m.ChecksumValid(testSrc6, testDst6), binary.BigEndian.Uint16(c[2:]), m.Checksum())
		}
	})
}

// checkNDPOptions checks the options of a parsed NDP message.
func checkNDPOptions(t *testing.T, opts []byte, each func(func(NDPOption) bool)) {
	total := 0
	each(func(o NDPOption) bool {
		if o.Len() < 8 || o.Len()%8 != 0 {
			t.Fatalf("option length %d", o.Len())
		}
		total += o.Len()
		checkNDPOption(t, o)
		return true
	})
	if total != len(opts) {
		t.Fatalf("options cover %d of %d bytes", total, len(opts))
	}
}

// checkNDPOption calls the typed accessors of o and re-encodes what they
// give.
func checkNDPOption(t *testing.T, o NDPOption) {
	b := o.Bytes()
	c := make([]byte, o.Len()+8)
	if mac, ok := o.LinkLayerAddr(); ok {
		if PutNDPLinkLayerOption(c, o.Type(), mac) != 8 || !bytes.Equal(c[:8], b) {
			t.Fatalf("link-layer re-encode %x %x", c[:8], b)
		}
	}
	if mtu, ok := o.MTU(); ok {
		PutNDPMTUOption(c, mtu)
		if !bytes.Equal(c[:2], b[:2]) || !bytes.Equal(c[4:8], b[4:8]) {
			t.Fatal("MTU re-encode")
		}
	}
	if p, ok := o.PrefixInfo(); ok {
		_, _ = p.OnLink(), p.Autonomous()
		if p.Prefix().IsValid() {
			PutNDPPrefixInfo(c, p.Prefix(), p.Flags(), p.ValidLifetime(), p.PreferredLifetime())
			if !bytes.Equal(c[:12], b[:12]) || !bytes.Equal(c[16:32], b[16:32]) {
				t.Fatalf("prefix re-encode\n%x\n%x", c[:32], b)
			}
		} else if p.PrefixLength() <= 128 {
			t.Fatal("valid length gives an invalid prefix")
		}
	}
	if r, ok := o.RDNSS(); ok {
		srcs := make([]netip.Addr, r.NumServers())
		for i := range srcs {
			srcs[i] = r.Server(i)
		}
		if r.Server(len(srcs)).IsValid() || r.Server(-1).IsValid() {
			t.Fatal("out-of-range server")
		}
		n := PutNDPRDNSS(c, r.Lifetime(), srcs)
		if n != len(b) || !bytes.Equal(c[:2], b[:2]) || !bytes.Equal(c[4:n], b[4:]) {
			t.Fatal("RDNSS re-encode")
		}
	}
	if q, ok := o.RedirectedHeader(); ok && len(q) != o.Len()-8 {
		t.Fatal("redirected header length")
	}
}

func FuzzNDP(f *testing.F) {
	addSeeds6(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		accepted := 0
		if m, err := ParseNDPRouterSolicitation(b); err == nil {
			accepted++
			checkNDPOptions(t, m.Options(), m.ForEachOption)
			c := make([]byte, 8)
			PutNDPRouterSolicitation(c)
			if c[0] != b[0] {
				t.Fatal("type")
			}
		}
		if m, err := ParseNDPRouterAdvertisement(b); err == nil {
			accepted++
			checkNDPOptions(t, m.Options(), m.ForEachOption)
			_, _, _ = m.Managed(), m.Other(), m.Preference()
			if p := m.Preference(); p < -1 || p > 1 {
				t.Fatal("preference")
			}
			a := NDPRouterAdvert{CurHopLimit: m.CurHopLimit(), Flags: m.Flags(), RouterLifetime: m.RouterLifetime(), ReachableTime: m.ReachableTime(), RetransTimer: m.RetransTimer()}
			c := make([]byte, 16)
			a.Encode(c)
			if c[0] != b[0] || !bytes.Equal(c[4:], b[4:16]) {
				t.Fatal("RA re-encode")
			}
		}
		if m, err := ParseNDPNeighborSolicitation(b); err == nil {
			accepted++
			checkNDPOptions(t, m.Options(), m.ForEachOption)
			c := make([]byte, 24)
			PutNDPNeighborSolicitation(c, m.Target())
			if c[0] != b[0] || !bytes.Equal(c[8:], b[8:24]) {
				t.Fatal("NS re-encode")
			}
		}
		if m, err := ParseNDPNeighborAdvertisement(b); err == nil {
			accepted++
			checkNDPOptions(t, m.Options(), m.ForEachOption)
			_, _, _ = m.Router(), m.Solicited(), m.Override()
			c := make([]byte, 24)
			PutNDPNeighborAdvertisement(c, m.Flags(), m.Target())
			if c[0] != b[0] || c[4] != b[4] || !bytes.Equal(c[8:], b[8:24]) {
				t.Fatal("NA re-encode")
			}
		}
		if m, err := ParseNDPRedirect(b); err == nil {
			accepted++
			checkNDPOptions(t, m.Options(), m.ForEachOption)
			c := make([]byte, 40)
			PutNDPRedirect(c, m.Target(), m.Destination())
			if c[0] != b[0] || !bytes.Equal(c[8:], b[8:40]) {
				t.Fatal("redirect re-encode")
			}
		}
		if accepted > 1 {
			t.Fatalf("%d parsers accepted one message", accepted)
		}
	})
}

func FuzzNDPOptions(f *testing.F) {
	addSeeds6(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		err := ForEachNDPOption(b, func(o NDPOption) bool {
			total += o.Len()
			checkNDPOption(t, o)
			return true
		})
		if (err == nil) != (total == len(b)) || (err != nil && err != ErrBadLength) {
			t.Fatalf("err %v after %d of %d bytes", err, total, len(b))
		}
	})
}

func FuzzMLD(f *testing.F) {
	addSeeds6(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMLD(b)
		if err != nil {
			return
		}
		_, _, _, _ = m.MaxRespDelay(), m.QueryInterval(), m.SFlag(), m.QRV()
		_, _ = m.Group(), m.ChecksumValid(testSrc6, testDst6)
		if v := m.Version(); v < 1 || v > 2 {
			t.Fatalf("version %d", v)
		}
		if m.MaxRespDelay() < 0 || m.MaxRespDelay() > MLDMaxCodeValue*1e6 {
			t.Fatalf("delay %v", m.MaxRespDelay())
		}
		for i := -1; i <= m.NumSources(); i++ {
			_ = m.Source(i)
		}
		total, n := 0, 0
		m.ForEachAddressRecord(func(r MLDAddressRecord) bool {
			n++
			total += len(r.Bytes())
			for i := -1; i <= r.NumSources(); i++ {
				_ = r.Source(i)
			}
			if len(r.AuxData()) != r.AuxDataLen() {
				t.Fatal("aux length")
			}
			_, _ = r.Type(), r.Group()
			return true
		})
		if n != m.NumAddressRecords() || 8+total > len(b) {
			t.Fatalf("records %d/%d, %d bytes of %d", n, m.NumAddressRecords(), total, len(b))
		}
		switch {
		case m.Version() == 1:
			c := make([]byte, MLDv1Len)
			PutMLDv1(c, m.Type(), m.MaxRespCode(), m.Group())
			if c[0] != b[0] || !bytes.Equal(c[4:6], b[4:6]) || !bytes.Equal(c[8:], b[8:24]) {
				t.Fatal("v1 re-encode")
			}
		case m.Type() == ICMPv6MLDQuery:
			srcs := make([]netip.Addr, m.NumSources())
			for i := range srcs {
				srcs[i] = m.Source(i)
			}
			c := make([]byte, MLDv2QueryLen(len(srcs)))
			PutMLDv2Query(c, m.MaxRespCode(), m.Group(), m.SFlag(), m.QRV(), m.QQIC(), srcs)
			c[24] |= b[24] & 0xf0 // reserved bits
			if c[0] != b[0] || !bytes.Equal(c[4:6], b[4:6]) || !bytes.Equal(c[8:], b[8:len(c)]) {
				t.Fatalf("v2 query re-encode\n%x\n%x", c, b)
			}
		}
	})
}
