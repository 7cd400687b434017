package featherip

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestRecvRingBasics(t *testing.T) {
	q := recvRing{limit: 10000}
	if q.peek() != nil || q.len() != 0 || len(q.buf) != 0 {
		t.Fatal("a new ring holds memory or data")
	}
	if n := q.write([]byte("hello")); n != 5 || q.len() != 5 {
		t.Fatalf("write = %d, len %d", n, q.len())
	}
	if len(q.buf) != minRingAlloc {
		t.Errorf("first allocation %d, want %d", len(q.buf), minRingAlloc)
	}
	b := make([]byte, 3)
	if n := q.read(b); n != 3 || string(b) != "hel" {
		t.Fatalf("read = %d %q", n, b)
	}
	if string(q.peek()) != "lo" {
		t.Fatalf("peek = %q", q.peek())
	}
	q.discard(100)
	if q.len() != 0 || q.r != 0 {
		t.Fatalf("discard past the end: len %d r %d", q.len(), q.r)
	}
	q.free()
	if q.buf != nil || q.len() != 0 {
		t.Fatal("free kept memory")
	}
}

func TestRecvRingLimit(t *testing.T) {
	q := recvRing{limit: 6000}
	if n := q.write(make([]byte, 5000)); n != 5000 {
		t.Fatalf("write 5000 = %d", n)
	}
	if n := q.write(make([]byte, 5000)); n != 1000 {
		t.Fatalf("write beyond the limit = %d, want 1000", n)
	}
	if len(q.buf) != 6000 || q.len() != 6000 {
		t.Fatalf("buf %d len %d, want both 6000", len(q.buf), q.len())
	}
	if n := q.write([]byte{1}); n != 0 {
		t.Fatalf("write to a full ring = %d", n)
	}
}

// TestRecvRingModel checks the ring against a plain byte slice under random
// writes, reads, peeks and discards, with wrap-around and growth.
func TestRecvRingModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		limit := minRingAlloc + r.IntN(20000)
		q := recvRing{limit: limit}
		var model []byte
		next := byte(round)
		for step := 0; step < 2000; step++ {
			switch r.IntN(4) {
			case 0, 1:
				p := make([]byte, r.IntN(3000))
				for i := range p {
					p[i] = next
					next++
				}
				n := q.write(p)
				if want := min(len(p), limit-len(model)); n != want {
					t.Fatalf("round %d step %d: write %d = %d, want %d", round, step, len(p), n, want)
				}
				model = append(model, p[:n]...)
			case 2:
				b := make([]byte, r.IntN(4000))
				n := q.read(b)
				if want := min(len(b), len(model)); n != want || !bytes.Equal(b[:n], model[:n]) {
					t.Fatalf("round %d step %d: read %d bytes, want %d equal to the model", round, step, n, want)
				}
				model = model[n:]
			case 3:
				p := q.peek()
				if len(model) > 0 && len(p) == 0 || !bytes.Equal(p, model[:len(p)]) {
					t.Fatalf("round %d step %d: peek differs from the model", round, step)
				}
				k := r.IntN(len(p) + 1)
				q.discard(k)
				model = model[k:]
			}
			if q.len() != len(model) || len(q.buf) > limit {
				t.Fatalf("round %d step %d: len %d (model %d), cap %d (limit %d)", round, step, q.len(), len(model), len(q.buf), limit)
			}
		}
	}
}

// TestRecvRingPeekSurvivesGrowth: a peeked slice keeps its bytes while
// the ring grows and more data arrives (WriteTo relies on it).
func TestRecvRingPeekSurvivesGrowth(t *testing.T) {
	q := recvRing{limit: 1 << 20}
	q.write([]byte("abcdef"))
	p := q.peek()
	q.write(bytes.Repeat([]byte{'z'}, 100000)) // forces growth
	if string(p) != "abcdef" {
		t.Fatalf("peeked bytes changed to %q", p)
	}
	q.discard(len(p))
	if q.len() != 100000 || q.peek()[0] != 'z' {
		t.Fatal("discarding the peeked bytes lost data")
	}
}
