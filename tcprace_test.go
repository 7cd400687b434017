package featherip

import (
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
)

// TestTCPConcurrentChaos reads, writes, sets deadlines, half-closes and
// closes the same connections from many goroutines at once (run it with
// -race). Nothing may panic or hang, and once everything is closed and
// TIME_WAIT has passed, no pcb is left on either host.
func TestTCPConcurrentChaos(t *testing.T) {
	a, b := newTCPPair(t)
	const conns = 8
	var wg sync.WaitGroup
	var pairs [conns][2]*TCPConn
	for i := range pairs {
		pairs[i][0], pairs[i][1], _ = tcpConnPair(t, a, b)
	}
	for i := range conns {
		c1, c2 := pairs[i][0], pairs[i][1]
		for _, c := range []*TCPConn{c1, c2} {
			for g := range 3 {
				wg.Add(2)
				go func() { // reader
					defer wg.Done()
					buf := make([]byte, 1+g*700)
					for {
						_, err := c.Read(buf)
						switch {
						case err == io.EOF || c.isClosing():
							return
						case err != nil:
							time.Sleep(50 * time.Microsecond) // a deadline: try again
						}
					}
				}()
				go func() { // writer
					defer wg.Done()
					buf := make([]byte, 1+g*3000)
					for k := 0; k < 200; k++ {
						if _, err := c.Write(buf); err != nil {
							if c.isClosing() {
								return
							}
							time.Sleep(50 * time.Microsecond)
						}
					}
				}()
			}
			wg.Add(1)
			go func() { // deadlines and options
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), 1))
				for k := 0; k < 100; k++ {
					d := time.Duration(r.IntN(3000)) * time.Microsecond
					c.SetReadDeadline(time.Now().Add(d))
					c.SetWriteDeadline(time.Now().Add(d))
					c.SetNoDelay(k%2 == 0)
					time.Sleep(100 * time.Microsecond)
				}
				c.SetDeadline(time.Time{})
			}()
		}
		wg.Add(1)
		go func() { // closer
			defer wg.Done()
			time.Sleep(time.Duration(5+5*i) * time.Millisecond)
			if i%2 == 0 {
				c1.CloseWrite()
			}
			c1.Close()
			c2.Close()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	start := time.Now()
	select {
	case <-done:
		t.Logf("all goroutines done after %v", time.Since(start))
	case <-time.After(20 * time.Second):
		t.Fatal("goroutines still blocked after every conn was closed")
	}
	t0 := time.Now()
	waitIdle(t, a)
	waitIdle(t, b)
	t.Logf("idle after %v", time.Since(t0))
}

// waitIdle waits until h has no socket and only its listeners' pcbs
// (here: none) once TIME_WAIT (100 ms in tcpTestConfig) has passed.
func waitIdle(t *testing.T, h *Host) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var pcbs, socks int
		var inUse int
		h.Do(func(s *stack.Stack) {
			pcbs = h.tcp.NumPCBs()
			for c := range h.socks {
				if _, ok := c.(*TCPListener); !ok {
					socks++
				}
			}
			inUse = s.Pool().Stats().InUse
		})
		listeners := 0
		h.Do(func(*stack.Stack) {
			for c := range h.socks {
				if _, ok := c.(*TCPListener); ok {
					listeners++
				}
			}
		})
		if pcbs == listeners && socks == 0 && inUse == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not idle: %d tcp pcbs (%d listeners), %d conns, %d pool buffers in use", pcbs, listeners, socks, inUse)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
