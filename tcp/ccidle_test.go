package tcp

import (
	"bytes"
	"testing"
	"time"

	"github.com/featherip/featherip/tcp/cc"
)

// TestCongestionStateWhileIdle checks the life of a built-in algorithm's
// state (active.go): none on an idle established connection, CUBIC with
// fast convergence from the first data on, kept while the connection is
// busy or idle for less than the RTO, given back to the free list once it
// has been idle for longer, and resumed with ssthresh kept and the restart
// window of RFC 5681 §4.1.
func TestCongestionStateWhileIdle(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(synOpts(), 1000)
	if k.c.cc != nil {
		t.Fatalf("idle connection holds congestion state %T", k.c.cc)
	}
	iw := cc.InitialWindow(int(k.c.sndMSS))
	if st := k.c.Stats(); st.Cwnd != iw || st.Ssthresh != cc.InfiniteSSThresh {
		t.Fatalf("stats before any data: cwnd %d ssthresh %d, want %d, infinite", st.Cwnd, st.Ssthresh, iw)
	}

	// a round of data: the state is taken and grows in slow start
	data := bytes.Repeat([]byte("x"), 4*int(k.c.sndMSS))
	ackAll := func() {
		t.Helper()
		if _, err := k.c.Write(data); err != nil {
			t.Fatal(err)
		}
		for i := 0; k.c.sndUna != k.c.sndMax || k.c.sb.len() > 0; i++ {
			if i == 10 {
				t.Fatalf("data not all sent and acknowledged: %d queued", k.c.sb.len())
			}
			for _, s := range e.out() {
				k.ourSeq = s.seq + uint32(len(s.data))
			}
			k.send(fACK, nil)
		}
		e.out()
	}
	ackAll()
	cub, ok := k.c.cc.(*cc.Cubic)
	if !ok || !cub.FastConvergence {
		t.Fatalf("congestion state after data: %T (want CUBIC with fast convergence)", k.c.cc)
	}
	grown := k.c.cc.CongestionWindow()
	if grown <= iw {
		t.Fatalf("cwnd %d did not grow from %d in slow start", grown, iw)
	}
	// a timeout sets ssthresh, which must survive the release
	if _, err := k.c.Write(data); err != nil {
		t.Fatal(err)
	}
	e.out()
	e.advance(k.c.rto() + time.Millisecond)
	e.out()
	ssthresh := k.c.cc.SlowStartThreshold()
	if ssthresh == cc.InfiniteSSThresh {
		t.Fatal("no ssthresh after a retransmission timeout")
	}
	for k.c.sndUna != k.c.sndMax {
		e.out()
		k.ourSeq = k.c.sndMax
		k.send(fACK, nil)
	}
	e.out()
	ackAll()
	ackAll()
	cwnd := k.c.cc.CongestionWindow()

	// idle for less than the RTO: kept
	e.advance(k.c.rto() / 2)
	if k.c.cc == nil {
		t.Fatal("state released before an RTO of idleness")
	}
	// idle for longer: released, windows kept
	e.advance(k.c.rto())
	if k.c.cc != nil {
		t.Fatal("state still held after more than an RTO of idleness")
	}
	if n := len(e.p.ccFree); n != 1 || e.p.ccFree[0] != cub {
		t.Fatalf("free list %d entries, want the connection's state", n)
	}
	if st := k.c.Stats(); st.Cwnd != cwnd || st.Ssthresh != ssthresh {
		t.Fatalf("stats while released: cwnd %d ssthresh %d, want %d %d", st.Cwnd, st.Ssthresh, cwnd, ssthresh)
	}
	// resumed: the restart window, ssthresh kept, the same state object reused
	if _, err := k.c.Write(data[:1]); err != nil {
		t.Fatal(err)
	}
	if k.c.cc != cub || len(e.p.ccFree) != 0 {
		t.Fatalf("resume did not reuse the free state: %p vs %p, free %d", k.c.cc, cub, len(e.p.ccFree))
	}
	if got, want := k.c.cc.CongestionWindow(), min(iw, cwnd); got != want {
		t.Fatalf("cwnd after idle %d, want the restart window %d", got, want)
	}
	if got := k.c.cc.SlowStartThreshold(); got != ssthresh {
		t.Fatalf("ssthresh after idle %d, want %d", got, ssthresh)
	}
	// closing gives it back too
	e.out()
	k.ourSeq = k.c.sndMax
	k.send(fACK, nil)
	if err := k.c.Close(); err != nil {
		t.Fatal(err)
	}
	fin := e.one()
	k.ourSeq = fin.seq + 1
	k.send(fACK, nil)
	if k.c.State() != FinWait2 || k.c.cc != nil {
		t.Fatalf("state %v holds congestion state %T", k.c.State(), k.c.cc)
	}
}
