package featherip

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestDgramQueue(t *testing.T) {
	src := netip.MustParseAddrPort("10.0.0.9:99")
	t.Run("fifo with wrap-around and growth", func(t *testing.T) {
		q := dgramQueue{maxBytes: 5000, maxDgrams: 64}
		r := rand.New(rand.NewPCG(1, 2))
		var model [][]byte
		buf := make([]byte, 6000)
		for step := range 5000 {
			if r.IntN(2) == 0 {
				d := pattern(r.IntN(1500), step)
				fits := len(model) < 64 && q.used+len(d) <= 5000
				if got := q.push(d, src); got != fits {
					t.Fatalf("step %d: push %d bytes = %v, want %v (used %d)", step, len(d), got, fits, q.used)
				}
				if fits {
					model = append(model, d)
				}
				continue
			}
			n, from, ok := q.pop(buf)
			if ok != (len(model) > 0) {
				t.Fatalf("step %d: pop ok = %v with %d queued", step, ok, len(model))
			}
			if !ok {
				continue
			}
			if from != src || !bytes.Equal(buf[:n], model[0]) {
				t.Fatalf("step %d: popped %d bytes, want %d (differs)", step, n, len(model[0]))
			}
			model = model[1:]
			if q.len() != len(model) {
				t.Fatalf("len %d, want %d", q.len(), len(model))
			}
		}
		if len(q.buf) > 5000 || len(q.ents) > 64 {
			t.Errorf("buffers grew past the bounds: %d bytes, %d entries", len(q.buf), len(q.ents))
		}
	})
	t.Run("bounds", func(t *testing.T) {
		q := dgramQueue{maxBytes: 100, maxDgrams: 3}
		if !q.push(make([]byte, 100), src) || q.push(nil, src) && q.push([]byte{1}, src) {
			t.Fatal("byte bound not kept")
		}
		q.free()
		for range 3 {
			if !q.push(nil, src) {
				t.Fatal("empty datagram refused")
			}
		}
		if q.push(nil, src) {
			t.Fatal("datagram bound not kept")
		}
		if q.peekLen() != 0 {
			t.Fatal("peekLen")
		}
	})
	t.Run("truncating pop", func(t *testing.T) {
		q := dgramQueue{maxBytes: 100, maxDgrams: 3}
		q.push([]byte("hello world"), src)
		q.push([]byte("next"), src)
		b := make([]byte, 5)
		n, _, _ := q.pop(b)
		if string(b[:n]) != "hello" {
			t.Fatalf("got %q", b[:n])
		}
		n, _, _ = q.pop(b)
		if string(b[:n]) != "next" || q.used != 0 {
			t.Fatalf("got %q, used %d", b[:n], q.used)
		}
	})
	t.Run("setLimits keeps queued data", func(t *testing.T) {
		q := dgramQueue{maxBytes: 100, maxDgrams: 3}
		q.push(make([]byte, 80), src)
		q.setLimits(10, 3)
		if q.len() != 1 || q.push([]byte{1}, src) {
			t.Fatal("shrinking dropped data or accepted more")
		}
		q.pop(make([]byte, 80))
		q.setLimits(10, 3)
		if q.buf != nil {
			t.Fatal("empty queue kept its buffer")
		}
	})
}

func TestDeadline(t *testing.T) {
	d := newDeadline()
	if d.exceeded() {
		t.Fatal("new deadline exceeded")
	}
	d.set(time.Now().Add(-time.Second))
	if !d.exceeded() {
		t.Fatal("past deadline not exceeded")
	}
	d.set(time.Now().Add(30 * time.Millisecond))
	if d.exceeded() {
		t.Fatal("future deadline exceeded at once")
	}
	c := d.wait()
	// Extending keeps the channel.
	d.set(time.Now().Add(60 * time.Millisecond))
	if d.wait() != c {
		t.Fatal("extending replaced the open channel")
	}
	start := time.Now()
	select {
	case <-c:
		if el := time.Since(start); el < 50*time.Millisecond {
			t.Fatalf("fired after %v, before the extended deadline", el)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("deadline did not fire")
	}
	d.set(time.Time{})
	if d.exceeded() {
		t.Fatal("cleared deadline still exceeded")
	}
	d.set(time.Now().Add(10 * time.Millisecond))
	d.set(time.Time{}) // removed before it fires
	time.Sleep(30 * time.Millisecond)
	if d.exceeded() {
		t.Fatal("a removed deadline fired")
	}
	d.stop()
}
