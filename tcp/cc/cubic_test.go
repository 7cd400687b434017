package cc

import (
	"math"
	"testing"
	"time"
)

// newCubicCA returns a Cubic that just left fast recovery after a loss at a
// window of w segments: W_max = w, ssthresh = cwnd = 0.7*w.
func newCubicCA(t *testing.T, w int, now time.Duration) *Cubic {
	t.Helper()
	c := NewCubic().(*Cubic)
	c.Init(mss)
	c.cwnd = float64(w * mss)
	c.OnCongestion(sample(now, w*mss))
	c.OnRecoveryExit(sample(now, w*mss))
	want := int(CubicBeta * float64(w*mss))
	if c.SlowStartThreshold() != want || c.CongestionWindow() != want || c.WMax() != w*mss {
		t.Fatalf("setup: ssthresh %d cwnd %d wmax %d", c.SlowStartThreshold(), c.CongestionWindow(), c.WMax())
	}
	return c
}

// wCubicSegs is RFC 9438 eq. 1 written out independently, in segments.
func wCubicSegs(t, k, wmax float64) float64 { return 0.4*math.Pow(t-k, 3) + wmax }

func TestCubicK(t *testing.T) {
	for _, w := range []int{10, 100, 500, 3000} {
		c := newCubicCA(t, w, time.Second)
		c.OnAck(mss, Sample{Now: time.Second, MSS: mss, RTT: 50 * time.Millisecond})
		epoch := CubicBeta * float64(w)
		k := math.Pow((float64(w)-epoch)/0.4, 1.0/3) // RFC 9438 eq. 2
		if d := math.Abs(c.K().Seconds() - k); d > 1e-6 {
			t.Errorf("W_max %d: K %v, want %.6fs", w, c.K(), k)
		}
	}
}

func TestCubicConcaveThenConvex(t *testing.T) {
	const w = 500
	start := 10 * time.Second
	c := newCubicCA(t, w, start)
	clk := ackClock{a: c, now: start, rtt: 100 * time.Millisecond, perAck: 1}
	var ts, ws []float64
	k := -1.0
	minDev := 0.0
	defer func() { t.Logf("min cwnd - W_cubic(t) = %.2f segs", minDev) }()
	for clk.now-start < 16*time.Second {
		got := float64(clk.round()) / mss
		if k < 0 {
			k = c.K().Seconds()
		}
		tt := (clk.now - start).Seconds()
		ts = append(ts, tt)
		ws = append(ws, got)
		// cwnd tracks the cubic curve: at least W_cubic(t) minus the lag of
		// one round, at most the W_cubic(t+RTT) target.
		lo := wCubicSegs(tt, k, w) - 1
		hi := wCubicSegs(tt+0.1, k, w) + 1
		if d := got - wCubicSegs(tt, k, w); d < minDev {
			minDev = d
		}
		if got < lo || got > hi {
			t.Fatalf("t=%.2fs: cwnd %.1f segs outside [%.1f, %.1f] (K %.3f)", tt, got, lo, hi, k)
		}
	}
	growth := func(from, to float64) float64 { // cwnd growth between two times
		var a, b float64
		for i, tt := range ts {
			if tt <= from {
				a = ws[i]
			}
			if tt <= to {
				b = ws[i]
			}
		}
		return b - a
	}
	// Concave: growth slows down while approaching W_max ...
	g1, g2, g3 := growth(0, 1), growth(3, 4), growth(k-1, k)
	if !(g1 > g2 && g2 > g3) {
		t.Fatalf("not concave before K: %.1f %.1f %.1f", g1, g2, g3)
	}
	// ... plateaus around W_max at K ...
	for i, tt := range ts {
		if math.Abs(tt-k) < 0.05 && math.Abs(ws[i]-w) > 0.01*w {
			t.Fatalf("cwnd at K = %.1f, want ~%d", ws[i], w)
		}
		if tt < k-0.2 && ws[i] >= w {
			t.Fatalf("cwnd %.1f reached W_max before K (t=%.2f)", ws[i], tt)
		}
	}
	// ... then convex: growth speeds up.
	h1, h2, h3 := growth(k, k+1), growth(k+3, k+4), growth(k+6, k+7)
	if !(h1 < h2 && h2 < h3) || ws[len(ws)-1] <= w {
		t.Fatalf("not convex after K: %.1f %.1f %.1f", h1, h2, h3)
	}
}

func TestCubicRenoFriendlyRegion(t *testing.T) {
	const w = 10
	c := newCubicCA(t, w, 0)
	clk := ackClock{a: c, rtt: time.Millisecond, perAck: 1}
	start := float64(c.CongestionWindow()) / mss
	for i := 0; i < 3; i++ {
		clk.round()
	}
	got := float64(c.CongestionWindow()) / mss
	// ~alpha_cubic = 0.53 segments per RTT, while the cubic curve has barely moved.
	want := start + 3*CubicAlpha
	if math.Abs(got-want) > 0.3 {
		t.Fatalf("after 3 RTTs cwnd %.2f segs, want ~%.2f (Reno-friendly)", got, want)
	}
	if cub := wCubicSegs(clk.now.Seconds(), c.K().Seconds(), w); cub > got-1 {
		t.Fatalf("W_cubic %.2f not below cwnd %.2f: region not Reno-friendly", cub, got)
	}
	// Once W_est reaches the window before the reduction, it grows like Reno.
	for float64(c.CongestionWindow())/mss < w+0.5 {
		clk.round()
	}
	for i := 0; i < 5; i++ {
		a := c.CongestionWindow()
		b := clk.round()
		if g := float64(b-a) / mss; g < 0.85 || g > 1.15 {
			t.Fatalf("Reno-friendly growth above W_max %.2f segs/RTT, want ~1", g)
		}
	}
}

func TestCubicFastConvergence(t *testing.T) {
	for _, fc := range []bool{true, false} {
		c := NewCubic().(*Cubic)
		c.FastConvergence = fc
		c.Init(mss)
		c.cwnd = 100 * mss
		c.OnCongestion(sample(0, 100*mss))
		if c.WMax() != 100*mss || c.SlowStartThreshold() != 70*mss || c.CongestionWindow() != 70*mss {
			t.Fatalf("first loss: wmax %d ssthresh %d cwnd %d", c.WMax(), c.SlowStartThreshold(), c.CongestionWindow())
		}
		c.cwnd = 80 * mss // a second loss below the previous W_max
		c.OnCongestion(sample(time.Second, 60*mss))
		want := 80 * mss
		if fc {
			want = int(80 * mss * (1 + CubicBeta) / 2) // 68 segments
		}
		if c.WMax() != want {
			t.Errorf("fast convergence %v: W_max %d, want %d", fc, c.WMax(), want)
		}
		if c.SlowStartThreshold() != 42*mss { // 0.7 * FlightSize
			t.Errorf("ssthresh %d, want 0.7*FlightSize", c.SlowStartThreshold())
		}
		// A loss above W_max sets W_max to cwnd regardless.
		c.cwnd = 200 * mss
		c.OnCongestion(sample(2*time.Second, 0)) // FlightSize unknown: cwnd used
		if c.WMax() != 200*mss || c.SlowStartThreshold() != 140*mss {
			t.Errorf("loss above W_max: wmax %d ssthresh %d", c.WMax(), c.SlowStartThreshold())
		}
	}
}

func TestCubicTargetClamp(t *testing.T) {
	c := newCubicCA(t, 100, 0)
	c.OnAck(mss, Sample{Now: 0, MSS: mss, RTT: 100 * time.Millisecond}) // start the epoch
	clk := ackClock{a: c, now: 1000 * time.Second, rtt: 100 * time.Millisecond, perAck: 1}
	for i := 0; i < 3; i++ {
		a := float64(c.CongestionWindow())
		b := float64(clk.round())
		if r := b / a; r > 1.5+float64(mss)/a || r < 1.4 {
			t.Fatalf("round %d: growth factor %.3f, want <= 1.5 and close to it", i, r)
		}
	}
}

func TestCubicTimeout(t *testing.T) {
	c := newCubicCA(t, 100, 0)
	c.OnTimeout(sample(time.Second, 50*mss))
	if c.CongestionWindow() != mss || c.SlowStartThreshold() != 35*mss {
		t.Fatalf("RTO: cwnd %d ssthresh %d", c.CongestionWindow(), c.SlowStartThreshold())
	}
	c.OnTimeout(sample(2*time.Second, mss)) // retransmission lost too: hold ssthresh
	if c.SlowStartThreshold() != 35*mss {
		t.Fatalf("second RTO changed ssthresh to %d", c.SlowStartThreshold())
	}
	clk := ackClock{a: c, now: 3 * time.Second, rtt: 100 * time.Millisecond, perAck: 1}
	for c.CongestionWindow() < c.SlowStartThreshold() {
		clk.round() // slow start like Reno
	}
	clk.round()
	if c.K() != 0 || c.WMax() != 35*mss {
		t.Fatalf("after RTO the stage must start with K=0, W_max=cwnd_epoch: K %v W_max %d", c.K(), c.WMax())
	}
	if c.CongestionWindow() <= 35*mss {
		t.Fatal("no growth in congestion avoidance after RTO")
	}
}

func TestCubicIdleRestartAndDeterminism(t *testing.T) {
	run := func() []int {
		c := newCubicCA(t, 200, 0)
		clk := ackClock{a: c, rtt: 30 * time.Millisecond, perAck: 2}
		var out []int
		for i := 0; i < 50; i++ {
			out = append(out, clk.round())
		}
		c.OnIdleRestart(sample(clk.now+10*time.Second, 0))
		out = append(out, c.CongestionWindow())
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("round %d: %d vs %d: not deterministic in Sample.Now", i, a[i], b[i])
		}
	}
	if a[len(a)-1] != InitialWindow(mss) {
		t.Fatalf("restart window %d, want IW", a[len(a)-1])
	}
}

func TestCubicUninitialisedIsHarmless(t *testing.T) {
	var c Cubic
	c.OnAck(mss, Sample{Now: time.Second})
	c.OnCongestion(Sample{})
	c.OnAck(mss, Sample{Now: 2 * time.Second})
	if w := c.CongestionWindow(); w < 0 || math.IsNaN(c.cwnd) {
		t.Fatalf("cwnd %d (%v)", w, c.cwnd)
	}
}
