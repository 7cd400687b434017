package iperf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzParseHeader checks that ParseHeader never panics, rejects exactly
// the inputs shorter than NeededLen, and that what it parses encodes back
// to the same bytes.
func FuzzParseHeader(f *testing.F) {
	cap218, _ := hex.DecodeString(iperf218)
	f.Add(cap218)
	f.Add(make([]byte, 24))
	f.Add([]byte("0123456789012345678901234567890123456789"))
	f.Add([]byte{0x80, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if len(b) < 4 || len(b) < NeededLen(bigEndian32(b)) {
			if !errors.Is(err, ErrShortHeader) {
				t.Fatalf("%d bytes: err %v, want ErrShortHeader", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseHeader: %v", err)
		}
		out := make([]byte, h.Len())
		if n := h.Encode(out); n != h.Len() {
			t.Fatalf("Encode wrote %d of %d", n, h.Len())
		}
		// The extension's type and length words are not kept.
		want := bytes.Clone(b[:h.Len()])
		if h.Extended {
			clear(want[24:32])
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("round trip:\n%x\nwant\n%x", out, want)
		}
		h2, err := ParseHeader(out)
		if err != nil || h2 != h {
			t.Fatalf("reparse: %+v %v, want %+v", h2, err, h)
		}
	})
}

func bigEndian32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
