package featherip

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// tcpTestConfig is a Host config for TCP tests: short TIME_WAIT so pcbs
// drain quickly.
func tcpTestConfig() Config {
	return Config{TCP: tcp.Config{TimeWait: 100 * time.Millisecond, FinWait2Timeout: time.Second}}
}

// newTCPPair returns two hosts joined by a pipe, ARP warmed up.
func newTCPPair(t testing.TB) (a, b *Host) {
	t.Helper()
	ea, eb := pipeEnds()
	a = newHostTB(t, ea, addrA, tcpTestConfig())
	b = newHostTB(t, eb, addrB, tcpTestConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, addrB.Addr(), nil); err != nil {
		t.Fatalf("warm-up ping: %v", err)
	}
	if _, err := b.Ping(ctx, addrA.Addr(), nil); err != nil {
		t.Fatalf("warm-up ping: %v", err)
	}
	return a, b
}

func newHostTB(t testing.TB, l link.Link, p netip.Prefix, cfg Config) *Host {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	if _, err := h.AddInterface(l, InterfaceConfig{Addrs: []netip.Prefix{p}}); err != nil {
		t.Fatalf("AddInterface: %v", err)
	}
	return h
}

// tcpConnPair returns a connected pair: c1 dialed from a, c2 accepted on b.
func tcpConnPair(t testing.TB, a, b *Host) (c1, c2 *TCPConn, ln *TCPListener) {
	t.Helper()
	ln, err := b.ListenTCPAddrPort("tcp4", netip.AddrPortFrom(addrB.Addr(), 0))
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	type res struct {
		c   *TCPConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ch <- res{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c1, err = a.DialTCPAddrPort(ctx, "tcp", netip.AddrPort{}, ln.AddrPort())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	t.Cleanup(func() { c1.Close(); r.c.Close() })
	return c1, r.c, ln
}

func TestTCPDialAcceptEcho(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, ln := tcpConnPair(t, a, b)
	if got, want := c1.RemoteAddr().String(), ln.Addr().String(); got != want {
		t.Errorf("RemoteAddr = %s, want %s", got, want)
	}
	if c1.LocalAddr().String() != c2.RemoteAddr().String() || c2.LocalAddr().String() != c1.RemoteAddr().String() {
		t.Errorf("addresses do not match: %v-%v vs %v-%v", c1.LocalAddr(), c1.RemoteAddr(), c2.LocalAddr(), c2.RemoteAddr())
	}
	if _, ok := c1.LocalAddr().(*net.TCPAddr); !ok {
		t.Errorf("LocalAddr is %T, want *net.TCPAddr", c1.LocalAddr())
	}
	msg := []byte("hello, featherip")
	if n, err := c1.Write(msg); err != nil || n != len(msg) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 100)
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.ReadAtLeast(c2, buf, len(msg))
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
}

// TestTCPBulkTransfer sends several times the window both ways at once and
// checks the bytes by hash.
func TestTCPBulkTransfer(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	const size = 2 << 20
	data1, data2 := pattern(size, 1), pattern(size, 2)
	var wg sync.WaitGroup
	check := func(name string, w, r *TCPConn, data []byte) {
		defer wg.Done()
		go func() {
			if _, err := w.Write(data); err != nil {
				t.Errorf("%s: Write: %v", name, err)
			}
			if err := w.CloseWrite(); err != nil {
				t.Errorf("%s: CloseWrite: %v", name, err)
			}
		}()
		r.SetReadDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil || n != size {
			t.Errorf("%s: copied %d, %v; want %d", name, n, err, size)
			return
		}
		if !bytes.Equal(h.Sum(nil), sha256Sum(data)) {
			t.Errorf("%s: data differs", name)
		}
	}
	wg.Add(2)
	go check("a->b", c1, c2, data1)
	go check("b->a", c2, c1, data2)
	wg.Wait()
	// The bursts of full-sized segments were coalesced on receive (gro.go)
	// and still arrived intact.
	if a.Stats().Shell.GROSegments == 0 || b.Stats().Shell.GROSegments == 0 {
		t.Errorf("GROSegments %d and %d: no segments were coalesced", a.Stats().Shell.GROSegments, b.Stats().Shell.GROSegments)
	}
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestTCPFlowControlSlowReader(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	// The reader does not read: the writer blocks once the peer's window
	// and our send buffer are full; nothing grows without bound.
	c1.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := c1.Write(make([]byte, 1<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a non-reading peer: %d, %v; want a deadline error", n, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("deadline error %v is not a net.Error with Timeout()", err)
	}
	rcv := tcp.DefaultSendBuffer + tcp.DefaultRecvBuffer
	if n > rcv+ringSlack || n < tcp.DefaultSendBuffer/2 {
		t.Errorf("wrote %d bytes before blocking; want about send buffer + window (%d)", n, rcv)
	}
	var buffered int
	b.Do(func(*stack.Stack) { buffered = c2.rb.len() })
	if buffered > c2.rcvBuf+ringSlack {
		t.Errorf("receive buffer holds %d bytes, more than its bound", buffered)
	}
	// Now read everything: the window reopens and the rest flows.
	c1.SetWriteDeadline(time.Time{})
	go func() {
		c1.Write(make([]byte, 1000))
		c1.CloseWrite()
	}()
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, c2)
	if err != nil || got != int64(n)+1000 {
		t.Fatalf("read %d, %v; want %d", got, err, n+1000)
	}
}

func TestTCPEOFAndHalfClose(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	if err := c1.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c2.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read after peer's FIN = %d, %v; want 0, io.EOF", n, err)
	}
	// c2 can still send; c1 still reads.
	if _, err := c2.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 10)
	n, err := io.ReadFull(c1, buf[:5])
	if err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("Read after CloseWrite = %q, %v", buf[:n], err)
	}
	_, err = c1.Write([]byte("x"))
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write after CloseWrite: %v, want EPIPE", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" || oe.Net != "tcp" {
		t.Fatalf("Write after CloseWrite: %#v, want *net.OpError{Op: write}", err)
	}
	c2.Close()
	if n, err := c1.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after peer Close = %d, %v; want io.EOF", n, err)
	}
}

func TestTCPCloseRead(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	c1.Write([]byte("abc"))
	time.Sleep(50 * time.Millisecond)
	if err := c2.CloseRead(); err != nil {
		t.Fatal(err)
	}
	if n, err := c2.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read after CloseRead = %d, %v; want io.EOF", n, err)
	}
	// later data is discarded without closing the window: writes go on
	big := make([]byte, 4*tcp.DefaultRecvBuffer)
	c1.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c1.Write(big); err != nil {
		t.Fatalf("Write to a peer that shut its reading side: %v", err)
	}
	if _, err := c2.Write([]byte("still")); err != nil {
		t.Fatalf("Write after CloseRead: %v", err)
	}
}

func TestTCPErrors(t *testing.T) {
	a, b := newTCPPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	t.Run("refused", func(t *testing.T) {
		_, err := a.DialContext(ctx, "tcp", addrB.Addr().String()+":9999")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial to a closed port: %v, want ECONNREFUSED", err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" {
			t.Fatalf("error %#v is not a dial *net.OpError", err)
		}
		if !errors.Is(err, tcp.ErrConnRefused) {
			t.Errorf("error does not match the core's sentinel")
		}
	})
	t.Run("net unreachable", func(t *testing.T) {
		_, err := a.DialContext(ctx, "tcp", "192.0.2.1:80")
		if !errors.Is(err, syscall.ENETUNREACH) {
			t.Fatalf("dial without a route: %v, want ENETUNREACH", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// 10.0.0.77 is on the link but nobody answers ARP.
		d := &Dialer{Host: a, Timeout: 200 * time.Millisecond}
		start := time.Now()
		_, err := d.DialContext(context.Background(), "tcp", "10.0.0.77:80")
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dial timeout: %v, want a timeout error", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("dial timeout took %v", el)
		}
	})
	t.Run("addr in use", func(t *testing.T) {
		ln, err := b.Listen("tcp", ":8080")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, err = b.Listen("tcp4", "10.0.0.2:8080")
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("second Listen: %v, want EADDRINUSE", err)
		}
	})
	t.Run("not local", func(t *testing.T) {
		_, err := b.Listen("tcp", "10.0.0.99:80")
		if !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Fatalf("Listen on a foreign address: %v, want EADDRNOTAVAIL", err)
		}
	})
	t.Run("family", func(t *testing.T) {
		if _, err := a.DialContext(ctx, "tcp6", "10.0.0.2:80"); err == nil {
			t.Fatal("tcp6 dial to an IPv4 address succeeded")
		}
		if _, err := a.Listen("tcp4", "[::1]:80"); err == nil {
			t.Fatal("tcp4 listen on an IPv6 address succeeded")
		}
		if _, err := a.Listen("tcpx", ":80"); err == nil {
			t.Fatal("unknown network accepted")
		}
	})
	t.Run("reset", func(t *testing.T) {
		c1, c2, _ := tcpConnPair(t, a, b)
		if err := c2.SetLinger(0); err != nil {
			t.Fatal(err)
		}
		c2.Close()
		c1.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c1.Read(make([]byte, 10))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("Read after peer's RST: %v, want ECONNRESET", err)
		}
		if _, err := c1.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("Write after peer's RST: %v, want ECONNRESET", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		c1, _, _ := tcpConnPair(t, a, b)
		c1.Close()
		if _, err := c1.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close: %v", err)
		}
		if _, err := c1.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		if err := c1.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
		if err := c1.SetNoDelay(false); !errors.Is(err, net.ErrClosed) {
			t.Errorf("SetNoDelay after Close: %v", err)
		}
	})
}

// TestTCPLoopbackAndIPv6: the wildcard listener ("tcp", ":0") takes both
// families; dials over 127.0.0.1, ::1, [::] and between two hosts over
// IPv6 work.
func TestTCPLoopbackAndIPv6(t *testing.T) {
	cfg := tcpTestConfig()
	cfg.Stack.SLAAC.DupAddrDetectTransmits = -1
	ea, eb := pipeEnds()
	a := newHostTB(t, ea, addrA, cfg)
	b := newHostTB(t, eb, addrB, cfg)
	var err error
	a.Do(func(s *stack.Stack) { err = s.AddAddress(2, netip.MustParsePrefix("fd00::1/64")) })
	if err != nil {
		t.Fatal(err)
	}
	b.Do(func(s *stack.Stack) { err = s.AddAddress(2, netip.MustParsePrefix("fd00::2/64")) })
	if err != nil {
		t.Fatal(err)
	}
	serve := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%v", c.RemoteAddr())
			c.Close()
		}
	}
	lnA, err := a.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer lnA.Close()
	go serve(lnA)
	lnB, err := b.Listen("tcp6", "[fd00::2]:80")
	if err != nil {
		t.Fatal(err)
	}
	defer lnB.Close()
	go serve(lnB)
	port := strconv.Itoa(lnA.Addr().(*net.TCPAddr).Port)
	if !strings.HasPrefix(lnA.Addr().String(), "[::]:") {
		t.Errorf("dual-stack listener Addr %v, want [::]:port", lnA.Addr())
	}
	for _, tc := range []struct {
		h       *Host
		network string
		addr    string
	}{
		{a, "tcp", "127.0.0.1:" + port},
		{a, "tcp4", "localhost:" + port},
		{a, "tcp6", "[::1]:" + port},
		{a, "tcp", lnA.Addr().String()},
		{a, "tcp", ":" + port},
		{b, "tcp", "10.0.0.1:" + port},
		{a, "tcp6", "[fd00::2]:80"},
	} {
		c, err := tc.h.Dial(tc.network, tc.addr)
		if err != nil {
			t.Errorf("Dial %s %s: %v", tc.network, tc.addr, err)
			continue
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != c.LocalAddr().String() {
			t.Errorf("Dial %s %s: server saw %q, %v; want our address %v", tc.network, tc.addr, got, err, c.LocalAddr())
		}
		c.Close()
	}
}

func TestTCPOptions(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	for name, err := range map[string]error{
		"SetNoDelay":         c1.SetNoDelay(false),
		"SetKeepAlive":       c1.SetKeepAlive(true),
		"SetKeepAlivePeriod": c1.SetKeepAlivePeriod(30 * time.Second),
		"SetKeepAliveConfig": c1.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: time.Minute, Interval: 10 * time.Second, Count: 3}),
		"SetReadBuffer":      c1.SetReadBuffer(256 << 10),
		"SetWriteBuffer":     c1.SetWriteBuffer(8 << 10),
		"SetLinger":          c1.SetLinger(5),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := c1.SetKeepAlivePeriod(0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SetKeepAlivePeriod(0): %v, want EINVAL", err)
	}
	if err := c1.SetReadBuffer(-1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SetReadBuffer(-1): %v, want EINVAL", err)
	}
	// a small send buffer bounds what Write queues before it blocks
	c1.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c2.CloseRead() // the peer keeps its window open; writes still flow
	n, err := c1.Write(make([]byte, 1<<20))
	if err != nil || n != 1<<20 {
		t.Errorf("Write through an 8 KiB send buffer: %d, %v", n, err)
	}
	st, ok := c1.Stats()
	if !ok || st.State != tcp.Established || st.BytesAcked == 0 {
		t.Errorf("Stats = %+v, %v", st, ok)
	}
	// the keepalive setting is visible in the tcp pcb
	infos := a.TCPSockets()
	if len(infos) != 1 || infos[0].State != "ESTABLISHED" || infos[0].Remote != c1.RemoteAddrPort() {
		t.Errorf("TCPSockets = %+v", infos)
	}
}

// TestTCPSocketAllocs: a request/response through the socket layer
// allocates nothing in steady state.
func TestTCPSocketAllocs(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	go io.Copy(c2, c2) // echo (WriteTo into the conn itself)
	msg, buf := []byte("ping"), make([]byte, 16)
	rr := func() {
		if _, err := c1.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c1, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		rr()
	}
	if n := testing.AllocsPerRun(500, rr); n > 0 {
		t.Errorf("%v allocations per request/response, want 0", n)
	}
}

// TestTCPWriteToReadFrom: io.Copy between two conns uses WriteTo (straight
// from the receive buffer); ReadFrom from a plain reader works.
func TestTCPWriteToReadFrom(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	c3, c4, _ := tcpConnPair(t, a, b)
	data := pattern(1<<20, 7)
	go func() {
		if n, err := c1.ReadFrom(bytes.NewReader(data)); err != nil || n != int64(len(data)) {
			t.Errorf("ReadFrom = %d, %v", n, err)
		}
		c1.CloseWrite()
	}()
	go func() { // relay c2 -> c3 (host b to host a) with io.Copy
		n, err := io.Copy(c4, c2)
		if err != nil || n != int64(len(data)) {
			t.Errorf("relay copied %d, %v", n, err)
		}
		c4.CloseWrite()
	}()
	c3.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c3)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("relayed %d bytes, %v; want %d equal", len(got), err, len(data))
	}
	// WriteTo stops at the read deadline with what it moved
	c5, c6, _ := tcpConnPair(t, a, b)
	c5.Write([]byte("abc"))
	c6.SetReadDeadline(time.Now().Add(time.Second))
	var sink bytes.Buffer
	n, err := c6.WriteTo(&sink)
	if n != 3 || sink.String() != "abc" || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WriteTo = %d %q, %v", n, sink.String(), err)
	}
}

// TestTCPCloseWithUnreadDataResets: closing with received data unread
// resets the connection, as Linux does (RFC 1122 4.2.2.13).
func TestTCPCloseWithUnreadDataResets(t *testing.T) {
	a, b := newTCPPair(t)
	c1, c2, _ := tcpConnPair(t, a, b)
	c1.Write([]byte("unread"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		b.Do(func(*stack.Stack) { n = c2.rb.len() })
		if n == 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c2.Close()
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c1.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read: %v, want ECONNRESET", err)
	}
}

// TestTCPRetransmissionTimeout: a peer that vanishes makes writes fail
// with ETIMEDOUT once the retransmissions run out.
func TestTCPRetransmissionTimeout(t *testing.T) {
	cfg := tcpTestConfig()
	cfg.TCP.MinRTO = 10 * time.Millisecond
	cfg.TCP.InitialRTO = 20 * time.Millisecond
	cfg.TCP.MaxRetries = 3
	ea, eb := pipeEnds()
	a := newHostTB(t, ea, addrA, cfg)
	b := newHostTB(t, eb, addrB, cfg)
	c1, _, _ := tcpConnPair(t, a, b)
	eb.Close() // the peer is gone without a word (no RST, no FIN)
	c1.Write([]byte("anyone there?"))
	c1.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c1.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("Read: %v, want ETIMEDOUT", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v: Timeout() is false", err)
	}
	if _, err := c1.Write([]byte("x")); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("Write after the timeout: %v", err)
	}
}

// TestTCPHostUnreachable: a dial to an on-link address nobody answers ARP
// for fails with EHOSTUNREACH once ARP gives up (the stack's ICMP host
// unreachable reaches TCP), as Linux's "no route to host".
func TestTCPHostUnreachable(t *testing.T) {
	cfg := tcpTestConfig()
	cfg.Stack.ARP.Retries = 2
	cfg.Stack.ARP.RetryInterval = 20 * time.Millisecond
	ea, _ := pipeEnds()
	a := newHostTB(t, ea, addrA, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := a.DialContext(ctx, "tcp", "10.0.0.77:80")
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("dial: %v, want EHOSTUNREACH", err)
	}
	var n int
	a.Do(func(*stack.Stack) { n = a.tcp.NumPCBs() })
	if n != 0 {
		t.Errorf("%d pcbs left after a failed dial", n)
	}
}

// TestTCPKeepAliveDetectsDeadPeer: SetKeepAliveConfig's idle, interval
// and count take effect (RFC 1122 4.2.3.6). While the peer answers, the
// probes keep the connection up; once the peer's interface is down, Read
// fails with ETIMEDOUT after count unanswered probes, long before the
// read deadline. Turned off, keepalive sends no probe.
func TestTCPKeepAliveDetectsDeadPeer(t *testing.T) {
	a, b := newTCPPair(t)
	c1, _, _ := tcpConnPair(t, a, b)
	probes := func() uint64 {
		var n uint64
		a.Do(func(*stack.Stack) { n = a.TCP().Stats().KeepaliveProbes })
		return n
	}
	if err := c1.SetKeepAlive(false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if n := probes(); n != 0 {
		t.Fatalf("%d keepalive probes with keepalive off", n)
	}
	if err := c1.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: 300 * time.Millisecond, Count: 2}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); probes() < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d keepalive probes 5 s after setting a 1 s idle time, want >= 2", probes())
		}
	}
	if st, ok := c1.Stats(); !ok || st.State != tcp.Established {
		t.Fatalf("with the peer answering the probes: %+v, %v; want ESTABLISHED", st, ok)
	}
	b.Do(func(s *stack.Stack) {
		for _, i := range s.Interfaces() {
			if i.Name != "lo" {
				s.SetUp(i.NIC, false) // the peer goes silent
			}
		}
	})
	c1.SetReadDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	_, err := c1.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read from a dead peer: %v, want ETIMEDOUT from keepalive", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("keepalive gave up after %v, want about 1.6 s (1 s idle, 2 probes 300 ms apart)", d)
	}
}

// TestTCPNoDelay: with SetNoDelay(true) (package net's default) each
// small Write leaves at once in its own segment; with SetNoDelay(false)
// Nagle's algorithm (RFC 896, RFC 1122 4.2.3.4) holds small writes while
// data is unacknowledged, so the same writes take far fewer segments. The
// reader gets every byte either way.
func TestTCPNoDelay(t *testing.T) {
	a, b := newTCPPair(t)
	segs := func(noDelay bool) uint64 {
		c1, c2, _ := tcpConnPair(t, a, b)
		if err := c1.SetNoDelay(noDelay); err != nil {
			t.Fatal(err)
		}
		got := make(chan int, 1)
		go func() {
			n, _ := io.Copy(io.Discard, c2)
			got <- int(n)
		}()
		before, _ := c1.Stats()
		const writes = 200
		for range writes {
			if _, err := c1.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		after, _ := c1.Stats()
		c1.Close()
		if n := <-got; n != writes {
			t.Fatalf("noDelay %v: reader got %d bytes, want %d", noDelay, n, writes)
		}
		return after.SegsOut - before.SegsOut
	}
	fast, nagle := segs(true), segs(false)
	t.Logf("200 one-byte writes: %d segments without Nagle, %d with", fast, nagle)
	if fast < 150 {
		t.Errorf("SetNoDelay(true): %d segments for 200 writes, want each write sent at once", fast)
	}
	if nagle*4 > fast {
		t.Errorf("SetNoDelay(false): %d segments for 200 writes (%d without Nagle), want Nagle to coalesce them", nagle, fast)
	}
}

// A stream read in small pieces over a link whose MTU makes one segment
// as large as the window keeps flowing: the reader reports what it
// consumed once its buffer is empty, so no timer (persist, delayed ACK)
// has to restart the stream (it once did, about every 64 KiB).
func TestTCPSmallReadsLargeMTU(t *testing.T) {
	ea, eb := pipe.New(pipe.Config{MTU: 65535, QueueLen: 64})
	a := newHostTB(t, ea, addrA, tcpTestConfig())
	b := newHostTB(t, eb, addrB, tcpTestConfig())
	c1, c2, _ := tcpConnPair(t, a, b)
	const size = 4 << 20
	data := pattern(size, 3)
	go func() {
		c1.Write(data)
		c1.CloseWrite()
	}()
	c2.SetReadDeadline(time.Now().Add(30 * time.Second))
	h := sha256.New()
	buf := make([]byte, 8<<10)
	n := 0
	for {
		k, err := c2.Read(buf)
		h.Write(buf[:k])
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", n, err)
		}
	}
	if n != size || !bytes.Equal(h.Sum(nil), sha256Sum(data)) {
		t.Fatalf("got %d bytes (hash match %v), want %d", n, bytes.Equal(h.Sum(nil), sha256Sum(data)), size)
	}
	// 64 windows' worth: a stall per window would wake the timers about
	// that many times.
	if w := a.Stats().Shell.TimerWakeups + b.Stats().Shell.TimerWakeups; w > 20 {
		t.Errorf("%d timer wake-ups for %d bytes: the stream waited for timers", w, size)
	}
}
