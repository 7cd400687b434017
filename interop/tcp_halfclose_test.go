package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// kernelListen listens on addr inside the namespace and returns the first
// connection accepted (from any goroutine).
func (e *tcpEnv) kernelListen(t *testing.T, addr string) <-chan *net.TCPConn {
	t.Helper()
	var l net.Listener
	if err := e.ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan *net.TCPConn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		c.SetDeadline(time.Now().Add(transferTimeout()))
		ch <- c.(*net.TCPConn)
	}()
	return ch
}

// TestTCPHalfCloseBulkFromCloseWait: the kernel shuts its write side right
// after accepting; featherip, in CLOSE_WAIT, then sends 16 MiB and closes.
// The kernel receives it all (hash equal) and EOF.
func TestTCPHalfCloseBulkFromCloseWait(t *testing.T) {
	e := setupTCP(t, tcp.Config{})
	acc := e.kernelListen(t, kernelIP+":9100")
	const size = 16 << 20
	sent := newStream(6)
	f := e.dialFeather(t, kernelIP+":9100", sent, size)
	c := <-acc
	if c == nil {
		t.Fatal("accept failed")
	}
	defer c.Close()
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != sent.sum() {
		t.Fatalf("kernel received %d of %d bytes (%v), hash equal %v", n, size, err, hex.EncodeToString(h.Sum(nil)) == sent.sum())
	}
	f.wait(t, e, 5*time.Second) // the kernel's FIN came first
	var st tcp.State
	e.host.Do(func(*stack.Stack) { st = f.pcb.State() })
	if st != tcp.LastAck && st != tcp.Closed {
		t.Errorf("featherip connection in %v after both FINs, want LAST_ACK or CLOSED", st)
	}
	e.checkClean(t)
}

// TestTCPHalfCloseBulkIntoFinWait2: featherip shuts its write side at once
// after connecting; the kernel reads EOF, then sends 16 MiB and closes.
// featherip, in FIN_WAIT_2, receives it all (hash equal) and the FIN.
func TestTCPHalfCloseBulkIntoFinWait2(t *testing.T) {
	e := setupTCP(t, tcp.Config{})
	acc := e.kernelListen(t, kernelIP+":9101")
	const size = 16 << 20
	f := e.dialFeather(t, kernelIP+":9101", newStream(0), 0) // no data: FIN at once
	c := <-acc
	if c == nil {
		t.Fatal("accept failed")
	}
	defer c.Close()
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
		t.Fatalf("kernel read %d bytes, %v before featherip's FIN", n, err)
	}
	var st tcp.State
	e.host.Do(func(*stack.Stack) { st = f.pcb.State() })
	if st != tcp.FinWait2 && st != tcp.FinWait1 {
		t.Errorf("featherip in %v after its FIN was read, want FIN_WAIT_2", st)
	}
	sent := newStream(7)
	done := kernelSend(c, sent, size)
	f.wait(t, e, transferTimeout())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int64
	var sum string
	e.host.Do(func(*stack.Stack) { n, sum = f.inBytes, f.inHash.sum(); st = f.pcb.State() })
	if n != size || sum != sent.sum() {
		t.Fatalf("featherip received %d of %d bytes, hash equal %v", n, size, sum == sent.sum())
	}
	if st != tcp.TimeWait {
		t.Errorf("featherip in %v after both FINs (it closed first), want TIME_WAIT", st)
	}
	e.checkClean(t)
}
