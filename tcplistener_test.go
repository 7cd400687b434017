package featherip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
)

func TestTCPListenerAcceptAfterClose(t *testing.T) {
	a, _ := newTCPPair(t)
	ln, err := a.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	if got := ln.Addr().(*net.TCPAddr); got.Port == 0 || !got.IP.IsUnspecified() {
		t.Errorf("Addr = %v, want the wildcard with an ephemeral port", got)
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		blocked <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked Accept: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a blocked Accept")
	}
	_, err = ln.Accept()
	var oe *net.OpError
	if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) || oe.Op != "accept" {
		t.Fatalf("Accept after Close: %v, want an accept OpError with net.ErrClosed", err)
	}
	if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	// the port is free again
	ln2, err := a.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Listen on the freed port: %v", err)
	}
	ln2.Close()
}

func TestTCPListenerDeadline(t *testing.T) {
	a, _ := newTCPPair(t)
	ln, err := a.ListenTCP("tcp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.SetDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err = ln.Accept()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Accept past the deadline: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v is not a timeout net.Error", err)
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > 2*time.Second {
		t.Errorf("Accept returned after %v, want about 50ms", el)
	}
	// a past deadline fails at once; clearing it makes Accept block again
	ln.SetDeadline(time.Now().Add(-time.Second))
	if _, err := ln.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Accept with a past deadline: %v", err)
	}
	ln.SetDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Accept without deadline returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// moving the deadline into the past wakes the blocked Accept
	ln.SetDeadline(time.Now())
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("woken Accept: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetDeadline did not wake Accept")
	}
}

// TestTCPListenerCloseResetsQueued: connections established but never
// accepted are reset when the listener closes.
func TestTCPListenerCloseResetsQueued(t *testing.T) {
	a, b := newTCPPair(t)
	ln, err := b.Listen("tcp", "10.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(20 * time.Millisecond)
	ln.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read on a connection its listener dropped: %v, want ECONNRESET", err)
	}
}

func TestTCPDialCancel(t *testing.T) {
	a, _ := newTCPPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	_, err := a.DialContext(ctx, "tcp", "10.0.0.77:80") // no ARP answer
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v, want context.Canceled", err)
	}
	var n int
	a.Do(func(*stack.Stack) { n = a.tcp.NumPCBs() })
	if n != 0 {
		t.Errorf("%d pcbs left after a cancelled dial", n)
	}
}

func TestTCPDialerLocalAddr(t *testing.T) {
	a, b := newTCPPair(t)
	ln, err := b.Listen("tcp", "10.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	la := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 40000}
	d := &Dialer{Host: a, LocalAddr: la, KeepAlive: -1}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.LocalAddr().String() != la.String() {
		t.Errorf("LocalAddr = %v, want %v", c.LocalAddr(), la)
	}
	if _, err := (&Dialer{Host: a, LocalAddr: &net.UDPAddr{}}).Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("a UDP local address was accepted for TCP")
	}
	if _, err := a.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(ln.Addr().String()))); err != nil {
		t.Errorf("DialTCP: %v", err)
	}
}

// TestTCPHostCloseEndsEverything: Host.Close wakes every blocked call with
// net.ErrClosed, resets the peers and leaves no goroutine behind.
func TestTCPHostCloseEndsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	ea, eb := pipeEnds()
	a, err := New(tcpTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(tcpTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	a.AddInterface(ea, InterfaceConfig{Addrs: []netip.Prefix{addrA}})
	b.AddInterface(eb, InterfaceConfig{Addrs: []netip.Prefix{addrB}})
	c1, c2, ln := tcpConnPair(t, a, b)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(3)
	go func() { defer wg.Done(); _, err := c1.Read(make([]byte, 10)); errs <- err }()
	go func() { defer wg.Done(); _, err := c1.Write(make([]byte, 8<<20)); errs <- err }()
	go func() {
		defer wg.Done()
		l, _ := a.Listen("tcp", ":0")
		_, err := l.Accept()
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked call after Host.Close: %v, want net.ErrClosed", err)
		}
	}
	if _, err := a.Dial("tcp", "10.0.0.2:1"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Host.Close: %v", err)
	}
	if _, err := a.Listen("tcp", ":0"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Listen after Host.Close: %v", err)
	}
	_ = c2
	ln.Close()
	b.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines before, %d after Host.Close:\n%s", before, n, onlyFeatherip(string(buf)))
	}
}

func onlyFeatherip(stacks string) string {
	var out []string
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "featherip") && !strings.Contains(g, "TestTCPHostCloseEndsEverything") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
