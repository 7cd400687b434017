package rtt

import (
	"math"
	"math/rand"
	"testing"
	"time"
)

// model is RFC 6298 section 2 written with float64, independent of the
// integer implementation.
type model struct {
	srtt, rttvar float64
	has          bool
}

func (m *model) sample(r float64) {
	const alpha, beta = 1.0 / 8, 1.0 / 4
	if !m.has {
		m.srtt, m.rttvar, m.has = r, r/2, true
		return
	}
	m.rttvar = (1-beta)*m.rttvar + beta*math.Abs(m.srtt-r)
	m.srtt = (1-alpha)*m.srtt + alpha*r
}

func (m *model) rto(g, lo, hi float64) float64 {
	v := math.Max(g, 4*m.rttvar)
	return math.Min(math.Max(m.srtt+v, lo), hi)
}

func near(a time.Duration, b float64) bool { return math.Abs(float64(a)-b) <= 16 }

func TestInitial(t *testing.T) {
	e := New(200*time.Millisecond, 60*time.Second, time.Second)
	if e.HasSample() || e.SRTT() != 0 || e.RTTVar() != 0 {
		t.Fatal("fresh estimator has state")
	}
	if got := e.RTO(); got != time.Second {
		t.Fatalf("initial RTO = %v, want 1s", got)
	}
	d := New(0, 0, 0)
	if d.RTO() != DefaultInitialRTO || d.b.minRTO != DefaultMinRTO || d.b.maxRTO != DefaultMaxRTO {
		t.Fatalf("defaults not applied: %+v", d)
	}
}

func TestFirstSample(t *testing.T) {
	e := New(time.Millisecond, 60*time.Second, time.Second)
	e.Sample(300 * time.Millisecond)
	if e.SRTT() != 300*time.Millisecond || e.RTTVar() != 150*time.Millisecond {
		t.Fatalf("first sample: srtt %v rttvar %v", e.SRTT(), e.RTTVar())
	}
	// RTO = R + max(G, 4*R/2) = 3R
	if got := e.RTO(); got != 900*time.Millisecond {
		t.Fatalf("RTO after first sample = %v, want 900ms", got)
	}
}

func TestSecondSampleUsesOldSRTT(t *testing.T) {
	e := New(time.Millisecond, 60*time.Second, time.Second)
	e.Sample(800 * time.Millisecond) // srtt 800, rttvar 400
	e.Sample(0)                      // |800-0| = 800
	// rttvar = 3/4*400 + 1/4*800 = 500; srtt = 7/8*800 = 700
	if e.RTTVar() != 500*time.Millisecond || e.SRTT() != 700*time.Millisecond {
		t.Fatalf("got srtt %v rttvar %v, want 700ms 500ms", e.SRTT(), e.RTTVar())
	}
}

func TestSequencesAgainstFormulas(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 50; trial++ {
		lo := time.Duration(rng.Intn(300)) * time.Millisecond
		hi := time.Duration(1+rng.Intn(120)) * time.Second
		g := time.Duration(1+rng.Intn(20)) * time.Millisecond
		e := New(lo, hi, time.Second)
		e.b.SetGranularity(g)
		var m model
		if lo == 0 {
			lo = DefaultMinRTO
		}
		base := rng.Intn(500) + 1
		for i := 0; i < 200; i++ {
			r := time.Duration(base+rng.Intn(2*base)) * time.Millisecond
			if rng.Intn(20) == 0 {
				r = time.Duration(rng.Intn(5)) * time.Microsecond // tiny samples, G dominates
			}
			e.Sample(r)
			m.sample(float64(r))
			if !near(e.SRTT(), m.srtt) || !near(e.RTTVar(), m.rttvar) {
				t.Fatalf("trial %d step %d: srtt %v/%v rttvar %v/%v", trial, i,
					e.SRTT(), m.srtt, e.RTTVar(), m.rttvar)
			}
			want := m.rto(float64(g), float64(lo), float64(hi))
			if math.Abs(float64(e.RTO())-want) > 100 { // integer truncation of srtt + 4*rttvar
				t.Fatalf("trial %d step %d: RTO %v want %v", trial, i, e.RTO(), time.Duration(want))
			}
		}
	}
}

func TestGranularity(t *testing.T) {
	e := New(time.Nanosecond, time.Minute, time.Second)
	e.Sample(10 * time.Millisecond)
	for i := 0; i < 100; i++ {
		e.Sample(10 * time.Millisecond) // RTTVAR decays towards 0
	}
	if got := e.RTO(); got != 10*time.Millisecond+DefaultGranularity {
		t.Fatalf("RTO with vanishing RTTVAR = %v, want SRTT+G = 11ms", got)
	}
	e.b.SetGranularity(5 * time.Millisecond)
	if got := e.RTO(); got != 15*time.Millisecond {
		t.Fatalf("RTO with G=5ms = %v, want 15ms", got)
	}
}

func TestClamp(t *testing.T) {
	e := New(200*time.Millisecond, 2*time.Second, time.Second)
	e.Sample(time.Millisecond)
	if e.RTO() != 200*time.Millisecond {
		t.Fatalf("min clamp: %v", e.RTO())
	}
	e.Sample(10 * time.Second)
	if e.RTO() != 2*time.Second {
		t.Fatalf("max clamp: %v", e.RTO())
	}
	f := New(time.Second, time.Millisecond, 0) // max < min is raised
	if f.RTO() != time.Second {
		t.Fatalf("max<min: %v", f.RTO())
	}
}

func TestBackoff(t *testing.T) {
	e := New(200*time.Millisecond, 60*time.Second, time.Second)
	want := time.Second
	for i := 0; i < 10; i++ {
		if e.RTO() != want {
			t.Fatalf("backoff %d: RTO %v want %v", i, e.RTO(), want)
		}
		e.Backoff()
		want *= 2
		if want > 60*time.Second {
			want = 60 * time.Second
		}
	}
	for i := 0; i < 100; i++ {
		e.Backoff()
	}
	if e.RTO() != 60*time.Second {
		t.Fatalf("bounded backoff: %v", e.RTO())
	}
	if e.Backoffs() > 7 {
		t.Fatalf("backoff counter kept growing past max: %d", e.Backoffs())
	}
	e.ResetBackoff()
	if e.RTO() != time.Second {
		t.Fatalf("after ResetBackoff: %v", e.RTO())
	}
	e.Backoff()
	e.Backoff()
	e.Sample(100 * time.Millisecond) // a new sample recomputes RTO (RFC 6298 5.7 note)
	if e.RTO() != 300*time.Millisecond {
		t.Fatalf("sample after backoff: %v want 300ms", e.RTO())
	}
}

func TestNegativeSampleIgnored(t *testing.T) {
	e := New(0, 0, 0)
	e.Sample(-time.Second)
	if e.HasSample() {
		t.Fatal("negative sample accepted")
	}
	e.Sample(time.Second)
	e.Reset()
	if e.HasSample() || e.RTO() != DefaultInitialRTO {
		t.Fatal("Reset did not forget")
	}
}

func TestNoAllocs(t *testing.T) {
	e := New(0, 0, 0)
	n := testing.AllocsPerRun(100, func() {
		e.Sample(30 * time.Millisecond)
		e.Backoff()
		_ = e.RTO()
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

func BenchmarkSample(b *testing.B) {
	e := New(0, 0, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Sample(time.Duration(20+i%7) * time.Millisecond)
		_ = e.RTO()
	}
}

// bounded is an Estimator with its Bounds, for tests written against one
// value.
type bounded struct {
	Estimator
	b Bounds
}

func New(minRTO, maxRTO, initialRTO time.Duration) *bounded {
	return &bounded{b: NewBounds(minRTO, maxRTO, initialRTO)}
}

func (e *bounded) RTO() time.Duration { return e.Estimator.RTO(&e.b) }
func (e *bounded) Backoff()           { e.Estimator.Backoff(&e.b) }
