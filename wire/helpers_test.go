package wire

import (
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Test addresses (documentation / private ranges only).
var (
	testSrc4 = netip.MustParseAddr("192.168.7.1")
	testDst4 = netip.MustParseAddr("192.168.7.2")
	testSrc6 = netip.MustParseAddr("2001:db8::1")
	testDst6 = netip.MustParseAddr("2001:db8::2")
	testMAC1 = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	testMAC2 = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// unhex decodes a hex string, ignoring spaces and newlines.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

func newRand(t testing.TB) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(len(t.Name())), 0x5eed))
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// serialize builds a packet with gopacket, fixing lengths and checksums.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("gopacket serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// decode decodes b with gopacket starting at first and fails on decode errors.
func decode(t testing.TB, b []byte, first gopacket.LayerType) gopacket.Packet {
	t.Helper()
	p := gopacket.NewPacket(b, first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket decode error: %v", el.Error())
	}
	return p
}

func goIPv4(src, dst netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

func goIPv6(src, dst netip.Addr, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

// checkShort asserts that parse rejects every prefix of valid shorter than
// min with want.
func checkShort(t *testing.T, valid []byte, min int, want error, parse func([]byte) error) {
	t.Helper()
	for n := 0; n < min && n <= len(valid); n++ {
		if err := parse(valid[:n]); err != want {
			t.Errorf("len %d: got %v, want %v", n, err, want)
		}
	}
}

// checkZeroAllocs asserts fn allocates nothing.
func checkZeroAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, fn); n != 0 {
		t.Errorf("%s: %v allocs per run, want 0", name, n)
	}
}

// sameChecksum reports whether two checksum field values are equal in
// one's complement arithmetic (0x0000 and 0xffff both mean zero).
func sameChecksum(a, b uint16) bool {
	return a == b || (a == 0 || a == 0xffff) && (b == 0 || b == 0xffff)
}

// mutated returns a copy of b changed by f.
func mutated(b []byte, f func(b []byte)) []byte {
	c := append([]byte(nil), b...)
	f(c)
	return c
}

// parseCase is an input and the error a parser must return for it.
type parseCase struct {
	name string
	b    []byte
	want error
}

// checkParseCases requires parse to return exactly tc.want for each case.
func checkParseCases(t *testing.T, parse func([]byte) error, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		if err := parse(tc.b); err != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}
