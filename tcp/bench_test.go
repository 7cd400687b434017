package tcp

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// stream is an established connection between the two stacks of a pair
// with a sink on the server side.
type stream struct {
	pr       *pair
	cl, srv  *PCB
	received int
	chunk    []byte
}

func newStream(t testing.TB, o pairOpts) *stream {
	pr := newPair(t, o)
	st := &stream{pr: pr, chunk: make([]byte, 16<<10)}
	l, _ := pr.b.tcp.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 5001), 8)
	l.OnAccept(func(l, c *PCB) {
		st.srv = c
		c.SetAutoRecved(true)
		c.OnRecv(func(c *PCB, d []byte) { st.received += len(d) })
	})
	cl, _ := pr.a.tcp.NewPCB()
	cl.SetNoDelay(true)
	cl.Connect(netip.AddrPortFrom(pr.b.ip, 5001))
	st.cl = cl
	if !pr.run(func() bool { return st.srv != nil && cl.State() == Established }, time.Second) {
		t.Fatal("no connection")
	}
	return st
}

// send moves n bytes from client to server.
func (st *stream) send(t testing.TB, n int) {
	target := st.received + n
	left := n
	fill := func() {
		for left > 0 {
			w, _ := st.cl.Write(st.chunk[:min(len(st.chunk), left)])
			if w == 0 {
				return
			}
			left -= w
		}
	}
	fill()
	for st.received < target {
		if !st.pr.step() {
			nx, ok := st.pr.next()
			if !ok {
				t.Fatalf("stalled at %d of %d", st.received, target)
			}
			if nx > st.pr.clk.t {
				st.pr.clk.t = nx
			} else {
				st.pr.clk.t += time.Microsecond
			}
		}
		fill()
	}
}

func TestBulkZeroAllocs(t *testing.T) {
	st := newStream(t, pairOpts{delay: 100 * time.Microsecond})
	st.send(t, 4<<20) // warm up: buffers, windows, pools
	segs := st.pr.a.tcp.Stats().OutSegs
	allocs := testing.AllocsPerRun(10, func() { st.send(t, 256<<10) })
	segs = (st.pr.a.tcp.Stats().OutSegs - segs) / 11
	t.Logf("%.1f allocations per 256 KiB (%d segments)", allocs, segs)
	if allocs > 0 {
		t.Fatalf("%.1f allocations per 256 KiB transfer of %d segments, want 0", allocs, segs)
	}
}

func BenchmarkBulkTransfer(b *testing.B) {
	st := newStream(b, pairOpts{delay: 100 * time.Microsecond})
	st.send(b, 1<<20)
	b.ReportAllocs()
	b.SetBytes(64 << 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.send(b, 64<<10)
	}
}

func BenchmarkConnectionSetup(b *testing.B) {
	pr := newPair(b, pairOpts{cfg: Config{TimeWait: time.Millisecond}})
	l, _ := pr.b.tcp.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 128)
	accepted := 0
	l.OnAccept(func(l, c *PCB) { accepted++; c.Close() })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := pr.a.tcp.NewPCB()
		if err != nil {
			b.Fatal(err)
		}
		up := false
		c.OnConnected(func(c *PCB, err error) { up = err == nil })
		c.Connect(netip.AddrPortFrom(pr.b.ip, 80))
		pr.run(func() bool { return up }, time.Second)
		c.Close()
		pr.run(func() bool { return pr.a.tcp.NumPCBs() == 0 && pr.b.tcp.NumPCBs() == 1 }, time.Second)
	}
	if accepted != b.N {
		b.Fatalf("accepted %d of %d", accepted, b.N)
	}
}

// TestIdleConnectionMemory reports the heap bytes an idle established
// connection (both ends) costs and keeps it bounded.
func TestIdleConnectionMemory(t *testing.T) {
	pr := newPair(t, pairOpts{cfg: Config{MaxPCBs: 2000}})
	l, _ := pr.b.tcp.NewPCB()
	l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 1024)
	l.OnAccept(func(l, c *PCB) {})
	const n = 500
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	keep := make([]*PCB, 0, n)
	for i := 0; i < n; i++ {
		c, _ := pr.a.tcp.NewPCB()
		c.Connect(netip.AddrPortFrom(pr.b.ip, 80))
		keep = append(keep, c)
	}
	pr.run(func() bool { return pr.b.tcp.Stats().CurrEstab == n }, 10*time.Second)
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	per := int(ms1.HeapAlloc-ms0.HeapAlloc) / n / 2
	t.Logf("%d heap bytes per idle established connection end", per)
	if pr.a.tcp.Stats().CurrEstab != n {
		t.Fatalf("established %d", pr.a.tcp.Stats().CurrEstab)
	}
	if per > 4096 {
		t.Fatalf("%d bytes per idle connection", per)
	}
	runtime.KeepAlive(keep)
}
