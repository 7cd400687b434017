package sack

import (
	"testing"
)

func blocks(una uint32, offs ...uint32) []Block {
	var b []Block
	for i := 0; i+1 < len(offs); i += 2 {
		b = append(b, Block{una + offs[i], una + offs[i+1]})
	}
	return b
}

func check(t *testing.T, s *Scoreboard, m *byteModel, lo, hi uint32) {
	t.Helper()
	if s.SackedBytes() != m.total() {
		t.Fatalf("SackedBytes %d, model %d", s.SackedBytes(), m.total())
	}
	if s.HighestSacked() != m.highest() {
		t.Fatalf("HighestSacked %d, model %d", s.HighestSacked(), m.highest())
	}
	for q := lo; q != hi; q++ {
		if s.IsSacked(q) != m.isSacked(q) {
			t.Fatalf("IsSacked(%d) %v, model %v", q, s.IsSacked(q), m.isSacked(q))
		}
	}
	// ranges sorted, disjoint, non-adjacent, above una
	for i := 0; i < s.Ranges(); i++ {
		r := s.Range(i)
		if !seqLT(r.Left, r.Right) || seqLT(r.Left, s.SndUna()) {
			t.Fatalf("bad range %d %+v una %d", i, r, s.SndUna())
		}
		if i > 0 && !seqLT(s.Range(i-1).Right, r.Left) {
			t.Fatalf("ranges %d,%d not disjoint/non-adjacent: %+v %+v", i-1, i, s.Range(i-1), r)
		}
	}
}

func TestUpdateBasics(t *testing.T) {
	for _, base := range []uint32{1000, 1<<32 - 1500, 1<<31 - 700, 1<<32 - 1} {
		s := New(base)
		m := newModel(base, 8000)
		nxt := base + 6000
		steps := []struct {
			una uint32
			b   []Block
		}{
			{base, blocks(base, 1000, 2000)},                         // first block
			{base, blocks(base, 3000, 3500, 1500, 2500)},             // out of order, overlapping
			{base, blocks(base, 2500, 3000)},                         // adjacent on both sides: merges all
			{base, blocks(base, 4000, 4100, 4200, 4300, 4100, 4200)}, // fills gaps
			{base + 100, blocks(base, 0, 50)},                        // D-SACK below una
			{base + 100, blocks(base, 50, 500)},                      // straddles una: trimmed
			{base + 1200, nil},                                       // una into a range
			{base + 1200, blocks(base, 5000, 4000)},                  // reversed: ignored
			{base + 1200, blocks(base, 5000, 5000)},                  // empty: ignored
			{base + 1200, blocks(base, 5900, 6100)},                  // beyond nxt: ignored
			{base + 4400, blocks(base, 4500, 4600)},                  // una past everything
		}
		for i, st := range steps {
			got := s.UpdateBounded(st.una, nxt, st.b)
			want := m.update(st.una, nxt, st.b)
			if got != want {
				t.Fatalf("base %d step %d: newly %d want %d", base, i, got, want)
			}
			check(t, &s, m, base, base+6500)
		}
		if s.Old() != 1 || s.Invalid() != 3 {
			t.Fatalf("counters old %d invalid %d", s.Old(), s.Invalid())
		}
		if s.Ranges() != 1 || s.SackedBytes() != 100 {
			t.Fatalf("final %d ranges %d bytes", s.Ranges(), s.SackedBytes())
		}
	}
}

func TestUpdateUnbounded(t *testing.T) {
	s := New(1<<32 - 10)
	if n := s.Update(1<<32-10, []Block{{5, 15}}); n != 10 || !s.IsSacked(5) || s.IsSacked(4) {
		t.Fatalf("update across wrap: %d", n)
	}
	if n := s.Update(1<<32-10, []Block{{0, 1 << 31}}); n != 0 || s.Invalid() != 1 {
		t.Fatalf("huge block accepted: %d", n)
	}
	s.Reset(77)
	if !s.Empty() || s.SackedBytes() != 0 || s.HighestSacked() != 77 {
		t.Fatal("Reset did not empty")
	}
}

func TestBoundedDropsHighest(t *testing.T) {
	s := New(0)
	for i := 0; i < MaxRanges; i++ {
		s.Update(0, []Block{{uint32(100*i + 10), uint32(100*i + 20)}})
	}
	if s.Ranges() != MaxRanges || s.Dropped() != 0 {
		t.Fatalf("ranges %d dropped %d", s.Ranges(), s.Dropped())
	}
	// A new highest range is dropped.
	if n := s.Update(0, []Block{{10000, 10010}}); n != 0 || s.Dropped() != 1 || s.IsSacked(10000) {
		t.Fatalf("new highest not dropped: n=%d", n)
	}
	// A new lower range evicts the highest.
	top := s.Range(MaxRanges - 1)
	if n := s.Update(0, []Block{{0, 5}}); n != 5 || s.Dropped() != 2 || s.IsSacked(top.Left) || !s.IsSacked(0) {
		t.Fatalf("lower range did not evict the highest: n=%d", n)
	}
	if s.SackedBytes() != 10*(MaxRanges-1)+5 {
		t.Fatalf("sacked bytes %d", s.SackedBytes())
	}
	// Merging into existing ranges needs no room.
	if n := s.Update(0, []Block{{20, 110}}); n != 90-0 || s.Dropped() != 2 {
		t.Fatalf("merge when full: n=%d dropped=%d", n, s.Dropped())
	}
}

func TestIsLost(t *testing.T) {
	const mss = 100
	s := New(5000)
	// SACK 3 separate segments above a hole at 5000..5100.
	s.Update(5000, blocks(5000, 100, 200, 300, 400, 500, 600))
	if !s.IsLost(5000, mss, 3) {
		t.Fatal("3 discontiguous ranges above: lost")
	}
	if s.IsLost(5200, mss, 3) {
		t.Fatal("only 2 ranges (200 bytes) above 5200: not lost")
	}
	if !s.IsLost(5200, mss, 2) {
		t.Fatal("dupThresh 2: 2 ranges above 5200: lost")
	}
	if s.IsLost(4999, mss, 1) {
		t.Fatal("below una is never lost")
	}
	// Contiguous bytes rule: one range of 201 bytes above.
	s.Reset(0)
	s.Update(0, blocks(0, 100, 301))
	if !s.IsLost(0, mss, 3) {
		t.Fatal("201 > 2*100 SACKed bytes above: lost")
	}
	s.Reset(0)
	s.Update(0, blocks(0, 100, 300))
	if s.IsLost(0, mss, 3) {
		t.Fatal("200 bytes above is not more than 2*SMSS")
	}
	// Inside the range: bytes counted strictly above seq.
	if !s.IsLost(99, mss, 2) || s.IsLost(200, mss, 2) {
		t.Fatal("partial range counting wrong")
	}
}

func TestPipeAndNextSeg(t *testing.T) {
	const mss, dt = 100, 3
	una := uint32(1<<32 - 300) // recovery across the wrap
	s := New(una)
	nxt := una + 1000
	// Holes: [0,100) [200,300) [400,500) ; SACKed [100,200) [300,400) [500,600); tail [600,1000).
	s.Update(una, blocks(una, 100, 200, 300, 400, 500, 600))
	// Lost: [0,100) (3 ranges above). [200,300): 2 ranges/200 bytes above: not lost.
	// Pipe with nothing retransmitted = 100 (hole 2) + 100 (hole 3) + 400 (tail).
	if p := s.Pipe(una, nxt, una, mss, dt); p != 600 {
		t.Fatalf("pipe %d want 600", p)
	}
	seq, n, rule, ok := s.NextSegRule(una, nxt, una, mss, dt)
	if !ok || seq != una || n != 100 || rule != RuleLost {
		t.Fatalf("rule 1: %d %d %d %v", seq-una, n, rule, ok)
	}
	// After retransmitting [0,100): pipe counts it once more.
	if p := s.Pipe(una, nxt, una+100, mss, dt); p != 700 {
		t.Fatalf("pipe %d want 700", p)
	}
	seq, n, rule, ok = s.NextSegRule(una, nxt, una+100, mss, dt)
	if !ok || seq != una+200 || n != 100 || rule != RuleUnsent {
		t.Fatalf("rule 3: %d %d %d %v", seq-una, n, rule, ok)
	}
	seq, n, rule, ok = s.NextSegRule(una, nxt, una+500, mss, dt)
	if !ok || seq != nxt-100 || n != 100 || rule != RuleRescue {
		t.Fatalf("rule 4: %d %d %d %v", seq-una, n, rule, ok)
	}
	sq, ln, rescue, ok := s.NextSeg(una, nxt, una+500, mss, dt)
	if !ok || !rescue || sq != seq || ln != n {
		t.Fatal("NextSeg disagrees with NextSegRule")
	}
	// Everything SACKed up to nxt: nothing to send.
	s.Update(una, blocks(una, 0, 1000))
	if _, _, _, ok := s.NextSeg(una, nxt, una, mss, dt); ok {
		t.Fatal("all SACKed, still a segment")
	}
	if p := s.Pipe(una, nxt, una, mss, dt); p != 0 {
		t.Fatalf("all SACKed pipe %d", p)
	}
}

func TestNoAllocs(t *testing.T) {
	s := New(0)
	b := []Block{{100, 200}, {300, 400}, {500, 600}}
	n := testing.AllocsPerRun(100, func() {
		s.Reset(0)
		s.Update(0, b)
		s.Update(50, b[:1])
		_ = s.Pipe(50, 1000, 50, 100, 3)
		_, _, _, _ = s.NextSeg(50, 1000, 50, 100, 3)
		_ = s.IsLost(60, 100, 3)
	})
	if n != 0 {
		t.Fatalf("allocs %v", n)
	}
}

func BenchmarkUpdate(b *testing.B) {
	s := New(0)
	blk := []Block{{1000, 2000}, {3000, 4000}, {5000, 6000}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Reset(0)
		s.Update(0, blk)
		_ = s.Pipe(0, 10000, 0, 1000, 3)
	}
}
