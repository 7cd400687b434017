package stack

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// TestARPDeadlineCache drives the ARP cache through a random sequence of
// resolutions, replies, requests, removals, static entries, interface
// down/up and clock steps, and checks after every step that the cached
// earliest ARP timer equals a fresh scan of the table (the cache may never
// report a deadline too late, nor a stale one), and that Poll leaves no
// ARP timer in the past.
func TestARPDeadlineCache(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ARP.CacheSize = 8 })
	if len(e.s.arp.entries) != 0 {
		t.Fatalf("a stack that resolved nothing holds %d ARP entries", len(e.s.arp.entries))
	}
	r := rand.New(rand.NewPCG(3, 4))
	ip := func() netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 7, byte(2 + r.IntN(12))}) }
	mac := func(a netip.Addr) wire.MAC { return wire.MAC{2, 0, 0, 0, 9, a.As4()[3]} }
	check := func(step int, what string) {
		t.Helper()
		gt, gok := e.s.arpDeadline()
		wt, wok := e.s.arpScanDeadline()
		if gt != wt || gok != wok {
			t.Fatalf("step %d (%s): cached ARP deadline %v %v, scan %v %v", step, what, gt, gok, wt, wok)
		}
		if n, c := len(e.s.arp.entries), cap(e.s.arp.entries); n > 8 || c > 8 {
			t.Fatalf("step %d (%s): ARP table of %d entries (capacity %d), bound 8", step, what, n, c)
		}
	}
	for step := range 3000 {
		var what string
		switch k := r.IntN(9); k {
		case 0, 1:
			what = "send"
			a := ip()
			b := e.s.NewPacket(8)
			if b == nil {
				t.Fatal("pool exhausted")
			}
			_ = e.s.WriteIPv4(b, &WriteOptions{Dst: a, Protocol: wire.ProtoUDP})
		case 2:
			what = "reply"
			a := ip()
			e.s.Input(e.nic, ethFrame(ourMAC, mac(a), wire.EtherTypeARP, arpPkt(wire.ARPReply, mac(a), a, ourMAC, ourIP)))
		case 3:
			what = "request"
			a := ip()
			e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, mac(a), wire.EtherTypeARP, arpPkt(wire.ARPRequest, mac(a), a, wire.MAC{}, ourIP)))
		case 4:
			what = "remove"
			_ = e.s.RemoveNeighbor(e.nic, ip())
		case 5:
			what = "static"
			a := ip()
			_ = e.s.AddStaticNeighbor(e.nic, a, mac(a))
		case 6:
			what = "down/up"
			_ = e.s.SetUp(e.nic, r.IntN(2) == 0)
		default:
			what = "advance"
			e.advance(time.Duration(r.IntN(3000)) * time.Millisecond)
			if t0, ok := e.s.arpScanDeadline(); ok && t0 <= e.s.Now() {
				t.Fatalf("step %d: ARP timer %v not run by Poll at %v", step, t0, e.s.Now())
			}
		}
		e.link.take()
		check(step, what)
	}
}

// TestARPResolveNoClock checks that sending to a resolved neighbor does not
// read the clock (the LRU order comes from a use counter).
func TestARPResolveNoClock(t *testing.T) {
	cc := &countingClock{}
	e := newEnv(t, func(c *Config) { cc.c = c.Clock; c.Clock = cc })
	e.learnPeer()
	cc.n = 0
	for range 10 {
		b := e.s.NewPacket(8)
		if err := e.s.WriteIPv4(b, &WriteOptions{Dst: peerIP, Protocol: wire.ProtoUDP}); err != nil {
			t.Fatal(err)
		}
	}
	if cc.n != 0 {
		t.Fatalf("%d clock reads for 10 datagrams to a resolved neighbor", cc.n)
	}
}

type countingClock struct {
	c Clock
	n int
}

func (c *countingClock) Now() time.Duration { c.n++; return c.c.Now() }
