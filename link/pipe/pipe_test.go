package pipe

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/linktest"
)

func TestDefaults(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	defer b.Close()
	if a.MTU() != 1500 || b.MTU() != 1500 {
		t.Fatalf("MTU = %d/%d, want 1500", a.MTU(), b.MTU())
	}
	if a.Kind() != link.Ethernet {
		t.Fatal("Kind is not Ethernet")
	}
	ma, mb := a.HardwareAddr(), b.HardwareAddr()
	if bytes.Equal(ma, mb) {
		t.Fatalf("both ends have MAC %v", ma)
	}
	for _, m := range []([]byte){ma, mb} {
		if len(m) != 6 || m[0]&2 == 0 || m[0]&1 != 0 {
			t.Fatalf("MAC %x is not locally administered unicast", m)
		}
	}
	if a.Peer() != b || b.Peer() != a {
		t.Fatal("Peer is wrong")
	}
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{MTU: -1},
		{QueueLen: -1},
		{Delay: -time.Second},
		{MACA: []byte{1, 2, 3}},
		{MACB: make([]byte, 8)},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", c)
				}
			}()
			New(c)
		}()
	}
	if err := (Config{MTU: 9000, MACA: DefaultMACB, MACB: DefaultMACA}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestVirtualTimeDelay(t *testing.T) {
	var clk linktest.Clock
	a, b := New(Config{Clock: &clk, Delay: 10 * time.Millisecond})
	frame := linktest.Frame(b.HardwareAddr(), a.HardwareAddr(), 0x0800, []byte("hello"))
	if err := a.Send(frame); err != nil {
		t.Fatal(err)
	}
	frame[14] = 'X' // the pipe must have copied the frame
	buf := make([]byte, 1514)
	if _, ok := b.TryReceive(buf); ok {
		t.Fatal("frame arrived before its delay")
	}
	if due, ok := b.NextDue(); !ok || due != 10*time.Millisecond {
		t.Fatalf("NextDue = %v %v", due, ok)
	}
	if _, ok := a.TryReceive(buf); ok {
		t.Fatal("sender received its own frame")
	}
	clk.Advance(9 * time.Millisecond)
	if _, ok := b.TryReceive(buf); ok {
		t.Fatal("frame arrived 1ms early")
	}
	clk.Advance(time.Millisecond)
	n, ok := b.TryReceive(buf)
	if !ok || string(buf[14:n]) != "hello" {
		t.Fatalf("got %q %v", buf[:n], ok)
	}
	// And the other direction.
	b.Send(frame)
	clk.Advance(10 * time.Millisecond)
	if n, ok := a.TryReceive(buf); !ok || string(buf[14:n]) != "Xello" {
		t.Fatalf("reverse got %q %v", buf[:n], ok)
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.Sent != 1 || sa.Received != 1 || sb.Sent != 1 || sb.Received != 1 || sa.SentBytes != 19 || sb.ReceivedBytes != 19 {
		t.Fatalf("stats a=%+v b=%+v", sa, sb)
	}
}

func TestQueueFullDrops(t *testing.T) {
	var clk linktest.Clock
	a, b := New(Config{Clock: &clk, QueueLen: 4})
	for i := 0; i < 10; i++ {
		if err := a.Send([]byte{byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.Dropped != 6 {
		t.Fatalf("peer Dropped = %d, want 6", st.Dropped)
	}
	buf := make([]byte, 64)
	for i := 0; i < 4; i++ {
		n, ok := b.TryReceive(buf)
		if !ok || n != 14 || buf[0] != byte(i) {
			t.Fatalf("frame %d: ok=%v n=%d first=%d", i, ok, n, buf[0])
		}
	}
	if _, ok := b.TryReceive(buf); ok {
		t.Fatal("dropped frame delivered")
	}
}

func TestTooLong(t *testing.T) {
	a, b := New(Config{MTU: 100})
	defer b.Close()
	if err := a.Send(make([]byte, 114)); err != nil {
		t.Fatalf("MTU+14 bytes: %v", err)
	}
	if err := a.Send(make([]byte, 115)); !errors.Is(err, link.ErrFrameTooLong) {
		t.Fatalf("MTU+15 bytes: %v", err)
	}
	if st := a.Stats(); st.TooLong != 1 || st.Sent != 1 {
		t.Fatalf("stats %+v", st)
	}
	a.Close()
	if err := a.Send(make([]byte, 20)); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestSendToClosedPeer(t *testing.T) {
	var clk linktest.Clock
	a, b := New(Config{Clock: &clk})
	b.Close()
	if err := a.Send(make([]byte, 20)); err != nil {
		t.Fatalf("Send to closed peer: %v", err)
	}
	if st := b.Stats(); st.Dropped != 1 {
		t.Fatalf("closed peer Dropped = %d", st.Dropped)
	}
	if _, ok := b.TryReceive(make([]byte, 64)); ok {
		t.Fatal("closed end received")
	}
	if _, err := b.Receive(make([]byte, 64)); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Receive on closed end: %v", err)
	}
}

func TestRealTime(t *testing.T) {
	a, b := New(Config{Delay: 20 * time.Millisecond})
	defer a.Close()
	defer b.Close()
	start := time.Now()
	if err := a.Send([]byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := b.Receive(buf)
	if err != nil || string(buf[:n]) != "0123456789abcdef" {
		t.Fatalf("Receive = %q %v", buf[:n], err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("frame arrived after %v, before its 20ms delay", el)
	}
	// Truncation to a short buffer.
	a.Send([]byte("0123456789abcdef"))
	n, err = b.Receive(buf[:4])
	if err != nil || n != 4 || string(buf[:4]) != "0123" {
		t.Fatalf("short Receive = %q %v", buf[:n], err)
	}
}

func TestCloseUnblocksReceive(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := b.Receive(make([]byte, 64))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, link.ErrClosed) {
			t.Fatalf("Receive returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
}

func TestConcurrent(t *testing.T) {
	a, b := New(Config{QueueLen: 1024})
	const n = 500
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			a.Send([]byte{byte(i), byte(i >> 8), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
		}
	}()
	got := 0
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			m, err := b.Receive(buf)
			if err != nil || m != 14 || int(buf[0])|int(buf[1])<<8 != i {
				t.Errorf("frame %d: m=%d err=%v", i, m, err)
				return
			}
			got++
		}
	}()
	wg.Wait()
	a.Close()
	b.Close()
	if got != n {
		t.Fatalf("received %d of %d", got, n)
	}
}

func TestNoAllocs(t *testing.T) {
	var clk linktest.Clock
	a, b := New(Config{Clock: &clk})
	frame := make([]byte, 1514)
	buf := make([]byte, 1514)
	a.Send(frame)
	b.TryReceive(buf)
	allocs := testing.AllocsPerRun(1000, func() {
		a.Send(frame)
		b.TryReceive(buf)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per frame", allocs)
	}
}

func BenchmarkSendReceive(b *testing.B) {
	var clk linktest.Clock
	x, y := New(Config{Clock: &clk})
	frame := make([]byte, 1514)
	buf := make([]byte, 1514)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		x.Send(frame)
		y.TryReceive(buf)
	}
}

// countingClock counts its reads.
type countingClock struct{ reads int }

func (c *countingClock) Now() time.Duration { c.reads++; return time.Second }

// TestZeroDelayReadsNoClock: without a delay, frames are due at once, so
// neither Send nor the blocking Receive reads the clock (a clock read per
// frame is a measurable share of a bulk transfer's CPU).
func TestZeroDelayReadsNoClock(t *testing.T) {
	clk := &countingClock{}
	a, b := New(Config{Clock: clk})
	defer a.Close()
	defer b.Close()
	buf := make([]byte, 64)
	for i := 0; i < 3; i++ {
		if err := a.Send([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if n, err := b.Receive(buf); err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("frame %d: %v %v, out of order or lost", i, buf[:n], err)
		}
	}
	if clk.reads != 0 {
		t.Fatalf("%d clock reads for zero-delay frames", clk.reads)
	}
	// With a delay the clock is what makes a frame due.
	c, d := New(Config{Clock: clk, Delay: time.Millisecond})
	defer c.Close()
	defer d.Close()
	c.Send([]byte{9})
	if _, ok := d.TryReceive(buf); ok || clk.reads == 0 {
		t.Fatalf("delayed frame received at once (ok %v) or no clock read (%d)", ok, clk.reads)
	}
}

// ReceiveBatch and ReceiveBatchSwap return every queued frame in order,
// several per call.
func TestReceiveBatch(t *testing.T) {
	a, b := New(Config{QueueLen: 8})
	defer a.Close()
	defer b.Close()
	bufs := make([][]byte, 4)
	for i := range bufs {
		bufs[i] = make([]byte, 1600)
	}
	sizes := make([]int, 4)
	for _, swap := range []bool{false, true} {
		for i := range 3 {
			if err := a.Send([]byte{byte(i), 0xee}); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		var err error
		if swap {
			n, err = b.ReceiveBatchSwap(bufs, sizes)
		} else {
			metas := make([]link.RxMeta, 4)
			n, err = b.ReceiveBatch(bufs, sizes, metas)
		}
		if err != nil || n != 3 {
			t.Fatalf("swap %v: got %d frames, %v; want 3", swap, n, err)
		}
		for i := range n {
			if got := bufs[i][:sizes[i]]; len(got) != 2 || got[0] != byte(i) {
				t.Fatalf("swap %v: frame %d = %x", swap, i, got)
			}
		}
	}
}

// Held writes reach the peer only at FlushWrites, all of them and in
// order, also when there are more than the end holds at once; in steady
// state holding allocates nothing.
func TestHoldWrites(t *testing.T) {
	a, b := New(Config{QueueLen: 256})
	defer a.Close()
	defer b.Close()
	buf := make([]byte, 1600)
	a.HoldWrites()
	const n = maxHeld + 10
	for i := range n {
		if err := a.Send([]byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	// The first maxHeld frames went over when the hold buffer filled up.
	if got := b.rx.Len(); got != maxHeld {
		t.Fatalf("%d frames queued at the peer before FlushWrites, want %d", got, maxHeld)
	}
	if err := a.FlushWrites(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		k, ok := b.TryReceive(buf)
		if !ok || k != 4 || buf[0] != byte(i) {
			t.Fatalf("frame %d: %v %x", i, ok, buf[:k])
		}
	}
	// Not holding: Send goes through at once.
	a.Send([]byte{9})
	if k, ok := b.TryReceive(buf); !ok || k != 1 || buf[0] != 9 {
		t.Fatalf("unheld frame: %v %x", ok, buf[:k])
	}
	if st := a.Stats(); st.Sent != n+1 {
		t.Fatalf("Sent = %d, want %d", st.Sent, n+1)
	}
	bufs := [][]byte{make([]byte, 1600), make([]byte, 1600), make([]byte, 1600)}
	sizes := make([]int, 3)
	frame := make([]byte, 1000)
	round := func() {
		a.HoldWrites()
		a.Send(frame)
		a.Send(frame)
		a.FlushWrites()
		b.ReceiveBatchSwap(bufs, sizes)
	}
	for range 10 {
		round()
	}
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Fatalf("%v allocations per held round, want 0", allocs)
	}
}
