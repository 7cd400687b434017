package tcp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/link/fault"
	"github.com/featherip/featherip/tcp/cc"
	"github.com/featherip/featherip/wire"
)

// TestGoodputSACKvsNoSACK moves 3 MiB each way over a 20 ms RTT link
// with 3% random loss on both sides, with SACK loss recovery (RFC 6675)
// and with NewReno (RFC 6582), for eight seeds, and asserts that the
// goodput over all of them (bytes delivered per virtual second) with SACK
// is at least that without.
//
// The comparison is over the aggregate on purpose: with losses this sparse
// most windows lose one segment, which both recover alike, and both pay a
// retransmission timeout for each lost retransmission (neither detects
// those without RACK), so single seeds scatter either way (no-SACK/SACK
// time ratios from 0.87 to 1.17 here; over eight seeds the ratio was 1.03
// to 1.07 for each of four disjoint seed sets tried).
func TestGoodputSACKvsNoSACK(t *testing.T) {
	if testing.Short() {
		t.Skip("16 simulated 3 MiB transfers skipped in -short mode")
	}
	const size = 3 << 20
	run := func(cfg Config, seed uint64) time.Duration {
		f := fault.Config{Loss: 0.03}
		pr := newPair(t, pairOpts{delay: 10 * time.Millisecond, fault: &f, cfg: cfg, seed: seed})
		return bulk(t, pr, size, 30*time.Minute)
	}
	var withSACK, noSACK time.Duration
	for seed := uint64(1); seed <= 8; seed++ {
		a, b := run(Config{}, seed), run(Config{DisableSACK: true}, seed)
		t.Logf("seed %d: with SACK %v, without %v", seed, a, b)
		withSACK += a
		noSACK += b
	}
	goodput := func(d time.Duration) float64 { return float64(8*2*8*size) / d.Seconds() / 1e6 } // both directions, 8 runs
	t.Logf("3 MiB each way x 8 seeds, 3%% loss, 20 ms RTT: goodput with SACK %.2f Mbit/s (%v), NewReno without SACK %.2f Mbit/s (%v)",
		goodput(withSACK), withSACK, goodput(noSACK), noSACK)
	if goodput(withSACK) < goodput(noSACK) {
		t.Fatalf("goodput with SACK %.2f Mbit/s is below NewReno's %.2f Mbit/s", goodput(withSACK), goodput(noSACK))
	}
}

func TestUrgentDataInline(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1)
	s := k.seg(fACK|0x20, []byte("urgent!"))
	s.urgent = 3
	e.inject(s)
	if string(k.recv) != "urgent!" || k.c.State() != Established {
		t.Fatalf("recv %q state %v", k.recv, k.c.State())
	}
}

func TestBindAndListenErrors(t *testing.T) {
	e := newEnv(t, Config{})
	a, _ := e.p.NewPCB()
	if err := a.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 4); err != nil {
		t.Fatal(err)
	}
	b, _ := e.p.NewPCB()
	if err := b.Listen(netip.AddrPortFrom(ourIP, 80), 4); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("second listener on :80: %v", err)
	}
	if err := b.Bind(netip.MustParseAddrPort("192.0.2.1:99")); !errors.Is(err, ErrInvalidAddr) {
		t.Fatalf("bind to a foreign address: %v", err)
	}
	if err := b.Listen(netip.AddrPortFrom(netip.Addr{}, 0), 4); err != nil || b.LocalAddr().Port() < DefaultEphemeralLow {
		t.Fatalf("ephemeral listen: %v %v", err, b.LocalAddr())
	}
	c, _ := e.p.NewPCB()
	if err := c.Connect(netip.MustParseAddrPort("0.0.0.0:80")); !errors.Is(err, ErrInvalidAddr) {
		t.Fatalf("connect to 0.0.0.0: %v", err)
	}
	if err := c.Connect(netip.MustParseAddrPort("198.51.100.1:80")); err == nil {
		t.Fatal("connect without a route succeeded")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("write unconnected: %v", err)
	}
	if _, err := New(e.s, Config{}); err == nil {
		t.Fatal("second TCP on one stack")
	}
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t, Config{})
	for _, cfg := range []Config{{MaxPCBs: -1}, {MinRTO: time.Minute, MaxRTO: time.Second}, {CongestionControl: "vegas"},
		{EphemeralLow: 100, EphemeralHigh: 50}, {RecvBuffer: 2 << 30}} {
		cfg := cfg
		if err := cfg.validateWithDefaults(); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	_ = e
}

func (c *Config) validateWithDefaults() error {
	c.setDefaults()
	return c.validate()
}

func TestEphemeralPortsRandom(t *testing.T) {
	e := newEnv(t, Config{})
	seen := map[uint16]bool{}
	prev := uint16(0)
	sequential := 0
	for i := 0; i < 50; i++ {
		c, _ := e.p.NewPCB()
		if err := c.Connect(netip.AddrPortFrom(peerIP, uint16(1000+i))); err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().Port()
		if p < DefaultEphemeralLow || seen[p] {
			t.Fatalf("port %d", p)
		}
		if p == prev+1 {
			sequential++
		}
		seen[p], prev = true, p
	}
	if sequential > 40 {
		t.Fatalf("ephemeral ports look sequential (%d of 50)", sequential)
	}
	e.out()
}

func TestRecvWindowFollowsApplication(t *testing.T) {
	e := newEnv(t, Config{RecvBuffer: 8000})
	k := e.accept(mssOnly(), 1)
	k.c.SetAutoRecved(false)
	for i := 0; i < 4; i++ {
		k.send(fACK, make([]byte, 1460))
	}
	e.advance(time.Second)
	o := e.out()
	last := o[len(o)-1]
	if int(last.wnd) > 8000-4*1460 {
		t.Fatalf("window %d not closed by unconsumed data", last.wnd)
	}
	k.c.Recved(4 * 1460)
	up := e.one()
	if int(up.wnd) < 7000 {
		t.Fatalf("window update %v", up)
	}
}

func TestLoopbackConnection(t *testing.T) {
	e := newEnv(t, Config{})
	l, _ := e.p.NewPCB()
	l.Listen(netip.MustParseAddrPort("127.0.0.1:7"), 4)
	var got []byte
	eof := false
	l.OnAccept(func(l, c *PCB) {
		c.SetAutoRecved(true)
		c.OnRecv(func(c *PCB, d []byte) {
			if d == nil {
				eof = true
				c.Close()
				return
			}
			got = append(got, d...)
		})
	})
	c, _ := e.p.NewPCB()
	data := randomData(1<<20, 5)
	off := 0
	pump := func(c *PCB) {
		for off < len(data) {
			n, _ := c.Write(data[off:])
			if n == 0 {
				return
			}
			off += n
		}
		if off == len(data) {
			c.Close()
			off++
		}
	}
	c.OnConnected(func(c *PCB, err error) {
		if err != nil {
			t.Errorf("connect: %v", err)
		}
		pump(c)
	})
	c.OnSent(func(c *PCB, n int) { pump(c) })
	if err := c.Connect(netip.MustParseAddrPort("127.0.0.1:7")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100000 && !eof; i++ {
		e.advance(time.Millisecond)
	}
	if !eof || !bytes.Equal(got, data) {
		t.Fatalf("loopback transfer: eof %v, %d of %d bytes", eof, len(got), len(data))
	}
	e.advance(2 * time.Minute)
	if e.p.NumPCBs() != 1 {
		t.Fatalf("%d PCBs left", e.p.NumPCBs())
	}
}

func TestBulkAcrossWrap(t *testing.T) {
	pr := newPair(t, pairOpts{delay: time.Millisecond})
	pr.a.tcp.isnHook = func() uint32 { return 0xffffffff - 100000 }
	pr.b.tcp.isnHook = func() uint32 { return 0xffffffff - 5000 }
	bulk(t, pr, 1<<20, time.Minute)
}

func TestOutOfWindowSegments(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1)
	// data entirely beyond the window: dropped, answered with an ACK
	s := k.seg(fACK, []byte("far"))
	s.seq += 1 << 20
	e.inject(s)
	a := e.one()
	if a.ack != k.peerSeq || len(k.recv) != 0 || e.p.Stats().DropOutOfWindow != 1 {
		t.Fatalf("ack %v", a)
	}
	// an old duplicate: dropped, ACKed
	k.send(fACK, []byte("abc"))
	e.advance(time.Second)
	e.out()
	s = k.seg(fACK, []byte("abc"))
	s.seq -= 3
	e.inject(s)
	if a := e.one(); a.ack != k.peerSeq || string(k.recv) != "abc" {
		t.Fatalf("dup: %v recv %q", a, k.recv)
	}
	// SYN beyond the window: challenge ACK too (RFC 5961 §4)
	s = k.seg(fSYN, nil)
	s.seq += 1 << 24
	e.inject(s)
	if a := e.one(); a.flags != fACK || k.c.State() != Established {
		t.Fatalf("SYN out of window: %v", a)
	}
	// ICMP errors for an established connection are soft: ignored
	k.c.Write([]byte("x"))
	d := e.one()
	e.injectICMP(3, 3, 0, buildTCP(d, ourIP, peerIP))
	if k.c.State() != Established || k.err != nil {
		t.Fatalf("ICMP killed an established connection: %v", k.err)
	}
}

// TestCongestionFactory: an algorithm from Config.CongestionFactory is
// made once per connection and stays with it while idle (a built-in one's
// state is given back, active.go); the default is CUBIC, and another
// built-in one is chosen by name.
func TestCongestionFactory(t *testing.T) {
	made := 0
	e := newEnv(t, Config{CongestionFactory: func() cc.Algorithm { made++; return cc.NewReno() }})
	k := e.dial(mssOnly(), 1)
	a := k.c.cc
	if made != 1 || a == nil || a.Name() != "reno" || a.CongestionWindow() != cc.InitialWindow(int(k.c.sndMSS)) {
		t.Fatalf("factory used %d times, algorithm %T not set up at the handshake", made, a)
	}
	e.advance(10 * time.Second)
	if k.c.cc != a {
		t.Fatal("factory algorithm released while idle")
	}
	for name, want := range map[string]string{"": "cubic", "reno": "reno"} {
		e2 := newEnv(t, Config{CongestionControl: name})
		if k2 := e2.dial(mssOnly(), 1); k2.c.congestion().Name() != want {
			t.Fatalf("algorithm %q: got %s", name, k2.c.congestion().Name())
		}
	}
}

// TestBareACKAtRightWindowEdge: a peer that filled our receive window
// sends its bare ACKs with SEQ = SND.NXT = RCV.NXT+RCV.WND. Such an ACK is
// taken (as Linux and BSD do); were it dropped as outside the window, our
// data would wait for the peer's next data segment, after a lost segment
// its retransmission timeout. A bare segment beyond the edge is still
// dropped.
func TestBareACKAtRightWindowEdge(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1)
	if n, err := k.c.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	e.one()
	c := k.c
	wnd := c.rcvAdv - c.rcvNxt
	if wnd == 0 {
		t.Fatal("no receive window announced")
	}
	drops := e.p.Stats().DropOutOfWindow
	s := k.seg(fACK, nil)
	s.seq, s.ack = c.rcvNxt+wnd+1, k.ourSeq+2
	k.inject(s) // beyond the edge: dropped, answered with an ACK
	if e.p.Stats().DropOutOfWindow != drops+1 || c.sndUna != k.ourSeq || e.one().flags != fACK {
		t.Fatalf("segment beyond the window: drops %d->%d, SND.UNA %d (want %d)", drops, e.p.Stats().DropOutOfWindow, c.sndUna, k.ourSeq)
	}
	s.seq, s.ack = c.rcvNxt+wnd, k.ourSeq+5
	k.inject(s) // at the edge: its ACK is processed
	if c.sndUna != k.ourSeq+5 || k.sent != 5 || e.p.Stats().DropOutOfWindow != drops+1 {
		t.Fatalf("bare ACK at the right edge ignored: SND.UNA %d, want %d; sent %d", c.sndUna, k.ourSeq+5, k.sent)
	}
	e.none()
}

// TestRetransmissionKeepsSegmentWhole: a segment first sent with only the
// timestamp option is retransmitted whole after the connection started to
// carry SACK blocks for the peer's out-of-order data; the blocks that do
// not fit are left out (RFC 2018 §3) rather than the retransmission cut
// short, which would leave a sliver to retransmit and to lose separately.
func TestRetransmissionKeepsSegmentWhole(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(synOpts(), 1)
	data := make([]byte, 4*1448)
	if n, err := k.c.Write(data); n != len(data) || err != nil {
		t.Fatal(n, err)
	}
	out := e.out()
	if len(out) != 4 || len(out[0].data) != 1448 {
		t.Fatalf("want 4 segments of 1448 bytes, got %v", fmtSegs(out))
	}
	// out-of-order data from the peer: from now on our segments carry a
	// SACK block for it
	s := k.seg(fACK, []byte("later"))
	s.seq += 100
	k.inject(s)
	if a := e.one(); a.opts.NumSACK != 1 {
		t.Fatalf("want an ACK with one SACK block, got %v", a)
	}
	// the first segment is lost: SACKs for the three others
	for i := 2; i <= 4; i++ {
		d := k.seg(fACK, nil)
		d.opts.NumSACK = 1
		d.opts.SACK[0] = wire.SACKBlock{Left: k.ourSeq + 1448, Right: k.ourSeq + uint32(i*1448)}
		k.inject(d)
	}
	var rtx []tseg
	for _, o := range e.out() {
		if len(o.data) > 0 && seqLT(o.seq, k.ourSeq+1448) {
			rtx = append(rtx, o)
		}
	}
	if len(rtx) == 0 {
		t.Fatal("no retransmission")
	}
	for _, o := range rtx {
		if o.seq != k.ourSeq || len(o.data) != 1448 {
			t.Fatalf("want whole 1448-byte retransmissions at %d, got %v", k.ourSeq, fmtSegs(rtx))
		}
	}
}
