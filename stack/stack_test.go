package stack

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

func TestConfigValidation(t *testing.T) {
	clk := &fakeClock{}
	small, _ := pbuf.New(pbuf.Config{Headroom: 16})
	cases := []struct {
		cfg   Config
		field string
	}{
		{Config{Rand: rand.NewPCG(1, 1)}, "Clock"},
		{Config{Clock: clk}, "Rand"},
		{Config{Clock: clk, Rand: rand.NewPCG(1, 1), Pool: small}, "Pool"},
		{Config{Clock: clk, Rand: rand.NewPCG(1, 1), ARP: ARPConfig{CacheSize: -1}}, "ARP.CacheSize"},
		{Config{Clock: clk, Rand: rand.NewPCG(1, 1), ARP: ARPConfig{RetryInterval: -time.Second}}, "ARP.RetryInterval"},
		{Config{Clock: clk, Rand: rand.NewPCG(1, 1), ARP: ARPConfig{QueueLen: 10, QueueTotal: 5}}, "ARP.QueueTotal"},
		{Config{Clock: clk, Rand: rand.NewPCG(1, 1), Reassembly: ReassemblyConfig{MaxBytes: -5}}, "Reassembly.MaxBytes"},
		{Config{Clock: clk, Rand: rand.NewPCG(1, 1), MaxInterfaces: 1}, "MaxInterfaces"},
		{Config{Clock: clk, Rand: rand.NewPCG(1, 1), MaxRoutes: -1}, "MaxRoutes"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.field+" ") {
			t.Errorf("%s: %v", c.field, err)
		}
	}
	s, err := New(Config{Clock: clk, Rand: rand.NewPCG(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.ARP.CacheSize != 64 || s.cfg.Reassembly.MaxBytes != 256<<10 || s.cfg.DefaultTTL != 64 || s.Pool() == nil {
		t.Fatal("defaults not applied")
	}
	if _, ok := s.NextDeadline(); ok {
		t.Fatal("fresh stack has a deadline")
	}
	if s.Now() != 0 || s.Random() == s.Random() {
		t.Fatal("Now/Random")
	}
}

// countLink copies frames into a fixed buffer: a driver that allocates nothing.
type countLink struct {
	n    int
	last [2048]byte
	ln   int
}

func (l *countLink) Send(f []byte) error { l.n++; l.ln = copy(l.last[:], f); return nil }

func echoSetup(tb testing.TB, size int) (*Stack, NIC, *countLink, []byte) {
	clk := &fakeClock{}
	s, err := New(Config{Clock: clk, Rand: rand.NewPCG(3, 4)})
	if err != nil {
		tb.Fatal(err)
	}
	l := &countLink{}
	n, _ := s.AddInterface(InterfaceConfig{Name: "eth0", Link: l, MAC: ourMAC})
	_ = s.AddAddress(n, netip.MustParsePrefix("192.168.7.1/24"))
	_ = s.SetUp(n, true)
	s.Input(n, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, peerIP, wire.MAC{}, ourIP)))
	req := ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoICMP, Src: peerIP, Dst: ourIP}, echoMsg(wire.ICMPv4Echo, 1, 1, make([]byte, size))))
	return s, n, l, req
}

func TestEchoZeroAllocs(t *testing.T) {
	s, n, l, req := echoSetup(t, 56)
	s.Input(n, req) // warm the pool
	before := l.n
	allocs := testing.AllocsPerRun(1000, func() { s.Input(n, req) })
	if allocs != 0 {
		t.Fatalf("%v allocations per echo", allocs)
	}
	if l.n-before != 1001 || l.ln != len(req) {
		t.Fatalf("%d replies", l.n-before)
	}
}

func BenchmarkEcho(b *testing.B) {
	s, n, l, req := echoSetup(b, 56)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		s.Input(n, req)
	}
	if l.n == 0 {
		b.Fatal("no replies")
	}
}

type countingPoller struct {
	due   time.Duration
	polls int
}

func (p *countingPoller) Poll(now time.Duration) {
	if now >= p.due {
		p.polls++
		p.due = now + time.Second
	}
}

func (p *countingPoller) NextDeadline() (time.Duration, bool) { return p.due, true }

func TestPollerJoinsDeadlineAndPoll(t *testing.T) {
	e := newEnv(t, nil)
	s := e.s
	p := &countingPoller{due: e.clk.t + 5*time.Minute}
	want := p.due
	s.AddPoller(p)
	if d, ok := s.NextDeadline(); !ok || d > want {
		t.Fatalf("NextDeadline = %v, %v; want at most %v", d, ok, want)
	}
	e.clk.t = want
	s.Poll()
	if p.polls != 1 {
		t.Fatalf("poller ran %d times, want 1", p.polls)
	}
	s.RemovePoller(p)
	if d, ok := s.NextDeadline(); ok && d == p.due {
		t.Fatal("removed poller still reports its deadline")
	}
}
