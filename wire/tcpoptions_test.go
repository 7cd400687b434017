package wire

import (
	"testing"
)

func TestParseTCPOptionsTable(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
		want TCPOptions
		err  error
	}{
		{"empty", nil, TCPOptions{}, nil},
		{"mss", []byte{2, 4, 0x05, 0xb4}, TCPOptions{MSS: 1460, HasMSS: true}, nil},
		{"linux-syn", []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7},
			TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 9, HasTimestamps: true, WScale: 7, HasWScale: true}, nil},
		{"nop-ts", []byte{1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}, TCPOptions{TSVal: 0x01020304, TSEcr: 0x05060708, HasTimestamps: true}, nil},
		{"sack1", []byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, TCPOptions{NumSACK: 1, SACK: [4]SACKBlock{{1, 2}}}, nil},
		{"sack5-keeps4", append([]byte{5, 42}, seq(40)...), TCPOptions{NumSACK: 4, SACK: [4]SACKBlock{
			{0x00010203, 0x04050607}, {0x08090a0b, 0x0c0d0e0f}, {0x10111213, 0x14151617}, {0x18191a1b, 0x1c1d1e1f}}}, nil},
		{"eol-stops", []byte{2, 4, 0, 1, 0, 2, 0, 0}, TCPOptions{MSS: 1, HasMSS: true}, nil},
		{"eol-garbage", []byte{0, 9, 9, 9}, TCPOptions{}, nil},
		{"wscale-clamp", []byte{3, 3, 15}, TCPOptions{WScale: 14, HasWScale: true}, nil},
		{"wscale-255", []byte{3, 3, 255}, TCPOptions{WScale: 14, HasWScale: true}, nil},
		{"unknown-skipped", []byte{30, 6, 1, 2, 3, 4, 2, 4, 1, 0}, TCPOptions{MSS: 256, HasMSS: true}, nil},
		{"mss-badlen-skipped", []byte{2, 3, 9, 2, 4, 0, 9}, TCPOptions{MSS: 9, HasMSS: true}, nil},
		{"sack-badlen-skipped", []byte{5, 6, 0, 0, 0, 0}, TCPOptions{}, nil},
		{"sackperm-badlen-skipped", []byte{4, 3, 0}, TCPOptions{}, nil},
		{"ts-badlen-skipped", []byte{8, 6, 0, 0, 0, 0}, TCPOptions{}, nil},
		{"repeat-last-wins", []byte{2, 4, 0, 1, 2, 4, 0, 2}, TCPOptions{MSS: 2, HasMSS: true}, nil},
		{"zero-len", []byte{2, 0, 0, 0}, TCPOptions{}, ErrBadLength},
		{"zero-len-unknown", []byte{99, 0}, TCPOptions{}, ErrBadLength},
		{"len1", []byte{1, 1, 8, 1}, TCPOptions{}, ErrBadLength},
		{"overlong", []byte{2, 5, 0, 0}, TCPOptions{}, ErrBadLength},
		{"overlong-ts", []byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0}, TCPOptions{}, ErrBadLength},
		{"no-len-byte", []byte{1, 1, 1, 2}, TCPOptions{}, ErrBadLength},
		{"nops-only", []byte{1, 1, 1, 1}, TCPOptions{}, nil},
	}
	for _, tc := range tests {
		o := TCPOptions{MSS: 77, HasMSS: true, NumSACK: 3} // must be reset
		err := ParseTCPOptions(tc.opts, &o)
		if err != tc.err {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && o != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, o, tc.want)
		}
	}
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestTCPOptionsEncodeRoundTrip(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 20000; i++ {
		o := TCPOptions{
			MSS: uint16(r.Uint32()), HasMSS: r.IntN(2) == 0,
			WScale: uint8(r.IntN(15)), HasWScale: r.IntN(2) == 0,
			SACKPermitted: r.IntN(2) == 0,
			TSVal:         r.Uint32(), TSEcr: r.Uint32(), HasTimestamps: r.IntN(2) == 0,
			NumSACK: r.IntN(5),
		}
		for j := 0; j < o.NumSACK; j++ {
			o.SACK[j] = SACKBlock{r.Uint32(), r.Uint32()}
		}
		clearUnused(&o)
		n := o.EncodedLen()
		if n%4 != 0 || n > 40 {
			t.Fatalf("EncodedLen %d for %+v", n, o)
		}
		b := make([]byte, 48)
		for j := range b {
			b[j] = 0xcc
		}
		if w := o.Encode(b); w != n {
			t.Fatalf("Encode wrote %d, EncodedLen %d", w, n)
		}
		if b[n] != 0xcc {
			t.Fatal("Encode wrote past EncodedLen")
		}
		var got TCPOptions
		if err := ParseTCPOptions(b[:n], &got); err != nil {
			t.Fatal(err)
		}
		// SACK blocks that do not fit are left out, the first ones kept.
		want := o
		room := (40 - o.fixedLen() - 4) / 8
		if want.NumSACK > room {
			for j := room; j < want.NumSACK; j++ {
				want.SACK[j] = SACKBlock{}
			}
			want.NumSACK = room
		}
		if got != want {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
		}
		// 4-byte alignment of the 32-bit fields, as Linux lays them out.
		if o.HasTimestamps && !o.HasMSS {
			if b[2] != TCPOptionTimestamps {
				t.Fatalf("timestamps not at offset 2: %x", b[:n])
			}
		}
	}
}

// clearUnused zeroes the fields a parse would leave zero.
func clearUnused(o *TCPOptions) {
	if !o.HasMSS {
		o.MSS = 0
	}
	if !o.HasWScale {
		o.WScale = 0
	}
	if !o.HasTimestamps {
		o.TSVal, o.TSEcr = 0, 0
	}
}

func TestTCPOptionsEncodeClamps(t *testing.T) {
	o := TCPOptions{NumSACK: 99, WScale: 200, HasWScale: true}
	if n := o.EncodedLen(); n != 4+4+32 {
		t.Errorf("EncodedLen %d", n)
	}
	b := make([]byte, 40)
	o.Encode(b)
	var got TCPOptions
	if err := ParseTCPOptions(b, &got); err != nil || got.WScale != 14 || got.NumSACK != 4 {
		t.Errorf("got %+v %v", got, err)
	}
	o = TCPOptions{NumSACK: -3}
	if o.EncodedLen() != 0 {
		t.Error("negative NumSACK")
	}
	// With every other option, SACK gets 2 blocks: 4+12+4 + 4+16 = 40.
	o = TCPOptions{HasMSS: true, HasTimestamps: true, SACKPermitted: true, HasWScale: true, NumSACK: 4}
	if o.EncodedLen() != 40 {
		t.Errorf("full EncodedLen %d", o.EncodedLen())
	}
}

func TestTCPOptionsZeroAllocs(t *testing.T) {
	o := TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, HasTimestamps: true, HasWScale: true}
	b := make([]byte, 40)
	var p TCPOptions
	checkZeroAllocs(t, "encode+parse", func() {
		n := o.Encode(b)
		if err := ParseTCPOptions(b[:n], &p); err != nil {
			panic(err)
		}
	})
}
