package tcp

import (
	"testing"
	"time"
)

// Tests of PAWS (RFC 7323 §5) and of the TS.Recent rules (RFC 7323 §4.3):
// old timestamps are dropped and answered with an ACK, RSTs are exempt,
// TS.Recent goes stale after 24 idle days (§5.5) and moves only forward.

const day = 24 * time.Hour

// tsConn returns an established connection with timestamps whose peer
// has sent "a", with every ACK of it flushed.
func tsConn(t *testing.T) (*env, *conn) {
	t.Helper()
	e := newEnv(t, Config{})
	k := e.accept(synOpts(), 5000)
	if !k.c.Stats().Timestamps {
		t.Fatal("timestamps not negotiated")
	}
	k.send(fACK, []byte("a"))
	e.advance(time.Second) // the delayed ACK
	e.out()
	if string(k.recv) != "a" || k.c.tsRecent != k.peerTSVal {
		t.Fatalf("setup: recv %q tsRecent %d want %d", k.recv, k.c.tsRecent, k.peerTSVal)
	}
	return e, k
}

// oldSeg is the peer's next segment carrying a timestamp back well before TS.Recent.
func (k *conn) oldSeg(flags uint8, data []byte, back uint32) tseg {
	s := k.seg(flags, data)
	k.peerTSVal-- // seg took a new value: give it back
	s.opts.TSVal = k.c.tsRecent - back
	return s
}

func TestPAWSDropsAndACKs(t *testing.T) {
	e, k := tsConn(t)
	recent := k.c.tsRecent
	e.inject(k.oldSeg(fACK|fPSH, []byte("old"), 100))
	a := e.one()
	st := e.p.Stats()
	if st.DropPAWS != 1 || string(k.recv) != "a" {
		t.Fatalf("old segment not dropped: paws %d recv %q", st.DropPAWS, k.recv)
	}
	// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 9293 §3.10.7.4), echoing TS.Recent
	if a.flags != fACK || a.ack != k.peerSeq || a.seq != k.ourSeq || !a.opts.HasTimestamps || a.opts.TSEcr != recent {
		t.Fatalf("PAWS reply %v opts %+v, want ACK %d echoing %d", a, a.opts, k.peerSeq, recent)
	}
	if k.c.tsRecent != recent {
		t.Fatalf("a PAWS drop moved TS.Recent %d -> %d", recent, k.c.tsRecent)
	}
	// an old pure ACK too: PAWS protects against duplicate ACKs as well (RFC 7323 §5.2)
	e.inject(k.oldSeg(fACK, nil, 1))
	if a := e.one(); a.flags != fACK || e.p.Stats().DropPAWS != 2 {
		t.Fatalf("old ACK: reply %v paws %d", a, e.p.Stats().DropPAWS)
	}
	// the same data with a current timestamp is taken
	k.send(fACK|fPSH, []byte("new"))
	if string(k.recv) != "anew" || e.p.Stats().DropPAWS != 2 {
		t.Fatalf("recv %q paws %d", k.recv, e.p.Stats().DropPAWS)
	}
}

func TestPAWSTimeWaitACKs(t *testing.T) {
	e, k := tsConn(t)
	k.c.Close()
	fin := e.one()
	k.ourSeq = fin.seq + 1
	k.send(fACK|fFIN, nil)
	e.out()
	if k.c.State() != TimeWait {
		t.Fatalf("state %v, want TIME_WAIT", k.c.State())
	}
	e.inject(k.oldSeg(fACK, nil, 10))
	if a := e.one(); a.flags != fACK || a.ack != k.peerSeq || e.p.Stats().DropPAWS != 1 {
		t.Fatalf("TIME_WAIT PAWS reply %v paws %d", a, e.p.Stats().DropPAWS)
	}
}

// TestPAWSIdle24Days: after more than 24 idle days TS.Recent is invalid
// (RFC 7323 §5.5): the old-looking segment is accepted and TS.Recent
// takes its TSval; before that it is dropped.
func TestPAWSIdle24Days(t *testing.T) {
	for _, tc := range []struct {
		idle   time.Duration
		accept bool
	}{
		{time.Hour, false},
		{23 * day, false},
		{24*day - time.Minute, false},
		{24*day + time.Minute, true},
		{30 * day, true},
		{200 * day, true},                // beyond any 32-bit millisecond clock's wrap
		{1<<16*time.Hour + 10*day, true}, // the PCB's 16-bit hour stamp wrapped
	} {
		t.Run(tc.idle.String(), func(t *testing.T) {
			e, k := tsConn(t)
			if k.c.keepAlive {
				t.Fatal("keepalive on: the connection would not be idle")
			}
			e.advance(tc.idle)
			e.none()
			// the peer's clock wrapped its sign bit meanwhile: its TSval looks old
			s := k.oldSeg(fACK|fPSH, []byte("b"), 1<<30)
			e.inject(s)
			e.advance(time.Second) // a delayed ACK if taken
			a := e.one()
			if !tc.accept {
				if e.p.Stats().DropPAWS != 1 || string(k.recv) != "a" || a.ack != k.peerSeq {
					t.Fatalf("idle %v: paws %d recv %q ack %v", tc.idle, e.p.Stats().DropPAWS, k.recv, a)
				}
				return
			}
			k.peerSeq++
			if e.p.Stats().DropPAWS != 0 || string(k.recv) != "ab" {
				t.Fatalf("idle %v: paws %d recv %q", tc.idle, e.p.Stats().DropPAWS, k.recv)
			}
			if k.c.tsRecent != s.opts.TSVal || a.ack != k.peerSeq || a.opts.TSEcr != s.opts.TSVal {
				t.Fatalf("TS.Recent %d, ACK %v echoes %d; want %d", k.c.tsRecent, a, a.opts.TSEcr, s.opts.TSVal)
			}
			// the peer goes on from its new clock: accepted, PAWS protects again
			k.peerTSVal = s.opts.TSVal
			k.send(fACK|fPSH, []byte("c"))
			e.inject(k.oldSeg(fACK|fPSH, []byte("x"), 5))
			e.advance(time.Second)
			e.out()
			if string(k.recv) != "abc" || e.p.Stats().DropPAWS != 1 || k.c.tsRecent != k.peerTSVal {
				t.Fatalf("after: recv %q paws %d tsRecent %d want %d", k.recv, e.p.Stats().DropPAWS, k.c.tsRecent, k.peerTSVal)
			}
		})
	}
}

// TestPAWSIdleOutOfOrder: after a long idle the first segment may arrive
// out of order; it cannot update TS.Recent (SEG.SEQ > Last.ACK.sent), so
// the validity must follow TS.Recent's age, not the last arrival: the
// missing segment, also with a wrapped timestamp, is still taken.
func TestPAWSIdleOutOfOrder(t *testing.T) {
	e, k := tsConn(t)
	recent := k.c.tsRecent
	e.advance(25 * day)
	late := k.oldSeg(fACK|fPSH, []byte("b"), 1<<30)
	early := k.oldSeg(fACK|fPSH, []byte("c"), 1<<30)
	early.seq++
	early.opts.TSVal = late.opts.TSVal + 1
	e.inject(early)
	if a := e.one(); a.ack != k.peerSeq || e.p.Stats().OOOSegments != 1 {
		t.Fatalf("out-of-order: dup ACK %v ooo %d", a, e.p.Stats().OOOSegments)
	}
	if k.c.tsRecent != recent {
		t.Fatalf("an out-of-order segment set TS.Recent %d -> %d", recent, k.c.tsRecent)
	}
	e.inject(late)
	e.out()
	if string(k.recv) != "abc" || e.p.Stats().DropPAWS != 0 || k.c.tsRecent != late.opts.TSVal {
		t.Fatalf("recv %q paws %d tsRecent %d want %d", k.recv, e.p.Stats().DropPAWS, k.c.tsRecent, late.opts.TSVal)
	}
}

// TestPAWSRST: an RST is exempt from PAWS (RFC 7323 §5.3 R1 applies when
// the RST bit is off); it then goes through the RFC 5961 RST checks.
func TestPAWSRST(t *testing.T) {
	t.Run("exact", func(t *testing.T) {
		e, k := tsConn(t)
		e.inject(k.oldSeg(fRST, nil, 100))
		if k.err != ErrConnReset || k.c.State() != Closed || e.p.Stats().DropPAWS != 0 {
			t.Fatalf("err %v state %v paws %d", k.err, k.c.State(), e.p.Stats().DropPAWS)
		}
		e.none()
	})
	t.Run("in-window", func(t *testing.T) {
		e, k := tsConn(t)
		recent := k.c.tsRecent
		s := k.oldSeg(fRST, nil, 100)
		s.seq += 10
		e.inject(s)
		a := e.one()
		st := e.p.Stats()
		if k.err != nil || st.DropPAWS != 0 || st.ChallengeACKs != 1 || a.flags != fACK || a.ack != k.peerSeq {
			t.Fatalf("err %v paws %d challenge %d reply %v", k.err, st.DropPAWS, st.ChallengeACKs, a)
		}
		if k.c.tsRecent != recent {
			t.Fatalf("an RST moved TS.Recent %d -> %d", recent, k.c.tsRecent)
		}
	})
	t.Run("out-of-window", func(t *testing.T) {
		e, k := tsConn(t)
		s := k.oldSeg(fRST, nil, 100)
		s.seq -= 1000
		e.inject(s)
		e.none() // no ACK for an RST (RFC 9293 §3.10.7.4)
		if k.err != nil || e.p.Stats().DropPAWS != 0 || e.p.Stats().DropOutOfWindow != 1 {
			t.Fatalf("err %v paws %d oow %d", k.err, e.p.Stats().DropPAWS, e.p.Stats().DropOutOfWindow)
		}
	})
}

// TestTSRecentUpdateRule: TS.Recent takes SEG.TSval only when SEG.TSval >=
// TS.Recent and SEG.SEQ =< Last.ACK.sent (RFC 7323 §4.3), from acceptable
// segments only, in modular 32-bit order.
func TestTSRecentUpdateRule(t *testing.T) {
	t.Run("out-of-order", func(t *testing.T) {
		e, k := tsConn(t)
		recent := k.c.tsRecent
		s := k.seg(fACK|fPSH, []byte("z"))
		s.seq += 5 // beyond Last.ACK.sent
		e.inject(s)
		if a := e.one(); a.opts.TSEcr != recent || k.c.tsRecent != recent {
			t.Fatalf("ACK echoes %d, TS.Recent %d; want %d", a.opts.TSEcr, k.c.tsRecent, recent)
		}
	})
	t.Run("delayed-ack", func(t *testing.T) {
		// with an ACK pending, Last.ACK.sent stays behind: the later
		// segment's TSval is not taken, the ACK echoes the earlier one
		// (RFC 7323 §4.3 case A)
		e, k := tsConn(t)
		k.send(fACK|fPSH, []byte("1"))
		first := k.peerTSVal
		k.send(fACK|fPSH, []byte("2"))
		a := e.one() // two segments: ACK now
		if a.ack != k.peerSeq || a.opts.TSEcr != first || k.c.tsRecent != first {
			t.Fatalf("ACK %v echoes %d, TS.Recent %d; want %d", a, a.opts.TSEcr, k.c.tsRecent, first)
		}
	})
	t.Run("bad-ack", func(t *testing.T) {
		// a segment whose ACK is beyond SND.MAX is dropped (RFC 5961 §5.2):
		// its (high) TSval must not become TS.Recent, or the good segments
		// after it would fail PAWS
		e, k := tsConn(t)
		recent := k.c.tsRecent
		s := k.seg(fACK|fFIN, nil)
		s.ack += 9999
		s.opts.TSVal = recent + 1<<20
		e.inject(s)
		e.out()
		if e.p.Stats().DropBadACK != 1 || k.c.tsRecent != recent {
			t.Fatalf("bad ACK %d, TS.Recent %d want %d", e.p.Stats().DropBadACK, k.c.tsRecent, recent)
		}
		k.send(fACK|fPSH, []byte("b"))
		e.advance(time.Second)
		e.out()
		if string(k.recv) != "ab" || e.p.Stats().DropPAWS != 0 || k.c.State() != Established {
			t.Fatalf("recv %q paws %d state %v", k.recv, e.p.Stats().DropPAWS, k.c.State())
		}
	})
	t.Run("wrap", func(t *testing.T) {
		// timestamps compare modulo 2^32: forward across the wrap is forward
		e := newEnv(t, Config{NoDelayedACK: true}) // Last.ACK.sent keeps up
		o := synOpts()
		o.TSVal = 0xffffffe0
		k := e.accept(o, 5000)
		for i := range 40 {
			k.send(fACK|fPSH, []byte{'0' + byte(i%10)})
			e.one()
			if k.c.tsRecent != k.peerTSVal {
				t.Fatalf("step %d: TS.Recent %#x want %#x", i, k.c.tsRecent, k.peerTSVal)
			}
		}
		if len(k.recv) != 40 || e.p.Stats().DropPAWS != 0 {
			t.Fatalf("recv %d paws %d", len(k.recv), e.p.Stats().DropPAWS)
		}
		s := k.seg(fACK|fPSH, []byte("x"))
		s.opts.TSVal = 0xfffffff8 // before the wrap: old
		e.inject(s)
		e.out()
		if len(k.recv) != 40 || e.p.Stats().DropPAWS != 1 {
			t.Fatalf("old pre-wrap TSval: recv %d paws %d", len(k.recv), e.p.Stats().DropPAWS)
		}
	})
}
