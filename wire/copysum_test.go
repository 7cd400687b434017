package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// TestCopySum checks CopySum against copy and Sum for every length up to
// 300 bytes, unaligned buffers, short destinations and random seeds, and
// that pieces summed with AddSumAt at even and odd offsets compose to the
// checksum of the whole.
func TestCopySum(t *testing.T) {
	r := newRand(t)
	src := randBytes(r, 2100)
	for n := 0; n <= 300; n++ {
		for _, off := range []int{0, 1, 3} {
			for _, dn := range []int{n, n / 2} {
				dst := make([]byte, dn+off)[off:]
				init := r.Uint32()
				k, got := CopySum(dst, src[off:off+n], init)
				if k != min(n, dn) || !bytes.Equal(dst[:k], src[off:off+k]) {
					t.Fatalf("n=%d off=%d dst %d: copied %d bytes, wrong content", n, off, dn, k)
				}
				if want := Sum(src[off:off+k], init); Fold(got) != Fold(want) {
					t.Fatalf("n=%d off=%d dst %d: CopySum %#x, Sum %#x", n, off, dn, Fold(got), Fold(want))
				}
			}
		}
	}
	ff := bytes.Repeat([]byte{0xff}, 4096)
	for n := 0; n <= len(ff); n += 13 {
		_, got := CopySum(make([]byte, n), ff[:n], 0xffffffff)
		if Fold(got) != Fold(Sum(ff[:n], 0xffffffff)) {
			t.Fatalf("0xff n=%d", n)
		}
	}
	for i := 0; i < 2000; i++ {
		b := randBytes(r, r.IntN(400))
		acc := r.Uint32()
		whole := Fold(Sum(b, acc))
		for pos := 0; pos < len(b); {
			k := 1 + r.IntN(len(b)-pos)
			_, part := CopySum(make([]byte, k), b[pos:pos+k], 0)
			acc = AddSumAt(acc, part, pos)
			pos += k
		}
		if got := Fold(acc); got != whole {
			t.Fatalf("len %d: pieces %#04x, whole %#04x", len(b), got, whole)
		}
	}
}

// TestSetTCPChecksumData checks the checksum from a header and a data sum
// equals SetTCPChecksum's over the whole segment.
func TestSetTCPChecksumData(t *testing.T) {
	r := newRand(t)
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := 0; i < 500; i++ {
		hl := 20 + 4*r.IntN(11)
		seg := randBytes(r, hl+r.IntN(1500))
		want := append([]byte(nil), seg...)
		SetTCPChecksum(want, src, dst)
		SetTCPChecksumData(seg, hl, Sum(seg[hl:], 0), src, dst)
		if !bytes.Equal(seg, want) {
			t.Fatalf("hl %d len %d: checksum %x, want %x", hl, len(seg), seg[16:18], want[16:18])
		}
	}
}

func BenchmarkCopySum1500(b *testing.B) {
	src, dst := make([]byte, 1500), make([]byte, 1500)
	b.SetBytes(1500)
	for range b.N {
		CopySum(dst, src, 0)
	}
}

func BenchmarkCopyThenSum1500(b *testing.B) {
	src, dst := make([]byte, 1500), make([]byte, 1500)
	b.SetBytes(1500)
	for range b.N {
		copy(dst, src)
		Sum(dst, 0)
	}
}
