package featherip

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// The TCP benchmarks pair a socket-layer client (TCPConn) with a
// callback-API client doing the same work, both against the same
// callback-API server on host b (discard on port 9, echo on port 7), so
// the difference is the cost of the blocking shell: locks, wake-ups and
// the copy into the receive buffer.

func tcpBenchPair(b *testing.B) (cli, srv *Host) {
	ea, eb := pipe.New(pipe.Config{QueueLen: 1024})
	var hs [2]*Host
	for i, l := range []*pipe.End{ea, eb} {
		h, err := New(tcpTestConfig())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { h.Close() })
		if _, err := h.AddInterface(l, InterfaceConfig{Addrs: []netip.Prefix{[]netip.Prefix{addrA, addrB}[i]}}); err != nil {
			b.Fatal(err)
		}
		hs[i] = h
	}
	srv = hs[1]
	srv.Do(func(*stack.Stack) {
		listen := func(port uint16, recv func(c *tcp.PCB, data []byte)) {
			l, err := srv.TCP().NewPCB()
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, port), 0); err != nil {
				b.Fatal(err)
			}
			l.OnAccept(func(_, c *tcp.PCB) {
				c.SetNoDelay(true)
				c.OnRecv(recv)
			})
		}
		listen(9, func(c *tcp.PCB, data []byte) {
			if data == nil {
				c.Close()
				return
			}
			c.Recved(len(data))
		})
		// port 19: a source that keeps the send buffer full
		src := make([]byte, benchChunk)
		ls, err := srv.TCP().NewPCB()
		if err != nil {
			b.Fatal(err)
		}
		if err := ls.Listen(netip.AddrPortFrom(netip.Addr{}, 19), 0); err != nil {
			b.Fatal(err)
		}
		ls.OnAccept(func(_, c *tcp.PCB) {
			fill := func(c *tcp.PCB, _ int) {
				for {
					if n, err := c.WriteNoCopy(src); err != nil || n < len(src) {
						return
					}
				}
			}
			c.OnSent(fill)
			fill(c, 0)
		})
		listen(7, func(c *tcp.PCB, data []byte) {
			if data == nil {
				c.Close()
				return
			}
			c.Write(data)
			c.Recved(len(data))
		})
	})
	return hs[0], srv
}

func benchDial(b *testing.B, h *Host, port uint16) *TCPConn {
	c, err := h.DialTCPAddrPort(context.Background(), "tcp4", netip.AddrPort{}, netip.AddrPortFrom(addrB.Addr(), port))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

const benchChunk = 64 << 10

// BenchmarkTCPBulkSocket: TCPConn.Write of 64 KiB chunks to a discard
// server.
func BenchmarkTCPBulkSocket(b *testing.B) {
	cli, _ := tcpBenchPair(b)
	c := benchDial(b, cli, 9)
	buf := make([]byte, benchChunk)
	b.ReportAllocs()
	b.SetBytes(benchChunk)
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPBulkCallback: the same through the callback API: OnSent
// refills the send buffer.
func BenchmarkTCPBulkCallback(b *testing.B) {
	cli, _ := tcpBenchPair(b)
	buf := make([]byte, benchChunk)
	connected := make(chan error, 1)
	done := make(chan struct{})
	var pcb *tcp.PCB
	var queued, total int64 // bytes queued so far, bytes to send (under the core lock)
	fill := func(c *tcp.PCB) {
		for queued < total {
			n, err := c.Write(buf[:min(int64(len(buf)), total-queued)])
			if err != nil {
				return
			}
			queued += int64(n)
		}
	}
	var acked int64
	cli.Do(func(*stack.Stack) {
		var err error
		if pcb, err = cli.TCP().NewPCB(); err != nil {
			b.Fatal(err)
		}
		pcb.OnConnected(func(_ *tcp.PCB, err error) { connected <- err })
		pcb.OnSent(func(c *tcp.PCB, n int) {
			acked += int64(n)
			if acked >= total && total > 0 {
				select {
				case done <- struct{}{}:
				default:
				}
				return
			}
			fill(c)
		})
		if err := pcb.Connect(netip.AddrPortFrom(addrB.Addr(), 9)); err != nil {
			b.Fatal(err)
		}
	})
	if err := <-connected; err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(benchChunk)
	b.ResetTimer()
	cli.Do(func(*stack.Stack) {
		total = int64(b.N) * benchChunk
		fill(pcb)
	})
	<-done
	b.StopTimer()
	cli.Do(func(*stack.Stack) { pcb.Close() })
}

// BenchmarkTCPRequestResponseSocket: 1-byte request and response at a
// time through TCPConn.Write and Read against the echo server.
func BenchmarkTCPRequestResponseSocket(b *testing.B) {
	cli, _ := tcpBenchPair(b)
	c := benchDial(b, cli, 7)
	msg := []byte{'x'}
	buf := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPRequestResponseCallback: the same ping-pong driven from the
// callbacks: OnRecv sends the next request.
func BenchmarkTCPRequestResponseCallback(b *testing.B) {
	cli, _ := tcpBenchPair(b)
	connected := make(chan error, 1)
	done := make(chan struct{}, 1)
	msg := []byte{'x'}
	var pcb *tcp.PCB
	var left int
	cli.Do(func(*stack.Stack) {
		var err error
		if pcb, err = cli.TCP().NewPCB(); err != nil {
			b.Fatal(err)
		}
		pcb.SetNoDelay(true)
		pcb.OnConnected(func(_ *tcp.PCB, err error) { connected <- err })
		pcb.OnRecv(func(c *tcp.PCB, data []byte) {
			if data == nil {
				return
			}
			c.Recved(len(data))
			left--
			if left <= 0 {
				done <- struct{}{}
				return
			}
			c.Write(msg)
		})
		if err := pcb.Connect(netip.AddrPortFrom(addrB.Addr(), 7)); err != nil {
			b.Fatal(err)
		}
	})
	if err := <-connected; err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cli.Do(func(*stack.Stack) {
		left = b.N
		pcb.Write(msg)
	})
	<-done
	b.StopTimer()
	cli.Do(func(*stack.Stack) { pcb.Close() })
}

// BenchmarkTCPRecvRead: receiving bulk data with Read into a 64 KiB
// buffer (the copy io.Copy would make).
func BenchmarkTCPRecvRead(b *testing.B) {
	cli, _ := tcpBenchPair(b)
	c := benchDial(b, cli, 19)
	buf := make([]byte, benchChunk)
	b.ReportAllocs()
	b.SetBytes(benchChunk)
	for b.Loop() {
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// errEnough ends a WriteTo in the benchmark.
var errEnough = errors.New("enough")

// countWriter takes bytes without copying them until limit.
type countWriter struct{ n, limit int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n >= w.limit {
		return len(p), errEnough
	}
	return len(p), nil
}

// BenchmarkTCPRecvWriteTo: the same bytes handed to a writer straight
// from the receive buffer by WriteTo (no intermediate copy).
func BenchmarkTCPRecvWriteTo(b *testing.B) {
	cli, _ := tcpBenchPair(b)
	c := benchDial(b, cli, 19)
	b.ReportAllocs()
	b.SetBytes(benchChunk)
	w := &countWriter{limit: int64(b.N) * benchChunk}
	b.ResetTimer()
	if _, err := c.WriteTo(w); err != errEnough {
		b.Fatal(err)
	}
}
