package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/featherip/featherip/pbuf"
)

func TestSendBufCopyAndRefs(t *testing.T) {
	var b sendBuf
	w := func(d []byte, copyData bool) int { return b.write(d, copyData, 100, 4) }
	if n := w([]byte("hello "), true); n != 6 {
		t.Fatal(n)
	}
	ref := []byte("world")
	if n := w(ref, false); n != 5 {
		t.Fatal(n)
	}
	w([]byte("!!"), true)
	got := make([]byte, 13)
	if n := b.read(0, got); n != 13 || string(got) != "hello world!!" {
		t.Fatalf("read %q", got[:n])
	}
	mid := make([]byte, 4)
	b.read(4, mid)
	if string(mid) != "o wo" {
		t.Fatalf("read at 4: %q", mid)
	}
	b.ack(8)
	rest := make([]byte, 5)
	if n := b.read(0, rest); n != 5 || string(rest) != "rld!!" {
		t.Fatalf("after ack: %q", rest[:n])
	}
	// the chunk table bounds no-copy writes
	w([]byte("a"), false)
	w([]byte("b"), false)
	if n := w([]byte("c"), false); n != 0 {
		t.Fatalf("chunk table overflow accepted %d", n)
	}
	// the byte limit bounds copies
	var c sendBuf
	if n := c.write(make([]byte, 20), true, 10, 4); n != 10 || c.free(10) != 0 {
		t.Fatalf("limit: wrote %d free %d", n, c.free(10))
	}
}

func TestSendBufRingWraps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var b sendBuf
	var model []byte
	src := make([]byte, 700)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for i := 0; i < 2000; i++ {
		switch r.IntN(3) {
		case 0, 1:
			k := r.IntN(300)
			n := b.write(src[:k], r.IntN(4) != 0, 1000, 64)
			model = append(model, src[:n]...)
		case 2:
			k := r.IntN(len(model) + 1)
			b.ack(k)
			model = model[k:]
		}
		if b.len() != len(model) {
			t.Fatalf("len %d, model %d", b.len(), len(model))
		}
		off := r.IntN(len(model) + 1)
		got := make([]byte, len(model)-off)
		if n := b.read(off, got); n != len(got) || !bytes.Equal(got, model[off:]) {
			t.Fatalf("step %d: read at %d mismatch", i, off)
		}
	}
}

func TestOOOQueue(t *testing.T) {
	pool, _ := pbuf.New(pbuf.Config{})
	var q oooQueue
	ins := func(seq uint32, s string, fin bool) bool { return q.insert(pool, seq, []byte(s), fin, 4, 1000) }
	ins(110, "bbbbbbbbbb", false) // 110-120
	ins(130, "dddddddddd", false) // 130-140
	ins(105, "aaaaaaaaaaaaaaaaaaaa", false)
	// 105-110 new, 110-120 kept, 120-125 new (trimmed against 110-120? no: new covers it)
	total := 0
	for _, s := range q.segs {
		total += s.n
	}
	if total != 30 || q.bytes != 30 {
		t.Fatalf("bytes %d/%d segs %+v", total, q.bytes, q.segs)
	}
	var blocks [4]sackBlock
	n := q.sackBlocks(blocks[:])
	if n != 2 || blocks[0] != (sackBlock{Left: 105, Right: 125}) || blocks[1] != (sackBlock{Left: 130, Right: 140}) {
		t.Fatalf("blocks %v", blocks[:n])
	}
	// segments do not overlap and are sorted
	for i := 1; i < len(q.segs); i++ {
		if seqLT(q.segs[i].seq, q.segs[i-1].end()) {
			t.Fatalf("overlap %+v", q.segs)
		}
	}
	// bounds
	if ins(400, string(make([]byte, 2000)), false) {
		t.Fatal("bytes bound not enforced")
	}
	ins(200, "x", false)
	ins(300, "y", false)
	if ins(350, "z", false) {
		t.Fatal("fifth segment accepted with MaxOOOSegments 4")
	}
	q.release()
	if q.bytes != 0 || len(q.segs) != 0 || pool.Stats().InUse != 0 {
		t.Fatalf("release left %d bytes, %d buffers", q.bytes, pool.Stats().InUse)
	}
}

func TestSeqArithmetic(t *testing.T) {
	cases := []struct {
		a, b uint32
		lt   bool
	}{{1, 2, true}, {2, 1, false}, {0xfffffff0, 0x10, true}, {0x10, 0xfffffff0, false}, {5, 5, false}}
	for _, c := range cases {
		if seqLT(c.a, c.b) != c.lt || seqGEQ(c.a, c.b) == c.lt {
			t.Errorf("seqLT(%#x, %#x) = %v", c.a, c.b, seqLT(c.a, c.b))
		}
	}
	if !seqInRange(0xffffffff, 0xfffffff0, 0x10) || seqInRange(0x10, 0xfffffff0, 0x10) {
		t.Error("seqInRange across the wrap")
	}
	if seqMax(0xfffffff0, 5) != 5 || seqMin(0xfffffff0, 5) != 0xfffffff0 {
		t.Error("seqMax/seqMin across the wrap")
	}
}
