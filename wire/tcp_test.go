package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// buildTCP writes a TCP segment with options and payload into b and
// returns its length.
func buildTCP(b []byte, h TCPHeader, o *TCPOptions, payload []byte, src, dst netip.Addr) int {
	h.OptionsLen = o.EncodedLen()
	n := h.Encode(b)
	o.Encode(b[TCPMinHeaderLen:])
	n += copy(b[n:], payload)
	SetTCPChecksum(b[:n], src, dst)
	return n
}

func TestTCPBuildGopacket(t *testing.T) {
	payload := []byte("GET / HTTP/1.1\r\n\r\n")
	tests := []struct {
		name string
		h    TCPHeader
		o    TCPOptions
	}{
		{"syn", TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 0xfffffff0, Flags: TCPFlagSYN, Window: 65535},
			TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 123456, HasTimestamps: true, WScale: 7, HasWScale: true}},
		{"synack-nots", TCPHeader{SrcPort: 80, DstPort: 40000, Seq: 1, Ack: 0xfffffff1, Flags: TCPFlagSYN | TCPFlagACK, Window: 29200},
			TCPOptions{MSS: 536, HasMSS: true, SACKPermitted: true, WScale: 14, HasWScale: true}},
		{"data-ts", TCPHeader{SrcPort: 1, DstPort: 2, Seq: 1000, Ack: 2000, Flags: TCPFlagACK | TCPFlagPSH, Window: 512, Urgent: 0},
			TCPOptions{TSVal: 1, TSEcr: 0xffffffff, HasTimestamps: true}},
		{"sack3-ts", TCPHeader{SrcPort: 1, DstPort: 2, Flags: TCPFlagACK, Window: 1},
			TCPOptions{TSVal: 5, TSEcr: 6, HasTimestamps: true, NumSACK: 3, SACK: [4]SACKBlock{{10, 20}, {30, 40}, {50, 60}}}},
		{"sack4", TCPHeader{SrcPort: 1, DstPort: 2, Flags: TCPFlagACK | TCPFlagECE | TCPFlagCWR | TCPFlagURG, Urgent: 3},
			TCPOptions{NumSACK: 4, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}},
		{"none", TCPHeader{SrcPort: 1, DstPort: 2, Flags: TCPFlagRST | TCPFlagFIN}, TCPOptions{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 100)
			n := buildTCP(b, tc.h, &tc.o, payload, testSrc4, testDst4)
			seg := b[:n]
			if want := 20 + tc.o.EncodedLen() + len(payload); n != want {
				t.Fatalf("length %d, want %d", n, want)
			}
			pkt := serialize(t, goIPv4(testSrc4, testDst4, layers.IPProtocolTCP), gopacket.Payload(seg))
			p := decode(t, pkt, layers.LayerTypeIPv4)
			g := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			_ = g.SetNetworkLayerForChecksum(p.NetworkLayer())
			if _, res := g.VerifyChecksum(); !res.Valid {
				t.Errorf("gopacket checksum %+v", res)
			}
			if uint16(g.SrcPort) != tc.h.SrcPort || uint16(g.DstPort) != tc.h.DstPort || g.Seq != tc.h.Seq || g.Ack != tc.h.Ack ||
				g.Window != tc.h.Window || g.Urgent != tc.h.Urgent || int(g.DataOffset)*4 != 20+tc.o.EncodedLen() ||
				g.SYN != (tc.h.Flags&TCPFlagSYN != 0) || g.ACK != (tc.h.Flags&TCPFlagACK != 0) || g.FIN != (tc.h.Flags&TCPFlagFIN != 0) ||
				g.RST != (tc.h.Flags&TCPFlagRST != 0) || g.PSH != (tc.h.Flags&TCPFlagPSH != 0) || g.URG != (tc.h.Flags&TCPFlagURG != 0) ||
				g.ECE != (tc.h.Flags&TCPFlagECE != 0) || g.CWR != (tc.h.Flags&TCPFlagCWR != 0) || !bytes.Equal(g.Payload, payload) {
				t.Errorf("gopacket sees %+v", g)
			}
			checkGopacketOptions(t, g.Options, &tc.o)

			v, err := ParseTCP(seg)
			if err != nil {
				t.Fatal(err)
			}
			if v.SrcPort() != tc.h.SrcPort || v.DstPort() != tc.h.DstPort || v.Seq() != tc.h.Seq || v.Ack() != tc.h.Ack ||
				v.Flags() != tc.h.Flags || v.Window() != tc.h.Window || v.Urgent() != tc.h.Urgent ||
				v.HeaderLen() != 20+tc.o.EncodedLen() || !bytes.Equal(v.Payload(), payload) || !bytes.Equal(v.Bytes(), seg) ||
				!v.ChecksumValid(testSrc4, testDst4) || v.Checksum() != g.Checksum || len(v.Header()) != v.HeaderLen() {
				t.Error("round trip mismatch")
			}
			var o TCPOptions
			if err := ParseTCPOptions(v.Options(), &o); err != nil {
				t.Fatal(err)
			}
			if o != tc.o {
				t.Errorf("options round trip\n got %+v\nwant %+v", o, tc.o)
			}
			seg[25] ^= 0x80
			if v.ChecksumValid(testSrc4, testDst4) {
				t.Error("corrupted segment verifies")
			}
		})
	}
}

// checkGopacketOptions compares gopacket's decoded options with o.
func checkGopacketOptions(t *testing.T, gopts []layers.TCPOption, o *TCPOptions) {
	t.Helper()
	var got TCPOptions
	for _, g := range gopts {
		switch g.OptionType {
		case layers.TCPOptionKindMSS:
			got.MSS, got.HasMSS = binary.BigEndian.Uint16(g.OptionData), true
		case layers.TCPOptionKindWindowScale:
			got.WScale, got.HasWScale = g.OptionData[0], true
		case layers.TCPOptionKindSACKPermitted:
			got.SACKPermitted = true
		case layers.TCPOptionKindTimestamps:
			got.TSVal, got.TSEcr, got.HasTimestamps = binary.BigEndian.Uint32(g.OptionData), binary.BigEndian.Uint32(g.OptionData[4:]), true
		case layers.TCPOptionKindSACK:
			for i := 0; i+8 <= len(g.OptionData); i += 8 {
				got.SACK[got.NumSACK] = SACKBlock{binary.BigEndian.Uint32(g.OptionData[i:]), binary.BigEndian.Uint32(g.OptionData[i+4:])}
				got.NumSACK++
			}
		case layers.TCPOptionKindNop, layers.TCPOptionKindEndList:
		default:
			t.Errorf("unexpected option kind %d", g.OptionType)
		}
	}
	if got != *o {
		t.Errorf("gopacket options\n got %+v\nwant %+v", got, *o)
	}
}

func TestTCPParseGopacket(t *testing.T) {
	g := &layers.TCP{SrcPort: 22, DstPort: 50000, Seq: 77, Ack: 88, SYN: true, ACK: true, Window: 1000, DataOffset: 0,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{9}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 2}},
		}}
	ip := goIPv4(testSrc4, testDst4, layers.IPProtocolTCP)
	_ = g.SetNetworkLayerForChecksum(ip)
	payload := []byte("SSH-2.0-x")
	pkt := serialize(t, ip, g, gopacket.Payload(payload))
	seg := pkt[20:]
	v, err := ParseTCP(seg)
	if err != nil {
		t.Fatal(err)
	}
	if v.SrcPort() != 22 || v.DstPort() != 50000 || v.Seq() != 77 || v.Ack() != 88 || v.Flags() != TCPFlagSYN|TCPFlagACK ||
		v.Window() != 1000 || !v.ChecksumValid(testSrc4, testDst4) || !bytes.Equal(v.Payload(), payload) {
		t.Error("mismatch")
	}
	var o TCPOptions
	if err := ParseTCPOptions(v.Options(), &o); err != nil {
		t.Fatal(err)
	}
	want := TCPOptions{MSS: 1460, HasMSS: true, WScale: 9, HasWScale: true, SACKPermitted: true, TSVal: 1, TSEcr: 2, HasTimestamps: true}
	if o != want {
		t.Errorf("options %+v", o)
	}
	// Rebuild the fixed header from the accessors: same bytes (checksum aside).
	c := make([]byte, len(seg))
	copy(c, seg)
	h := TCPHeader{SrcPort: v.SrcPort(), DstPort: v.DstPort(), Seq: v.Seq(), Ack: v.Ack(), Flags: v.Flags(), Window: v.Window(),
		Urgent: v.Urgent(), OptionsLen: len(v.Options())}
	h.Encode(c)
	SetTCPChecksum(c, testSrc4, testDst4)
	if !bytes.Equal(c, seg) {
		t.Errorf("rebuild\n%x\n%x", c, seg)
	}
	// IPv6 checksum too.
	g6 := &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true}
	ip6 := goIPv6(testSrc6, testDst6, layers.IPProtocolTCP)
	_ = g6.SetNetworkLayerForChecksum(ip6)
	pkt6 := serialize(t, ip6, g6, gopacket.Payload(payload))
	v6, err := ParseTCP(pkt6[40:])
	if err != nil || !v6.ChecksumValid(testSrc6, testDst6) {
		t.Errorf("IPv6 checksum: %v", err)
	}
}

func TestParseTCPErrors(t *testing.T) {
	b := make([]byte, 60)
	o := TCPOptions{MSS: 1, HasMSS: true}
	n := buildTCP(b, TCPHeader{SrcPort: 1}, &o, []byte("data"), testSrc4, testDst4)
	good := b[:n] // header 24 bytes + 4 data
	parse := func(b []byte) error { _, err := ParseTCP(b); return err }
	checkShort(t, good, TCPMinHeaderLen, ErrTooShort, parse)
	for off := 0; off < 16; off++ {
		c := append([]byte(nil), good...)
		c[12] = byte(off)<<4 | c[12]&0x0f
		want := error(nil)
		if off < 5 || off*4 > len(c) {
			want = ErrBadHeaderLen
		}
		if err := parse(c); err != want {
			t.Errorf("data offset %d: %v, want %v", off, err, want)
		}
	}
	if err := parse(good[:23]); err != ErrBadHeaderLen {
		t.Errorf("options cut: %v", err)
	}
}

func TestTCPHeaderEncodePanics(t *testing.T) {
	for _, ol := range []int{-4, 2, 44} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("OptionsLen %d: no panic", ol)
				}
			}()
			h := TCPHeader{OptionsLen: ol}
			h.Encode(make([]byte, 80))
		}()
	}
}

func TestTCPZeroAllocs(t *testing.T) {
	b := make([]byte, 200)
	o := TCPOptions{TSVal: 1, TSEcr: 2, HasTimestamps: true, NumSACK: 2, SACK: [4]SACKBlock{{1, 2}, {3, 4}}}
	payload := make([]byte, 100)
	var sink int
	checkZeroAllocs(t, "build", func() {
		sink += buildTCP(b, TCPHeader{SrcPort: 1, DstPort: 2, Flags: TCPFlagACK}, &o, payload, testSrc4, testDst4)
	})
	n := buildTCP(b, TCPHeader{SrcPort: 1, DstPort: 2, Flags: TCPFlagACK}, &o, payload, testSrc4, testDst4)
	var po TCPOptions
	checkZeroAllocs(t, "parse", func() {
		v, err := ParseTCP(b[:n])
		if err != nil || !v.ChecksumValid(testSrc4, testDst4) {
			panic("bad")
		}
		if err := ParseTCPOptions(v.Options(), &po); err != nil {
			panic(err)
		}
		sink += len(v.Payload()) + po.NumSACK
	})
	_ = sink
}

// ipv4TCPFrame builds IPv4+TCP with timestamps and SACK into b.
func buildIPv4TCP(b []byte, o *TCPOptions, payload []byte) int {
	tl := IPv4MinHeaderLen + TCPMinHeaderLen + o.EncodedLen() + len(payload)
	h := IPv4Header{TotalLength: tl, ID: 9, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoTCP, Src: testSrc4, Dst: testDst4}
	hl := h.Encode(b)
	return hl + buildTCP(b[hl:tl], TCPHeader{SrcPort: 443, DstPort: 50000, Seq: 1, Ack: 2, Flags: TCPFlagACK, Window: 1024}, o, payload, testSrc4, testDst4)
}

func parseIPv4TCP(b []byte, o *TCPOptions) (TCP, error) {
	ip, err := ParseIPv4(b)
	if err != nil {
		return TCP{}, err
	}
	if !ip.ChecksumValid() {
		return TCP{}, ErrBadChecksum
	}
	seg, err := ParseTCP(ip.Payload())
	if err != nil {
		return TCP{}, err
	}
	if !seg.ChecksumValid(ip.Src(), ip.Dst()) {
		return TCP{}, ErrBadChecksum
	}
	return seg, ParseTCPOptions(seg.Options(), o)
}

var benchTCPOpts = TCPOptions{TSVal: 0x01020304, TSEcr: 0x05060708, HasTimestamps: true, NumSACK: 2, SACK: [4]SACKBlock{{100, 200}, {300, 400}}}

func TestIPv4TCPFrameGopacket(t *testing.T) {
	b := make([]byte, 1500)
	payload := []byte("tcp data in a frame")
	o := benchTCPOpts
	n := buildIPv4TCP(b, &o, payload)
	p := decode(t, b[:n], layers.LayerTypeIPv4)
	g := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	_ = g.SetNetworkLayerForChecksum(p.NetworkLayer())
	if _, res := g.VerifyChecksum(); !res.Valid {
		t.Errorf("gopacket checksum %+v", res)
	}
	checkGopacketOptions(t, g.Options, &o)
	var po TCPOptions
	seg, err := parseIPv4TCP(b[:n], &po)
	if err != nil || po != o || !bytes.Equal(seg.Payload(), payload) {
		t.Errorf("parse: %v %+v", err, po)
	}
}

func BenchmarkParseIPv4TCPOptions(b *testing.B) {
	buf := make([]byte, 1500)
	o := benchTCPOpts
	n := buildIPv4TCP(buf, &o, make([]byte, 1500-20-20-o.EncodedLen()))
	var po TCPOptions
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := parseIPv4TCP(buf[:n], &po); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildIPv4TCPOptions(b *testing.B) {
	buf := make([]byte, 1500)
	o := benchTCPOpts
	payload := make([]byte, 1500-20-20-o.EncodedLen())
	b.ReportAllocs()
	b.SetBytes(1500)
	for b.Loop() {
		buildIPv4TCP(buf, &o, payload)
	}
}

func BenchmarkParseTCPOptions(b *testing.B) {
	opts := make([]byte, 40)
	o := TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 1, HasTimestamps: true, WScale: 7, HasWScale: true}
	n := o.Encode(opts)
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseTCPOptions(opts[:n], &o); err != nil {
			b.Fatal(err)
		}
	}
}
