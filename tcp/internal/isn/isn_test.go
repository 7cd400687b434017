package isn

import (
	"net/netip"
	"testing"
	"time"
)

var (
	keyA   = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	keyB   = [16]byte{16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	local  = netip.MustParseAddrPort("192.168.7.1:80")
	remote = netip.MustParseAddrPort("192.168.7.2:40000")
	local6 = netip.MustParseAddrPort("[2001:db8::1]:443")
	rem6   = netip.MustParseAddrPort("[2001:db8::2]:50000")
)

func TestISNClockComponent(t *testing.T) {
	g := NewGenerator(keyA)
	base := g.ISN(local, remote, 0)
	// M advances one per 4 µs: the difference is exactly the tick count.
	for _, d := range []time.Duration{4 * time.Microsecond, time.Millisecond, time.Second, 17 * time.Second} {
		got := g.ISN(local, remote, d) - base
		if want := uint32(d / ISNTick); got != want {
			t.Errorf("after %v: ISN advanced %d, want %d", d, got, want)
		}
	}
	// 3 µs is below one tick.
	if g.ISN(local, remote, 3*time.Microsecond) != base {
		t.Error("sub-tick time changed the ISN")
	}
	// M wraps modulo 2^32 (4 µs * 2^32 ≈ 4.77 h).
	wrap := time.Duration(1<<32) * ISNTick
	if g.ISN(local, remote, wrap) != base {
		t.Error("M does not wrap at 2^32 ticks")
	}
}

func TestISNKeyedAndTupleDependent(t *testing.T) {
	g, h := NewGenerator(keyA), NewGenerator(keyB)
	now := 5 * time.Second
	a := g.ISN(local, remote, now)
	if a != g.ISN(local, remote, now) {
		t.Fatal("ISN not deterministic")
	}
	if a == h.ISN(local, remote, now) {
		t.Error("ISN does not depend on the key")
	}
	others := []struct{ l, r netip.AddrPort }{
		{remote, local},
		{netip.AddrPortFrom(local.Addr(), 81), remote},
		{local, netip.AddrPortFrom(remote.Addr(), 40001)},
		{netip.MustParseAddrPort("192.168.7.3:80"), remote},
		{local6, rem6},
	}
	for _, o := range others {
		if g.ISN(o.l, o.r, now) == a {
			t.Errorf("tuple %v %v gives the same ISN", o.l, o.r)
		}
	}
	// IPv4 and its IPv4-mapped IPv6 form hash the same.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(local.Addr().As16()), local.Port())
	if g.ISN(mapped, remote, now) != a {
		t.Error("mapped IPv4 differs from IPv4")
	}
}

func TestHash(t *testing.T) {
	g, h := NewGenerator(keyA), NewGenerator(keyB)
	x := g.Hash(local, remote)
	if x != g.Hash(local, remote) || x == h.Hash(local, remote) || x == g.Hash(remote, local) {
		t.Fatal("Hash not deterministic, keyed and ordered")
	}
	if uint32(x) == g.ISN(local, remote, 0) {
		t.Fatal("Hash and ISN share a domain")
	}
	// Rough spread check over ports: 4096 tuples into 64 buckets.
	var buckets [64]int
	for p := 0; p < 4096; p++ {
		buckets[g.Hash(local, netip.AddrPortFrom(remote.Addr(), uint16(p)))%64]++
	}
	for i, n := range buckets {
		if n < 20 || n > 120 {
			t.Fatalf("bucket %d has %d of 4096 (expected ~64)", i, n)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	g := NewGenerator(keyA)
	var sink uint64
	n := testing.AllocsPerRun(100, func() {
		sink += uint64(g.ISN(local6, rem6, time.Second))
		sink += g.Hash(local, remote)
		c := g.Cookie(local, remote, 7, 1460, time.Second)
		m, _ := g.CheckCookie(local, remote, 7, c, time.Second)
		sink += uint64(m)
	})
	if n != 0 {
		t.Fatalf("allocs per run = %v", n)
	}
	_ = sink
}

func BenchmarkISN(b *testing.B) {
	g := NewGenerator(keyA)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = g.ISN(local6, rem6, time.Duration(i))
	}
}
