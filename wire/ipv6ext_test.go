package wire

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// extChain builds hop-by-hop (router alert) + destination options (an
// unknown option) + routing (type 2) + fragment (first, M set) + 8 bytes
// of UDP-ish data into b and returns the chain length (before the data).
func extChain(b []byte) int {
	n := PutIPv6OptionsHeader(b, ProtoDestOpts, []IPv6Option{{Type: IPv6OptRouterAlert, Data: []byte{0, 0}}})
	n += PutIPv6OptionsHeader(b[n:], ProtoRouting, []IPv6Option{{Type: 0x9e, Data: []byte{1, 2, 3, 4, 5}}})
	n += PutIPv6Routing(b[n:], ProtoFragment, IPv6RoutingType2, 1, bytes.Repeat([]byte{0xaa}, 20))
	n += PutIPv6Fragment(b[n:], ProtoUDP, 0, true, 0xdeadbeef)
	return n
}

func TestIPv6ExtensionChainGopacket(t *testing.T) {
	b := make([]byte, 200)
	chain := extChain(b[40:])
	data := []byte{0x14, 0xe9, 0x14, 0xe9, 0, 8, 0, 0}
	copy(b[40+chain:], data)
	n := 40 + chain + len(data)
	h := IPv6Header{PayloadLength: n - 40, NextHeader: ProtoHopByHop, HopLimit: 1, Src: testSrc6, Dst: testDst6}
	h.Encode(b)
	b = b[:n]
	if chain != 8+16+24+8 {
		t.Fatalf("chain length %d", chain)
	}

	// gopacket oracle.
	p := gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
	hbh, _ := p.Layer(layers.LayerTypeIPv6HopByHop).(*layers.IPv6HopByHop)
	dst, _ := p.Layer(layers.LayerTypeIPv6Destination).(*layers.IPv6Destination)
	rt, _ := p.Layer(layers.LayerTypeIPv6Routing).(*layers.IPv6Routing)
	fr, _ := p.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
	if hbh == nil || dst == nil || rt == nil || fr == nil {
		t.Fatalf("gopacket layers missing: %v", p)
	}
	if len(hbh.Options) < 1 || hbh.Options[0].OptionType != IPv6OptRouterAlert || !bytes.Equal(hbh.Options[0].OptionData, []byte{0, 0}) ||
		hbh.NextHeader != layers.IPProtocolIPv6Destination {
		t.Errorf("gopacket hop-by-hop %+v", hbh.Options[0])
	}
	if len(dst.Options) < 1 || dst.Options[0].OptionType != 0x9e || !bytes.Equal(dst.Options[0].OptionData, []byte{1, 2, 3, 4, 5}) {
		t.Errorf("gopacket dest opts %+v", dst.Options[0])
	}
	if rt.RoutingType != 2 || rt.SegmentsLeft != 1 || rt.ActualLength != 24 || rt.NextHeader != layers.IPProtocolIPv6Fragment {
		t.Errorf("gopacket routing %+v", rt)
	}
	if fr.FragmentOffset != 0 || !fr.MoreFragments || fr.Identification != 0xdeadbeef || fr.NextHeader != layers.IPProtocolUDP {
		t.Errorf("gopacket fragment %+v", fr)
	}

	// Our walker.
	v, err := ParseIPv6(b)
	if err != nil {
		t.Fatal(err)
	}
	var types []uint8
	var offs []int
	proto, off, err := v.ForEachExtension(func(e IPv6Extension) bool {
		types = append(types, e.Type)
		offs = append(offs, e.Offset)
		switch e.Type {
		case ProtoHopByHop, ProtoDestOpts:
			o, err := ParseIPv6Options(e.Data)
			if err != nil || o.HeaderLen() != len(e.Data) || o.NextHeader() != e.NextHeader() {
				t.Errorf("options header: %v", err)
			}
			var got []IPv6Option
			if err := o.ForEachOption(func(x IPv6Option) bool { got = append(got, x); return true }); err != nil {
				t.Error(err)
			}
			if len(got) != 1 {
				t.Errorf("options %+v", got)
			} else if e.Type == ProtoHopByHop {
				if ra, ok := got[0].RouterAlert(); !ok || ra != IPv6RouterAlertMLD || got[0].Action() != IPv6OptActionSkip {
					t.Errorf("router alert %v %v", ra, ok)
				}
			} else if got[0].Type != 0x9e || got[0].Action() != IPv6OptActionDiscardICMP || got[0].MayChange() {
				t.Errorf("unknown option %+v action %d", got[0], got[0].Action())
			}
		case ProtoRouting:
			r, err := ParseIPv6Routing(e.Data)
			if err != nil || r.RoutingType() != 2 || r.SegmentsLeft() != 1 || r.HeaderLen() != 24 || len(r.Data()) != 20 || r.NextHeader() != ProtoFragment {
				t.Errorf("routing: %v", err)
			}
		case ProtoFragment:
			f, err := ParseIPv6Fragment(e.Data)
			if err != nil || f.FragmentOffset() != 0 || !f.MoreFragments() || f.ID() != 0xdeadbeef || f.NextHeader() != ProtoUDP || f.IsAtomic() {
				t.Errorf("fragment: %v", err)
			}
		}
		return true
	})
	if err != nil || proto != ProtoUDP || off != chain {
		t.Fatalf("walk: proto %d off %d err %v", proto, off, err)
	}
	if !bytes.Equal(types, []uint8{ProtoHopByHop, ProtoDestOpts, ProtoRouting, ProtoFragment}) || !equalInts(offs, []int{0, 8, 24, 48}) {
		t.Errorf("types %v offsets %v", types, offs)
	}
	up, d, err := v.UpperLayer()
	if err != nil || up != ProtoUDP || !bytes.Equal(d, data) {
		t.Errorf("UpperLayer %d %x %v", up, d, err)
	}

	// Every truncation of the chain is caught.
	for cut := 0; cut < chain; cut++ {
		if _, _, err := (IPv6ExtensionWalker{}).Walk(ProtoHopByHop, b[40:40+cut], nil); err != ErrBadLength {
			t.Errorf("cut %d: %v", cut, err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseIPv6ExtensionsFromGopacket(t *testing.T) {
	ip := goIPv6(testSrc6, testDst6, layers.IPProtocolIPv6Destination)
	d := &layers.IPv6Destination{Options: []*layers.IPv6DestinationOption{
		{OptionType: 0x1e, OptionData: []byte{9, 8, 7, 6}, OptionAlignment: [2]uint8{1, 0}},
	}}
	d.NextHeader = layers.IPProtocolIPv6Fragment
	f := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 185, MoreFragments: true, Identification: 77}
	b := serialize(t, ip, d, f, gopacket.Payload(bytes.Repeat([]byte{1}, 16)))
	v, err := ParseIPv6(b)
	if err != nil {
		t.Fatal(err)
	}
	var seen []IPv6Extension
	proto, off, err := v.ForEachExtension(func(e IPv6Extension) bool { seen = append(seen, e); return true })
	// A non-first fragment ends the walk at the fragment header.
	if err != nil || proto != ProtoFragment || len(seen) != 2 || off != seen[1].Offset {
		t.Fatalf("walk: %d %d %v %d", proto, off, err, len(seen))
	}
	o, err := ParseIPv6Options(seen[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	var opts []IPv6Option
	if err := o.ForEachOption(func(x IPv6Option) bool { opts = append(opts, x); return true }); err != nil {
		t.Fatal(err)
	}
	if len(opts) != 1 || opts[0].Type != 0x1e || !bytes.Equal(opts[0].Data, []byte{9, 8, 7, 6}) || opts[0].Action() != IPv6OptActionSkip {
		t.Errorf("options %+v", opts)
	}
	fr, err := ParseIPv6Fragment(seen[1].Data)
	if err != nil || fr.FragmentOffset() != 185*8 || !fr.MoreFragments() || fr.ID() != 77 || fr.NextHeader() != ProtoUDP {
		t.Errorf("fragment %v", err)
	}
}

func TestIPv6ExtensionWalkerErrors(t *testing.T) {
	dest := func(next uint8) []byte {
		b := make([]byte, 8)
		PutIPv6OptionsHeader(b, next, nil)
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	frag := func(next uint8, off int, more bool) []byte {
		b := make([]byte, 8)
		PutIPv6Fragment(b, next, off, more, 1)
		return b
	}
	ah := make([]byte, 24) // AH with a 12-byte ICV: payload len (24/4)-2 = 4
	ah[0], ah[1] = ProtoTCP, 4
	nine := cat(dest(60), dest(60), dest(60), dest(60), dest(60), dest(60), dest(60), dest(60), dest(ProtoUDP))

	tests := []struct {
		name      string
		w         IPv6ExtensionWalker
		first     uint8
		b         []byte
		wantProto uint8
		wantOff   int
		wantErr   error
	}{
		{"none", IPv6ExtensionWalker{}, ProtoTCP, []byte{1, 2}, ProtoTCP, 0, nil},
		{"empty", IPv6ExtensionWalker{}, ProtoUDP, nil, ProtoUDP, 0, nil},
		{"dest", IPv6ExtensionWalker{}, ProtoDestOpts, dest(ProtoICMPv6), ProtoICMPv6, 8, nil},
		{"hbh-first", IPv6ExtensionWalker{}, ProtoHopByHop, cat(dest(ProtoDestOpts), dest(ProtoUDP)), ProtoUDP, 16, nil},
		{"hbh-second", IPv6ExtensionWalker{}, ProtoDestOpts, cat(dest(ProtoHopByHop), dest(ProtoUDP)), 0, 0, ErrExtensionOrder},
		{"esp", IPv6ExtensionWalker{}, ProtoDestOpts, cat(dest(ProtoESP), []byte("encrypted")), ProtoESP, 8, nil},
		{"nonext", IPv6ExtensionWalker{}, ProtoDestOpts, cat(dest(ProtoNoNext), []byte("junk")), ProtoNoNext, 8, nil},
		{"ah", IPv6ExtensionWalker{}, ProtoAH, cat(ah, []byte{0}), ProtoTCP, 24, nil},
		{"ah-short", IPv6ExtensionWalker{}, ProtoAH, ah[:20], 0, 0, ErrBadLength},
		{"atomic-frag", IPv6ExtensionWalker{}, ProtoFragment, cat(frag(ProtoUDP, 0, false), []byte{1}), ProtoUDP, 8, nil},
		{"first-frag", IPv6ExtensionWalker{}, ProtoFragment, frag(ProtoDestOpts, 0, true), 0, 0, ErrBadLength},
		{"later-frag", IPv6ExtensionWalker{}, ProtoDestOpts, cat(dest(ProtoFragment), frag(ProtoDestOpts, 1232, true), []byte{9, 9}), ProtoFragment, 8, nil},
		{"last-frag", IPv6ExtensionWalker{}, ProtoFragment, cat(frag(ProtoUDP, 8, false), []byte{9}), ProtoFragment, 0, nil},
		{"mobility", IPv6ExtensionWalker{}, 135, cat(dest(ProtoNoNext)), ProtoNoNext, 8, nil},
		{"len>buf", IPv6ExtensionWalker{}, ProtoDestOpts, cat([]byte{ProtoUDP, 1}, make([]byte, 13)), 0, 0, ErrBadLength},
		{"eight", IPv6ExtensionWalker{}, ProtoDestOpts, nine[8:], ProtoUDP, 64, nil},
		{"nine", IPv6ExtensionWalker{}, ProtoDestOpts, nine, 0, 0, ErrExtensionLimit},
		{"max2", IPv6ExtensionWalker{MaxHeaders: 2}, ProtoDestOpts, nine[48:], 0, 0, ErrExtensionLimit},
		{"max3", IPv6ExtensionWalker{MaxHeaders: 3}, ProtoDestOpts, nine[48:], ProtoUDP, 24, nil},
		{"maxbytes", IPv6ExtensionWalker{MaxBytes: 16}, ProtoDestOpts, nine[48:], 0, 0, ErrExtensionLimit},
		{"maxbytes-ok", IPv6ExtensionWalker{MaxBytes: 24}, ProtoDestOpts, nine[48:], ProtoUDP, 24, nil},
		{"bytes-default", IPv6ExtensionWalker{}, ProtoDestOpts, cat([]byte{ProtoDestOpts, 255}, make([]byte, 2046), dest(ProtoUDP)), 0, 0, ErrExtensionLimit},
		{"one-max-header", IPv6ExtensionWalker{}, ProtoDestOpts, cat([]byte{ProtoUDP, 255}, make([]byte, 2046)), ProtoUDP, 2048, nil},
	}
	for _, tc := range tests {
		proto, off, err := tc.w.Walk(tc.first, tc.b, nil)
		if proto != tc.wantProto || off != tc.wantOff || err != tc.wantErr {
			t.Errorf("%s: got %d %d %v, want %d %d %v", tc.name, proto, off, err, tc.wantProto, tc.wantOff, tc.wantErr)
		}
	}
	// fn returning false stops after that header.
	calls := 0
	proto, off, err := (IPv6ExtensionWalker{}).Walk(ProtoDestOpts, nine[40:], func(e IPv6Extension) bool { calls++; return calls < 2 })
	if calls != 2 || proto != ProtoDestOpts || off != 16 || err != nil {
		t.Errorf("early stop: %d calls, %d %d %v", calls, proto, off, err)
	}
}

func TestIPv6OptionsBuildGopacket(t *testing.T) {
	tests := []struct {
		name string
		opts []IPv6Option
		len  int
	}{
		{"empty", nil, 8}, // PadN of 4
		{"five", []IPv6Option{{Type: 0x3e, Data: []byte{1}}}, 8}, // 2+3 -> Pad1... 3 left: PadN 1
		{"pad1", []IPv6Option{{Type: 0x3e, Data: []byte{1, 2, 3}}}, 8},
		{"exact", []IPv6Option{{Type: 0x3e, Data: []byte{1, 2, 3, 4}}}, 8},
		{"one-over", []IPv6Option{{Type: 0x3e, Data: []byte{1, 2, 3, 4, 5}}}, 16},
		{"ra+jumbo", []IPv6Option{{Type: IPv6OptRouterAlert, Data: []byte{0, 1}}, {Type: IPv6OptPad1}, {Type: IPv6OptJumboPayload, Data: []byte{0, 1, 0, 0}}}, 16},
		{"long", []IPv6Option{{Type: 0xfe, Data: bytes.Repeat([]byte{7}, 255)}}, 264},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if l := IPv6OptionsHeaderLen(tc.opts); l != tc.len {
				t.Fatalf("IPv6OptionsHeaderLen %d, want %d", l, tc.len)
			}
			b := bytes.Repeat([]byte{0xee}, tc.len+4)
			if n := PutIPv6OptionsHeader(b, ProtoUDP, tc.opts); n != tc.len {
				t.Fatalf("wrote %d", n)
			}
			if b[tc.len] != 0xee {
				t.Fatal("wrote past the header")
			}
			var g layers.IPv6Destination
			if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil || g.ActualLength != tc.len {
				t.Fatalf("gopacket: %v", err)
			}
			var gopts []IPv6Option
			for _, o := range g.Options {
				if o.OptionType != IPv6OptPadN && o.OptionType != IPv6OptPad1 {
					gopts = append(gopts, IPv6Option{Type: o.OptionType, Data: o.OptionData})
				} else if o.OptionType == IPv6OptPadN && !allZero(o.OptionData) {
					t.Error("non-zero PadN")
				}
			}
			o, err := ParseIPv6Options(b)
			if err != nil || o.HeaderLen() != tc.len || o.NextHeader() != ProtoUDP {
				t.Fatal(err)
			}
			var got []IPv6Option
			if err := o.ForEachOption(func(x IPv6Option) bool { got = append(got, x); return true }); err != nil {
				t.Fatal(err)
			}
			var want []IPv6Option
			for _, x := range tc.opts {
				if x.Type != IPv6OptPad1 {
					want = append(want, x)
				}
			}
			if !sameOpts(got, want) || !sameOpts(gopts, want) {
				t.Errorf("got %+v, gopacket %+v, want %+v", got, gopts, want)
			}
		})
	}
}

func sameOpts(a, b []IPv6Option) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestIPv6OptionsErrors(t *testing.T) {
	good := make([]byte, 16)
	PutIPv6OptionsHeader(good, ProtoUDP, []IPv6Option{{Type: 0x7f, Data: []byte{1, 2, 3, 4, 5}}})
	parse := func(b []byte) error { _, err := ParseIPv6Options(b); return err }
	checkShort(t, good, 8, ErrTooShort, parse)
	for n := 8; n < 16; n++ {
		if err := parse(good[:n]); err != ErrBadLength {
			t.Errorf("len %d: %v", n, err)
		}
	}
	// An option running past the header.
	bad := []byte{ProtoUDP, 0, 5, 2, 0, 0, 0x3e, 2}
	o, err := ParseIPv6Options(bad)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := o.ForEachOption(func(IPv6Option) bool { n++; return true }); err != ErrBadLength || n != 1 {
		t.Errorf("overrun: %v after %d", err, n)
	}
	// A type byte with no length byte at the end.
	bad = []byte{ProtoUDP, 0, 0, 0, 0, 0, 0, 0x3e}
	o, _ = ParseIPv6Options(bad)
	if err := o.ForEachOption(func(IPv6Option) bool { return true }); err != ErrBadLength {
		t.Errorf("dangling type: %v", err)
	}
	// Pads only: no options, no error.
	o, _ = ParseIPv6Options([]byte{ProtoUDP, 0, 1, 2, 0, 0, 0, 0})
	if err := o.ForEachOption(func(IPv6Option) bool { t.Error("pad passed"); return true }); err != nil {
		t.Error(err)
	}
	// Actions from the two high bits.
	for typ, want := range map[uint8]uint8{0x05: 0, 0x3f: 0, 0x40: 1, 0x9e: 2, 0xc2: 3, 0xff: 3} {
		if a := (IPv6Option{Type: typ}).Action(); a != want {
			t.Errorf("type %#x: action %d, want %d", typ, a, want)
		}
	}
	if !(IPv6Option{Type: 0x3e}).MayChange() || (IPv6Option{Type: 0x1e}).MayChange() {
		t.Error("MayChange")
	}
	if _, ok := (IPv6Option{Type: IPv6OptRouterAlert, Data: []byte{0}}).RouterAlert(); ok {
		t.Error("short router alert accepted")
	}
}

func TestIPv6FragmentBuildGopacket(t *testing.T) {
	for _, tc := range []struct {
		off  int
		more bool
		id   uint32
	}{{0, true, 1}, {1232, true, 0xffffffff}, {65528, false, 0x12345678}, {0, false, 9}} {
		b := make([]byte, 8)
		if PutIPv6Fragment(b, ProtoTCP, tc.off, tc.more, tc.id) != 8 {
			t.Fatal("length")
		}
		var g layers.IPv6Fragment
		if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if int(g.FragmentOffset)*8 != tc.off || g.MoreFragments != tc.more || g.Identification != tc.id || g.NextHeader != layers.IPProtocolTCP ||
			g.Reserved1 != 0 || g.Reserved2 != 0 {
			t.Errorf("gopacket %+v", g)
		}
		f, err := ParseIPv6Fragment(b)
		if err != nil || f.FragmentOffset() != tc.off || f.MoreFragments() != tc.more || f.ID() != tc.id || f.NextHeader() != ProtoTCP ||
			f.IsAtomic() != (tc.off == 0 && !tc.more) || !bytes.Equal(f.Bytes(), b) {
			t.Errorf("parse %+v: %v", tc, err)
		}
		checkShort(t, b, 8, ErrTooShort, func(b []byte) error { _, err := ParseIPv6Fragment(b); return err })
	}
}

func TestIPv6RoutingBuild(t *testing.T) {
	for _, dl := range []int{0, 4, 5, 20, 100} {
		data := bytes.Repeat([]byte{0x5a}, dl)
		b := bytes.Repeat([]byte{0xee}, 256)
		n := PutIPv6Routing(b, ProtoUDP, IPv6RoutingSegment, 3, data)
		if n%8 != 0 || n < 4+dl || n >= 4+dl+8 {
			t.Fatalf("data %d: length %d", dl, n)
		}
		g, ok := gopacket.NewPacket(b[:n], layers.LayerTypeIPv6Routing, gopacket.Default).Layer(layers.LayerTypeIPv6Routing).(*layers.IPv6Routing)
		if !ok {
			t.Fatal("gopacket: no routing layer")
		}
		if g.RoutingType != IPv6RoutingSegment || g.SegmentsLeft != 3 || g.ActualLength != n {
			t.Errorf("gopacket %+v", g)
		}
		r, err := ParseIPv6Routing(b)
		if err != nil || r.HeaderLen() != n || r.RoutingType() != IPv6RoutingSegment || r.SegmentsLeft() != 3 || r.NextHeader() != ProtoUDP ||
			!bytes.Equal(r.Data()[:dl], data) || !allZero(r.Data()[dl:]) || len(r.Bytes()) != n {
			t.Errorf("parse data %d: %v", dl, err)
		}
		parse := func(b []byte) error { _, err := ParseIPv6Routing(b); return err }
		checkShort(t, b[:n], 8, ErrTooShort, parse)
		for m := 8; m < n; m++ {
			if err := parse(b[:m]); err != ErrBadLength {
				t.Errorf("len %d of %d: %v", m, n, err)
			}
		}
	}
}

func TestIPv6ExtensionZeroAllocs(t *testing.T) {
	b := make([]byte, 128)
	chain := extChain(b)
	var sink int
	opts := []IPv6Option{{Type: IPv6OptRouterAlert, Data: []byte{0, 0}}}
	checkZeroAllocs(t, "build", func() {
		n := PutIPv6OptionsHeader(b, ProtoDestOpts, opts)
		n += PutIPv6OptionsHeader(b[n:], ProtoRouting, nil)
		n += PutIPv6Routing(b[n:], ProtoFragment, IPv6RoutingType2, 1, b[100:120])
		PutIPv6Fragment(b[n:], ProtoUDP, 0, true, 7)
	})
	fn := func(e IPv6Extension) bool {
		if e.Type == ProtoHopByHop {
			o, _ := ParseIPv6Options(e.Data)
			_ = o.ForEachOption(func(x IPv6Option) bool { sink += len(x.Data); return true })
		}
		return true
	}
	checkZeroAllocs(t, "walk", func() {
		p, off, err := (IPv6ExtensionWalker{}).Walk(ProtoHopByHop, b[:chain+8], fn)
		if err != nil {
			panic(err)
		}
		sink += int(p) + off
	})
	_ = sink
	_ = binary.BigEndian
}
