package wire

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestICMPv6BuildGopacket(t *testing.T) {
	quoted := make([]byte, 48)
	(&IPv6Header{PayloadLength: 8, NextHeader: ProtoUDP, HopLimit: 3, Src: testDst6, Dst: testSrc6}).Encode(quoted)
	tests := []struct {
		name      string
		typ, code uint8
		rest      uint32
		payload   []byte
		isError   bool
		check     func(m ICMPv6) bool
	}{
		{"echo", ICMPv6EchoRequest, 0, 0xbeef<<16 | 0x0102, []byte("ping6 data, odd"), false,
			func(m ICMPv6) bool { return m.ID() == 0xbeef && m.Seq() == 0x0102 }},
		{"echo-reply", ICMPv6EchoReply, 0, 1<<16 | 2, nil, false, func(m ICMPv6) bool { return m.ID() == 1 && m.Seq() == 2 }},
		{"unreach", ICMPv6DestUnreachable, ICMPv6PortUnreachable, 0, quoted, true, func(m ICMPv6) bool { return bytes.Equal(m.Payload(), quoted) }},
		{"too-big", ICMPv6PacketTooBig, 0, 1280, quoted, true, func(m ICMPv6) bool { return m.MTU() == 1280 }},
		{"time-exceeded", ICMPv6TimeExceeded, ICMPv6ReassemblyTimedOut, 0, quoted, true, func(m ICMPv6) bool { return m.Code() == 1 }},
		{"param-problem", ICMPv6ParamProblem, ICMPv6UnrecognizedNextHeader, 40, quoted, true, func(m ICMPv6) bool { return m.Pointer() == 40 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := make([]byte, ICMPv6HeaderLen+len(tc.payload))
			PutICMPv6(msg, tc.typ, tc.code, tc.rest)
			copy(msg[8:], tc.payload)
			SetICMPv6Checksum(msg, testSrc6, testDst6)

			// gopacket oracle, over a whole IPv6 packet.
			pkt := make([]byte, 40+len(msg))
			(&IPv6Header{PayloadLength: len(msg), NextHeader: ProtoICMPv6, HopLimit: 64, Src: testSrc6, Dst: testDst6}).Encode(pkt)
			copy(pkt[40:], msg)
			p := gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.Default)
			g, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			if !ok {
				t.Fatalf("gopacket: no ICMPv6 layer")
			}
			_ = g.SetNetworkLayerForChecksum(p.NetworkLayer())
			if _, res := g.VerifyChecksum(); !res.Valid {
				t.Errorf("gopacket: checksum invalid %+v", res)
			}
			if g.TypeCode.Type() != tc.typ || g.TypeCode.Code() != tc.code || binary.BigEndian.Uint32(g.Payload[:4]) != tc.rest {
				t.Errorf("gopacket sees %v rest %x", g.TypeCode, g.Payload[:4])
			}

			m, err := ParseICMPv6(msg)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type() != tc.typ || m.Code() != tc.code || m.Rest() != tc.rest || m.IsError() != tc.isError ||
				!m.ChecksumValid(testSrc6, testDst6) || !tc.check(m) || !bytes.Equal(m.Bytes(), msg) || !bytes.Equal(m.Payload(), tc.payload) {
				t.Errorf("parse mismatch")
			}
			if m.Checksum() != binary.BigEndian.Uint16(msg[2:]) {
				t.Error("Checksum accessor")
			}
			// The checksum covers the pseudo-header: other addresses fail.
			if m.ChecksumValid(testSrc6, testSrc6) {
				t.Error("checksum verifies with a wrong destination")
			}
			// Round trip.
			c := make([]byte, len(msg))
			PutICMPv6(c, m.Type(), m.Code(), m.Rest())
			copy(c[8:], m.Payload())
			SetICMPv6Checksum(c, testSrc6, testDst6)
			if !bytes.Equal(c, msg) {
				t.Errorf("rebuild\n%x\n%x", c, msg)
			}
			checkShort(t, msg, ICMPv6HeaderLen, ErrTooShort, func(b []byte) error { _, err := ParseICMPv6(b); return err })
			// Any flipped bit breaks the checksum.
			for i := range msg {
				msg[i] ^= 0x10
				if m.ChecksumValid(testSrc6, testDst6) {
					t.Errorf("byte %d flipped still verifies", i)
				}
				msg[i] ^= 0x10
			}
		})
	}
}

func TestParseICMPv6Gopacket(t *testing.T) {
	ip := goIPv6(testSrc6, testDst6, layers.IPProtocolICMPv6)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(ICMPv6EchoReply, 0)}
	_ = ic.SetNetworkLayerForChecksum(ip)
	echo := &layers.ICMPv6Echo{Identifier: 4242, SeqNumber: 99}
	b := serialize(t, ip, ic, echo, gopacket.Payload("abcdefg"))
	m, err := parseIPv6Echo(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != ICMPv6EchoReply || m.ID() != 4242 || m.Seq() != 99 || string(m.Payload()) != "abcdefg" {
		t.Errorf("mismatch %d %d %q", m.ID(), m.Seq(), m.Payload())
	}
}

func TestICMPv6PseudoHeaderGopacket(t *testing.T) {
	// The IPv6 pseudo-header sum equals gopacket's for several lengths,
	// including one above 65535 (the length is 32-bit in IPv6).
	r := newRand(t)
	for _, n := range []int{0, 1, 8, 1279, 65535, 70000} {
		src, dst := testSrc6, testDst6
		ip := &layers.IPv6{SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		body := randBytes(r, n)
		want := gopacket.FoldChecksum(gopacket.ComputeChecksum(body, pseudoSumGopacket(ip, n)))
		if got := Checksum(body, PseudoHeaderSum(src, dst, ProtoICMPv6, n)); got != want {
			t.Errorf("len %d: %#04x, gopacket %#04x", n, got, want)
		}
	}
}

// pseudoSumGopacket computes the IPv6 pseudo-header sum the way RFC 8200
// §8.1 lays it out, with gopacket's checksum routine.
func pseudoSumGopacket(ip *layers.IPv6, n int) uint32 {
	ph := make([]byte, 40)
	copy(ph[0:16], ip.SrcIP)
	copy(ph[16:32], ip.DstIP)
	binary.BigEndian.PutUint32(ph[32:36], uint32(n))
	ph[39] = ProtoICMPv6
	return gopacket.ComputeChecksum(ph, 0)
}
