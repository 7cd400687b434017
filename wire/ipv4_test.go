package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestIPv4EncodeGopacket(t *testing.T) {
	payload := []byte("0123456789abcdef-payload")
	tests := []struct {
		name string
		h    IPv4Header
	}{
		{"plain", IPv4Header{TOS: 0xb8, ID: 0x1234, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoUDP, Src: testSrc4, Dst: testDst4}},
		{"fragment", IPv4Header{ID: 7, Flags: IPv4FlagMF, FragmentOffset: 1480, TTL: 1, Protocol: ProtoTCP, Src: testSrc4, Dst: testDst4}},
		{"lastfrag", IPv4Header{ID: 7, FragmentOffset: 8 * 8191, TTL: 255, Protocol: ProtoICMP, Src: testSrc4, Dst: testDst4}},
		{"routeralert", IPv4Header{TTL: 1, Protocol: ProtoUDP, Src: testSrc4, Dst: netip.MustParseAddr("224.0.0.22"), Options: []byte{148, 4, 0, 0}}},
		{"padded", IPv4Header{TTL: 9, Protocol: ProtoUDP, Src: testSrc4, Dst: testDst4, Options: []byte{1, 1, 1, 7, 3, 4}}}, // NOPs + RR stub, padded to 8
		{"maxopts", IPv4Header{TTL: 9, Protocol: ProtoUDP, Src: testSrc4, Dst: testDst4, Options: append([]byte{7, 39, 4}, make([]byte, 36)...)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			hl := h.HeaderLen()
			if hl != 20+(len(h.Options)+3)/4*4 {
				t.Fatalf("HeaderLen %d", hl)
			}
			h.TotalLength = hl + len(payload)
			b := make([]byte, h.TotalLength)
			for i := range b {
				b[i] = 0xee // Encode must overwrite padding
			}
			if n := h.Encode(b); n != hl {
				t.Fatalf("Encode returned %d, want %d", n, hl)
			}
			copy(b[hl:], payload)

			// gopacket oracle.
			p := decode(t, b, layers.LayerTypeIPv4)
			g := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if g.IHL != uint8(hl/4) || g.TOS != h.TOS || int(g.Length) != h.TotalLength || g.Id != h.ID ||
				uint8(g.Flags) != h.Flags || int(g.FragOffset)*8 != h.FragmentOffset || g.TTL != h.TTL ||
				uint8(g.Protocol) != h.Protocol || !g.SrcIP.Equal(h.Src.AsSlice()) || !g.DstIP.Equal(h.Dst.AsSlice()) {
				t.Errorf("gopacket sees %+v", g)
			}
			if _, res := g.VerifyChecksum(); !res.Valid {
				t.Errorf("gopacket: checksum invalid: %+v", res)
			}

			// Our parser: every field round trips.
			v, err := ParseIPv4(b)
			if err != nil {
				t.Fatal(err)
			}
			if v.HeaderLen() != hl || v.TOS() != h.TOS || v.TotalLength() != h.TotalLength || v.ID() != h.ID ||
				v.Flags() != h.Flags || v.FragmentOffset() != h.FragmentOffset || v.TTL() != h.TTL ||
				v.Protocol() != h.Protocol || v.Src() != h.Src || v.Dst() != h.Dst || !v.ChecksumValid() {
				t.Errorf("round trip mismatch")
			}
			if v.MoreFragments() != (h.Flags&IPv4FlagMF != 0) || v.DontFragment() != (h.Flags&IPv4FlagDF != 0) ||
				v.IsFragment() != (h.Flags&IPv4FlagMF != 0 || h.FragmentOffset != 0) {
				t.Errorf("fragment flags: MF %v DF %v frag %v", v.MoreFragments(), v.DontFragment(), v.IsFragment())
			}
			if !bytes.Equal(v.Payload(), payload) || len(v.Header()) != hl || len(v.Bytes()) != h.TotalLength {
				t.Errorf("slices")
			}
			wantOpts := append(append([]byte(nil), h.Options...), make([]byte, hl-20-len(h.Options))...)
			if !bytes.Equal(v.Options(), wantOpts) {
				t.Errorf("options %x, want %x", v.Options(), wantOpts)
			}
			if v.Checksum() != binary.BigEndian.Uint16(b[10:12]) {
				t.Error("Checksum accessor")
			}
		})
	}
}

func TestParseIPv4Gopacket(t *testing.T) {
	ip := &layers.IPv4{Version: 4, TOS: 0x10, Id: 999, Flags: layers.IPv4DontFragment, TTL: 33, Protocol: layers.IPProtocolTCP,
		SrcIP: testSrc4.AsSlice(), DstIP: testDst4.AsSlice(),
		Options: []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}}
	payload := []byte("tcp-ish payload bytes")
	b := serialize(t, ip, gopacket.Payload(payload))
	// Link-layer padding after the packet is cut off.
	padded := append(append([]byte(nil), b...), 0, 0, 0, 0, 0, 0)
	v, err := ParseIPv4(padded)
	if err != nil {
		t.Fatal(err)
	}
	if v.HeaderLen() != 24 || v.TOS() != 0x10 || v.ID() != 999 || !v.DontFragment() || v.TTL() != 33 ||
		v.Protocol() != ProtoTCP || v.Src() != testSrc4 || v.Dst() != testDst4 || !v.ChecksumValid() ||
		!bytes.Equal(v.Payload(), payload) || len(v.Bytes()) != len(b) {
		t.Errorf("parse mismatch: hl %d id %d", v.HeaderLen(), v.ID())
	}
	var got []IPv4Option
	if err := v.ForEachOption(func(o IPv4Option) bool { got = append(got, o); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Type != 148 || !bytes.Equal(got[0].Data, []byte{0, 0}) || !got[0].Copied() {
		t.Errorf("options %+v", got)
	}
	// A corrupted header fails ChecksumValid.
	b[8]++
	if v, _ := ParseIPv4(b); v.ChecksumValid() {
		t.Error("corrupted header verifies")
	}
}

func TestParseIPv4Errors(t *testing.T) {
	h := IPv4Header{TotalLength: 28, TTL: 64, Protocol: ProtoUDP, Src: testSrc4, Dst: testDst4, Options: []byte{1, 1, 1, 1}}
	good := make([]byte, 28)
	h.Encode(good)
	if _, err := ParseIPv4(good); err != nil {
		t.Fatal(err)
	}
	parse := func(b []byte) error { _, err := ParseIPv4(b); return err }
	checkShort(t, good, IPv4MinHeaderLen, ErrTooShort, parse)

	mod := func(f func(b []byte)) []byte { return mutated(good, f) }
	tests := []parseCase{
		{"version6", mod(func(b []byte) { b[0] = 0x65 }), ErrBadVersion},
		{"version0", mod(func(b []byte) { b[0] = 0x05 }), ErrBadVersion},
		{"ihl0", mod(func(b []byte) { b[0] = 0x40 }), ErrBadHeaderLen},
		{"ihl4", mod(func(b []byte) { b[0] = 0x44 }), ErrBadHeaderLen},
		{"ihl15>len", mod(func(b []byte) { b[0] = 0x4f }), ErrBadHeaderLen},
		{"ihl8>len", good[:24], ErrBadHeaderLen}, // IHL 6 needs 24: ok; cut header shorter below
		{"ihl6-cut", good[:23], ErrBadHeaderLen},
		{"tl<hl", mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 20) }), ErrBadLength},
		{"tl0", mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 0) }), ErrBadLength},
		{"tl>len", mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 29) }), ErrBadLength},
		{"tl-max", mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 0xffff) }), ErrBadLength},
		{"truncated-payload", good[:27], ErrBadLength},
		{"ok-tl=hl", mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 24) }), nil},
	}
	tests[5].want = ErrBadLength // 24 bytes: header fits, total length 28 does not
	checkParseCases(t, parse, tests)
}

func TestIPv4ForEachOption(t *testing.T) {
	type opt struct {
		typ  uint8
		data string
	}
	tests := []struct {
		name string
		opts []byte
		want []opt
		err  error
	}{
		{"empty", nil, nil, nil},
		{"nops", []byte{1, 1, 1, 1}, nil, nil},
		{"eol-stops", []byte{0, 7, 0, 0}, nil, nil}, // garbage after EOL is not read
		{"rr", []byte{7, 7, 4, 10, 0, 0, 1, 0}, []opt{{7, "\x04\x0a\x00\x00\x01"}}, nil},
		{"ra+nop", []byte{148, 4, 0, 0, 1, 68, 4, 5, 0, 0, 0, 0}, []opt{{148, "\x00\x00"}, {68, "\x05\x00"}}, nil},
		{"len2", []byte{130, 2, 0, 0}, []opt{{130, ""}}, nil},
		{"len0", []byte{7, 0, 0, 0}, nil, ErrBadLength},
		{"len1", []byte{7, 1, 0, 0}, nil, ErrBadLength},
		{"overlong", []byte{7, 5, 0, 0}, nil, ErrBadLength},
		{"nolen", []byte{1, 1, 1, 7}, nil, ErrBadLength},
		{"second-bad", []byte{148, 4, 0, 0, 7, 9, 0, 0}, []opt{{148, "\x00\x00"}}, ErrBadLength},
	}
	for _, tc := range tests {
		h := IPv4Header{TTL: 1, Src: testSrc4, Dst: testDst4, Options: tc.opts}
		h.TotalLength = h.HeaderLen()
		b := make([]byte, h.TotalLength)
		h.Encode(b)
		v, err := ParseIPv4(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []opt
		err = v.ForEachOption(func(o IPv4Option) bool { got = append(got, opt{o.Type, string(o.Data)}); return true })
		if err != tc.err {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: option %d %v, want %v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
	// fn returning false stops the walk.
	h := IPv4Header{TotalLength: 28, Src: testSrc4, Dst: testDst4, Options: []byte{148, 4, 0, 0, 148, 4, 0, 0}}
	b := make([]byte, 28)
	h.Encode(b)
	v, _ := ParseIPv4(b)
	n := 0
	if err := v.ForEachOption(func(IPv4Option) bool { n++; return false }); err != nil || n != 1 {
		t.Errorf("stop: n=%d err=%v", n, err)
	}
}

func TestSetIPv4TTL(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 5000; i++ {
		h := IPv4Header{TOS: uint8(r.Uint32()), TotalLength: 20 + r.IntN(1480), ID: uint16(r.Uint32()),
			Flags: uint8(r.IntN(4)), FragmentOffset: 8 * r.IntN(8192), TTL: uint8(r.Uint32()), Protocol: uint8(r.Uint32()),
			Src: netip.AddrFrom4([4]byte(randBytes(r, 4))), Dst: netip.AddrFrom4([4]byte(randBytes(r, 4)))}
		b := make([]byte, 20)
		h.Encode(b)
		ttl := uint8(r.Uint32())
		if i%3 == 0 {
			ttl = h.TTL - 1 // forwarding decrement
		}
		SetIPv4TTL(b, ttl)
		if b[8] != ttl {
			t.Fatal("TTL not set")
		}
		inc := binary.BigEndian.Uint16(b[10:12])
		h.TTL = ttl
		full := make([]byte, 20)
		h.Encode(full)
		if !sameChecksum(inc, binary.BigEndian.Uint16(full[10:12])) || Checksum(b, 0) != 0 {
			t.Fatalf("incremental %#04x, full %#04x", inc, binary.BigEndian.Uint16(full[10:12]))
		}
	}
}

func TestIPv4EncodePanicsOnLongOptions(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for 44 option bytes")
		}
	}()
	h := IPv4Header{Options: make([]byte, 41)}
	h.Encode(make([]byte, 100))
}

func TestIPv4ZeroAllocs(t *testing.T) {
	h := IPv4Header{TotalLength: 100, ID: 1, TTL: 64, Protocol: ProtoUDP, Src: testSrc4, Dst: testDst4, Options: []byte{148, 4, 0, 0}}
	b := make([]byte, 100)
	var sink int
	checkZeroAllocs(t, "build", func() { sink += h.Encode(b) })
	checkZeroAllocs(t, "parse", func() {
		v, err := ParseIPv4(b)
		if err != nil || !v.ChecksumValid() {
			panic("bad")
		}
		if v.Src() == v.Dst() {
			sink++
		}
		sink += len(v.Payload()) + v.FragmentOffset()
	})
	checkZeroAllocs(t, "options", func() {
		v, _ := ParseIPv4(b)
		_ = v.ForEachOption(func(o IPv4Option) bool { sink += len(o.Data); return true })
	})
	checkZeroAllocs(t, "ttl", func() { SetIPv4TTL(b, 63) })
	_ = sink
}
