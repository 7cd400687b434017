package frameq

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/linktest"
)

func TestOrderAndDue(t *testing.T) {
	var clk linktest.Clock
	q := New(8, 64, &clk)
	q.Push([]byte("c"), 30)
	q.Push([]byte("a"), 10)
	q.Push([]byte("b1"), 20)
	q.Push([]byte("b2"), 20)
	buf := make([]byte, 64)
	if _, ok := q.TryPop(buf, 9); ok {
		t.Fatal("popped a frame before it was due")
	}
	if d, ok := q.NextDue(); !ok || d != 10 {
		t.Fatalf("NextDue = %v %v, want 10", d, ok)
	}
	var got []string
	for _, now := range []time.Duration{10, 25, 25, 25, 100} {
		if n, ok := q.TryPop(buf, now); ok {
			got = append(got, string(buf[:n]))
		}
	}
	want := []string{"a", "b1", "b2", "c"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if _, ok := q.NextDue(); ok {
		t.Fatal("NextDue on empty queue reported a frame")
	}
}

func TestFullDropsAndCounts(t *testing.T) {
	var clk linktest.Clock
	q := New(2, 16, &clk)
	for i := 0; i < 5; i++ {
		q.Push([]byte{byte(i)}, 0)
	}
	st := q.Stats()
	if st.Pushed != 2 || st.Dropped != 3 {
		t.Fatalf("stats %+v, want 2 pushed 3 dropped", st)
	}
	buf := make([]byte, 16)
	for i := 0; i < 2; i++ {
		n, ok := q.TryPop(buf, 0)
		if !ok || n != 1 || buf[0] != byte(i) {
			t.Fatalf("pop %d: n=%d ok=%v b=%v", i, n, ok, buf[0])
		}
	}
	// Slots are reused after popping.
	if _, ok := q.Push([]byte{9}, 0); !ok {
		t.Fatal("push after drain refused")
	}
}

func TestTruncation(t *testing.T) {
	var clk linktest.Clock
	q := New(2, 4, &clk)
	q.Push([]byte("abcdefgh"), 0) // longer than the slot
	buf := make([]byte, 2)
	n, ok := q.TryPop(buf, 0)
	if !ok || n != 2 || string(buf) != "ab" {
		t.Fatalf("n=%d ok=%v buf=%q", n, ok, buf)
	}
	if st := q.Stats(); st.PoppedBytes != 4 {
		t.Fatalf("PoppedBytes = %d, want 4 (slot size)", st.PoppedBytes)
	}
}

func TestReschedule(t *testing.T) {
	var clk linktest.Clock
	q := New(4, 16, &clk)
	held, _ := q.Push([]byte("held"), 100)
	q.Push([]byte("next"), 5)
	if _, ok := q.Reschedule(held, 5); !ok {
		t.Fatal("reschedule failed")
	}
	if _, ok := q.Reschedule(12345, 5); ok {
		t.Fatal("rescheduled an unknown frame")
	}
	buf := make([]byte, 16)
	n, _ := q.TryPop(buf, 5)
	if string(buf[:n]) != "next" {
		t.Fatalf("first = %q, want next", buf[:n])
	}
	n, _ = q.TryPop(buf, 5)
	if string(buf[:n]) != "held" {
		t.Fatalf("second = %q, want held", buf[:n])
	}
}

func TestPopRealTime(t *testing.T) {
	clk := link.MonotonicClock()
	q := New(4, 16, clk)
	start := time.Now()
	q.Push([]byte("x"), clk.Now()+20*time.Millisecond)
	buf := make([]byte, 16)
	n, err := q.Pop(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("x")) {
		t.Fatalf("Pop = %q, %v", buf[:n], err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("Pop returned after %v, before the frame was due", el)
	}
	// A frame pushed while Pop waits wakes it.
	go func() {
		time.Sleep(10 * time.Millisecond)
		q.Push([]byte("y"), clk.Now())
	}()
	n, err = q.Pop(buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Fatalf("Pop = %q, %v", buf[:n], err)
	}
}

func TestCloseUnblocksPop(t *testing.T) {
	q := New(4, 16, link.MonotonicClock())
	errc := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := q.Pop(make([]byte, 16))
			errc <- err
		}()
	}
	time.Sleep(10 * time.Millisecond)
	q.Close()
	for i := 0; i < 2; i++ {
		select {
		case err := <-errc:
			if !errors.Is(err, link.ErrClosed) {
				t.Fatalf("Pop after Close: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Close did not unblock Pop")
		}
	}
	if _, ok := q.Push([]byte("z"), 0); ok {
		t.Fatal("closed queue accepted a frame")
	}
}

func TestNoAllocs(t *testing.T) {
	var clk linktest.Clock
	q := New(4, 1514, &clk)
	frame := make([]byte, 1514)
	buf := make([]byte, 1514)
	q.Push(frame, 0)
	q.TryPop(buf, 0)
	allocs := testing.AllocsPerRun(1000, func() {
		q.Push(frame, 0)
		q.TryPop(buf, 0)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per push/pop", allocs)
	}
}

// PopBatch takes every due frame in order, up to the batch size; a push
// after a Pop started waiting wakes it.
func TestPopBatch(t *testing.T) {
	q := New(8, 64, link.MonotonicClock())
	for _, f := range []string{"a", "b", "c"} {
		q.Push([]byte(f), 0)
	}
	bufs := [][]byte{make([]byte, 64), make([]byte, 64)}
	sizes := make([]int, 2)
	n, err := q.PopBatch(bufs, sizes)
	if err != nil || n != 2 || string(bufs[0][:sizes[0]]) != "a" || string(bufs[1][:sizes[1]]) != "b" {
		t.Fatalf("PopBatch = %d %v (%q %q), want a and b", n, err, bufs[0][:sizes[0]], bufs[1][:sizes[1]])
	}
	n, err = q.PopBatch(bufs, sizes)
	if err != nil || n != 1 || string(bufs[0][:sizes[0]]) != "c" {
		t.Fatalf("PopBatch = %d %v, want c", n, err)
	}
	done := make(chan string)
	go func() {
		n, err := q.PopBatch(bufs, sizes)
		if err != nil || n != 1 {
			done <- fmt.Sprint(n, err)
			return
		}
		done <- string(bufs[0][:sizes[0]])
	}()
	time.Sleep(10 * time.Millisecond) // let it block
	q.Push([]byte("d"), 0)
	if got := <-done; got != "d" {
		t.Fatalf("blocked PopBatch got %q, want d", got)
	}
}

// PopBatchSwap hands over the slot buffers: the frames arrive intact, the
// number of buffers stays the same and nothing is allocated.
func TestPopBatchSwap(t *testing.T) {
	q := New(4, 64, link.MonotonicClock())
	bufs := [][]byte{make([]byte, 64), make([]byte, 64), make([]byte, 10)}
	sizes := make([]int, 3)
	seen := map[*byte]bool{}
	for round := range 20 {
		frames := []string{fmt.Sprint("x", round), fmt.Sprint("y", round), fmt.Sprint("z", round)}
		for _, f := range frames {
			q.Push([]byte(f), 0)
		}
		n, err := q.PopBatchSwap(bufs, sizes)
		if err != nil || n != 3 {
			t.Fatalf("round %d: PopBatchSwap = %d %v", round, n, err)
		}
		for i, f := range frames {
			if got := string(bufs[i][:sizes[i]]); got != f {
				t.Fatalf("round %d: frame %d = %q, want %q", round, i, got, f)
			}
		}
		if len(bufs[2]) != 10 {
			t.Fatalf("a buffer too short to swap was exchanged (len %d)", len(bufs[2]))
		}
		for _, b := range bufs[:2] {
			seen[&b[:1][0]] = true
		}
	}
	// The two swappable caller buffers and the queue's slots (at most 4)
	// circulate; no new ones appear.
	if len(seen) > 2+4 {
		t.Fatalf("%d distinct buffers circulated, want at most 6", len(seen))
	}
	allocs := testing.AllocsPerRun(100, func() {
		q.Push([]byte("f"), 0)
		q.Push([]byte("g"), 0)
		q.PopBatchSwap(bufs, sizes)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per push and swap, want 0", allocs)
	}
}
