package isn

import (
	"net/netip"
	"testing"
	"time"
)

func TestMSSIndex(t *testing.T) {
	cases := []struct{ in, want uint16 }{
		{0, 536}, {100, 536}, {536, 536}, {1219, 536}, {1220, 1220},
		{1359, 1220}, {1400, 1400}, {1459, 1440}, {1460, 1460}, {1500, 1460},
		{4311, 1460}, {4312, 4312}, {8959, 4312}, {8960, 8960}, {65535, 8960},
	}
	for _, c := range cases {
		if got := MSSTable[mssIndex(c.in)]; got != c.want {
			t.Errorf("mss %d -> %d, want %d", c.in, got, c.want)
		}
	}
	for i := 1; i < len(MSSTable); i++ {
		if MSSTable[i] <= MSSTable[i-1] {
			t.Fatal("MSSTable not increasing")
		}
	}
}

func TestCookieRoundTrip(t *testing.T) {
	g := NewGenerator(keyA)
	for _, now := range []time.Duration{0, time.Second, 63 * time.Second, 1000 * time.Hour} {
		for _, mss := range []uint16{536, 1200, 1460, 9000} {
			for _, tu := range []struct{ l, r netip.AddrPort }{{local, remote}, {local6, rem6}} {
				isn := uint32(now) ^ uint32(mss)*2654435761
				c := g.Cookie(tu.l, tu.r, isn, mss, now)
				got, ok := g.CheckCookie(tu.l, tu.r, isn, c, now)
				if !ok || got != MSSTable[mssIndex(mss)] {
					t.Fatalf("now %v mss %d: got %d %v", now, mss, got, ok)
				}
				// Valid for the rest of the slot and the next one.
				end := (now/CookieSlot+2)*CookieSlot - 1
				if _, ok := g.CheckCookie(tu.l, tu.r, isn, c, end); !ok {
					t.Fatalf("rejected at end of next slot (%v)", end)
				}
				// Expired after two slots.
				if _, ok := g.CheckCookie(tu.l, tu.r, isn, c, end+1); ok {
					t.Fatalf("accepted two slots later (%v)", end+1)
				}
				// Far in the future with the same t mod 32 is still stale.
				if _, ok := g.CheckCookie(tu.l, tu.r, isn, c, now+32*CookieSlot); ok {
					t.Fatal("accepted 32 slots later")
				}
				// From the future (clock went back) is rejected.
				if now >= CookieSlot {
					if _, ok := g.CheckCookie(tu.l, tu.r, isn, c, now-CookieSlot); ok {
						t.Fatal("accepted a cookie from the future")
					}
				}
			}
		}
	}
}

func TestCookieRejectsWrongInput(t *testing.T) {
	g := NewGenerator(keyA)
	now := 100 * time.Second
	const isn = 0xdeadbeef
	c := g.Cookie(local, remote, isn, 1460, now)
	bad := []struct {
		name string
		l, r netip.AddrPort
		isn  uint32
	}{
		{"swapped", remote, local, isn},
		{"local port", netip.AddrPortFrom(local.Addr(), 81), remote, isn},
		{"remote port", local, netip.AddrPortFrom(remote.Addr(), 40001), isn},
		{"remote addr", local, netip.MustParseAddrPort("192.168.7.9:40000"), isn},
		{"client isn", local, remote, isn + 1},
	}
	for _, b := range bad {
		if _, ok := g.CheckCookie(b.l, b.r, b.isn, c, now); ok {
			t.Errorf("%s: accepted", b.name)
		}
	}
	if _, ok := NewGenerator(keyB).CheckCookie(local, remote, isn, c, now); ok {
		t.Error("other key accepted")
	}
	// Every single-bit alteration (MAC, MSS index, time) is rejected.
	for bit := 0; bit < 32; bit++ {
		if _, ok := g.CheckCookie(local, remote, isn, c^1<<bit, now); ok {
			t.Errorf("cookie with bit %d flipped accepted", bit)
		}
	}
	// Random forgeries almost never pass (expected 2 slots * 2^-24 each).
	pass := 0
	for i := uint32(0); i < 1<<16; i++ {
		if _, ok := g.CheckCookie(local, remote, isn, i*65521+7, now); ok {
			pass++
		}
	}
	if pass > 2 {
		t.Errorf("%d of 65536 random cookies accepted", pass)
	}
}

func TestCookieAtTimeZero(t *testing.T) {
	g := NewGenerator(keyA)
	// A cookie claiming slot 31 at slot 0 must not wrap into "previous slot".
	c := g.Cookie(local, remote, 1, 1460, 31*CookieSlot)
	if _, ok := g.CheckCookie(local, remote, 1, c, 0); ok {
		t.Fatal("accepted at time zero")
	}
	if _, ok := g.CheckCookie(local, remote, 1, 0, -time.Second); ok {
		t.Fatal("zero cookie accepted at negative time")
	}
}
