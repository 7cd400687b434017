package tcp

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

func TestSYNCookieWhenBacklogFull(t *testing.T) {
	e := newEnv(t, Config{})
	l, _ := e.p.NewPCB()
	if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 1); err != nil {
		t.Fatal(err)
	}
	var accepted []*PCB
	l.OnAccept(func(l, c *PCB) { accepted = append(accepted, c) })
	e.inject(tseg{sport: 1000, dport: 80, seq: 50, flags: fSYN, wnd: 1000, opts: synOpts()})
	if sa := e.one(); !sa.opts.HasTimestamps {
		t.Fatalf("first SYN-ACK is a normal one with options: %+v", sa.opts)
	}
	// the backlog is full: the next SYN gets a cookie, with MSS only
	e.inject(tseg{sport: 1001, dport: 80, seq: 70, flags: fSYN, wnd: 1000, opts: synOpts()})
	ck := e.one()
	if ck.flags != fSYN|fACK || ck.ack != 71 || !ck.opts.HasMSS || ck.opts.HasTimestamps || ck.opts.SACKPermitted || ck.opts.HasWScale {
		t.Fatalf("cookie SYN-ACK %v %+v", ck, ck.opts)
	}
	if e.p.NumPCBs() != 2 || e.p.Stats().SynCookiesSent != 1 {
		t.Fatalf("pcbs %d stats %+v", e.p.NumPCBs(), e.p.Stats())
	}
	// a forged ACK with a wrong cookie is reset
	e.inject(tseg{sport: 1001, dport: 80, seq: 71, ack: ck.seq + 2, flags: fACK, wnd: 1000})
	if r := e.one(); !r.has(fRST) || len(accepted) != 0 {
		t.Fatalf("bad cookie: %v", r)
	}
	// the right one completes the handshake, data included
	e.inject(tseg{sport: 1001, dport: 80, seq: 71, ack: ck.seq + 1, flags: fACK | fPSH, wnd: 1000, data: []byte("hi")})
	if len(accepted) != 1 || accepted[0].State() != Established || accepted[0].RemoteAddr().Port() != 1001 {
		t.Fatalf("cookie connection not accepted: %v", accepted)
	}
	if st := accepted[0].Stats(); st.SndMSS != 1460 || st.SACK || st.Timestamps || st.BytesReceived != 2 {
		t.Fatalf("cookie connection %+v", st)
	}
	if e.p.Stats().SynCookiesRecv != 1 || e.p.Stats().PassiveOpens != 2 {
		t.Fatalf("stats %+v", e.p.Stats())
	}
	// and the connection works
	c := accepted[0]
	c.Write([]byte("ok"))
	var d tseg
	for _, s := range e.out() {
		if len(s.data) > 0 {
			d = s
		}
	}
	if string(d.data) != "ok" || d.seq != ck.seq+1 || d.ack != 73 {
		t.Fatalf("data %v", d)
	}
}

func TestSYNFlood(t *testing.T) {
	e := newEnv(t, Config{MaxPCBs: 64})
	l, _ := e.p.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 16)
	n := 0
	l.OnAccept(func(l, c *PCB) { n++ })
	for i := 0; i < 5000; i++ {
		e.inject(tseg{sport: uint16(1024 + i), dport: 80, seq: uint32(i * 7919), flags: fSYN, wnd: 1000, opts: synOpts()})
		if i%100 == 0 {
			e.advance(10 * time.Millisecond)
		}
	}
	e.out()
	if e.p.NumPCBs() > 17 {
		t.Fatalf("%d PCBs after a SYN flood with backlog 16", e.p.NumPCBs())
	}
	// a legitimate client still gets in (through a cookie)
	e.inject(tseg{sport: 9999, dport: 80, seq: 1, flags: fSYN, wnd: 1000, opts: synOpts()})
	ck := e.one()
	e.inject(tseg{sport: 9999, dport: 80, seq: 2, ack: ck.seq + 1, flags: fACK, wnd: 1000})
	if n != 1 {
		t.Fatalf("legit connection not accepted (%d)", n)
	}
	// half-open connections time out and go away
	e.advance(5 * time.Minute)
	if e.p.NumPCBs() != 2 {
		t.Fatalf("%d PCBs after the half-open ones timed out", e.p.NumPCBs())
	}
}

func TestListenerNoCookies(t *testing.T) {
	e := newEnv(t, Config{DisableSYNCookies: true})
	l, _ := e.p.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 2)
	for i := 0; i < 5; i++ {
		e.inject(tseg{sport: uint16(1000 + i), dport: 80, seq: 1, flags: fSYN, wnd: 1000})
	}
	if o := e.out(); len(o) != 2 || e.p.Stats().DropListenFull != 3 {
		t.Fatalf("%d SYN-ACKs, %d drops", len(o), e.p.Stats().DropListenFull)
	}
}

func TestReclaimPolicy(t *testing.T) {
	e := newEnv(t, Config{MaxPCBs: 3})
	l, _ := e.p.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 8)
	// one connection in TIME_WAIT, one established
	k1 := e.dial(mssOnly(), 100)
	k1.c.Shutdown()
	e.out()
	k1.ourSeq++
	k1.send(fFIN|fACK, nil)
	e.out()
	if k1.c.State() != TimeWait {
		t.Fatalf("state %v", k1.c.State())
	}
	k2 := e.dial(mssOnly(), 200)
	// the table is full: a new PCB reclaims the TIME_WAIT one
	c, err := e.p.NewPCB()
	if err != nil || k1.c.State() != Closed || e.p.Stats().Reclaimed != 1 {
		t.Fatalf("NewPCB: %v, old state %v", err, k1.c.State())
	}
	// nothing left to reclaim: refused
	if _, err := e.p.NewPCB(); !errors.Is(err, ErrTooManyPCBs) {
		t.Fatalf("NewPCB on a full table: %v", err)
	}
	c.Close()
	// a closed (orphaned) connection in FIN_WAIT_1 is reclaimed next, with a RST
	k2.c.Close()
	e.out()
	if k2.c.State() != FinWait1 {
		t.Fatalf("state %v", k2.c.State())
	}
	if _, err := e.p.NewPCB(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.NewPCB(); err != nil {
		t.Fatalf("orphan not reclaimed: %v", err)
	}
	if o := e.out(); len(o) != 1 || !o[0].has(fRST) {
		t.Fatalf("reclaim did not reset: %v", fmtSegs(o))
	}
}

func TestCloseThenDataResets(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1)
	k.c.Close()
	fin := e.one()
	if !fin.has(fFIN) {
		t.Fatalf("%v", fin)
	}
	k.send(fACK, []byte("late data"))
	o := e.out()
	if len(o) != 1 || !o[0].has(fRST) || e.p.Stats().DropAfterClose != 1 {
		t.Fatalf("want RST, got %v", fmtSegs(o))
	}
}

func TestAbortSendsRST(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1)
	k.c.Abort()
	r := e.one()
	if !r.has(fRST) || r.seq != k.ourSeq || k.c.State() != Closed || k.err != nil {
		t.Fatalf("abort: %v state %v err %v", r, k.c.State(), k.err)
	}
}

func TestHalfCloseKeepsReceiving(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 1)
	k.c.Shutdown()
	e.one()
	k.ourSeq++
	k.send(fACK, []byte("still"))
	k.send(fACK, []byte(" here"))
	e.out()
	if string(k.recv) != "still here" || k.c.State() != FinWait2 {
		t.Fatalf("recv %q state %v", k.recv, k.c.State())
	}
}

func TestSACKRecovery(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(wire.TCPOptions{HasMSS: true, MSS: 1000, SACKPermitted: true}, 100)
	k.c.SetNoDelay(true)
	k.c.Write(make([]byte, 10*1000))
	if o := e.out(); len(o) != 10 {
		t.Fatalf("sent %d", len(o))
	}
	base := k.ourSeq
	// segment 2 and 5 are lost; the peer SACKs the rest as it arrives
	ackSack := func(blocks ...wire.SACKBlock) {
		s := k.seg(fACK, nil)
		s.ack = base + 2000
		s.opts.NumSACK = copy(s.opts.SACK[:], blocks)
		e.inject(s)
	}
	s := k.seg(fACK, nil)
	s.ack = base + 2000
	e.inject(s)
	e.out()
	ackSack(wire.SACKBlock{Left: base + 3000, Right: base + 4000})
	ackSack(wire.SACKBlock{Left: base + 3000, Right: base + 5000})
	o := e.out()
	ackSack(wire.SACKBlock{Left: base + 6000, Right: base + 7000}, wire.SACKBlock{Left: base + 3000, Right: base + 5000})
	o = append(o, e.out()...)
	if len(o) == 0 || o[0].seq != base+2000 {
		t.Fatalf("SACK recovery did not resend the first hole: %v", fmtSegs(o))
	}
	ackSack(wire.SACKBlock{Left: base + 6000, Right: base + 9000}, wire.SACKBlock{Left: base + 3000, Right: base + 5000})
	o = append(o, e.out()...)
	resent5 := false
	for _, x := range o {
		if x.seq == base+5000 {
			resent5 = true
		}
		if x.seq == base+3000 || x.seq == base+6000 {
			t.Fatalf("resent SACKed data: %v", x)
		}
	}
	if !resent5 {
		t.Fatalf("second hole not resent: %v", fmtSegs(o))
	}
	if e.p.Stats().SACKRecoveries != 1 || !k.c.inRecovery {
		t.Fatalf("stats %+v", e.p.Stats())
	}
	if k.c.sack == nil || k.c.sack.SackedBytes() == 0 {
		t.Fatal("no scoreboard during SACK recovery")
	}
	s = k.seg(fACK, nil)
	s.ack = base + 10000
	e.inject(s)
	if k.c.inRecovery {
		t.Fatal("recovery did not end")
	}
	// nothing in flight: the scoreboard went back to the free list (active.go)
	if k.c.sack != nil || len(e.p.sackFree) != 1 {
		t.Fatalf("idle connection keeps its scoreboard: %v, free %d", k.c.sack != nil, len(e.p.sackFree))
	}
}
