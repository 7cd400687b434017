package cc

import (
	"testing"
	"time"
)

func newRenoCA(t *testing.T, cwndSegs int) *Reno {
	t.Helper()
	r := NewReno().(*Reno)
	r.Init(mss)
	r.OnCongestion(sample(0, 2*cwndSegs*mss))
	if r.CongestionWindow() != cwndSegs*mss || r.SlowStartThreshold() != cwndSegs*mss {
		t.Fatalf("setup: cwnd %d ssthresh %d", r.CongestionWindow(), r.SlowStartThreshold())
	}
	return r
}

func TestRenoCongestionAvoidance(t *testing.T) {
	for _, perAck := range []int{1, 2, 3} {
		r := newRenoCA(t, 20)
		c := ackClock{a: r, rtt: 100 * time.Millisecond, perAck: perAck}
		for round := 0; round < 30; round++ {
			w := r.CongestionWindow()
			nw := c.round()
			if nw-w != mss {
				t.Fatalf("perAck %d round %d: cwnd %d -> %d, want +1 SMSS", perAck, round, w, nw)
			}
		}
	}
	// Only whole windows of acked bytes count (RFC 3465): cwnd-1 bytes do nothing.
	r := newRenoCA(t, 10)
	r.OnAck(10*mss-1, sample(0, 10*mss))
	if r.CongestionWindow() != 10*mss {
		t.Fatal("grew before a full window was acked")
	}
	r.OnAck(1, sample(0, 10*mss))
	if r.CongestionWindow() != 11*mss {
		t.Fatal("did not grow after a full window")
	}
}

func TestRenoSlowStartStopsAtSSThresh(t *testing.T) {
	r := NewReno().(*Reno)
	r.Init(mss)
	r.OnTimeout(sample(0, 9*mss)) // ssthresh 4.5 SMSS, cwnd 1 SMSS
	if r.SlowStartThreshold() != 4500 || r.CongestionWindow() != mss {
		t.Fatalf("timeout: cwnd %d ssthresh %d", r.CongestionWindow(), r.SlowStartThreshold())
	}
	r.OnAck(2*mss, sample(0, mss)) // 3000
	r.OnAck(2*mss, sample(0, mss)) // would be 5000: capped at 4500, 500 bytes to CA
	if r.CongestionWindow() != 4500 || r.bytesAcked != 500 {
		t.Fatalf("cwnd %d bytesAcked %d", r.CongestionWindow(), r.bytesAcked)
	}
}

func TestRenoCongestionEvent(t *testing.T) {
	cases := []struct{ flight, ssthresh int }{
		{40 * mss, 20 * mss}, {3 * mss, 2 * mss}, {5 * mss, 2500}, {0, 2 * mss}, {4*mss + 1, 2 * mss}, {4*mss + 2, 2*mss + 1},
	}
	for _, c := range cases {
		r := NewReno()
		r.Init(mss)
		r.OnCongestion(sample(time.Second, c.flight))
		if r.SlowStartThreshold() != c.ssthresh || r.CongestionWindow() != c.ssthresh {
			t.Errorf("flight %d: ssthresh %d cwnd %d, want %d", c.flight,
				r.SlowStartThreshold(), r.CongestionWindow(), c.ssthresh)
		}
	}
}

func TestRenoRecoveryExit(t *testing.T) {
	cases := []struct{ flight, cwnd int }{
		{30 * mss, 20 * mss}, // FlightSize large: ssthresh
		{5 * mss, 6 * mss},   // FlightSize + SMSS
		{0, 2 * mss},         // max(FlightSize, SMSS) + SMSS
	}
	for _, c := range cases {
		r := newRenoCA(t, 20)
		r.OnRecoveryExit(sample(0, c.flight))
		if r.CongestionWindow() != c.cwnd || r.SlowStartThreshold() != 20*mss {
			t.Errorf("exit flight %d: cwnd %d want %d", c.flight, r.CongestionWindow(), c.cwnd)
		}
	}
}

func TestRenoTimeout(t *testing.T) {
	r := NewReno()
	r.Init(mss)
	r.OnTimeout(sample(0, 30*mss))
	if r.SlowStartThreshold() != 15*mss || r.CongestionWindow() != mss {
		t.Fatalf("RTO: ssthresh %d cwnd %d", r.SlowStartThreshold(), r.CongestionWindow())
	}
	// The retransmission times out too: ssthresh held (RFC 5681 section 3.1).
	r.OnTimeout(sample(time.Second, mss))
	if r.SlowStartThreshold() != 15*mss || r.CongestionWindow() != mss {
		t.Fatalf("second RTO: ssthresh %d cwnd %d", r.SlowStartThreshold(), r.CongestionWindow())
	}
	// After new data is acked, a later timeout recomputes ssthresh.
	r.OnAck(mss, sample(2*time.Second, mss))
	r.OnTimeout(sample(3*time.Second, 6*mss))
	if r.SlowStartThreshold() != 3*mss || r.CongestionWindow() != mss {
		t.Fatalf("third RTO: ssthresh %d cwnd %d", r.SlowStartThreshold(), r.CongestionWindow())
	}
	// MSS from the sample wins over Init's.
	r.OnTimeout(Sample{MSS: 500, FlightSize: 0})
	if r.CongestionWindow() != 500 {
		t.Fatalf("sample MSS ignored: %d", r.CongestionWindow())
	}
}

func TestRenoIdleRestart(t *testing.T) {
	r := newRenoCA(t, 30)
	r.OnIdleRestart(sample(0, 0))
	if r.CongestionWindow() != InitialWindow(mss) || r.SlowStartThreshold() != 30*mss {
		t.Fatalf("restart: cwnd %d ssthresh %d", r.CongestionWindow(), r.SlowStartThreshold())
	}
	r = newRenoCA(t, 3)
	r.OnIdleRestart(sample(0, 0))
	if r.CongestionWindow() != 3*mss {
		t.Fatalf("restart below IW changed cwnd: %d", r.CongestionWindow())
	}
	r.SetMSS(2000)
	r.OnTimeout(Sample{})
	if r.CongestionWindow() != 2000 {
		t.Fatalf("SetMSS ignored: %d", r.CongestionWindow())
	}
}
