package cc

import (
	"testing"
	"time"
)

const mss = 1000

// ackClock simulates a sender that always has data and a path with a fixed
// RTT: every round trip, one window of segments is acknowledged in ACKs of
// perAck segments, spread evenly over the RTT.
type ackClock struct {
	a      Algorithm
	now    time.Duration
	rtt    time.Duration
	perAck int
}

// round delivers one RTT of ACKs and returns the cwnd afterwards.
func (c *ackClock) round() int {
	w := c.a.CongestionWindow()
	n := (w + c.perAck*mss - 1) / (c.perAck * mss)
	if n < 1 {
		n = 1
	}
	step := c.rtt / time.Duration(n)
	left := w
	for i := 0; i < n; i++ {
		acked := min(c.perAck*mss, left)
		left -= acked
		c.now += step
		c.a.OnAck(acked, Sample{Now: c.now, MSS: mss, FlightSize: w, RTT: c.rtt, MinRTT: c.rtt})
	}
	return c.a.CongestionWindow()
}

func sample(now time.Duration, flight int) Sample {
	return Sample{Now: now, MSS: mss, FlightSize: flight}
}

func TestInitialWindow(t *testing.T) {
	cases := []struct{ mss, want int }{
		{536, 5360}, {1000, 10000}, {1460, 14600}, {1500, 14600}, {4000, 14600}, {7300, 14600},
		{9000, 18000},
	}
	for _, c := range cases {
		if got := InitialWindow(c.mss); got != c.want {
			t.Errorf("IW(%d) = %d want %d", c.mss, got, c.want)
		}
		for _, f := range []Factory{NewReno, NewCubic} {
			a := f()
			a.Init(c.mss)
			if a.CongestionWindow() != c.want || a.SlowStartThreshold() != InfiniteSSThresh {
				t.Errorf("%s Init(%d): cwnd %d ssthresh %d", a.Name(), c.mss,
					a.CongestionWindow(), a.SlowStartThreshold())
			}
		}
	}
}

func TestByName(t *testing.T) {
	for _, n := range []string{"reno", "newreno", "cubic"} {
		f, ok := ByName(n)
		if !ok {
			t.Fatalf("%s missing", n)
		}
		want := n
		if n == "newreno" {
			want = "reno"
		}
		if got := f().Name(); got != want {
			t.Errorf("ByName(%q)().Name() = %q", n, got)
		}
	}
	if _, ok := ByName("bbr"); ok {
		t.Error("unknown name found")
	}
}

// Behaviour shared by both algorithms below ssthresh and on timeouts.
func TestSlowStartBothAlgorithms(t *testing.T) {
	for _, f := range []Factory{NewReno, NewCubic} {
		a := f()
		a.Init(mss)
		c := ackClock{a: a, rtt: 50 * time.Millisecond, perAck: 1}
		w := a.CongestionWindow()
		for r := 0; r < 5; r++ {
			nw := c.round()
			if nw != 2*w {
				t.Fatalf("%s round %d: cwnd %d -> %d, want doubling", a.Name(), r, w, nw)
			}
			w = nw
		}
		// Delayed ACKs (2 segments per ACK) still double: L = 2*SMSS.
		a.Init(mss)
		c = ackClock{a: a, rtt: 50 * time.Millisecond, perAck: 2}
		w = a.CongestionWindow()
		if nw := c.round(); nw != 2*w {
			t.Fatalf("%s delayed ACKs: %d -> %d", a.Name(), w, nw)
		}
	}
}

func TestByteCountingCap(t *testing.T) {
	for _, f := range []Factory{NewReno, NewCubic} {
		a := f()
		a.Init(mss)
		w := a.CongestionWindow()
		a.OnAck(8*mss, sample(time.Millisecond, w)) // stretch ACK
		if got := a.CongestionWindow() - w; got != 2*mss {
			t.Fatalf("%s: growth per ACK %d, want 2*SMSS", a.Name(), got)
		}
		a.OnAck(300, sample(2*time.Millisecond, w)) // small ACK: grows by the bytes
		if got := a.CongestionWindow() - w; got != 2*mss+300 {
			t.Fatalf("%s: small ACK growth %d", a.Name(), got)
		}
		a.OnAck(0, sample(3*time.Millisecond, w))
		a.OnAck(-5, sample(3*time.Millisecond, w))
		if got := a.CongestionWindow() - w; got != 2*mss+300 {
			t.Fatalf("%s: zero/negative ACK changed cwnd", a.Name())
		}
	}
}

func TestNoAllocs(t *testing.T) {
	for _, f := range []Factory{NewReno, NewCubic} {
		a := f()
		a.Init(mss)
		now := time.Duration(0)
		n := testing.AllocsPerRun(1000, func() {
			now += time.Millisecond
			s := Sample{Now: now, MSS: mss, FlightSize: a.CongestionWindow(), RTT: 10 * time.Millisecond}
			a.OnAck(mss, s)
			if now%(500*time.Millisecond) == 0 {
				a.OnCongestion(s)
				a.OnRecoveryExit(s)
			}
		})
		if n != 0 {
			t.Fatalf("%s: %v allocs per OnAck", a.Name(), n)
		}
	}
}

func benchmarkOnAck(b *testing.B, f Factory) {
	a := f()
	a.Init(mss)
	a.OnCongestion(sample(0, 200*mss))
	a.OnRecoveryExit(sample(0, 200*mss))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Duration(i) * 10 * time.Microsecond
		a.OnAck(mss, Sample{Now: now, MSS: mss, FlightSize: 100 * mss, RTT: 20 * time.Millisecond})
		if a.CongestionWindow() > 10000*mss {
			a.OnCongestion(sample(now, a.CongestionWindow()))
			a.OnRecoveryExit(sample(now, a.CongestionWindow()))
		}
	}
}

func BenchmarkRenoOnAck(b *testing.B)  { benchmarkOnAck(b, NewReno) }
func BenchmarkCubicOnAck(b *testing.B) { benchmarkOnAck(b, NewCubic) }

// TestResume checks the restart after idle from released state (RFC 5681
// §4.1): ssthresh kept, cwnd min(IW, cwnd) but never below one SMSS, and
// the algorithm growing from there as after Init.
func TestResume(t *testing.T) {
	iw := InitialWindow(mss)
	for _, mk := range []func() Algorithm{NewReno, NewCubic} {
		a := mk()
		r := a.(interface{ Resume(mss, cwnd, ssthresh int) })
		for _, tc := range []struct{ cwnd, ssthresh, want int }{
			{100 * mss, 50 * mss, iw},   // large window: the restart window
			{3 * mss, 2 * mss, 3 * mss}, // below IW: kept
			{1, 2 * mss, mss},           // never below one segment
			{100 * mss, InfiniteSSThresh, iw},
		} {
			a.OnTimeout(sample(0, 10*mss)) // state to forget
			r.Resume(mss, tc.cwnd, tc.ssthresh)
			if got := a.CongestionWindow(); got != tc.want {
				t.Errorf("%s: Resume(cwnd %d): cwnd %d, want %d", a.Name(), tc.cwnd, got, tc.want)
			}
			if got := a.SlowStartThreshold(); got != tc.ssthresh {
				t.Errorf("%s: Resume(ssthresh %d): ssthresh %d", a.Name(), tc.ssthresh, got)
			}
		}
		// slow start from the restart window up to the kept ssthresh
		r.Resume(mss, 100*mss, 20*mss)
		clk := ackClock{a: a, rtt: 10 * time.Millisecond, perAck: 1}
		if w := clk.round(); w != 20*mss {
			t.Errorf("%s: one round of slow start from %d with ssthresh %d: cwnd %d, want %d", a.Name(), iw, 20*mss, w, 20*mss)
		}
	}
}
