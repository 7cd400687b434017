package fault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/linktest"
	"github.com/featherip/featherip/link/pipe"
)

// frame builds a 64-byte frame carrying id, whose bytes sum to 0 mod 256,
// so any single changed byte is detected.
func frame(id uint32) []byte {
	f := make([]byte, 64)
	copy(f, pipe.DefaultMACA)
	copy(f[6:], pipe.DefaultMACB)
	binary.BigEndian.PutUint16(f[12:], 0x88b5)
	binary.BigEndian.PutUint32(f[14:], id)
	for i := 18; i < 63; i++ {
		f[i] = byte(id*7 + uint32(i))
	}
	var s byte
	for _, b := range f[:63] {
		s += b
	}
	f[63] = -s
	return f
}

func intact(f []byte) bool {
	var s byte
	for _, b := range f {
		s += b
	}
	return len(f) == 64 && s == 0
}

type delivery struct {
	at   time.Duration
	data []byte
}

// run sends n frames, one every gap, through a fault wrapper in virtual
// time, advancing the clock from event to event, and returns what came out.
func run(t *testing.T, cfg Config, n int, gap time.Duration) ([]delivery, Stats) {
	t.Helper()
	var clk linktest.Clock
	a, b := pipe.New(pipe.Config{Clock: &clk, QueueLen: 4096})
	cfg.Clock = &clk
	f := Wrap(b, cfg)
	var out []delivery
	buf := make([]byte, 2048)
	drain := func() {
		for {
			m, ok := f.TryReceive(buf)
			if !ok {
				return
			}
			out = append(out, delivery{clk.Now(), append([]byte(nil), buf[:m]...)})
		}
	}
	for i := 0; i < n; i++ {
		next := time.Duration(i) * gap
		// Advance through every event before the next send.
		for {
			d, ok := f.NextDue()
			if !ok || d > next {
				break
			}
			clk.Set(max(d, clk.Now()))
			drain()
		}
		clk.Set(next)
		if err := a.Send(frame(uint32(i))); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	for {
		d, ok := f.NextDue()
		if !ok {
			break
		}
		clk.Set(max(d, clk.Now()))
		drain()
	}
	return out, f.Stats()
}

func TestSameSeedSameOutput(t *testing.T) {
	cfg := Config{Seed: 42, Loss: 0.1, Duplicate: 0.1, Reorder: 0.1, Corrupt: 0.1, Delay: time.Millisecond, Jitter: 3 * time.Millisecond}
	out1, st1 := run(t, cfg, 2000, time.Millisecond)
	out2, st2 := run(t, cfg, 2000, time.Millisecond)
	if st1 != st2 || len(out1) != len(out2) {
		t.Fatalf("same seed, different stats:\n%+v\n%+v", st1, st2)
	}
	for i := range out1 {
		if out1[i].at != out2[i].at || !bytes.Equal(out1[i].data, out2[i].data) {
			t.Fatalf("same seed, delivery %d differs", i)
		}
	}
	cfg.Seed = 43
	out3, _ := run(t, cfg, 2000, time.Millisecond)
	same := len(out3) == len(out1)
	for i := 0; same && i < len(out1); i++ {
		same = out1[i].at == out3[i].at && bytes.Equal(out1[i].data, out3[i].data)
	}
	if same {
		t.Fatal("different seeds gave identical output")
	}
}

// within checks that count out of n trials matches probability p within
// 5 standard deviations.
func within(t *testing.T, name string, count uint64, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(count)-mean) > 5*sd+1 {
		t.Errorf("%s: %d of %d, expected %.0f ± %.0f", name, count, n, mean, 5*sd)
	}
}

func TestStatistics(t *testing.T) {
	const n = 20000
	cfg := Config{Seed: 7, Loss: 0.1, Duplicate: 0.05, Reorder: 0.08, Corrupt: 0.03, QueueLen: 256}
	out, st := run(t, cfg, n, time.Millisecond)
	if st.In != n {
		t.Fatalf("In = %d", st.In)
	}
	within(t, "Lost", st.Lost, n, cfg.Loss)
	kept := int(n - st.Lost)
	within(t, "Duplicated", st.Duplicated, kept, cfg.Duplicate)
	within(t, "Corrupted", st.Corrupted, kept, cfg.Corrupt)
	within(t, "Reordered", st.Reordered, kept, cfg.Reorder)
	if st.Overflow != 0 {
		t.Fatalf("Overflow = %d", st.Overflow)
	}
	if uint64(len(out)) != st.Delivered || st.Delivered != st.In-st.Lost+st.Duplicated {
		t.Fatalf("delivered %d frames, stats %+v", len(out), st)
	}
	// Check the output itself against the counters.
	seen := map[uint32]int{}
	var bad, inversions int
	var last uint32
	for i, d := range out {
		if !intact(d.data) {
			bad++
			continue
		}
		id := binary.BigEndian.Uint32(d.data[14:])
		seen[id]++
		if i > 0 && id < last {
			inversions++
		}
		last = id
	}
	// A corrupted frame duplicated before corruption yields one bad copy.
	if uint64(bad) != st.Corrupted {
		t.Errorf("%d corrupted frames delivered, counter says %d", bad, st.Corrupted)
	}
	dups := 0
	for _, c := range seen {
		if c > 1 {
			dups += c - 1
		}
	}
	// Duplicates of frames that were then corrupted show up as one intact
	// and one bad copy, so intact duplicates are at most Duplicated.
	if dups > int(st.Duplicated) || float64(dups) < 0.9*float64(st.Duplicated) {
		t.Errorf("%d intact duplicates seen, counter says %d", dups, st.Duplicated)
	}
	if inversions == 0 || inversions > int(st.Reordered) {
		t.Errorf("%d inversions seen, %d frames reordered", inversions, st.Reordered)
	}
}

func TestNoFaultsIsTransparent(t *testing.T) {
	out, st := run(t, Config{Seed: 1}, 500, time.Millisecond)
	if len(out) != 500 || st.Delivered != 500 {
		t.Fatalf("delivered %d", len(out))
	}
	for i, d := range out {
		if !bytes.Equal(d.data, frame(uint32(i))) || d.at != time.Duration(i)*time.Millisecond {
			t.Fatalf("frame %d changed or delayed (at %v)", i, d.at)
		}
	}
}

func TestDelayJitter(t *testing.T) {
	cfg := Config{Seed: 3, Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}
	out, _ := run(t, cfg, 1000, time.Millisecond)
	if len(out) != 1000 {
		t.Fatalf("delivered %d", len(out))
	}
	var minD, maxD time.Duration = time.Hour, 0
	inv := 0
	for i, d := range out {
		id := binary.BigEndian.Uint32(d.data[14:])
		lat := d.at - time.Duration(id)*time.Millisecond
		minD, maxD = min(minD, lat), max(maxD, lat)
		if i > 0 && id < binary.BigEndian.Uint32(out[i-1].data[14:]) {
			inv++
		}
	}
	if minD < 10*time.Millisecond || maxD > 15*time.Millisecond {
		t.Fatalf("latency in [%v, %v], want within [10ms, 15ms]", minD, maxD)
	}
	if maxD-minD < 4*time.Millisecond {
		t.Fatalf("jitter spread only %v", maxD-minD)
	}
	if inv == 0 {
		t.Fatal("jitter larger than the frame gap never reordered")
	}
}

func TestReorderHold(t *testing.T) {
	// A lone reordered frame waits ReorderHold, then goes.
	out, st := run(t, Config{Seed: 1, Reorder: 1, ReorderHold: 7 * time.Millisecond}, 1, time.Millisecond)
	if len(out) != 1 || out[0].at != 7*time.Millisecond || st.Reordered != 1 {
		t.Fatalf("out %v stats %+v", out, st)
	}
	// With two frames 1ms apart, a held first frame goes right after the
	// second.
	for seed := uint64(0); seed < 100; seed++ {
		out, st = run(t, Config{Seed: seed, Reorder: 0.5}, 2, time.Millisecond)
		if st.Reordered == 0 {
			continue
		}
		first := binary.BigEndian.Uint32(out[0].data[14:])
		if st.Reordered == 1 && first == 1 {
			if out[1].at != time.Millisecond {
				t.Fatalf("held frame released at %v, want 1ms", out[1].at)
			}
			return
		}
	}
	t.Fatal("no seed reordered frame 0 behind frame 1")
}

func TestQueueOverflow(t *testing.T) {
	var clk linktest.Clock
	a, b := pipe.New(pipe.Config{Clock: &clk})
	f := Wrap(b, Config{Clock: &clk, Delay: time.Second, QueueLen: 3})
	for i := 0; i < 5; i++ {
		a.Send(frame(uint32(i)))
	}
	if _, ok := f.TryReceive(make([]byte, 100)); ok {
		t.Fatal("frame delivered before its delay")
	}
	if st := f.Stats(); st.Overflow != 2 || st.In != 5 {
		t.Fatalf("stats %+v", st)
	}
	if d, ok := f.NextDue(); !ok || d != time.Second {
		t.Fatalf("NextDue %v %v", d, ok)
	}
}

func TestNextDueIncludesInner(t *testing.T) {
	var clk linktest.Clock
	a, b := pipe.New(pipe.Config{Clock: &clk, Delay: 3 * time.Millisecond})
	f := Wrap(b, Config{Clock: &clk, Delay: time.Second})
	a.Send(frame(0))
	if d, ok := f.NextDue(); !ok || d != 3*time.Millisecond {
		t.Fatalf("NextDue = %v %v, want the inner link's 3ms", d, ok)
	}
}

func TestRealTime(t *testing.T) {
	before := runtime.NumGoroutine()
	a, b := pipe.New(pipe.Config{})
	f := Wrap(b, Config{Seed: 9, Delay: 5 * time.Millisecond, Duplicate: 1})
	start := time.Now()
	a.Send(frame(1))
	buf := make([]byte, 128)
	for i := 0; i < 2; i++ {
		n, err := f.Receive(buf)
		if err != nil || !bytes.Equal(buf[:n], frame(1)) {
			t.Fatalf("Receive %d: %v", i, err)
		}
	}
	if el := time.Since(start); el < 5*time.Millisecond {
		t.Fatalf("delivered after %v, before the 5ms delay", el)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := f.Receive(buf)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	f.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, link.ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	a.Close()
	waitGoroutines(t, before)
}

// nonPoller hides the pipe's Poller methods.
type nonPoller struct{ link.Link }

func TestNonPollerInner(t *testing.T) {
	before := runtime.NumGoroutine()
	a, b := pipe.New(pipe.Config{})
	f := Wrap(nonPoller{b}, Config{Seed: 1})
	buf := make([]byte, 128)
	f.TryReceive(buf) // starts the reader
	a.Send(frame(5))
	deadline := time.Now().Add(2 * time.Second)
	for {
		if n, ok := f.TryReceive(buf); ok {
			if !bytes.Equal(buf[:n], frame(5)) {
				t.Fatal("wrong frame")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("frame never arrived through the reader goroutine")
		}
		time.Sleep(time.Millisecond)
	}
	f.Close()
	a.Close()
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if runtime.NumGoroutine() <= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d goroutines left, want %d", runtime.NumGoroutine(), want)
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Loss: -0.1}, {Loss: 1.1}, {Duplicate: 2}, {Reorder: -1}, {Corrupt: math.NaN()},
		{Delay: -1}, {Jitter: -1}, {QueueLen: -1}, {ReorderHold: -1},
	} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if (Config{Loss: 1, Duplicate: 0, Reorder: 0.5, Corrupt: 1}).Validate() != nil {
		t.Error("valid config rejected")
	}
}

func TestNoAllocs(t *testing.T) {
	var clk linktest.Clock
	a, b := pipe.New(pipe.Config{Clock: &clk})
	f := Wrap(b, Config{Clock: &clk, Seed: 5, Duplicate: 0.3, Corrupt: 0.3, Reorder: 0.3, Jitter: time.Millisecond})
	fr := frame(0)
	buf := make([]byte, 2048)
	step := func() {
		a.Send(fr)
		clk.Advance(time.Millisecond)
		for {
			if _, ok := f.TryReceive(buf); !ok {
				break
			}
		}
	}
	for i := 0; i < 100; i++ {
		step()
	}
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Fatalf("%v allocs per frame", allocs)
	}
}
