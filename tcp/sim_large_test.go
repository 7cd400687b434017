package tcp

import (
	"crypto/sha256"
	"hash"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/featherip/featherip/link/fault"
)

// largeMiB is the size of each direction of the large simulated transfers:
// 64 MiB as the issue asks, or FEATHERIP_SIM_MIB when set (a smaller value
// for a quick local run).
func largeMiB(t *testing.T) int {
	if v := os.Getenv("FEATHERIP_SIM_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("FEATHERIP_SIM_MIB=%q is not a positive number", v)
		}
		return n
	}
	return 64
}

// hashedStream is one direction of a large transfer: it generates its bytes from
// a seed on the fly and hashes what is sent and what arrives, so 64 MiB
// each way needs no 64 MiB buffers.
type hashedStream struct {
	size, sent, got int
	seed            byte
	chunk           [16384]byte
	sendHash        hash.Hash
	recvHash        hash.Hash
	eof, shut       bool
	err             error
}

func newHashedStream(size int, seed byte) *hashedStream {
	return &hashedStream{size: size, seed: seed, sendHash: sha256.New(), recvHash: sha256.New()}
}

// fill writes the pattern for offset off into b: a cheap keyed sequence
// that never repeats with a period dividing a segment size.
func (s *hashedStream) fill(b []byte, off int) {
	for i := range b {
		x := uint32(off + i)
		b[i] = byte(x*2654435761>>13) ^ s.seed
	}
}

func (s *hashedStream) pump(c *PCB) {
	for s.sent < s.size {
		n := min(len(s.chunk), s.size-s.sent, c.SendBufferFree())
		if n <= 0 {
			return
		}
		s.fill(s.chunk[:n], s.sent)
		w, err := c.Write(s.chunk[:n])
		s.sendHash.Write(s.chunk[:w])
		s.sent += w
		if err != nil || w < n {
			return
		}
	}
	if !s.shut {
		s.shut = true
		c.Shutdown()
	}
}

// largeBulk moves size bytes each way between the pair's stacks and checks
// both directions by SHA-256; it returns the virtual time it took.
func largeBulk(t *testing.T, pr *pair, size int, limit time.Duration) time.Duration {
	t.Helper()
	up, down := newHashedStream(size, 0x5a), newHashedStream(size, 0xa5)
	setup := func(c *PCB, send, recv *hashedStream) {
		c.OnRecv(func(c *PCB, d []byte) {
			if d == nil {
				recv.eof = true
				return
			}
			recv.recvHash.Write(d)
			recv.got += len(d)
			c.Recved(len(d))
		})
		c.OnSent(func(c *PCB, _ int) { send.pump(c) })
		c.OnError(func(c *PCB, err error) { recv.err = err })
		send.pump(c)
	}
	l, _ := pr.b.tcp.NewPCB()
	if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, 81), 4); err != nil {
		t.Fatal(err)
	}
	l.OnAccept(func(l, c *PCB) { setup(c, down, up) })
	cl, _ := pr.a.tcp.NewPCB()
	var connErr error
	cl.OnConnected(func(c *PCB, err error) {
		connErr = err
		if err == nil {
			setup(c, up, down)
		}
	})
	start := pr.clk.t
	if err := cl.Connect(netip.AddrPortFrom(pr.b.ip, 81)); err != nil {
		t.Fatal(err)
	}
	done := func() bool { return up.eof && down.eof || up.err != nil || down.err != nil || connErr != nil }
	if !pr.run(done, limit) || connErr != nil || up.err != nil || down.err != nil {
		t.Fatalf("stalled or failed after %v: up %d/%d (%v), down %d/%d (%v), connect %v",
			pr.clk.t-start, up.got, size, up.err, down.got, size, down.err, connErr)
	}
	for _, s := range []*hashedStream{up, down} {
		if s.got != size || string(s.sendHash.Sum(nil)) != string(s.recvHash.Sum(nil)) {
			t.Fatalf("data mismatch: %d of %d bytes, hashes differ", s.got, size)
		}
	}
	return pr.clk.t - start
}

// TestLargeTransferUnderFaults is the simulation: 64 MiB each way
// through links with 0%, 1% and 5% loss, reordering, duplication and
// corruption, checked by SHA-256, none stalling; goodput with SACK is
// logged beside goodput without it.
func TestLargeTransferUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("large transfers skipped in -short mode")
	}
	size := largeMiB(t) << 20
	cases := []struct {
		name string
		f    *fault.Config
		cfg  Config
	}{
		{"clean", nil, Config{}},
		{"loss1", &fault.Config{Loss: 0.01}, Config{}},
		{"loss5", &fault.Config{Loss: 0.05}, Config{}},
		{"loss5-nosack", &fault.Config{Loss: 0.05}, Config{DisableSACK: true}},
		{"reorder-dup-corrupt", &fault.Config{Reorder: 0.02, Duplicate: 0.02, Corrupt: 0.02}, Config{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr := newPair(t, pairOpts{delay: 2 * time.Millisecond, fault: tc.f, cfg: tc.cfg})
			took := largeBulk(t, pr, size, 2*time.Hour)
			st := pr.a.tcp.Stats()
			t.Logf("%d MiB each way in %v virtual: goodput %.1f Mbit/s each way; retrans %d, SACK recoveries %d, NewReno recoveries %d, timeouts %d",
				size>>20, took, float64(size)*8/took.Seconds()/1e6, st.RetransSegs, st.SACKRecoveries, st.NewRenoRecovery, st.Timeouts)
		})
	}
}
