package isn

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzCookie checks SYN cookie invariants for arbitrary keys, tuples, client
// ISNs, MSS values and times: a cookie round-trips to the MSS table entry
// chosen for the MSS, in its slot and the next, and is always refused two
// slots later or with a time field two or more slots off. (Altered MAC or
// MSS bits are refused with probability 1-2^-24, checked by unit tests.)
func FuzzCookie(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte{192, 168, 7, 1}, uint16(80), []byte{192, 168, 7, 2}, uint16(40000), uint32(12345), uint16(1460), int64(0))
	f.Add([]byte("fedcba9876543210"), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(443),
		[]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, uint16(1), uint32(0xffffffff), uint16(9000), int64(1<<62))
	f.Add([]byte{}, []byte{}, uint16(0), []byte{}, uint16(0), uint32(0), uint16(0), int64(-5))
	f.Fuzz(func(t *testing.T, key, la []byte, lp uint16, ra []byte, rp uint16, cisn uint32, mss uint16, now int64) {
		var k [16]byte
		copy(k[:], key)
		g := NewGenerator(k)
		addr := func(b []byte) netip.Addr {
			if len(b) >= 16 {
				return netip.AddrFrom16([16]byte(b[:16]))
			}
			var a4 [4]byte
			copy(a4[:], b)
			return netip.AddrFrom4(a4)
		}
		l, r := netip.AddrPortFrom(addr(la), lp), netip.AddrPortFrom(addr(ra), rp)
		n := time.Duration(now)
		if n < 0 || n > time.Duration(1<<62) {
			n = 0
		}
		c := g.Cookie(l, r, cisn, mss, n)
		want := MSSTable[mssIndex(mss)]
		if want > mss && mssIndex(mss) != 0 {
			t.Fatalf("MSS %d mapped to larger %d", mss, want)
		}
		for _, at := range []time.Duration{n, n + CookieSlot - 1} {
			got, ok := g.CheckCookie(l, r, cisn, c, at)
			if !ok || got != want {
				t.Fatalf("round trip at +%v: %d %v want %d", at-n, got, ok, want)
			}
		}
		if _, ok := g.CheckCookie(l, r, cisn, c, n+2*CookieSlot); ok {
			t.Fatal("accepted two slots later")
		}
		// A time field two or more slots off is refused whatever the MAC.
		for d := uint32(2); d < 1<<timeBits; d++ {
			ct := (c>>(32-timeBits) + d) % (1 << timeBits)
			forged := c&(1<<(32-timeBits)-1) | ct<<(32-timeBits)
			if _, ok := g.CheckCookie(l, r, cisn, forged, n); ok {
				t.Fatalf("accepted time field +%d", d)
			}
		}
	})
}
