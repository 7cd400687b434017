package pbuf

import (
	"bytes"
	"errors"
	"testing"
)

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Headroom: -1},
		{Classes: []Class{{Size: 0, Count: 1}}},
		{Classes: []Class{{Size: 10, Count: 0}}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestPrependAppendTrim(t *testing.T) {
	p := newPool(t, Config{Headroom: 16, Classes: []Class{{Size: 64, Count: 2}}})
	b := p.Get(4)
	copy(b.Bytes(), "data")
	if b.Headroom() != 16 || b.Tailroom() != 60 {
		t.Fatalf("headroom %d tailroom %d", b.Headroom(), b.Tailroom())
	}
	copy(b.Prepend(3), "hdr")
	copy(b.Append(3), "end")
	if got := string(b.Bytes()); got != "hdrdataend" {
		t.Fatalf("got %q", got)
	}
	if b.Prepend(14) != nil {
		t.Fatal("Prepend beyond headroom succeeded")
	}
	if b.Append(61) != nil {
		t.Fatal("Append beyond tailroom succeeded")
	}
	b.TrimFront(3)
	b.Truncate(4)
	if got := string(b.Bytes()); got != "data" {
		t.Fatalf("after trim got %q", got)
	}
	b.TrimFront(100)
	if b.Len() != 0 {
		t.Fatalf("len %d after over-trim", b.Len())
	}
	b.Free()
}

func TestExhaustionCountedAndSurvivable(t *testing.T) {
	p := newPool(t, Config{Classes: []Class{{Size: 100, Count: 2}, {Size: 1000, Count: 1}}})
	a, b, c := p.Get(50), p.Get(50), p.Get(50) // third spills into the larger class
	if a == nil || b == nil || c == nil {
		t.Fatal("gets within bounds failed")
	}
	if cap(c.data) < 1000 {
		t.Fatalf("spill did not use larger class")
	}
	if d := p.Get(1); d != nil {
		t.Fatal("Get beyond every bound succeeded")
	}
	if p.Get(1001) != nil {
		t.Fatal("Get larger than every class succeeded")
	}
	s := p.Stats()
	if s.Fails != 1 || s.TooLarge != 1 || s.InUse != 3 || s.Allocated != 3 {
		t.Fatalf("stats %+v", s)
	}
	a.Free()
	if e := p.Get(10); e != a {
		t.Fatal("freed buffer not reused")
	}
	if got := p.Stats().Allocated; got != 3 {
		t.Fatalf("allocated grew to %d", got)
	}
}

func TestDoubleFreePanics(t *testing.T) {
	p := newPool(t, Config{})
	b := p.Get(1)
	b.Free()
	defer func() {
		if recover() == nil {
			t.Fatal("double free did not panic")
		}
	}()
	b.Free()
}

func TestChain(t *testing.T) {
	p := newPool(t, Config{})
	a, b := p.Get(3), p.Get(2)
	copy(a.Bytes(), "abc")
	copy(b.Bytes(), "de")
	a.SetNext(b)
	if ChainLen(a) != 5 {
		t.Fatalf("ChainLen %d", ChainLen(a))
	}
	dst := make([]byte, 8)
	if n := CopyChain(dst, a); !bytes.Equal(dst[:n], []byte("abcde")) {
		t.Fatalf("CopyChain %q", dst[:n])
	}
	FreeChain(a)
	if p.Stats().InUse != 0 {
		t.Fatalf("in use %d after FreeChain", p.Stats().InUse)
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	p := newPool(t, Config{})
	p.Get(1500).Free()
	allocs := testing.AllocsPerRun(1000, func() {
		b := p.Get(1500)
		b.Prepend(40)
		b.Free()
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per Get/Free", allocs)
	}
}

func BenchmarkGetFree(b *testing.B) {
	p, _ := New(Config{})
	b.ReportAllocs()
	for b.Loop() {
		p.Get(1500).Free()
	}
}
