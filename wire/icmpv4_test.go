package wire

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestICMPv4BuildGopacket(t *testing.T) {
	data := []byte("ping payload 0123456789!") // even
	for _, odd := range []bool{false, true} {
		d := data
		if odd {
			d = data[:len(data)-1]
		}
		b := make([]byte, ICMPv4HeaderLen+len(d))
		PutICMPv4(b, ICMPv4Echo, 0, 0xbeef<<16|0x0102)
		copy(b[ICMPv4HeaderLen:], d)
		SetICMPv4Checksum(b)

		p := decode(t, b, layers.LayerTypeICMPv4)
		g := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if g.TypeCode.Type() != ICMPv4Echo || g.Id != 0xbeef || g.Seq != 0x0102 || !bytes.Equal(g.Payload, d) {
			t.Errorf("gopacket sees %+v", g)
		}
		if _, res := g.VerifyChecksum(); !res.Valid {
			t.Errorf("gopacket: bad checksum %+v", res)
		}
		m, err := ParseICMPv4(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type() != ICMPv4Echo || m.Code() != 0 || m.ID() != 0xbeef || m.Seq() != 0x0102 || !m.ChecksumValid() ||
			!bytes.Equal(m.Payload(), d) || !bytes.Equal(m.Bytes(), b) || m.Checksum() != binary.BigEndian.Uint16(b[2:]) {
			t.Error("round trip mismatch")
		}
		b[len(b)-1] ^= 0x40
		if m, _ := ParseICMPv4(b); m.ChecksumValid() {
			t.Error("corrupted message verifies")
		}
	}
}

func TestICMPv4ParseGopacket(t *testing.T) {
	quoted := make([]byte, 28)
	tests := []struct {
		name string
		g    *layers.ICMPv4
		chk  func(m ICMPv4) bool
	}{
		{"echoreply", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(ICMPv4EchoReply, 0), Id: 1, Seq: 65535},
			func(m ICMPv4) bool { return m.ID() == 1 && m.Seq() == 65535 }},
		{"fragneeded", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(ICMPv4DestUnreachable, ICMPv4FragNeeded), Seq: 1400},
			func(m ICMPv4) bool { return m.NextHopMTU() == 1400 && m.Code() == ICMPv4FragNeeded }},
		{"portunreach", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(ICMPv4DestUnreachable, ICMPv4PortUnreachable)},
			func(m ICMPv4) bool { return m.Code() == ICMPv4PortUnreachable && len(m.Payload()) == 28 }},
		{"paramproblem", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(ICMPv4ParamProblem, 0), Id: 12 << 8},
			func(m ICMPv4) bool { return m.Pointer() == 12 }},
		{"timeexceeded", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(ICMPv4TimeExceeded, 1)},
			func(m ICMPv4) bool { return m.Code() == 1 && m.Rest() == 0 }},
	}
	for _, tc := range tests {
		b := serialize(t, tc.g, gopacket.Payload(quoted))
		m, err := ParseICMPv4(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if m.Type() != tc.g.TypeCode.Type() || !m.ChecksumValid() || !tc.chk(m) {
			t.Errorf("%s: mismatch", tc.name)
		}
		// Round trip: rebuilding from the accessors gives the same bytes.
		c := make([]byte, len(b))
		PutICMPv4(c, m.Type(), m.Code(), m.Rest())
		copy(c[8:], m.Payload())
		SetICMPv4Checksum(c)
		if !bytes.Equal(b, c) {
			t.Errorf("%s: rebuild\n%x\n%x", tc.name, b, c)
		}
		checkShort(t, b, ICMPv4HeaderLen, ErrTooShort, func(b []byte) error { _, err := ParseICMPv4(b); return err })
	}
}

func TestICMPv4ZeroAllocs(t *testing.T) {
	b := make([]byte, 64)
	var sink uint16
	checkZeroAllocs(t, "build", func() {
		PutICMPv4(b, ICMPv4Echo, 0, 0x10002)
		SetICMPv4Checksum(b)
	})
	checkZeroAllocs(t, "parse", func() {
		m, err := ParseICMPv4(b)
		if err != nil || !m.ChecksumValid() {
			panic("bad")
		}
		sink += m.ID() + m.Seq() + uint16(len(m.Payload()))
	})
	_ = sink
}
