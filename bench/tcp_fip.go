package bench

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/featherip/featherip/tcp"
)

// FipTCP is featherip's side of the TCP figures, with the callback API of
// package tcp on a FipPair pumped by the caller's goroutine (as the UDP
// figures are). The net.Conn rows use featherip's concurrent shell: the
// TCPConn and TCPListener of two featherip.Hosts on a real-time pipe
// (FipShellPair), with goroutines of their own, as gVisor's gonet rows do.
//
// The TCP layers use their defaults (64 KiB send and 256 KiB receive buffers,
// CUBIC, SACK, timestamps, window scaling, 40 ms delayed ACK) except
// TimeWait, 1 s as on the gVisor side, and MaxPCBs, sized to the figure.
type FipTCP struct{}

var _ TCPStack = FipTCP{}

// fipTCPPair is a FipPair with a TCP layer on each host.
type fipTCPPair struct {
	*FipPair
	ta, tb *tcp.Protocol

	// dial's OnConnected callback and its result, made once per pair so
	// that a dial allocates nothing in the harness
	onConnected func(*tcp.PCB, error)
	connDone    bool
	connErr     error
}

func newFipTCPPair(mtu, maxPCBs int) (*fipTCPPair, error) {
	p, err := NewFipPair(mtu)
	if err != nil {
		return nil, err
	}
	cfg := tcp.Config{TimeWait: gvTimeWait, MaxPCBs: maxPCBs}
	ta, err := tcp.New(p.A.S, cfg)
	if err != nil {
		return nil, err
	}
	tb, err := tcp.New(p.B.S, cfg)
	if err != nil {
		return nil, err
	}
	tp := &fipTCPPair{FipPair: p, ta: ta, tb: tb}
	tp.onConnected = func(_ *tcp.PCB, err error) { tp.connDone, tp.connErr = true, err }
	return tp, nil
}

// waitTimer is what the pumped loop does when no frame moves and it still
// waits for something: sleep (or spin, for short waits) until the earliest
// timer of either stack is due, as an event loop blocks until its next
// deadline. It returns false when no timer is pending (stuck).
func (p *FipPair) waitTimer() bool {
	best, ok := time.Duration(0), false
	for _, h := range []*FipHost{p.A, p.B} {
		if d, has := h.S.NextDeadline(); has && (!ok || d < best) {
			best, ok = d, true
		}
	}
	if !ok {
		return false
	}
	for {
		left := best - p.A.S.Now()
		if left <= 0 {
			return true
		}
		if left > 500*time.Microsecond {
			time.Sleep(left)
		} else {
			runtime.Gosched()
		}
	}
}

// pumpUntil pumps, waiting for timers when idle, until cond holds; it
// gives up after a minute of wall time.
func (p *FipPair) pumpUntil(cond func() bool) error {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if p.Pump() == 0 && !cond() {
			if time.Now().After(deadline) {
				return errors.New("featherip: no progress within a minute")
			}
			if !p.waitTimer() {
				return errors.New("featherip: stuck (no frame queued, no timer pending)")
			}
		}
	}
	return nil
}

// fipListen opens a listener on B whose accepted connections are passed
// to accepted (with their callbacks to be set there).
func (p *fipTCPPair) listen(backlog int, accepted func(c *tcp.PCB)) (*tcp.PCB, error) {
	l, err := p.tb.NewPCB()
	if err != nil {
		return nil, err
	}
	l.OnAccept(func(_, c *tcp.PCB) { accepted(c) })
	if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, tcpPort), backlog); err != nil {
		return nil, err
	}
	return l, nil
}

// dial connects from A to B and pumps until the connection is established
// on the client (the server's OnAccept may come with the same pump).
func (p *fipTCPPair) dial() (*tcp.PCB, error) {
	c, err := p.ta.NewPCB()
	if err != nil {
		return nil, err
	}
	p.connDone, p.connErr = false, nil
	c.OnConnected(p.onConnected)
	if err := c.Connect(netip.AddrPortFrom(AddrB, tcpPort)); err != nil {
		return nil, err
	}
	if err := p.pumpUntil(func() bool { return p.connDone }); err != nil {
		return nil, err
	}
	if p.connErr != nil {
		return nil, fmt.Errorf("featherip connect: %w", p.connErr)
	}
	return c, nil
}

// Bulk implements TCPStack: every connection's sender writes what its
// send buffer takes, the pump moves the segments, the receiver's OnRecv
// copies the data into an application buffer (automatic Recved).
func (FipTCP) Bulk(mtu, conns int, api API) (func(*testing.B), error) {
	if api == APINetConn {
		return fipNetBulk(mtu, conns), nil
	}
	return func(b *testing.B) {
		p, err := newFipTCPPair(mtu, conns+16)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		app := make([]byte, 1<<16)
		got := make([]int, conns)
		var srv []*tcp.PCB
		l, err := p.listen(conns, func(c *tcp.PCB) {
			i := len(srv)
			srv = append(srv, c)
			c.SetAutoRecved(true)
			c.OnRecv(func(_ *tcp.PCB, d []byte) {
				copy(app, d)
				got[i] += len(d)
			})
		})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		cli := make([]*tcp.PCB, conns)
		for i := range cli {
			if cli[i], err = p.dial(); err != nil {
				b.Fatal(err)
			}
			defer cli[i].Abort()
		}
		if err := p.pumpUntil(func() bool { return len(srv) == conns }); err != nil {
			b.Fatal(err)
		}
		chunk := make([]byte, bulkChunk)
		left := make([]int, conns) // bytes each sender still has to write
		want := make([]int, conns)
		for i := range conns {
			share := b.N / conns
			if i < b.N%conns {
				share++
			}
			left[i], want[i] = share*bulkChunk, share*bulkChunk
		}
		done := func() bool {
			for i := range got {
				if got[i] < want[i] {
					return false
				}
			}
			return true
		}
		b.SetBytes(bulkChunk)
		b.ReportAllocs()
		b.ResetTimer()
		deadline := time.Now().Add(5 * time.Minute)
		for !done() {
			wrote := false
			for i, c := range cli {
				for left[i] > 0 {
					off := (want[i] - left[i]) % bulkChunk
					n, err := c.Write(chunk[off:min(bulkChunk, off+left[i])])
					if n == 0 || err != nil {
						break
					}
					left[i] -= n
					wrote = true
				}
			}
			if p.Pump() == 0 && !wrote && !done() {
				if time.Now().After(deadline) || !p.waitTimer() {
					b.Fatalf("featherip: bulk transfer stuck: got %v of %v", got, want)
				}
			}
		}
		b.StopTimer()
		st := p.A.End.Stats().Dropped + p.B.End.Stats().Dropped
		reportLinkStats(b, st, p.ta.Stats().RetransSegs+p.tb.Stats().RetransSegs)
	}, nil
}

// ConnSetup implements TCPStack: connect, accept (OnAccept), the server
// closes, the client closes, pumped until the client's PCB is gone.
func (FipTCP) ConnSetup() (func(*testing.B), error) {
	return func(b *testing.B) {
		p, err := newFipTCPPair(1500, 256)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		var accepted *tcp.PCB
		l, err := p.listen(128, func(c *tcp.PCB) { accepted = c })
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			accepted = nil
			c, err := p.dial()
			if err != nil {
				b.Fatal(err)
			}
			if err := p.pumpUntil(func() bool { return accepted != nil }); err != nil {
				b.Fatal(err)
			}
			// The server closes first; the client sees the end of the
			// stream (CLOSE_WAIT), then closes. Its PCB is freed when its
			// FIN is acknowledged; the server's stays in TIME_WAIT.
			accepted.Close()
			if err := p.pumpUntil(func() bool { return c.State() == tcp.CloseWait }); err != nil {
				b.Fatal(err)
			}
			c.Close()
			if err := p.pumpUntil(func() bool { return p.ta.NumPCBs() == 0 }); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
	}, nil
}

// IdleConns implements TCPStack.
func (FipTCP) IdleConns(n int) (float64, error) {
	p, err := newFipTCPPair(1500, n+16)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	srv := make([]*tcp.PCB, 0, n)
	l, err := p.listen(1024, func(c *tcp.PCB) { srv = append(srv, c) })
	if err != nil {
		return 0, err
	}
	defer l.Close()
	cli := make([]*tcp.PCB, 0, n)
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		c, err := p.dial()
		if err != nil {
			return 0, err
		}
		cli = append(cli, c)
	}
	if err := p.pumpUntil(func() bool { return len(srv) == n }); err != nil {
		return 0, err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if a, b := p.ta.Stats().CurrEstab, p.tb.Stats().CurrEstab; a != n || b != n {
		return 0, fmt.Errorf("featherip: %d and %d of %d connections established", a, b, n)
	}
	runtime.KeepAlive(cli)
	runtime.KeepAlive(srv)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n), nil
}

// RR implements TCPStack: the server's OnRecv writes the byte back from
// inside the callback; Nagle is off on both ends (as on gVisor's side).
func (FipTCP) RR(api API, n int) (Latency, error) {
	if api == APINetConn {
		return fipNetRR(n)
	}
	return latencyRR(fipTCPRRSetup, n)
}

// FipTCPRRBench is the callback RR exchange as a benchmark, for profiles.
func FipTCPRRBench() func(*testing.B) { return benchRR(fipTCPRRSetup) }

func fipTCPRRSetup() (func(int) error, func(), error) {
	p, err := newFipTCPPair(1500, 16)
	if err != nil {
		return nil, nil, err
	}
	var srv *tcp.PCB
	l, err := p.listen(16, func(c *tcp.PCB) {
		srv = c
		c.SetNoDelay(true)
		c.SetAutoRecved(true)
		c.OnRecv(func(c *tcp.PCB, d []byte) {
			if d != nil {
				c.Write(d)
			}
		})
	})
	if err != nil {
		return nil, nil, err
	}
	c, err := p.dial()
	if err != nil {
		return nil, nil, err
	}
	if err := p.pumpUntil(func() bool { return srv != nil }); err != nil {
		return nil, nil, err
	}
	c.SetNoDelay(true)
	c.SetAutoRecved(true)
	answers := 0
	c.OnRecv(func(_ *tcp.PCB, d []byte) { answers += len(d) })
	req := []byte{'x'}
	done := func() {
		c.Abort()
		l.Close()
		p.Close()
	}
	return func(i int) error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		return p.pumpUntil(func() bool { return answers == i+1 })
	}, done, nil
}
