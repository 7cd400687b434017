package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestV6TCPKernelToFeatherip: the kernel sends 64 MiB (1 GiB with
// FEATHERIP_BIG=1) over IPv6 to featherip's hashing sink
// ([fd00:7::2]:9), half-closes, and reads back the SHA-256 featherip
// computed: equal to its own.
func TestV6TCPKernelToFeatherip(t *testing.T) {
	e := setup6(t, v6Options{})
	e.kernelToSink(t, "tcp6", "["+featherIP6+"]:9", transferSize(), 61)
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
