package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestIPv6EncodeGopacket(t *testing.T) {
	payload := []byte("udp-ish payload of some length")
	tests := []struct {
		name string
		h    IPv6Header
	}{
		{"plain", IPv6Header{NextHeader: ProtoUDP, HopLimit: 64, Src: testSrc6, Dst: testDst6}},
		{"tc-flow", IPv6Header{TrafficClass: 0xb9, FlowLabel: 0xabcde, NextHeader: ProtoTCP, HopLimit: 1, Src: testSrc6, Dst: testDst6}},
		{"max", IPv6Header{TrafficClass: 0xff, FlowLabel: 0xfffff, NextHeader: 0xff, HopLimit: 255,
			Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("ff02::1:ff00:2")}},
		{"flow-overflow", IPv6Header{FlowLabel: 0xfff12345, NextHeader: ProtoICMPv6, HopLimit: 255, Src: testSrc6, Dst: testDst6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.PayloadLength = len(payload)
			b := bytes.Repeat([]byte{0xee}, IPv6HeaderLen+len(payload))
			if n := h.Encode(b); n != IPv6HeaderLen {
				t.Fatalf("Encode returned %d", n)
			}
			copy(b[IPv6HeaderLen:], payload)

			g := decodeIPv6Layer(t, b)
			if g.Version != 6 || g.TrafficClass != h.TrafficClass || g.FlowLabel != h.FlowLabel&0xfffff ||
				int(g.Length) != len(payload) || uint8(g.NextHeader) != h.NextHeader || g.HopLimit != h.HopLimit ||
				!g.SrcIP.Equal(h.Src.AsSlice()) || !g.DstIP.Equal(h.Dst.AsSlice()) {
				t.Errorf("gopacket sees %+v", g)
			}

			v, err := ParseIPv6(b)
			if err != nil {
				t.Fatal(err)
			}
			if v.TrafficClass() != h.TrafficClass || v.FlowLabel() != h.FlowLabel&0xfffff || v.PayloadLength() != len(payload) ||
				v.NextHeader() != h.NextHeader || v.HopLimit() != h.HopLimit || v.Src() != h.Src || v.Dst() != h.Dst {
				t.Errorf("round trip mismatch")
			}
			if !bytes.Equal(v.Payload(), payload) || !bytes.Equal(v.Header(), b[:40]) || !bytes.Equal(v.Bytes(), b) {
				t.Error("slices")
			}
			// Rebuilding from the accessors gives the same header.
			r := IPv6Header{TrafficClass: v.TrafficClass(), FlowLabel: v.FlowLabel(), PayloadLength: v.PayloadLength(),
				NextHeader: v.NextHeader(), HopLimit: v.HopLimit(), Src: v.Src(), Dst: v.Dst()}
			c := make([]byte, 40)
			r.Encode(c)
			if !bytes.Equal(c, b[:40]) {
				t.Errorf("rebuild\n%x\n%x", c, b[:40])
			}
		})
	}
}

// decodeIPv6Layer decodes b with gopacket and returns its IPv6 layer.
func decodeIPv6Layer(t *testing.T, b []byte) *layers.IPv6 {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
	l, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if !ok {
		t.Fatalf("gopacket: no IPv6 layer: %v", p.ErrorLayer())
	}
	return l
}

func TestParseIPv6Gopacket(t *testing.T) {
	ip := goIPv6(testSrc6, testDst6, layers.IPProtocolUDP)
	ip.TrafficClass, ip.FlowLabel, ip.HopLimit = 0x2e, 0x12345, 17
	udp := &layers.UDP{SrcPort: 5353, DstPort: 5353}
	_ = udp.SetNetworkLayerForChecksum(ip)
	payload := []byte("some data")
	b := serialize(t, ip, udp, gopacket.Payload(payload))
	padded := append(append([]byte(nil), b...), 0, 0, 0, 0) // link padding is cut
	v, err := ParseIPv6(padded)
	if err != nil {
		t.Fatal(err)
	}
	if v.TrafficClass() != 0x2e || v.FlowLabel() != 0x12345 || v.HopLimit() != 17 || v.NextHeader() != ProtoUDP ||
		v.Src() != testSrc6 || v.Dst() != testDst6 || v.PayloadLength() != 8+len(payload) || len(v.Bytes()) != len(b) {
		t.Errorf("mismatch")
	}
	proto, data, err := v.UpperLayer()
	if err != nil || proto != ProtoUDP || !bytes.Equal(data, b[40:]) {
		t.Errorf("UpperLayer %d %x %v", proto, data, err)
	}
	u, err := ParseUDP(data)
	if err != nil || !u.ChecksumValid(v.Src(), v.Dst()) {
		t.Errorf("UDP over IPv6: %v", err)
	}
}

func TestParseIPv6Errors(t *testing.T) {
	h := IPv6Header{PayloadLength: 8, NextHeader: ProtoNoNext, HopLimit: 64, Src: testSrc6, Dst: testDst6}
	good := make([]byte, 48)
	h.Encode(good)
	parse := func(b []byte) error { _, err := ParseIPv6(b); return err }
	if err := parse(good); err != nil {
		t.Fatal(err)
	}
	checkShort(t, good, IPv6HeaderLen, ErrTooShort, parse)
	mod := func(f func(b []byte)) []byte { return mutated(good, f) }
	tests := []parseCase{
		{"version4", mod(func(b []byte) { b[0] = 0x45 }), ErrBadVersion},
		{"version0", mod(func(b []byte) { b[0] = 0x00 }), ErrBadVersion},
		{"version7", mod(func(b []byte) { b[0] = 0x70 }), ErrBadVersion},
		{"plen>len", mod(func(b []byte) { binary.BigEndian.PutUint16(b[4:], 9) }), ErrBadLength},
		{"plen-max", mod(func(b []byte) { binary.BigEndian.PutUint16(b[4:], 0xffff) }), ErrBadLength},
		{"truncated-payload", good[:47], ErrBadLength},
		{"header-only-plen8", good[:40], ErrBadLength},
		{"plen0", mod(func(b []byte) { binary.BigEndian.PutUint16(b[4:], 0) }), nil},
		{"ok", good, nil},
	}
	checkParseCases(t, parse, tests)
	// Payload length 0 (no jumbogram support) gives an empty payload.
	v, _ := ParseIPv6(tests[7].b)
	if len(v.Payload()) != 0 || len(v.Bytes()) != 40 {
		t.Errorf("plen 0: payload %d", len(v.Payload()))
	}
}

func TestSetIPv6HopLimit(t *testing.T) {
	h := IPv6Header{NextHeader: ProtoUDP, HopLimit: 64, Src: testSrc6, Dst: testDst6}
	b := make([]byte, 40)
	h.Encode(b)
	want := append([]byte(nil), b...)
	want[7] = 63
	SetIPv6HopLimit(b, 63)
	if !bytes.Equal(b, want) {
		t.Errorf("got %x", b)
	}
	if v, _ := ParseIPv6(b); v.HopLimit() != 63 {
		t.Error("hop limit")
	}
}

func TestIPv6AddressHelpers(t *testing.T) {
	tests := []struct {
		addr, snm string
		mac       MAC
	}{
		{"2001:db8::1", "ff02::1:ff00:1", MAC{0x33, 0x33, 0xff, 0, 0, 1}},
		{"fe80::211:22ff:fe33:4455", "ff02::1:ff33:4455", MAC{0x33, 0x33, 0xff, 0x33, 0x44, 0x55}},
		{"2001:db8:ffff:ffff:ffff:ffff:ffab:cdef", "ff02::1:ffab:cdef", MAC{0x33, 0x33, 0xff, 0xab, 0xcd, 0xef}},
	}
	for _, tc := range tests {
		snm := SolicitedNodeMulticast(netip.MustParseAddr(tc.addr))
		if snm != netip.MustParseAddr(tc.snm) {
			t.Errorf("%s: solicited-node %s, want %s", tc.addr, snm, tc.snm)
		}
		if m := IPv6MulticastMAC(snm); m != tc.mac {
			t.Errorf("%s: MAC %s, want %s", tc.snm, m, tc.mac)
		}
		if !IPv6MulticastMAC(snm).IsMulticast() {
			t.Error("multicast MAC without the group bit")
		}
	}
	if m := IPv6MulticastMAC(IPv6AllNodes); m != (MAC{0x33, 0x33, 0, 0, 0, 1}) {
		t.Errorf("all-nodes MAC %s", m)
	}
	for a, s := range map[netip.Addr]string{IPv6AllNodes: "ff02::1", IPv6AllRouters: "ff02::2", IPv6AllMLDv2Routers: "ff02::16"} {
		if a != netip.MustParseAddr(s) {
			t.Errorf("%s != %s", a, s)
		}
	}
	// RFC 4291 appendix A / RFC 2464 §4: 34-56-78-9A-BC-DE -> 36-56-78-FF-FE-9A-BC-DE.
	mac := MAC{0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde}
	if id := EUI64(mac); id != [8]byte{0x36, 0x56, 0x78, 0xff, 0xfe, 0x9a, 0xbc, 0xde} {
		t.Errorf("EUI64 %x", id)
	}
	if id := EUI64(testMAC1); id != [8]byte{0x00, 0, 0, 0xff, 0xfe, 0, 0, 1} { // local bit 0x02 inverted
		t.Errorf("EUI64 %x", id)
	}
	if ll := LinkLocalFromMAC(mac); ll != netip.MustParseAddr("fe80::3656:78ff:fe9a:bcde") {
		t.Errorf("link-local %s", ll)
	}
}

func TestIPv6ZeroAllocs(t *testing.T) {
	b := make([]byte, 128)
	h := IPv6Header{PayloadLength: 88, NextHeader: ProtoICMPv6, HopLimit: 64, Src: testSrc6, Dst: testDst6}
	var sink int
	checkZeroAllocs(t, "encode", func() { h.Encode(b) })
	checkZeroAllocs(t, "parse", func() {
		v, err := ParseIPv6(b)
		if err != nil {
			panic(err)
		}
		p, d, err := v.UpperLayer()
		if err != nil {
			panic(err)
		}
		sink += int(p) + len(d) + int(v.FlowLabel()) + int(v.HopLimit())
		if v.Src() == v.Dst() {
			sink++
		}
	})
	checkZeroAllocs(t, "helpers", func() {
		m := IPv6MulticastMAC(SolicitedNodeMulticast(testSrc6))
		sink += int(m[5]) + int(LinkLocalFromMAC(testMAC1).As16()[15])
	})
	_ = sink
}

// buildIPv6Echo builds an IPv6 + ICMPv6 echo request with payload into b
// and returns its length.
func buildIPv6Echo(b []byte, payload []byte) int {
	n := IPv6HeaderLen + ICMPv6HeaderLen + len(payload)
	h := IPv6Header{PayloadLength: n - IPv6HeaderLen, NextHeader: ProtoICMPv6, HopLimit: 64, Src: testSrc6, Dst: testDst6}
	h.Encode(b)
	m := b[IPv6HeaderLen:n]
	PutICMPv6(m, ICMPv6EchoRequest, 0, 0x1234<<16|7)
	copy(m[ICMPv6HeaderLen:], payload)
	SetICMPv6Checksum(m, h.Src, h.Dst)
	return n
}

// parseIPv6Echo parses what buildIPv6Echo builds and checks the checksum.
func parseIPv6Echo(b []byte) (ICMPv6, error) {
	v, err := ParseIPv6(b)
	if err != nil {
		return ICMPv6{}, err
	}
	proto, data, err := v.UpperLayer()
	if err != nil {
		return ICMPv6{}, err
	}
	if proto != ProtoICMPv6 {
		return ICMPv6{}, ErrUnsupported
	}
	m, err := ParseICMPv6(data)
	if err != nil {
		return ICMPv6{}, err
	}
	if !m.ChecksumValid(v.Src(), v.Dst()) {
		return ICMPv6{}, ErrBadChecksum
	}
	return m, nil
}

func TestIPv6EchoGopacket(t *testing.T) {
	b := make([]byte, 200)
	n := buildIPv6Echo(b, []byte("echo payload, odd length"))
	p := decode(t, b[:n], layers.LayerTypeIPv6)
	ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	_ = ic.SetNetworkLayerForChecksum(p.NetworkLayer())
	if _, res := ic.VerifyChecksum(); !res.Valid {
		t.Errorf("gopacket checksum %+v", res)
	}
	e := p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
	if e.Identifier != 0x1234 || e.SeqNumber != 7 || ic.TypeCode.Type() != ICMPv6EchoRequest {
		t.Errorf("gopacket echo %+v", e)
	}
	m, err := parseIPv6Echo(b[:n])
	if err != nil || m.ID() != 0x1234 || m.Seq() != 7 {
		t.Errorf("parse: %v", err)
	}
	data := make([]byte, 64)
	checkZeroAllocs(t, "echo", func() {
		n := buildIPv6Echo(b, data)
		if _, err := parseIPv6Echo(b[:n]); err != nil {
			panic(err)
		}
	})
}

func BenchmarkParseIPv6ICMPv6(b *testing.B) {
	buf := make([]byte, 1500)
	n := buildIPv6Echo(buf, make([]byte, 1500-48))
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := parseIPv6Echo(buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildIPv6ICMPv6(b *testing.B) {
	buf := make([]byte, 1500)
	payload := make([]byte, 1500-48)
	b.ReportAllocs()
	b.SetBytes(1500)
	for b.Loop() {
		buildIPv6Echo(buf, payload)
	}
}

func BenchmarkParseIPv6ICMPv6Gopacket(b *testing.B) {
	buf := make([]byte, 1500)
	n := buildIPv6Echo(buf, make([]byte, 1500-48))
	var ip layers.IPv6
	var ic layers.ICMPv6
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if err := ip.DecodeFromBytes(buf[:n], gopacket.NilDecodeFeedback); err != nil {
			b.Fatal(err)
		}
		if err := ic.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback); err != nil {
			b.Fatal(err)
		}
		_ = ic.SetNetworkLayerForChecksum(&ip)
		if _, res := ic.VerifyChecksum(); !res.Valid {
			b.Fatal("checksum")
		}
	}
}
