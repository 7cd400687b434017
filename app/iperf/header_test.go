package iperf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// iperf218 is the first 60 bytes an iperf 2.1.8 client (`iperf -c host -n
// 200`) sent in a capture: flags 0x40010078 (HEADER_EXTEND, HEADER_LEN_BIT,
// length 120), one thread, port 15001, amount 200 bytes, version 2.1.8.
const iperf218 = "40010078000000010000" + "3a99" + "0000000000000000000000c8" +
	"00000000000000000000000000020001000800030000000000000000000000000000000000000000"

func TestParseHeaderTable(t *testing.T) {
	cap218, _ := hex.DecodeString(iperf218)
	tradeoff := bytes.Clone(cap218)
	tradeoff[0] = 0xc0
	dual := make([]byte, 24)
	copy(dual, []byte{0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0x13, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xfc, 0x18})
	for _, tc := range []struct {
		name string
		in   []byte
		want Header
		dual, trade, rev,
		has bool
	}{
		{"iperf 2.1.8 plain", cap218, Header{Flags: 0x40010078, NumThreads: 1, Port: 15001, Amount: 200, Extended: true, VersionU: 0x00020001, VersionL: 0x00080003}, false, false, false, true},
		{"iperf 2.1.8 -r", tradeoff, Header{Flags: 0xc0010078, NumThreads: 1, Port: 15001, Amount: 200, Extended: true, VersionU: 0x00020001, VersionL: 0x00080003}, false, true, false, true},
		{"v1 dual -t 10", dual, Header{Flags: 0x80000001, NumThreads: 2, Port: 5001, Amount: -1000}, true, false, false, true},
		{"zero flags", make([]byte, 24), Header{}, false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHeader(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if h != tc.want {
				t.Fatalf("parsed %+v, want %+v", h, tc.want)
			}
			if h.Dual() != tc.dual || h.Tradeoff() != tc.trade || h.Reverse() != tc.rev {
				t.Errorf("modes dual %v tradeoff %v reverse %v, want %v %v %v", h.Dual(), h.Tradeoff(), h.Reverse(), tc.dual, tc.trade, tc.rev)
			}
			if HasHeader(tc.in) != tc.has {
				t.Errorf("HasHeader = %v, want %v", HasHeader(tc.in), tc.has)
			}
			// build and round trip
			b := make([]byte, MaxHeaderLen)
			n := h.Encode(b)
			if n != h.Len() || n > len(tc.in) {
				t.Fatalf("Encode wrote %d bytes, Len %d, input %d", n, h.Len(), len(tc.in))
			}
			if !bytes.Equal(b[:n], tc.in[:n]) {
				t.Errorf("Encode:\n%x\nwant\n%x", b[:n], tc.in[:n])
			}
			h2, err := ParseHeader(b[:n])
			if err != nil || h2 != h {
				t.Errorf("round trip: %+v, %v", h2, err)
			}
			// every too-short length is rejected
			for l := 0; l < NeededLen(h.Flags); l++ {
				if _, err := ParseHeader(tc.in[:l]); !errors.Is(err, ErrShortHeader) {
					t.Errorf("ParseHeader of %d bytes: %v, want ErrShortHeader", l, err)
				}
			}
			if n := h.Encode(b[:h.Len()-1]); n != 0 {
				t.Errorf("Encode into a short buffer wrote %d bytes", n)
			}
		})
	}
}

func TestHasHeaderPattern(t *testing.T) {
	// an iperf 2.0 client's payload pattern is not a header
	if HasHeader([]byte("0123456789")) {
		t.Error("the payload pattern reads as a header")
	}
	if HasHeader([]byte{0x80, 0, 0}) {
		t.Error("3 bytes read as a header")
	}
	if !HasHeader([]byte{0x04, 0, 0, 0}) {
		t.Error("FlagVersion2 not recognised")
	}
}

func TestAmount(t *testing.T) {
	h := Header{Amount: -300}
	if d, ok := h.AmountTime(); !ok || d != 3*time.Second {
		t.Errorf("AmountTime = %v, %v; want 3s", d, ok)
	}
	if _, ok := h.AmountBytes(); ok {
		t.Error("negative amount read as bytes")
	}
	h.Amount = 1 << 20
	if n, ok := h.AmountBytes(); !ok || n != 1<<20 {
		t.Errorf("AmountBytes = %v, %v", n, ok)
	}
	if _, ok := h.AmountTime(); ok {
		t.Error("positive amount read as time")
	}
}

func TestReverseFlag(t *testing.T) {
	h := Header{Extended: true, LowerFlags: ExtReverse}
	if !h.Reverse() || !h.NeedsServerSend() {
		t.Error("reverse not recognised")
	}
	h.Extended = false
	if h.Reverse() {
		t.Error("reverse without the extension")
	}
}
