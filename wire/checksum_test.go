package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// refChecksum is a word-at-a-time RFC 1071 reference.
func refChecksum(b []byte, initial uint32) uint16 {
	s := uint64(initial)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func TestChecksumKnownVectors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want uint16
	}{
		// RFC 1071 §3 numerical example: sum is ddf2, checksum its complement.
		{"rfc1071", "0001f203f4f5f6f7", ^uint16(0xddf2)},
		// IPv4 header with checksum field zeroed (checksum b861).
		{"ipv4hdr", "450000730000400040110000c0a80001c0a800c7", 0xb861},
		{"empty", "", 0xffff},
		{"odd", "01", ^uint16(0x0100)},
		{"allones", "ffffffff", 0x0000},
	}
	for _, tc := range tests {
		b := unhex(t, tc.hex)
		if got := Checksum(b, 0); got != tc.want {
			t.Errorf("%s: Checksum = %#04x, want %#04x", tc.name, got, tc.want)
		}
	}
	// A header including a correct checksum verifies to zero.
	hdr := unhex(t, "45000073000040004011b861c0a80001c0a800c7")
	if got := Checksum(hdr, 0); got != 0 {
		t.Errorf("verify header: %#04x, want 0", got)
	}
}

func TestChecksumAgainstReferenceAndGopacket(t *testing.T) {
	r := newRand(t)
	buf := randBytes(r, 2100)
	for n := 0; n <= 2048; n++ {
		for _, off := range []int{0, 1, 3} {
			b := buf[off : off+n]
			init := r.Uint32()
			if n%7 == 0 {
				init = 0
			}
			got := Checksum(b, init)
			if want := refChecksum(b, init); got != want {
				t.Fatalf("n=%d off=%d init=%#x: Checksum %#04x, ref %#04x", n, off, init, got, want)
			}
			if init <= 0xffffff { // gopacket's fold is not end-around past 32 bits
				if want := gopacket.FoldChecksum(gopacket.ComputeChecksum(b, init)); got != want {
					t.Fatalf("n=%d off=%d: Checksum %#04x, gopacket %#04x", n, off, got, want)
				}
			}
		}
	}
	// All-0xff data stresses the carries.
	ff := make([]byte, 4096)
	for i := range ff {
		ff[i] = 0xff
	}
	for n := 0; n <= len(ff); n += 13 {
		if got, want := Checksum(ff[:n], 0xffffffff), refChecksum(ff[:n], 0xffffffff); got != want {
			t.Fatalf("0xff n=%d: %#04x, want %#04x", n, got, want)
		}
	}
}

func TestSumComposes(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 500; i++ {
		b := randBytes(r, r.IntN(300))
		cut := r.IntN(len(b)+1) &^ 1
		whole := Fold(Sum(b, 0))
		split := Fold(Sum(b[cut:], Sum(b[:cut], 0)))
		if whole != split {
			t.Fatalf("len %d cut %d: whole %#04x split %#04x", len(b), cut, whole, split)
		}
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{{0, 0xffff}, {0xffff, 0}, {0x1fffe, 0}, {0x10000, 0xfffe}, {0xffffffff, 0}, {0x12345678, ^uint16(0x1234 + 0x5678)}} {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%#x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

// TestPseudoHeaderSum checks the pseudo-header against gopacket's TCP and
// UDP checksums over IPv4 and IPv6.
func TestPseudoHeaderSum(t *testing.T) {
	r := newRand(t)
	for _, v6 := range []bool{false, true} {
		for i := 0; i < 50; i++ {
			src, dst := testSrc4, testDst4
			if v6 {
				src, dst = testSrc6, testDst6
			}
			payload := randBytes(r, r.IntN(600))
			udp := &layers.UDP{SrcPort: layers.UDPPort(r.Uint32()), DstPort: 53}
			var net gopacket.NetworkLayer
			var nl gopacket.SerializableLayer
			if v6 {
				ip := goIPv6(src, dst, layers.IPProtocolUDP)
				net, nl = ip, ip
			} else {
				ip := goIPv4(src, dst, layers.IPProtocolUDP)
				net, nl = ip, ip
			}
			if err := udp.SetNetworkLayerForChecksum(net); err != nil {
				t.Fatal(err)
			}
			pkt := serialize(t, nl, udp, gopacket.Payload(payload))
			hl := 20
			if v6 {
				hl = 40
			}
			seg := pkt[hl:]
			want := binary.BigEndian.Uint16(seg[6:8])
			cp := append([]byte(nil), seg...)
			SetUDPChecksum(cp, src, dst)
			if got := binary.BigEndian.Uint16(cp[6:8]); got != want {
				t.Fatalf("v6=%v: our UDP checksum %#04x, gopacket %#04x", v6, got, want)
			}
		}
	}
}

func TestPseudoHeaderSumMapped(t *testing.T) {
	m1 := netip.AddrFrom16(testSrc4.As16())
	m2 := netip.AddrFrom16(testDst4.As16())
	if PseudoHeaderSum(m1, m2, ProtoUDP, 100) != PseudoHeaderSum(testSrc4, testDst4, ProtoUDP, 100) {
		t.Error("IPv4-mapped addresses must use the IPv4 pseudo-header")
	}
}

func TestUpdateChecksumRFC1624(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 20000; i++ {
		b := randBytes(r, 2+2*r.IntN(40))
		switch i % 4 { // exercise edge values
		case 1:
			clear(b)
		case 2:
			for j := range b {
				b[j] = 0xff
			}
		}
		b[0], b[1] = 0, 0
		binary.BigEndian.PutUint16(b, Checksum(b, 0))
		// 16-bit update at a random even offset past the checksum.
		if len(b) >= 4 {
			off := 2 + 2*r.IntN((len(b)-2)/2)
			old := binary.BigEndian.Uint16(b[off:])
			nw := uint16(r.Uint32())
			if i%5 == 0 {
				nw = 0
			}
			binary.BigEndian.PutUint16(b[off:], nw)
			inc := UpdateChecksum16(binary.BigEndian.Uint16(b), old, nw)
			binary.BigEndian.PutUint16(b, 0)
			full := Checksum(b, 0)
			if !sameChecksum(inc, full) {
				t.Fatalf("16: incremental %#04x, full %#04x", inc, full)
			}
			binary.BigEndian.PutUint16(b, inc)
			// All-zero data is the one case where eqn. 3 yields +0 (RFC 1624 §3).
			if Checksum(b, 0) != 0 && !allZero(b[2:]) {
				t.Fatalf("16: updated message does not verify")
			}
		}
		// 32-bit update.
		if len(b) >= 6 {
			off := 2 + 2*r.IntN((len(b)-4)/2)
			old := binary.BigEndian.Uint32(b[off:])
			nw := r.Uint32()
			binary.BigEndian.PutUint32(b[off:], nw)
			inc := UpdateChecksum32(binary.BigEndian.Uint16(b), old, nw)
			binary.BigEndian.PutUint16(b, 0)
			full := Checksum(b, 0)
			if !sameChecksum(inc, full) {
				t.Fatalf("32: incremental %#04x, full %#04x", inc, full)
			}
			binary.BigEndian.PutUint16(b, inc)
			if Checksum(b, 0) != 0 && !allZero(b[2:]) {
				t.Fatalf("32: updated message does not verify")
			}
		}
	}
}

func TestChecksumZeroAllocs(t *testing.T) {
	b := make([]byte, 1500)
	checkZeroAllocs(t, "Checksum", func() { _ = Checksum(b, 0) })
	checkZeroAllocs(t, "PseudoHeaderSum4", func() { _ = PseudoHeaderSum(testSrc4, testDst4, ProtoTCP, 1480) })
	checkZeroAllocs(t, "PseudoHeaderSum6", func() { _ = PseudoHeaderSum(testSrc6, testDst6, ProtoTCP, 1480) })
	checkZeroAllocs(t, "Update", func() { _ = UpdateChecksum32(UpdateChecksum16(1, 2, 3), 4, 5) })
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		_ = Checksum(buf, 0)
	}
}

func BenchmarkChecksum1500Gopacket(b *testing.B) {
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		_ = gopacket.FoldChecksum(gopacket.ComputeChecksum(buf, 0))
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// FuzzChecksum checks the Internet checksum against its definition on
// arbitrary data: the word-at-a-time Sum equals a plain 16-bit
// one's complement sum (RFC 1071), a message carrying its checksum
// verifies, and RFC 1624 incremental updates of a 16-bit and of a 32-bit
// value at an even offset agree with recomputing the checksum.
func FuzzChecksum(f *testing.F) {
	f.Add([]byte{}, uint16(0), uint32(0))
	f.Add([]byte{0x45, 0, 0, 0x54, 0, 0, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, uint16(0x1234), uint32(0xc0a80001))
	f.Add(bytes.Repeat([]byte{0xff}, 31), uint16(0), uint32(0xffffffff))
	f.Add(make([]byte, 40), uint16(0xffff), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, new16 uint16, new32 uint32) {
		var ref uint32 // the definition: 16-bit words, end-around carry
		for i := 0; i < len(data); i += 2 {
			w := uint32(data[i]) << 8
			if i+1 < len(data) {
				w |= uint32(data[i+1])
			}
			ref += w
			ref = (ref & 0xffff) + (ref >> 16)
		}
		if got := Fold(Sum(data, 0)); !sameChecksum(got, ^uint16(ref)) {
			t.Fatalf("checksum %#04x, the definition gives %#04x", got, ^uint16(ref))
		}
		if len(data) < 8 {
			return
		}
		b := append([]byte(nil), data[:len(data)&^1]...)
		b[0], b[1] = 0, 0
		binary.BigEndian.PutUint16(b, Checksum(b, 0))
		if v := Checksum(b, 0); v != 0 {
			t.Fatalf("a message carrying its checksum verifies to %#04x, want 0", v)
		}
		off := 2 + 2*(int(new16)%((len(b)-6)/2+1)) // a 32-bit value fits at off
		old16 := binary.BigEndian.Uint16(b[off:])
		binary.BigEndian.PutUint16(b[off:], new16)
		inc := UpdateChecksum16(binary.BigEndian.Uint16(b), old16, new16)
		binary.BigEndian.PutUint16(b, 0)
		if full := Checksum(b, 0); !sameChecksum(inc, full) {
			t.Fatalf("16-bit update at %d: incremental %#04x, full %#04x", off, inc, full)
		}
		binary.BigEndian.PutUint16(b, inc)
		old32 := binary.BigEndian.Uint32(b[off:])
		binary.BigEndian.PutUint32(b[off:], new32)
		inc = UpdateChecksum32(binary.BigEndian.Uint16(b), old32, new32)
		binary.BigEndian.PutUint16(b, 0)
		if full := Checksum(b, 0); !sameChecksum(inc, full) {
			t.Fatalf("32-bit update at %d: incremental %#04x, full %#04x", off, inc, full)
		}
	})
}
