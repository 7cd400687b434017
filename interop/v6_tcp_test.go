package interop

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
)

// TestV6TCPKernelToFeatherip: the kernel sends 64 MiB (1 GiB with
// FEATHERIP_BIG=1) over IPv6 to featherip's hashing sink
// ([fd00:7::2]:9), half-closes, and reads back the SHA-256 featherip
// computed: equal to its own.
func TestV6TCPKernelToFeatherip(t *testing.T) {
	e := setup6(t, v6Options{})
	var c net.Conn
	if err := e.ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp6", "["+featherIP6+"]:9", 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("the kernel connects to featherip over IPv6: %v", err)
	}
	defer c.Close()
	size := transferSize()
	c.SetDeadline(time.Now().Add(transferTimeout()))
	start := time.Now()
	sent := newStream(61)
	done := kernelSend(c, sent, size)
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading featherip's hash: %v (send: %v)", err, <-done)
	}
	if err := <-done; err != nil {
		t.Fatalf("kernel send: %v", err)
	}
	if got, want := strings.TrimSpace(reply), sent.sum(); got != want {
		t.Fatalf("featherip hashed %s, the kernel sent %s", got, want)
	}
	t.Logf("%d MiB kernel -> featherip over IPv6 in %v (%s)", size>>20, time.Since(start).Round(time.Millisecond), rate(size, time.Since(start)))
	var n int64
	e.host.Do(func(*stack.Stack) { n = e.sinkBytes })
	if n != size {
		t.Errorf("sink received %d bytes, want %d", n, size)
	}
}

// TestV6TCPFeatheripToKernel: featherip connects over IPv6 to a kernel
// listener ([fd00:7::1]), sends 64 MiB (1 GiB with FEATHERIP_BIG=1) and
// half-closes; the kernel side answers with the SHA-256 of what it
// received, equal to what featherip sent.
func TestV6TCPFeatheripToKernel(t *testing.T) {
	e := setup6(t, v6Options{})
	var ln net.Listener
	if err := e.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp6", "["+kernelIP6+"]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	kerr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			kerr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(transferTimeout()))
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			kerr <- err
			return
		}
		_, err = io.WriteString(c, hex.EncodeToString(h.Sum(nil))+"\n")
		kerr <- err
	}()
	size := transferSize()
	out := newStream(62)
	start := time.Now()
	f := e.dialFeather(t, ln.Addr().String(), out, size)
	f.wait(t, e.tcpEnv, transferTimeout())
	if err := <-kerr; err != nil {
		t.Fatalf("kernel side: %v", err)
	}
	if got, want := strings.TrimSpace(string(f.in)), out.sum(); got != want {
		t.Fatalf("the kernel hashed %q, featherip sent %s", got, want)
	}
	t.Logf("%d MiB featherip -> kernel over IPv6 in %v (%s)", size>>20, time.Since(start).Round(time.Millisecond), rate(size, time.Since(start)))
}
