package tcp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

func TestTimeWaitReuseByNewSYN(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1000)
	// the server closes first and ends in TIME_WAIT
	k.c.Close()
	e.one()
	k.ourSeq++
	k.send(fFIN|fACK, nil)
	e.one()
	if k.c.State() != TimeWait {
		t.Fatalf("state %v", k.c.State())
	}
	// the same client port comes back with a higher sequence number
	var again *PCB
	k.acceptedBy.OnAccept(func(l, c *PCB) { again = c })
	e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq + 100000, flags: fSYN, wnd: 1000, opts: mssOnly()})
	sa := e.one()
	if sa.flags != fSYN|fACK || sa.ack != k.peerSeq+100001 || k.c.State() != Closed {
		t.Fatalf("SYN in TIME_WAIT: %v, old state %v", sa, k.c.State())
	}
	e.inject(tseg{sport: k.pport, dport: 80, seq: k.peerSeq + 100001, ack: sa.seq + 1, flags: fACK, wnd: 1000})
	if again == nil || again.State() != Established {
		t.Fatal("new incarnation not accepted")
	}
}

func TestSynReceivedRetransmitAndGiveUp(t *testing.T) {
	e := newEnv(t, Config{MaxSynAckRetries: 2})
	l, _ := e.p.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 4)
	e.inject(tseg{sport: 5, dport: 80, seq: 10, flags: fSYN, wnd: 1000})
	sa := e.one()
	// the client did not get it and resends its SYN: the SYN-ACK is resent
	e.inject(tseg{sport: 5, dport: 80, seq: 10, flags: fSYN, wnd: 1000})
	if r := e.one(); r.flags != fSYN|fACK || r.seq != sa.seq {
		t.Fatalf("resent SYN-ACK %v", r)
	}
	e.advance(time.Second)
	if r := e.one(); r.seq != sa.seq {
		t.Fatalf("timer resend %v", r)
	}
	e.advance(2 * time.Second)
	e.one()
	e.advance(10 * time.Second)
	e.none()
	if e.p.NumPCBs() != 1 || l.ls.halfOpen != 0 || e.p.Stats().AttemptFails != 1 {
		t.Fatalf("pcbs %d halfOpen %d", e.p.NumPCBs(), l.ls.halfOpen)
	}
}

func TestFinWait2OrphanTimeout(t *testing.T) {
	e := newEnv(t, Config{FinWait2Timeout: 5 * time.Second})
	k := e.dial(mssOnly(), 1)
	k.c.Close()
	e.one()
	k.ourSeq++
	k.send(fACK, nil)
	if k.c.State() != FinWait2 {
		t.Fatalf("state %v", k.c.State())
	}
	e.advance(5 * time.Second)
	if k.c.State() != Closed || e.p.NumPCBs() != 0 {
		t.Fatalf("FIN_WAIT_2 orphan not reaped: %v", k.c.State())
	}
}

func TestLimitedTransmit(t *testing.T) {
	e := newEnv(t, Config{DisableSACK: true})
	k := e.dial(mssOnly(), 1)
	k.c.SetNoDelay(true)
	k.c.Write(make([]byte, 14*1460)) // 10 go out, 4 wait for the window
	if n := len(e.out()); n != 10 {
		t.Fatalf("sent %d", n)
	}
	dup := func() {
		s := k.seg(fACK, nil)
		s.ack = k.ourSeq
		e.inject(s)
	}
	dup()
	o := e.out()
	dup()
	o = append(o, e.out()...)
	// one new segment per duplicate ACK beyond the congestion window (RFC 3042)
	if len(o) != 2 || o[0].seq != k.ourSeq+10*1460 || o[1].seq != k.ourSeq+11*1460 {
		t.Fatalf("limited transmit: %v", fmtSegs(o))
	}
	dup() // the third starts fast retransmit
	if o := e.out(); len(o) == 0 || o[0].seq != k.ourSeq {
		t.Fatalf("fast retransmit: %v", fmtSegs(o))
	}
	_ = bytes.MinRead
}

func TestWindowScaleApplied(t *testing.T) {
	e := newEnv(t, Config{})
	o := mssOnly()
	o.HasWScale, o.WScale = true, 4
	k := e.dial(o, 1)
	s := k.seg(fACK, nil)
	s.wnd = 100
	e.inject(s)
	if w := k.c.Stats().SndWnd; w != 1600 {
		t.Fatalf("send window %d, want 100<<4", w)
	}
	// our window field is scaled by our shift
	k.send(fACK, []byte("x"))
	e.advance(time.Second)
	a := e.one()
	if got := int(a.wnd) << k.c.Stats().RcvScale; got < DefaultRecvBuffer-2000 || got > DefaultRecvBuffer+(1<<k.c.Stats().RcvScale) {
		t.Fatalf("window %d<<%d", a.wnd, k.c.Stats().RcvScale)
	}
}

func TestMSSClampedToPeer(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(wire.TCPOptions{HasMSS: true, MSS: 500}, 1)
	k.c.SetNoDelay(true)
	k.c.Write(make([]byte, 2000))
	for _, s := range e.out() {
		if len(s.data) > 500 {
			t.Fatalf("segment of %d bytes to a peer with MSS 500", len(s.data))
		}
	}
	// without an MSS option the default is 536 (RFC 9293 §3.7.1)
	e2 := newEnv(t, Config{})
	k2 := e2.dial(wire.TCPOptions{}, 1)
	if k2.c.Stats().SndMSS != 536 {
		t.Fatalf("default MSS %d", k2.c.Stats().SndMSS)
	}
}

func TestWriteNoCopyReferencesMemory(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(mssOnly(), 1)
	mem := []byte("AAAA")
	k.c.WriteNoCopy(mem)
	if d := e.one(); string(d.data) != "AAAA" {
		t.Fatalf("%v", d)
	}
	// the stack did not copy: a retransmission reads the caller's memory
	// (which is why the caller must not change it before OnSent)
	mem[0] = 'B'
	e.advance(300 * time.Millisecond)
	if d := e.one(); string(d.data) != "BAAA" {
		t.Fatalf("retransmission %q", d.data)
	}
	k.ourSeq += 4
	k.send(fACK, nil)
	if k.sent != 4 {
		t.Fatalf("OnSent %d", k.sent)
	}
}

func TestLingerZeroResets(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1)
	k.c.SetLinger(true, 0)
	k.c.Close()
	if r := e.one(); !r.has(fRST) || e.p.NumPCBs() != 1 {
		t.Fatalf("%v", r)
	}
}

func TestNoFalseFastRetransmitAfterTimeout(t *testing.T) {
	e := newEnv(t, Config{DisableSACK: true})
	k := e.dial(mssOnly(), 1)
	k.c.SetNoDelay(true)
	k.c.Write(make([]byte, 5*1460))
	e.out()
	e.advance(250 * time.Millisecond) // RTO: resend from SND.UNA
	if o := e.out(); len(o) != 1 || o[0].seq != k.ourSeq {
		t.Fatalf("RTO resend %v", fmtSegs(o))
	}
	// duplicate ACKs from the old window do not start fast recovery (RFC 6582 §3.2)
	for i := 0; i < 4; i++ {
		e.inject(k.seg(fACK, nil))
	}
	if k.c.Stats().FastRetrans != 0 {
		t.Fatal("fast retransmit after a timeout from stale duplicate ACKs")
	}
}
