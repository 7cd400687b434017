package tcp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

func mssOnly() wire.TCPOptions { return wire.TCPOptions{HasMSS: true, MSS: 1460} }

func TestActiveOpenAndClose(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 5000)
	if k.c.State() != Established || e.p.Stats().ActiveOpens != 1 || e.p.Stats().CurrEstab != 1 {
		t.Fatalf("state %v stats %+v", k.c.State(), e.p.Stats())
	}
	if n, err := k.c.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	d := e.one()
	if string(d.data) != "hello" || d.seq != k.ourSeq || d.ack != k.peerSeq || !d.has(fPSH) {
		t.Fatalf("data segment %v", d)
	}
	k.ourSeq += 5
	k.send(fACK, nil)
	if k.sent != 5 {
		t.Fatalf("OnSent reported %d bytes", k.sent)
	}
	if err := k.c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	fin := e.one()
	if fin.flags != fFIN|fACK || fin.seq != k.ourSeq || k.c.State() != FinWait1 {
		t.Fatalf("FIN %v state %v", fin, k.c.State())
	}
	if _, err := k.c.Write([]byte("x")); err == nil {
		t.Fatal("Write after Shutdown succeeded")
	}
	k.ourSeq++
	k.send(fACK, nil)
	if k.c.State() != FinWait2 {
		t.Fatalf("state %v, want FIN_WAIT_2", k.c.State())
	}
	e.none()
	k.send(fFIN|fACK, []byte("bye"))
	a := e.one()
	if a.ack != k.peerSeq || k.c.State() != TimeWait || string(k.recv) != "bye" || !k.eof {
		t.Fatalf("ack %v state %v recv %q eof %v", a, k.c.State(), k.recv, k.eof)
	}
	e.advance(DefaultTimeWait - time.Second)
	if e.p.NumPCBs() != 1 {
		t.Fatal("TIME_WAIT ended early")
	}
	e.advance(2 * time.Second)
	if e.p.NumPCBs() != 0 || k.c.State() != Closed {
		t.Fatalf("TIME_WAIT did not end: %d pcbs, %v", e.p.NumPCBs(), k.c.State())
	}
	if e.p.Stats().CurrEstab != 0 {
		t.Fatalf("CurrEstab %d", e.p.Stats().CurrEstab)
	}
}

func TestPassiveOpenAndClose(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 777)
	if e.p.Stats().PassiveOpens != 1 {
		t.Fatalf("PassiveOpens %d", e.p.Stats().PassiveOpens)
	}
	k.send(fACK|fPSH, []byte("GET /"))
	e.advance(time.Second) // delayed ACK
	a := e.one()
	if a.ack != k.peerSeq || string(k.recv) != "GET /" {
		t.Fatalf("ack %v recv %q", a, k.recv)
	}
	k.send(fFIN|fACK, nil)
	a = e.one()
	if a.ack != k.peerSeq || k.c.State() != CloseWait || !k.eof {
		t.Fatalf("ack %v state %v eof %v", a, k.c.State(), k.eof)
	}
	k.c.Write([]byte("200 OK"))
	if d := e.one(); string(d.data) != "200 OK" {
		t.Fatalf("got %v", d)
	}
	k.ourSeq += 6
	k.c.Close()
	fin := e.one()
	if !fin.has(fFIN) || fin.seq != k.ourSeq || k.c.State() != LastAck {
		t.Fatalf("fin %v state %v", fin, k.c.State())
	}
	k.ourSeq++
	k.send(fACK, nil)
	if k.c.State() != Closed || e.p.NumPCBs() != 1 { // the listener stays
		t.Fatalf("state %v pcbs %d", k.c.State(), e.p.NumPCBs())
	}
}

func TestSimultaneousOpen(t *testing.T) {
	e := newEnv(t, Config{})
	c, _ := e.p.NewPCB()
	var cerr error
	done := false
	c.OnConnected(func(c *PCB, err error) { cerr, done = err, true })
	if err := c.Connect(netip.AddrPortFrom(peerIP, 80)); err != nil {
		t.Fatal(err)
	}
	syn := e.one()
	// the peer's own SYN crosses ours
	e.inject(tseg{sport: 80, dport: syn.sport, seq: 9000, flags: fSYN, wnd: 65535, opts: mssOnly()})
	sa := e.one()
	if sa.flags != fSYN|fACK || sa.seq != syn.seq || sa.ack != 9001 || c.State() != SynReceived {
		t.Fatalf("want SYN-ACK with our ISN, got %v in %v", sa, c.State())
	}
	e.inject(tseg{sport: 80, dport: syn.sport, seq: 9001, ack: syn.seq + 1, flags: fACK, wnd: 65535})
	if !done || cerr != nil || c.State() != Established {
		t.Fatalf("done %v err %v state %v", done, cerr, c.State())
	}
}

func TestSimultaneousClose(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 100)
	k.c.Shutdown()
	fin := e.one()
	if !fin.has(fFIN) {
		t.Fatalf("want FIN, got %v", fin)
	}
	// peer's FIN crosses ours: it does not ack our FIN
	k.send(fFIN|fACK, nil)
	a := e.one()
	if k.c.State() != Closing || a.ack != k.peerSeq {
		t.Fatalf("state %v ack %v", k.c.State(), a)
	}
	k.ourSeq++
	k.send(fACK, nil)
	if k.c.State() != TimeWait {
		t.Fatalf("state %v, want TIME_WAIT", k.c.State())
	}
}

func TestClosedPortAnswersRST(t *testing.T) {
	e := newEnv(t, Config{})
	e.inject(tseg{sport: 1234, dport: 81, seq: 1000, flags: fSYN, wnd: 1000})
	r := e.one()
	if r.flags != fRST|fACK || r.seq != 0 || r.ack != 1001 {
		t.Fatalf("want RST,ACK seq 0 ack 1001, got %v", r)
	}
	e.inject(tseg{sport: 1234, dport: 81, seq: 1000, ack: 55, flags: fACK, wnd: 1000, data: []byte("xy")})
	r = e.one()
	if r.flags != fRST || r.seq != 55 {
		t.Fatalf("want RST seq 55, got %v", r)
	}
	e.inject(tseg{sport: 1234, dport: 81, seq: 1000, flags: fRST})
	e.none()
	if st := e.p.Stats(); st.OutRsts != 2 || st.DropNoPCB != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConnectRefused(t *testing.T) {
	e := newEnv(t, Config{})
	c, _ := e.p.NewPCB()
	var got error
	c.OnConnected(func(c *PCB, err error) { got = err })
	c.Connect(netip.AddrPortFrom(peerIP, 80))
	syn := e.one()
	// a RST whose ACK does not cover our SYN is ignored
	e.inject(tseg{sport: 80, dport: syn.sport, ack: syn.seq, flags: fRST | fACK})
	if got != nil {
		t.Fatal("unacceptable RST accepted")
	}
	e.out() // the RST for the bad ACK
	e.inject(tseg{sport: 80, dport: syn.sport, ack: syn.seq + 1, flags: fRST | fACK})
	if !errors.Is(got, ErrConnRefused) || c.State() != Closed || e.p.NumPCBs() != 0 {
		t.Fatalf("err %v state %v", got, c.State())
	}
	if e.p.Stats().AttemptFails != 1 {
		t.Fatalf("AttemptFails %d", e.p.Stats().AttemptFails)
	}
}

func TestSynRetransmitAndTimeout(t *testing.T) {
	e := newEnv(t, Config{MaxSynRetries: 3})
	c, _ := e.p.NewPCB()
	var got error
	c.OnConnected(func(c *PCB, err error) { got = err })
	c.Connect(netip.AddrPortFrom(peerIP, 80))
	syn := e.one()
	start := e.clk.t
	var times []time.Duration
	for i := 0; i < 3; i++ {
		for {
			e.advance(10 * time.Millisecond)
			if o := e.out(); len(o) > 0 {
				if o[0].seq != syn.seq || o[0].flags != fSYN {
					t.Fatalf("retransmission %v", o[0])
				}
				times = append(times, e.clk.t-start)
				break
			}
			if e.clk.t-start > time.Minute {
				t.Fatal("no retransmission")
			}
		}
	}
	// 1s, then 2s later, then 4s later (RFC 6298 backoff)
	want := []time.Duration{time.Second, 3 * time.Second, 7 * time.Second}
	for i := range want {
		if d := times[i] - want[i]; d < 0 || d > 20*time.Millisecond {
			t.Fatalf("retransmissions at %v, want %v", times, want)
		}
	}
	e.advance(20 * time.Second)
	if !errors.Is(got, ErrTimeout) || e.p.NumPCBs() != 0 {
		t.Fatalf("err %v pcbs %d", got, e.p.NumPCBs())
	}
}

func TestRetransmissionBackoffAndTimeout(t *testing.T) {
	e := newEnv(t, Config{MaxRetries: 4})
	k := e.dial(mssOnly(), 1)
	k.c.Write([]byte("data"))
	d := e.one()
	var gaps []time.Duration
	last := e.clk.t
	for i := 0; i < 4; i++ {
		for {
			e.advance(5 * time.Millisecond)
			o := e.out()
			if len(o) == 0 {
				continue
			}
			if o[0].seq != d.seq || string(o[0].data) != "data" {
				t.Fatalf("retransmission %v", o[0])
			}
			gaps = append(gaps, e.clk.t-last)
			last = e.clk.t
			break
		}
	}
	for i := 1; i < len(gaps); i++ {
		r := float64(gaps[i]) / float64(gaps[i-1])
		if r < 1.9 || r > 2.1 {
			t.Fatalf("RTO not doubling: %v", gaps)
		}
	}
	if gaps[0] < DefaultMinRTO {
		t.Fatalf("first RTO %v below minimum", gaps[0])
	}
	e.advance(time.Hour)
	o := e.out()
	if !errors.Is(k.err, ErrTimeout) || len(o) != 1 || !o[0].has(fRST) {
		t.Fatalf("err %v out %v", k.err, fmtSegs(o))
	}
	st := k.c.Stats()
	if st.Timeouts != 4 || e.p.Stats().RetransSegs != 4 {
		t.Fatalf("timeouts %d retrans %d", st.Timeouts, e.p.Stats().RetransSegs)
	}
}

func TestRSTAcceptanceRFC5961(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1000)
	// out of window: ignored silently
	e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq + 1000000, flags: fRST})
	e.none()
	// in window but not exact: challenge ACK
	e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq + 100, flags: fRST})
	a := e.one()
	if a.flags != fACK || a.ack != k.peerSeq || k.c.State() != Established {
		t.Fatalf("want challenge ACK, got %v (%v)", a, k.c.State())
	}
	// SYN in a synchronized state: challenge ACK
	e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq + 5, flags: fSYN, wnd: 100})
	a = e.one()
	if a.flags != fACK || a.ack != k.peerSeq || k.c.State() != Established {
		t.Fatalf("want challenge ACK for SYN, got %v", a)
	}
	if e.p.Stats().ChallengeACKs != 2 {
		t.Fatalf("ChallengeACKs %d", e.p.Stats().ChallengeACKs)
	}
	// exact: reset
	e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq, flags: fRST})
	e.none()
	if !errors.Is(k.err, ErrConnReset) || k.c.State() != Closed || e.p.Stats().EstabResets != 1 {
		t.Fatalf("err %v state %v", k.err, k.c.State())
	}
}

func TestChallengeACKThrottle(t *testing.T) {
	e := newEnv(t, Config{ChallengeACKLimit: 5})
	k := e.accept(mssOnly(), 1000)
	for i := 0; i < 20; i++ {
		e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq + 10, flags: fRST})
	}
	if n := len(e.out()); n != 5 {
		t.Fatalf("%d challenge ACKs in one second, want 5", n)
	}
	e.advance(time.Second)
	e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq + 10, flags: fRST})
	if n := len(e.out()); n != 1 {
		t.Fatalf("%d challenge ACKs after a second, want 1", n)
	}
}

func TestBadACKRFC5961(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1000)
	// an ACK for data never sent is answered with an ACK and dropped
	s := k.seg(fACK|fPSH, []byte("zzz"))
	s.ack = k.ourSeq + 100000
	e.inject(s)
	a := e.one()
	if a.ack != k.peerSeq || len(k.recv) != 0 || e.p.Stats().DropBadACK != 1 {
		t.Fatalf("ack %v recv %q", a, k.recv)
	}
}

func TestTimeWaitRFC1337(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 100)
	k.c.Shutdown()
	e.one()
	k.ourSeq++
	k.send(fFIN|fACK, nil)
	e.one()
	if k.c.State() != TimeWait {
		t.Fatalf("state %v", k.c.State())
	}
	e.inject(tseg{sport: k.pport, dport: k.lport, seq: k.peerSeq, flags: fRST})
	e.none()
	if k.c.State() != TimeWait || e.p.Stats().TimeWaitRSTIgnored != 1 {
		t.Fatalf("RST in TIME_WAIT not ignored: %v", k.c.State())
	}
	// a retransmitted FIN is acknowledged again and restarts the timer
	e.advance(30 * time.Second)
	e.inject(tseg{sport: k.pport, dport: k.lport, seq: k.peerSeq - 1, ack: k.ourSeq, flags: fFIN | fACK, wnd: 1000})
	a := e.one()
	if a.ack != k.peerSeq {
		t.Fatalf("re-ACK %v", a)
	}
	e.advance(45 * time.Second)
	if k.c.State() != TimeWait {
		t.Fatal("timer not restarted")
	}
	e.advance(20 * time.Second)
	if k.c.State() != Closed {
		t.Fatal("TIME_WAIT did not end")
	}
}

func TestDelayedACK(t *testing.T) {
	e := newEnv(t, Config{DelayedACK: 100 * time.Millisecond})
	k := e.accept(mssOnly(), 1)
	k.send(fACK, bytes.Repeat([]byte("a"), 100))
	e.none()
	e.advance(99 * time.Millisecond)
	e.none()
	e.advance(time.Millisecond)
	if a := e.one(); a.ack != k.peerSeq {
		t.Fatalf("delayed ack %v", a)
	}
	// every second segment is acknowledged at once
	k.send(fACK, bytes.Repeat([]byte("b"), 1460))
	e.none()
	k.send(fACK, bytes.Repeat([]byte("c"), 1460))
	if a := e.one(); a.ack != k.peerSeq {
		t.Fatalf("ack %v", a)
	}
	// out of order data is acknowledged at once with the old ACK number
	s := k.seg(fACK, []byte("later"))
	s.seq += 10
	e.inject(s)
	if a := e.one(); a.ack != k.peerSeq {
		t.Fatalf("dup ack %v", a)
	}
	if e.p.Stats().DelayedACKs != 1 {
		t.Fatalf("DelayedACKs %d", e.p.Stats().DelayedACKs)
	}
}

func TestOutOfOrderAndSACKBlocks(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true}, 5000)
	if !k.c.Stats().SACK {
		t.Fatal("SACK not negotiated")
	}
	base := k.peerSeq
	seg := func(i int) tseg {
		s := k.seg(fACK, bytes.Repeat([]byte{byte('a' + i)}, 100))
		s.seq = base + uint32(i*100)
		return s
	}
	e.inject(seg(2))
	a := e.one()
	if a.ack != base || a.opts.NumSACK != 1 || a.opts.SACK[0] != (wire.SACKBlock{Left: base + 200, Right: base + 300}) {
		t.Fatalf("after seg 2: %v %+v", a, a.opts.SACK[:a.opts.NumSACK])
	}
	e.inject(seg(5))
	a = e.one()
	if a.opts.NumSACK != 2 || a.opts.SACK[0].Left != base+500 || a.opts.SACK[1].Left != base+200 {
		t.Fatalf("after seg 5: most recent first: %+v", a.opts.SACK[:a.opts.NumSACK])
	}
	e.inject(seg(3))
	a = e.one()
	if a.opts.NumSACK != 2 || a.opts.SACK[0] != (wire.SACKBlock{Left: base + 200, Right: base + 400}) {
		t.Fatalf("after seg 3: %+v", a.opts.SACK[:a.opts.NumSACK])
	}
	if st := k.c.Stats(); st.OOOQueued != 300 {
		t.Fatalf("OOOQueued %d", st.OOOQueued)
	}
	if k.c.ooo == nil {
		t.Fatal("out-of-order queue has no slice while holding data")
	}
	e.inject(seg(0))
	e.inject(seg(1))
	a = e.out()[1]
	if a.ack != base+400 || a.opts.NumSACK != 1 {
		t.Fatalf("after filling: %v %+v", a, a.opts.SACK[:a.opts.NumSACK])
	}
	e.inject(seg(4))
	a = e.one()
	if a.ack != base+600 || a.opts.NumSACK != 0 {
		t.Fatalf("all in: %v", a)
	}
	want := ""
	for i := 0; i < 6; i++ {
		want += string(bytes.Repeat([]byte{byte('a' + i)}, 100))
	}
	if string(k.recv) != want {
		t.Fatalf("received %q", k.recv)
	}
	// the hole is filled: the queue's slice went back to the free list (active.go)
	if k.c.ooo != nil || len(e.p.oooFree) != 1 || cap(e.p.oooFree[0].segs) != e.p.cfg.MaxOOOSegments {
		t.Fatalf("idle connection keeps its out-of-order queue: %v, free %d", k.c.ooo != nil, len(e.p.oooFree))
	}
}

func TestFINOutOfOrder(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 5000)
	base := k.peerSeq
	fin := k.seg(fACK|fFIN, []byte("tail"))
	fin.seq = base + 4
	e.inject(fin)
	e.one()
	if k.c.State() != Established || k.eof {
		t.Fatal("FIN taken out of order")
	}
	e.inject(k.seg(fACK, []byte("head")))
	a := e.one()
	if a.ack != base+9 || k.c.State() != CloseWait || !k.eof || string(k.recv) != "headtail" {
		t.Fatalf("ack %v state %v eof %v recv %q", a, k.c.State(), k.eof, k.recv)
	}
}

func TestPartialOverlapAndBeyondWindow(t *testing.T) {
	e := newEnv(t, Config{RecvBuffer: 1000})
	k := e.accept(mssOnly(), 5000)
	base := k.peerSeq
	k.c.SetAutoRecved(false)
	e.inject(k.seg(fACK, []byte("0123456789")))
	// overlapping retransmission with new bytes
	s := k.seg(fACK, []byte("56789abcde"))
	s.seq = base + 5
	e.inject(s)
	e.advance(time.Second)
	e.out()
	if string(k.recv) != "0123456789abcde" {
		t.Fatalf("recv %q", k.recv)
	}
	// beyond the window: trimmed to it
	s = k.seg(fACK, bytes.Repeat([]byte("x"), 2000))
	s.seq = base + 15
	e.inject(s)
	a := e.one()
	if a.ack != base+1000 || a.wnd != 0 || len(k.recv) != 1000 {
		t.Fatalf("ack %v recv %d", a, len(k.recv))
	}
	// the application reads: a window update follows
	k.c.Recved(600)
	a = e.one()
	if a.ack != base+1000 || a.wnd == 0 {
		t.Fatalf("window update %v", a)
	}
}

func TestPAWS(t *testing.T) {
	e := newEnv(t, Config{})
	o := synOpts()
	k := e.accept(o, 5000)
	if !k.c.Stats().Timestamps {
		t.Fatal("timestamps not negotiated")
	}
	k.send(fACK, []byte("new"))
	s := k.seg(fACK, []byte("old"))
	s.opts.TSVal -= 100
	e.inject(s)
	a := e.one()
	if string(k.recv) != "new" || e.p.Stats().DropPAWS != 1 || !a.opts.HasTimestamps {
		t.Fatalf("recv %q paws %d ack %v", k.recv, e.p.Stats().DropPAWS, a)
	}
}

func TestSynAckOptions(t *testing.T) {
	e := newEnv(t, Config{RecvBuffer: 256 << 10})
	l, _ := e.p.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 8)
	e.inject(tseg{sport: 1, dport: 80, seq: 1, flags: fSYN, wnd: 100, opts: synOpts()})
	sa := e.one()
	o := sa.opts
	if !o.HasMSS || o.MSS != 1460 || !o.HasWScale || o.WScale != 3 || !o.SACKPermitted || !o.HasTimestamps || o.TSEcr != 1000 {
		t.Fatalf("SYN-ACK options %+v", o)
	}
	e.inject(tseg{sport: 2, dport: 80, seq: 1, flags: fSYN, wnd: 100})
	sa = e.one()
	o = sa.opts
	if !o.HasMSS || o.HasWScale || o.SACKPermitted || o.HasTimestamps || sa.wnd != 0xffff {
		t.Fatalf("SYN-ACK to a plain SYN: %+v wnd %d", o, sa.wnd)
	}
}

func TestMalformedOptionsDropped(t *testing.T) {
	e := newEnv(t, Config{})
	l, _ := e.p.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 8)
	for _, raw := range [][]byte{{2, 0, 0, 0}, {2, 44, 5, 0}, {8, 1, 0, 0}, {3}} {
		e.inject(tseg{sport: 1, dport: 80, seq: 1, flags: fSYN, wnd: 100, rawOpts: pad4(raw)})
	}
	e.none()
	if st := e.p.Stats(); st.DropBadOptions != 4 || st.InErrs != 4 || e.p.NumPCBs() != 1 {
		t.Fatalf("stats %+v", st)
	}
	// bad checksum
	pkt := buildTCP(tseg{sport: 1, dport: 80, seq: 1, flags: fSYN}, peerIP, ourIP)
	pkt[len(pkt)-1] ^= 0xff
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, pkt))
	e.none()
	if e.p.Stats().InCsumErrors != 1 {
		t.Fatal("bad checksum not counted")
	}
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestZeroWindowPersist(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 100)
	// the peer closes its window
	s := k.seg(fACK, nil)
	s.wnd = 0
	e.inject(s)
	k.c.Write([]byte("blocked"))
	e.none()
	var at []time.Duration
	start := e.clk.t
	for len(at) < 3 {
		e.advance(10 * time.Millisecond)
		for _, o := range e.out() {
			if o.seq != k.ourSeq-1 || len(o.data) != 0 {
				t.Fatalf("probe %v, want seq %d", o, k.ourSeq-1)
			}
			at = append(at, e.clk.t-start)
			// the peer answers with a still-zero window
			s := k.seg(fACK, nil)
			s.wnd = 0
			e.inject(s)
		}
		if e.clk.t-start > time.Minute {
			t.Fatal("no probes")
		}
	}
	if !(at[1]-at[0] > (at[0])*3/2 && at[2]-at[1] > (at[1]-at[0])*3/2) {
		t.Fatalf("probes at %v do not back off", at)
	}
	// the window opens
	s = k.seg(fACK, nil)
	s.wnd = 1000
	e.inject(s)
	d := e.one()
	if string(d.data) != "blocked" {
		t.Fatalf("after window opened: %v", d)
	}
	if e.p.Stats().PersistProbes != 3 {
		t.Fatalf("PersistProbes %d", e.p.Stats().PersistProbes)
	}
}

func TestKeepalive(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 100)
	k.c.SetKeepAlive(true, 10*time.Second, time.Second, 3)
	e.advance(9 * time.Second)
	e.none()
	e.advance(time.Second)
	p := e.one()
	if p.seq != k.ourSeq-1 || len(p.data) != 0 {
		t.Fatalf("keepalive probe %v", p)
	}
	k.send(fACK, nil) // answered: idle again
	e.advance(9 * time.Second)
	e.none()
	e.advance(time.Second)
	e.one()
	e.advance(time.Second)
	e.one()
	e.advance(time.Second)
	e.one()
	e.advance(time.Second)
	r := e.one()
	if !r.has(fRST) || !errors.Is(k.err, ErrTimeout) {
		t.Fatalf("after unanswered probes: %v err %v", r, k.err)
	}
}

func TestNagle(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 100)
	k.c.Write([]byte("a"))
	e.one()
	k.c.Write([]byte("b"))
	k.c.Write([]byte("c"))
	e.none() // held while "a" is unacknowledged
	k.ourSeq++
	k.send(fACK, nil)
	if d := e.one(); string(d.data) != "bc" {
		t.Fatalf("coalesced %v", d)
	}
	k.ourSeq += 2
	k.c.SetNoDelay(true)
	k.c.Write([]byte("d"))
	k.c.Write([]byte("e"))
	if o := e.out(); len(o) != 2 {
		t.Fatalf("no-delay: %v", fmtSegs(o))
	}
}

func TestWriteBuffer(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 100)
	k.c.SetSendBuffer(3000)
	k.c.SetNoDelay(true)
	n, err := k.c.Write(make([]byte, 5000))
	if n != 3000 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := k.c.Write([]byte("x")); n != 0 || !errors.Is(err, ErrBufferFull) {
		t.Fatalf("full Write = %d, %v", n, err)
	}
	// no-copy: the stack reads the caller's memory when it sends
	e.out()
	k.ourSeq += 3000
	k.send(fACK, nil)
	mem := []byte("zero-copy")
	if n, err := k.c.WriteNoCopy(mem); n != len(mem) || err != nil {
		t.Fatalf("WriteNoCopy = %d, %v", n, err)
	}
	if d := e.one(); string(d.data) != "zero-copy" {
		t.Fatalf("sent %v", d)
	}
}

func TestSeqWraparound(t *testing.T) {
	e := newEnv(t, Config{})
	e.p.isnHook = func() uint32 { return 0xffffff00 }
	k := e.accept(mssOnly(), 0xfffffff0)
	k.c.SetNoDelay(true)
	data := bytes.Repeat([]byte("w"), 3000)
	k.c.Write(data)
	total := 0
	for _, s := range e.out() {
		total += len(s.data)
	}
	if total != 3000 {
		t.Fatalf("sent %d", total)
	}
	k.ourSeq += 3000
	k.send(fACK, nil)
	if k.sent != 3000 || k.c.Stats().InFlight != 0 {
		t.Fatalf("acked %d inflight %d", k.sent, k.c.Stats().InFlight)
	}
	// the peer's numbers wrap too
	k.send(fACK, bytes.Repeat([]byte("r"), 100))
	if len(k.recv) != 100 || k.peerSeq > 0x1000 {
		t.Fatalf("recv %d peer seq %#x", len(k.recv), k.peerSeq)
	}
	k.c.Shutdown()
	k.send(fACK|fFIN, nil)
	e.out()
	k.ourSeq++
	k.send(fACK, nil)
	if k.c.State() != TimeWait {
		t.Fatalf("state %v", k.c.State())
	}
}

func TestNewRenoFastRetransmit(t *testing.T) {
	e := newEnv(t, Config{DisableSACK: true})
	k := e.dial(mssOnly(), 100)
	k.c.SetNoDelay(true)
	data := make([]byte, 10*1460)
	for i := range data {
		data[i] = byte(i / 1460)
	}
	k.c.Write(data)
	segs := e.out()
	if len(segs) != 10 {
		t.Fatalf("initial window sent %d segments, want 10 (RFC 6928)", len(segs))
	}
	base := k.ourSeq
	// segments 1 and 3 lost: ACK 0, then dup ACKs
	ack := func(n uint32) {
		s := k.seg(fACK, nil)
		s.ack = base + n
		e.inject(s)
	}
	ack(1460)
	e.out()
	ack(1460)
	ack(1460)
	o := e.out() // limited transmit may send new data? none queued
	ack(1460)
	o = append(o, e.out()...)
	if len(o) != 1 || o[0].seq != base+1460 || len(o[0].data) != 1460 {
		t.Fatalf("fast retransmit: %v", fmtSegs(o))
	}
	// partial ACK up to the second hole: that one is resent at once
	ack(3 * 1460)
	o = e.out()
	if len(o) < 1 || o[0].seq != base+3*1460 {
		t.Fatalf("partial ACK retransmit: %v", fmtSegs(o))
	}
	ack(10 * 1460)
	st := k.c.Stats()
	if st.FastRetrans != 1 || e.p.Stats().NewRenoRecovery != 1 || k.c.inRecovery {
		t.Fatalf("stats %+v", st)
	}
	if st.Cwnd >= 10*1460 {
		t.Fatalf("cwnd %d not reduced", st.Cwnd)
	}
}

func TestICMPUnreachable(t *testing.T) {
	for _, tc := range []struct {
		code uint8
		want error
	}{{3, ErrConnRefused}, {2, ErrConnRefused}, {1, ErrHostUnreachable}, {0, ErrHostUnreachable}} {
		e := newEnv(t, Config{})
		c, _ := e.p.NewPCB()
		var got error
		c.OnConnected(func(c *PCB, err error) { got = err })
		c.Connect(netip.AddrPortFrom(peerIP, 80))
		syn := e.one()
		synPkt := buildTCP(syn, ourIP, peerIP)
		// wrong sequence number: ignored
		bad := append([]byte(nil), synPkt...)
		bad[20+4] ^= 0x55
		e.injectICMP(3, tc.code, 0, bad)
		if got != nil {
			t.Fatal("ICMP with a wrong sequence number accepted")
		}
		e.injectICMP(3, tc.code, 0, synPkt)
		if !errors.Is(got, tc.want) {
			t.Fatalf("code %d: got %v, want %v", tc.code, got, tc.want)
		}
	}
}

// injectICMP delivers an ICMP error from the peer quoting pkt.
func (e *env) injectICMP(typ, code uint8, mtu uint16, pkt []byte) {
	q := pkt[:min(len(pkt), 28)]
	m := make([]byte, 8+len(q))
	wire.PutICMPv4(m, typ, code, uint32(mtu))
	copy(m[8:], q)
	wire.SetICMPv4Checksum(m)
	ih := wire.IPv4Header{TTL: 64, Protocol: wire.ProtoICMP, Src: peerIP, Dst: ourIP}
	ih.TotalLength = ih.HeaderLen() + len(m)
	b := make([]byte, ih.TotalLength)
	n := ih.Encode(b)
	copy(b[n:], m)
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, b))
}

func TestICMPFragNeeded(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 100)
	k.c.Write(make([]byte, 1460))
	d := e.one()
	pkt := buildTCP(d, ourIP, peerIP)
	e.injectICMP(3, 4, 1000, pkt)
	r := e.out()
	if len(r) != 2 || len(r[0].data) != 960 || r[0].seq != d.seq || len(r[1].data) != 500 {
		t.Fatalf("after frag needed: %v", fmtSegs(r))
	}
	if e.p.Stats().PMTUUpdates != 1 || k.c.Stats().SndMSS != 960 {
		t.Fatalf("mss %d", k.c.Stats().SndMSS)
	}
}

// TestFreeListsBounded: after more than maxFree connections at once held
// a SACK scoreboard and an out-of-order slice, the free lists keep
// maxFree of each and leave the rest to the garbage collector (active.go),
// so a burst of busy connections does not pin its memory.
func TestFreeListsBounded(t *testing.T) {
	e := newEnv(t, Config{})
	var pcbs []*PCB
	for range maxFree + 8 {
		c, err := e.p.NewPCB()
		if err != nil {
			t.Fatal(err)
		}
		c.acquireSack()
		c.acquireOOO()
		pcbs = append(pcbs, c)
	}
	for _, c := range pcbs {
		c.releaseSack()
		c.releaseOOO()
		if c.sack != nil || c.ooo != nil {
			t.Fatal("released state still attached")
		}
	}
	if len(e.p.sackFree) != maxFree || len(e.p.oooFree) != maxFree {
		t.Fatalf("free lists hold %d scoreboards and %d slices, want %d each", len(e.p.sackFree), len(e.p.oooFree), maxFree)
	}
}
