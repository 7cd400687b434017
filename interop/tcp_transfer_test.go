package interop

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// kernelSend writes n bytes of s to c from its own goroutine, then shuts
// the write side (half-close); the result arrives on the channel.
func kernelSend(c net.Conn, s *stream, n int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		for n > 0 {
			k := int(min(int64(len(buf)), n))
			s.fill(buf[:k])
			if _, err := c.Write(buf[:k]); err != nil {
				done <- err
				return
			}
			n -= int64(k)
		}
		done <- c.(*net.TCPConn).CloseWrite()
	}()
	return done
}

// TestTCPKernelEcho: the kernel sends 64 MiB (1 GiB with FEATHERIP_BIG=1)
// to featherip's echo service while reading the echo, then half-closes:
// everything comes back, hash equal, then featherip's FIN.
func TestTCPKernelEcho(t *testing.T) {
	e := setupTCP(t, tcp.Config{})
	c, err := e.dialKernel(featherIP + ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	size := transferSize()
	c.SetDeadline(time.Now().Add(transferTimeout()))
	start := time.Now()
	sent := newStream(1)
	done := kernelSend(c, sent, size)
	h := sha256.New()
	got, err := io.Copy(h, c)
	if err != nil {
		t.Fatalf("reading the echo after %d bytes: %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("sending: %v", err)
	}
	el := time.Since(start)
	if got != size || hex.EncodeToString(h.Sum(nil)) != sent.sum() {
		t.Fatalf("echo: %d bytes back of %d, hashes equal: %v", got, size, hex.EncodeToString(h.Sum(nil)) == sent.sum())
	}
	t.Logf("echoed %d MiB in %v (%s each way)", size>>20, el.Round(time.Millisecond), rate(size, el))
	e.checkClean(t)
}

// TestTCPKernelSinkHalfClose: the kernel sends 64 MiB to featherip's sink,
// shuts its write side and still receives the sink's reply (the hash of
// what featherip received), then featherip's FIN.
func TestTCPKernelSinkHalfClose(t *testing.T) {
	e := setupTCP(t, tcp.Config{})
	e.kernelToSink(t, "tcp4", featherIP+":9", transferSize(), 2)
	e.checkClean(t)
}

// kernelToSink has the kernel dial featherip's sink at addr, send size
// bytes of newStream(seed) and half-close, then read the sink's reply
// until featherip's FIN: the reply must be the hash of what it sent, and
// the sink must have counted size bytes.
func (e *tcpEnv) kernelToSink(t *testing.T, network, addr string, size int64, seed byte) {
	t.Helper()
	c, err := nsDial(e.ns, network, addr)
	if err != nil {
		t.Fatalf("the kernel connects to featherip's sink at %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(transferTimeout()))
	start := time.Now()
	sent := newStream(seed)
	done := kernelSend(c, sent, size)
	reply, err := io.ReadAll(c) // the reply, then EOF at featherip's FIN
	if err != nil {
		t.Fatalf("reading the sink's reply: %v (send: %v)", err, <-done)
	}
	if err := <-done; err != nil {
		t.Fatalf("sending: %v", err)
	}
	el := time.Since(start)
	if string(reply) != sent.sum()+"\n" {
		t.Fatalf("sink hash %q, want %q", reply, sent.sum())
	}
	var n int64
	e.host.Do(func(*stack.Stack) { n = e.sinkBytes })
	if n != size {
		t.Errorf("sink counted %d bytes, want %d", n, size)
	}
	t.Logf("kernel -> featherip %s: %d MiB in %v (%s)", addr, size>>20, el.Round(time.Millisecond), rate(size, el))
}

// checkClean fails the test for errors the services saw.
func (e *tcpEnv) checkClean(t *testing.T) {
	t.Helper()
	var errs []error
	var st tcp.Stats
	e.host.Do(func(*stack.Stack) { errs, st = e.errs, e.host.TCP().Stats() })
	if len(errs) > 0 {
		t.Errorf("featherip connections failed: %v", errs)
	}
	t.Logf("featherip TCP: InSegs %d OutSegs %d RetransSegs %d InErrs %d FastRetransmits %d Timeouts %d",
		st.InSegs, st.OutSegs, st.RetransSegs, st.InErrs, st.FastRetransmits, st.Timeouts)
}

// fconn is a featherip-side client connection driven by callbacks under
// the host lock: it sends n bytes of a stream (then half-closes) and
// hashes what it receives until the peer's FIN.
type fconn struct {
	pcb     *tcp.PCB
	out     *stream
	left    int64
	buf     []byte
	pend    []byte
	in      []byte // first bytes received (a reply)
	inHash  *stream
	inBytes int64
	fin     chan struct{}
	err     error
}

func (f *fconn) fill(c *tcp.PCB) {
	for f.out != nil {
		if len(f.pend) == 0 {
			if f.left == 0 {
				c.Shutdown()
				f.out = nil
				return
			}
			k := int(min(int64(len(f.buf)), f.left))
			f.out.fill(f.buf[:k])
			f.pend = f.buf[:k]
			f.left -= int64(k)
		}
		n, err := c.Write(f.pend)
		f.pend = f.pend[n:]
		if err != nil {
			if !errors.Is(err, tcp.ErrBufferFull) {
				f.err = err
				c.Abort()
				close(f.fin)
			}
			return
		}
	}
}

// dialFeather connects featherip to remote, retrying while the peer
// refuses (the tool may not listen yet), and runs f on the connection.
// send bytes of out are sent, then featherip half-closes.
func (e *tcpEnv) dialFeather(t *testing.T, remote string, out *stream, send int64) *fconn {
	t.Helper()
	f := &fconn{out: out, left: send, buf: make([]byte, 256<<10), inHash: &stream{h: sha256.New()}, fin: make(chan struct{})}
	deadline := time.Now().Add(10 * time.Second)
	for {
		up := make(chan error, 1)
		e.host.Do(func(*stack.Stack) {
			c, err := e.host.TCP().NewPCB()
			if err != nil {
				up <- err
				return
			}
			f.pcb = c
			c.OnConnected(func(c *tcp.PCB, err error) {
				up <- err
				if err == nil {
					f.fill(c)
				}
			})
			c.OnSent(func(c *tcp.PCB, _ int) { f.fill(c) })
			c.OnRecv(func(c *tcp.PCB, data []byte) {
				if data == nil {
					close(f.fin)
					return
				}
				if len(f.in) < 256 {
					f.in = append(f.in, data[:min(len(data), 256-len(f.in))]...)
				}
				f.inBytes += int64(len(data))
				f.inHash.h.Write(data)
				c.Recved(len(data))
			})
			c.OnError(func(_ *tcp.PCB, err error) {
				f.err = err
				close(f.fin)
			})
			if err := c.Connect(netip.MustParseAddrPort(remote)); err != nil {
				up <- err
			}
		})
		err := <-up
		if err == nil {
			return f
		}
		if !errors.Is(err, tcp.ErrConnRefused) || time.Now().After(deadline) {
			t.Fatalf("featherip connecting to %s: %v", remote, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits for the peer's FIN (or an error).
func (f *fconn) wait(t *testing.T, e *tcpEnv, limit time.Duration) {
	t.Helper()
	select {
	case <-f.fin:
	case <-time.After(limit):
		var st tcp.PCBStats
		e.host.Do(func(*stack.Stack) { st = f.pcb.Stats() })
		t.Fatalf("no FIN from the peer after %v; received %d bytes; connection %+v", limit, f.inBytes, st)
	}
	if f.err != nil {
		t.Fatalf("featherip connection failed: %v", f.err)
	}
}

// TestTCPFeatheripToSocatHalfClose: featherip connects to socat in the
// namespace, which pipes the stream into sha256sum; featherip sends 64 MiB
// and shuts its write side, and still receives sha256sum's output (the
// hash of what Linux received), then Linux's FIN.
func TestTCPFeatheripToSocatHalfClose(t *testing.T) {
	requireTool(t, "socat", "socat")
	requireTool(t, "sha256sum", "coreutils")
	e := setupTCP(t, tcp.Config{})
	e.ns.Start("socat", "TCP4-LISTEN:9000,bind="+kernelIP+",reuseaddr", "EXEC:sha256sum")
	size := transferSize()
	sent := newStream(3)
	start := time.Now()
	f := e.dialFeather(t, kernelIP+":9000", sent, size)
	f.wait(t, e, transferTimeout())
	el := time.Since(start)
	var reply string
	e.host.Do(func(*stack.Stack) { reply = string(f.in) })
	if got := strings.Fields(reply); len(got) == 0 || got[0] != sent.sum() {
		t.Fatalf("sha256sum on the Linux side says %q, want %s", reply, sent.sum())
	}
	t.Logf("featherip -> kernel: %d MiB in %v (%s)", size>>20, el.Round(time.Millisecond), rate(size, el))
	e.checkClean(t)
}

// TestTCPSocatToFeatherip: socat in the namespace serves a 64 MiB file;
// featherip connects, receives it all until socat's FIN, hash equal.
func TestTCPSocatToFeatherip(t *testing.T) {
	requireTool(t, "socat", "socat")
	e := setupTCP(t, tcp.Config{})
	size := transferSize()
	file := filepath.Join(t.TempDir(), "data")
	src := newStream(4)
	fh, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(fh, 1<<20)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		src.fill(buf)
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	e.ns.Start("socat", "-u", "OPEN:"+file, "TCP4-LISTEN:9001,bind="+kernelIP+",reuseaddr")
	start := time.Now()
	f := e.dialFeather(t, kernelIP+":9001", nil, 0)
	f.wait(t, e, transferTimeout())
	el := time.Since(start)
	var n int64
	var sum string
	e.host.Do(func(*stack.Stack) {
		n, sum = f.inBytes, f.inHash.sum()
		f.pcb.Close()
	})
	if n != size || sum != src.sum() {
		t.Fatalf("received %d bytes of %d; hash %s, want %s", n, size, sum, src.sum())
	}
	t.Logf("kernel -> featherip client: %d MiB in %v (%s)", size>>20, el.Round(time.Millisecond), rate(size, el))
	e.checkClean(t)
}

// TestTCPClosedPortRefused: a SYN to a port nobody listens on is answered
// with RST, which the Linux client sees as "connection refused".
func TestTCPClosedPortRefused(t *testing.T) {
	e := setupTCP(t, tcp.Config{})
	c, err := e.dialKernel(featherIP + ":9999")
	if err == nil {
		c.Close()
		t.Fatal("connected to a closed port")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial closed port: %v, want ECONNREFUSED", err)
	}
	var st tcp.Stats
	e.host.Do(func(*stack.Stack) { st = e.host.TCP().Stats() })
	if st.OutRsts == 0 || st.DropNoPCB == 0 {
		t.Errorf("TCP counters after a SYN to a closed port: OutRsts %d DropNoPCB %d", st.OutRsts, st.DropNoPCB)
	}
}

// TestTCPJumboMTUWindow: on a TAP device with the largest MTU it takes
// (65521, near the kernel loopback's 64 KiB), featherip's default buffers
// hold at least four full-sized segments (tcp.Config.RecvBuffer), its window scale covers
// them, and 16 MiB from Linux arrive whole in segments larger than the
// 64 KiB default window would allow more than one of.
func TestTCPJumboMTUWindow(t *testing.T) {
	const mtu = 65521 // a TAP device's largest (65535 less the Ethernet header)
	e := setupTCPLink(t, tcp.Config{}, tap.Config{Name: tapName, MTU: mtu}, nil)
	var accepted *tcp.PCB
	e.host.Do(func(*stack.Stack) {
		e.listen(t, 9100, func(l, c *tcp.PCB) {
			accepted = c
			e.acceptSink(l, c)
		})
	})
	e.kernelToSink(t, "tcp4", featherIP+":9100", 16<<20, 21)
	e.host.Do(func(*stack.Stack) {
		st := accepted.Stats()
		four := 4 * st.RcvMSS
		if st.RcvMSS < 60000 || accepted.RecvBuffer() < four || accepted.SendBuffer() < four {
			t.Errorf("MSS %d, buffers %d to receive and %d to send: want a jumbo MSS and four segments (%d) each",
				st.RcvMSS, accepted.RecvBuffer(), accepted.SendBuffer(), four)
		}
		if st.SegsIn == 0 || st.BytesReceived/st.SegsIn < 16<<10 {
			t.Errorf("%d bytes in %d segments: the kernel did not send jumbo segments", st.BytesReceived, st.SegsIn)
		}
	})
	e.checkClean(t)
}
