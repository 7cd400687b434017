package featherip

import (
	"net/netip"
	"testing"

	"github.com/featherip/featherip/wire"
)

// groFrame builds an Ethernet IPv4 TCP segment for the coalescing tests.
func groFrame(seq uint32, flags uint8, window uint16, payload int) []byte {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	const optLen = 12 // NOP NOP timestamps
	tl := wire.IPv4MinHeaderLen + wire.TCPMinHeaderLen + optLen + payload
	f := make([]byte, wire.EthernetHeaderLen+tl)
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	ip := (&wire.IPv4Header{TotalLength: tl, TTL: 64, Protocol: wire.ProtoTCP, Src: src, Dst: dst, Flags: wire.IPv4FlagDF}).Encode(f[wire.EthernetHeaderLen:])
	seg := f[wire.EthernetHeaderLen+ip:]
	(&wire.TCPHeader{SrcPort: 1000, DstPort: 80, Seq: seq, Ack: 7, Flags: flags, Window: window, OptionsLen: optLen}).Encode(seg)
	copy(seg[wire.TCPMinHeaderLen:], []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2})
	for i := range payload {
		seg[wire.TCPMinHeaderLen+optLen+i] = byte(seq) + byte(i)
	}
	wire.SetTCPChecksum(seg, src, dst)
	return f
}

func TestGRORules(t *testing.T) {
	const ack, psh = wire.TCPFlagACK, wire.TCPFlagACK | wire.TCPFlagPSH
	parse := func(f []byte) groSeg {
		t.Helper()
		s, ok := parseGRO(f)
		if !ok {
			t.Fatal("parseGRO refused a plain data segment")
		}
		if !s.tcpChecksumOK() {
			t.Fatal("valid TCP checksum refused")
		}
		return s
	}
	first := parse(groFrame(100, ack, 500, 1000))
	total := wire.IPv4MinHeaderLen + first.tcp.HeaderLen() + first.payload
	for _, tc := range []struct {
		name string
		last groSeg
		next []byte
		want bool
	}{
		{"contiguous", first, groFrame(1100, ack, 500, 1000), true},
		{"shorter last with PSH", first, groFrame(1100, psh, 500, 10), true},
		{"gap", first, groFrame(1200, ack, 500, 1000), false},
		{"window changed", first, groFrame(1100, ack, 501, 1000), false},
		{"longer than the first", first, groFrame(1100, ack, 500, 1001), false},
		{"after a PSH", parse(groFrame(100, psh, 500, 1000)), groFrame(1100, ack, 500, 1000), false},
		{"after a short one", parse(groFrame(100, ack, 500, 10)), groFrame(110, ack, 500, 10), false},
	} {
		n, ok := parseGRO(tc.next)
		if got := ok && first.follows(&tc.last, &n, first.payload, total); got != tc.want {
			t.Errorf("%s: follows = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, flags := range []uint8{wire.TCPFlagSYN | ack, wire.TCPFlagFIN | ack, wire.TCPFlagRST, ack | wire.TCPFlagURG, 0} {
		if _, ok := parseGRO(groFrame(100, flags, 500, 100)); ok {
			t.Errorf("flags %#x: parseGRO accepted the segment", flags)
		}
	}
	if _, ok := parseGRO(groFrame(100, ack, 500, 0)); ok {
		t.Error("parseGRO accepted a pure ACK")
	}
	bad := groFrame(100, ack, 500, 100)
	bad[len(bad)-1] ^= 0xff
	if s, ok := parseGRO(bad); !ok || s.tcpChecksumOK() {
		t.Error("a corrupted segment passed the TCP checksum check")
	}
}
