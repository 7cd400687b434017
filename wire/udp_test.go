package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func buildUDP(src, dst netip.Addr, sp, dp uint16, payload []byte) []byte {
	b := make([]byte, UDPHeaderLen+len(payload))
	PutUDP(b, sp, dp, len(b))
	copy(b[UDPHeaderLen:], payload)
	SetUDPChecksum(b, src, dst)
	return b
}

func TestUDPBuildGopacket(t *testing.T) {
	r := newRand(t)
	for _, v6 := range []bool{false, true} {
		src, dst := testSrc4, testDst4
		if v6 {
			src, dst = testSrc6, testDst6
		}
		for n := 0; n < 40; n++ {
			payload := randBytes(r, n*7)
			seg := buildUDP(src, dst, 40000+uint16(n), 7, payload)
			var pkt []byte
			var first gopacket.LayerType
			if v6 {
				pkt = serialize(t, goIPv6(src, dst, layers.IPProtocolUDP), gopacket.Payload(seg))
				first = layers.LayerTypeIPv6
			} else {
				pkt = serialize(t, goIPv4(src, dst, layers.IPProtocolUDP), gopacket.Payload(seg))
				first = layers.LayerTypeIPv4
			}
			p := decode(t, pkt, first)
			g := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if err := g.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
				t.Fatal(err)
			}
			if _, res := g.VerifyChecksum(); !res.Valid || g.Checksum == 0 {
				t.Fatalf("v6=%v n=%d: gopacket checksum %+v", v6, n, res)
			}
			if uint16(g.SrcPort) != 40000+uint16(n) || g.DstPort != 7 || int(g.Length) != len(seg) || !bytes.Equal(g.Payload, payload) {
				t.Fatalf("gopacket sees %+v", g)
			}
			u, err := ParseUDP(seg)
			if err != nil {
				t.Fatal(err)
			}
			if u.SrcPort() != 40000+uint16(n) || u.DstPort() != 7 || u.Length() != len(seg) || !bytes.Equal(u.Payload(), payload) ||
				!bytes.Equal(u.Bytes(), seg) || !u.ChecksumValid(src, dst) || u.Checksum() != g.Checksum {
				t.Fatal("round trip mismatch")
			}
			if u.ChecksumValid(dst, netip.MustParseAddr("192.168.7.3")) && !v6 {
				t.Fatal("checksum valid with wrong pseudo-header")
			}
			if len(seg) > UDPHeaderLen {
				seg[len(seg)-1] ^= 1
				if u.ChecksumValid(src, dst) {
					t.Fatal("corrupted datagram verifies")
				}
			}
		}
	}
}

func TestUDPParseGopacket(t *testing.T) {
	g := &layers.UDP{SrcPort: 5353, DstPort: 5353}
	ip := goIPv4(testSrc4, testDst4, layers.IPProtocolUDP)
	_ = g.SetNetworkLayerForChecksum(ip)
	payload := []byte("mdns-ish data")
	pkt := serialize(t, ip, g, gopacket.Payload(payload))
	seg := append(pkt[20:], 0xaa, 0xbb) // trailing bytes beyond Length are cut
	u, err := ParseUDP(seg)
	if err != nil {
		t.Fatal(err)
	}
	if u.SrcPort() != 5353 || u.DstPort() != 5353 || u.Length() != 8+len(payload) || !bytes.Equal(u.Payload(), payload) ||
		!u.ChecksumValid(testSrc4, testDst4) {
		t.Error("mismatch")
	}
	// Rebuilding from the accessors gives the same bytes.
	c := buildUDP(testSrc4, testDst4, u.SrcPort(), u.DstPort(), u.Payload())
	if !bytes.Equal(c, u.Bytes()) {
		t.Errorf("rebuild\n%x\n%x", c, u.Bytes())
	}
}

func TestUDPZeroChecksum(t *testing.T) {
	seg := buildUDP(testSrc4, testDst4, 1, 2, []byte("abcd"))
	seg[6], seg[7] = 0, 0
	u, _ := ParseUDP(seg)
	if !u.ChecksumValid(testSrc4, testDst4) {
		t.Error("IPv4: zero checksum means none, must be accepted")
	}
	if u.ChecksumValid(testSrc6, testDst6) {
		t.Error("IPv6: zero checksum must be rejected")
	}
}

// TestUDPComputedZeroSentAsOnes builds a datagram whose checksum computes
// to 0 and checks it is sent as 0xffff and verifies.
func TestUDPComputedZeroSentAsOnes(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		src, dst := testSrc4, testDst4
		if v6 {
			src, dst = testSrc6, testDst6
		}
		seg := make([]byte, 12)
		PutUDP(seg, 1000, 2000, len(seg))
		c := Checksum(seg, PseudoHeaderSum(src, dst, ProtoUDP, len(seg)))
		binary.BigEndian.PutUint16(seg[8:], c) // now the data sums to 0xffff
		SetUDPChecksum(seg, src, dst)
		if got := binary.BigEndian.Uint16(seg[6:]); got != 0xffff {
			t.Fatalf("v6=%v: checksum field %#04x, want 0xffff", v6, got)
		}
		u, _ := ParseUDP(seg)
		if !u.ChecksumValid(src, dst) {
			t.Errorf("v6=%v: 0xffff checksum does not verify", v6)
		}
	}
}

func TestParseUDPErrors(t *testing.T) {
	good := buildUDP(testSrc4, testDst4, 1, 2, []byte("0123456789"))
	parse := func(b []byte) error { _, err := ParseUDP(b); return err }
	checkShort(t, good, UDPHeaderLen, ErrTooShort, parse)
	for _, tc := range []struct {
		length int
		want   error
	}{{0, ErrBadLength}, {7, ErrBadLength}, {8, nil}, {18, nil}, {19, ErrBadLength}, {0xffff, ErrBadLength}} {
		b := append([]byte(nil), good...)
		binary.BigEndian.PutUint16(b[4:], uint16(tc.length))
		if err := parse(b); err != tc.want {
			t.Errorf("length %d: %v, want %v", tc.length, err, tc.want)
		}
	}
	if err := parse(good[:17]); err != ErrBadLength {
		t.Errorf("truncated: %v", err)
	}
}

func TestUDPLite(t *testing.T) {
	payload := []byte("udp-lite: header + partially covered payload...")
	for _, v6 := range []bool{false, true} {
		src, dst := testSrc4, testDst4
		if v6 {
			src, dst = testSrc6, testDst6
		}
		for _, cov := range []int{0, 8, 12, len(payload) + 8} {
			seg := make([]byte, 8+len(payload))
			PutUDPLite(seg, 1111, 2222, 0)
			copy(seg[8:], payload)
			SetUDPLiteChecksum(seg, src, dst, cov)

			// gopacket oracle for the fields.
			var pkt []byte
			if v6 {
				pkt = serialize(t, goIPv6(src, dst, layers.IPProtocolUDPLite), gopacket.Payload(seg))
			} else {
				pkt = serialize(t, goIPv4(src, dst, layers.IPProtocolUDPLite), gopacket.Payload(seg))
			}
			first := layers.LayerTypeIPv4
			if v6 {
				first = layers.LayerTypeIPv6
			}
			p := decode(t, pkt, first)
			g := p.Layer(layers.LayerTypeUDPLite).(*layers.UDPLite)
			if g.SrcPort != 1111 || g.DstPort != 2222 || int(g.ChecksumCoverage) != cov || g.Checksum != binary.BigEndian.Uint16(seg[6:]) {
				t.Errorf("gopacket sees %+v", g)
			}

			u, err := ParseUDPLite(seg)
			if err != nil {
				t.Fatal(err)
			}
			wantCov := cov
			if cov == 0 {
				wantCov = len(seg)
			}
			if u.SrcPort() != 1111 || u.DstPort() != 2222 || u.CoverageField() != cov || u.Coverage() != wantCov ||
				u.Length() != len(seg) || !bytes.Equal(u.Payload(), payload) || !bytes.Equal(u.Bytes(), seg) {
				t.Error("field mismatch")
			}
			if !u.ChecksumValid(src, dst) {
				t.Errorf("v6=%v cov=%d: checksum invalid", v6, cov)
			}
			// Independent check of the checksum: covered bytes plus pseudo-header
			// with the full length.
			if refChecksum(seg[:wantCov], PseudoHeaderSum(src, dst, ProtoUDPLite, len(seg))) != 0 {
				t.Error("reference checksum does not verify")
			}
			// Corruption outside the coverage is not detected; inside it is.
			if wantCov < len(seg) {
				seg[len(seg)-1] ^= 0xff
				if !u.ChecksumValid(src, dst) {
					t.Error("uncovered corruption detected")
				}
			}
			seg[wantCov-1] ^= 0x01
			if u.ChecksumValid(src, dst) {
				t.Error("covered corruption not detected")
			}
		}
	}
}

func TestParseUDPLiteErrors(t *testing.T) {
	seg := make([]byte, 20)
	PutUDPLite(seg, 1, 2, 0)
	SetUDPLiteChecksum(seg, testSrc4, testDst4, 0)
	parse := func(b []byte) error { _, err := ParseUDPLite(b); return err }
	checkShort(t, seg, UDPHeaderLen, ErrTooShort, parse)
	for cov := 0; cov < 40; cov++ {
		b := append([]byte(nil), seg...)
		binary.BigEndian.PutUint16(b[4:], uint16(cov))
		want := error(nil)
		if cov != 0 && (cov < 8 || cov > 20) {
			want = ErrBadLength
		}
		if err := parse(b); err != want {
			t.Errorf("coverage %d: %v, want %v", cov, err, want)
		}
	}
	// A zero checksum is never valid for UDP-Lite (RFC 3828 §3.1).
	seg[6], seg[7] = 0, 0
	if u, _ := ParseUDPLite(seg); u.ChecksumValid(testSrc4, testDst4) {
		t.Error("zero checksum accepted")
	}
}

func TestUDPZeroAllocs(t *testing.T) {
	b := make([]byte, 100)
	var sink int
	checkZeroAllocs(t, "build", func() {
		PutUDP(b, 1, 2, len(b))
		SetUDPChecksum(b, testSrc4, testDst4)
	})
	checkZeroAllocs(t, "parse", func() {
		u, err := ParseUDP(b)
		if err != nil || !u.ChecksumValid(testSrc4, testDst4) {
			panic("bad")
		}
		sink += len(u.Payload()) + int(u.SrcPort())
	})
	checkZeroAllocs(t, "lite", func() {
		PutUDPLite(b, 1, 2, 0)
		SetUDPLiteChecksum(b, testSrc6, testDst6, 20)
		u, err := ParseUDPLite(b)
		if err != nil || !u.ChecksumValid(testSrc6, testDst6) {
			panic("bad")
		}
		sink += u.Coverage()
	})
	_ = sink
}

// buildEthIPv4UDP writes a whole Ethernet+IPv4+UDP frame into b and
// returns its length.
func buildEthIPv4UDP(b []byte, payload []byte) int {
	PutEthernet(b, testMAC2, testMAC1, EtherTypeIPv4)
	n := EthernetHeaderLen + IPv4MinHeaderLen + UDPHeaderLen + len(payload)
	h := IPv4Header{TotalLength: n - EthernetHeaderLen, ID: 1, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoUDP, Src: testSrc4, Dst: testDst4}
	ip := b[EthernetHeaderLen:n]
	hl := h.Encode(ip)
	seg := ip[hl:]
	PutUDP(seg, 5000, 6000, len(seg))
	copy(seg[UDPHeaderLen:], payload)
	SetUDPChecksum(seg, testSrc4, testDst4)
	return n
}

func parseEthIPv4UDP(frame []byte) (UDP, error) {
	e, err := ParseEthernet(frame)
	if err != nil {
		return UDP{}, err
	}
	ip, err := ParseIPv4(e.Payload())
	if err != nil {
		return UDP{}, err
	}
	if !ip.ChecksumValid() {
		return UDP{}, ErrBadChecksum
	}
	u, err := ParseUDP(ip.Payload())
	if err != nil {
		return UDP{}, err
	}
	if !u.ChecksumValid(ip.Src(), ip.Dst()) {
		return UDP{}, ErrBadChecksum
	}
	return u, nil
}

func TestEthIPv4UDPFrameGopacket(t *testing.T) {
	b := make([]byte, 1514)
	payload := []byte("whole frame")
	n := buildEthIPv4UDP(b, payload)
	p := decode(t, b[:n], layers.LayerTypeEthernet)
	g := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	_ = g.SetNetworkLayerForChecksum(p.NetworkLayer())
	if _, res := g.VerifyChecksum(); !res.Valid || !bytes.Equal(g.Payload, payload) {
		t.Errorf("gopacket: %+v", res)
	}
	u, err := parseEthIPv4UDP(b[:n])
	if err != nil || !bytes.Equal(u.Payload(), payload) {
		t.Errorf("parse: %v", err)
	}
	checkZeroAllocs(t, "frame", func() {
		n := buildEthIPv4UDP(b, payload)
		if _, err := parseEthIPv4UDP(b[:n]); err != nil {
			panic(err)
		}
	})
}

func BenchmarkParseEthIPv4UDP(b *testing.B) {
	buf := make([]byte, 1514)
	n := buildEthIPv4UDP(buf, make([]byte, 1472))
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := parseEthIPv4UDP(buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildEthIPv4UDP(b *testing.B) {
	buf := make([]byte, 1514)
	payload := make([]byte, 1472)
	b.ReportAllocs()
	b.SetBytes(1514)
	for b.Loop() {
		buildEthIPv4UDP(buf, payload)
	}
}

func BenchmarkParseEthIPv4UDPSmall(b *testing.B) {
	buf := make([]byte, 1514)
	n := buildEthIPv4UDP(buf, make([]byte, 32))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseEthIPv4UDP(buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
}
