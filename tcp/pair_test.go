package tcp

import (
	"crypto/sha256"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/link/fault"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// vclock is virtual time moved by the tests.
type vclock struct{ t time.Duration }

func (c *vclock) Now() time.Duration { return c.t }

// receiver is the test-side view of a link end.
type receiver interface {
	TryReceive(buf []byte) (int, bool)
	NextDue() (time.Duration, bool)
}

type host struct {
	s   *stack.Stack
	tcp *Protocol
	nic stack.NIC
	rx  receiver
	ip  netip.Addr
	ip6 netip.Addr
}

// pair is two stacks joined by an in-memory Ethernet pipe, pumped under
// virtual time.
type pair struct {
	t    testing.TB
	clk  *vclock
	a, b *host
	buf  []byte
}

type pairOpts struct {
	cfg   Config
	cfgB  *Config
	delay time.Duration
	fault *fault.Config // on both receive sides
	mtu   int
	seed  uint64
	v6    bool // also give the hosts fd00::1 and fd00::2
}

func newPair(t testing.TB, o pairOpts) *pair {
	t.Helper()
	clk := &vclock{t: time.Second}
	mtu := o.mtu
	if mtu == 0 {
		mtu = 1500
	}
	ea, eb := pipe.New(pipe.Config{Clock: clk, Delay: o.delay, MTU: mtu, QueueLen: 1024})
	pr := &pair{t: t, clk: clk, buf: make([]byte, 2048)}
	mk := func(end *pipe.End, ip, peer string, macSelf, macPeer wire.MAC, seed uint64, cfg Config, ip6, peer6 string) *host {
		s, err := stack.New(stack.Config{Clock: clk, Rand: rand.NewPCG(seed, seed+1)})
		if err != nil {
			t.Fatal(err)
		}
		var rx receiver = end
		var l stack.Link = end
		if o.fault != nil {
			fc := *o.fault
			fc.Clock = clk
			fc.Seed = seed*7 + o.seed
			f := fault.Wrap(end, fc)
			rx, l = f, f
		}
		nic, err := s.AddInterface(stack.InterfaceConfig{Name: "eth0", Link: l, Kind: stack.LinkEthernet, MTU: mtu, MAC: macSelf})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddAddress(nic, netip.MustParsePrefix(ip+"/24")); err != nil {
			t.Fatal(err)
		}
		if err := s.AddStaticNeighbor(nic, netip.MustParseAddr(peer), macPeer); err != nil {
			t.Fatal(err)
		}
		if o.v6 {
			if err := s.AddAddress(nic, netip.MustParsePrefix(ip6+"/64")); err != nil {
				t.Fatal(err)
			}
			if err := s.AddStaticNeighbor(nic, netip.MustParseAddr(peer6), macPeer); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetUp(nic, true); err != nil {
			t.Fatal(err)
		}
		p, err := New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return &host{s: s, tcp: p, nic: nic, rx: rx, ip: netip.MustParseAddr(ip)}
	}
	macA, macB := wire.MAC{2, 0, 0, 0, 0, 1}, wire.MAC{2, 0, 0, 0, 0, 2}
	cfgB := o.cfg
	if o.cfgB != nil {
		cfgB = *o.cfgB
	}
	pr.a = mk(ea, "10.0.0.1", "10.0.0.2", macA, macB, 1+o.seed*10, o.cfg, "fd00::1", "fd00::2")
	pr.b = mk(eb, "10.0.0.2", "10.0.0.1", macB, macA, 2+o.seed*10, cfgB, "fd00::2", "fd00::1")
	settle := 100 * time.Millisecond // gratuitous ARP etc.
	if o.v6 {
		settle = 5 * time.Second // duplicate address detection
		pr.a.ip6, pr.b.ip6 = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	}
	pr.run(func() bool { return false }, settle)
	return pr
}

// step delivers due frames and runs due timers; it reports whether
// anything happened.
func (pr *pair) step() bool {
	did := false
	for _, h := range []*host{pr.a, pr.b} {
		for {
			n, ok := h.rx.TryReceive(pr.buf)
			if !ok {
				break
			}
			h.s.Input(h.nic, pr.buf[:n])
			did = true
		}
	}
	for _, h := range []*host{pr.a, pr.b} {
		h.s.Poll() // runs the TCP timers too (AddPoller)
	}
	return did
}

// next returns the earliest deadline of anything in the pair.
func (pr *pair) next() (time.Duration, bool) {
	var best time.Duration
	ok := false
	take := func(t time.Duration, has bool) {
		if has && (!ok || t < best) {
			best, ok = t, true
		}
	}
	for _, h := range []*host{pr.a, pr.b} {
		take(h.rx.NextDue())
		take(h.s.NextDeadline())
	}
	return best, ok
}

// run pumps until cond holds or limit of virtual time passed; it reports
// whether cond held.
func (pr *pair) run(cond func() bool, limit time.Duration) bool {
	end := pr.clk.t + limit
	for {
		for pr.step() {
			if cond() {
				return true
			}
		}
		if cond() {
			return true
		}
		n, ok := pr.next()
		if !ok || n > end {
			pr.clk.t = end
			pr.step()
			return cond()
		}
		if n <= pr.clk.t {
			n = pr.clk.t + time.Microsecond
		}
		pr.clk.t = n
	}
}

// transfer is one direction of a bulk transfer with SHA-256 checks.
type transfer struct {
	data     []byte
	off      int
	got      []byte
	recvHash [32]byte
	eof      bool
	err      error
}

// pump writes as much of data as fits.
func (x *transfer) pump(c *PCB) {
	for x.off < len(x.data) {
		n, err := c.Write(x.data[x.off:min(len(x.data), x.off+16384)])
		x.off += n
		if err != nil || n == 0 {
			return
		}
	}
	if x.off == len(x.data) {
		c.Shutdown()
		x.off++
	}
}

func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bulk runs a transfer of size bytes each way between a (client) and b
// (server) and checks both by SHA-256; it returns the virtual time taken.
func bulk(t testing.TB, pr *pair, size int, limit time.Duration) time.Duration {
	return bulkTo(t, pr, pr.b.ip, size, limit)
}

// bulkTo is bulk to the server address dst.
func bulkTo(t testing.TB, pr *pair, dst netip.Addr, size int, limit time.Duration) time.Duration {
	t.Helper()
	up := &transfer{data: randomData(size, 1)}   // a -> b
	down := &transfer{data: randomData(size, 2)} // b -> a
	setup := func(c *PCB, send, recv *transfer) {
		c.OnRecv(func(c *PCB, d []byte) {
			if d == nil {
				recv.eof = true
				return
			}
			recv.got = append(recv.got, d...)
			c.Recved(len(d))
		})
		c.OnSent(func(c *PCB, n int) { send.pump(c) })
		c.OnError(func(c *PCB, err error) { recv.err = err })
		send.pump(c)
	}
	l, _ := pr.b.tcp.NewPCB()
	if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 16); err != nil {
		t.Fatal(err)
	}
	var server *PCB
	l.OnAccept(func(l, c *PCB) {
		server = c
		setup(c, down, up)
	})
	cl, _ := pr.a.tcp.NewPCB()
	var connErr error
	connected := false
	cl.OnConnected(func(c *PCB, err error) {
		connErr, connected = err, true
		if err == nil {
			setup(c, up, down)
		}
	})
	start := pr.clk.t
	if err := cl.Connect(netip.AddrPortFrom(dst, 80)); err != nil {
		t.Fatal(err)
	}
	ok := pr.run(func() bool { return up.eof && down.eof || up.err != nil || down.err != nil || connErr != nil }, limit)
	took := pr.clk.t - start
	if !connected || connErr != nil {
		t.Fatalf("connect: %v (connected %v)", connErr, connected)
	}
	if !ok || up.err != nil || down.err != nil {
		cs, ss := cl.Stats(), PCBStats{}
		if server != nil {
			ss = server.Stats()
		}
		t.Fatalf("transfer incomplete after %v: up %d/%d err %v, down %d/%d err %v\nclient %+v\nserver %+v", took,
			len(up.got), size, up.err, len(down.got), size, down.err, cs, ss)
	}
	if sha256.Sum256(up.got) != sha256.Sum256(up.data) || sha256.Sum256(down.got) != sha256.Sum256(down.data) {
		t.Fatalf("data mismatch: up %d bytes, down %d bytes", len(up.got), len(down.got))
	}
	cl.Close()
	server.Close()
	pr.run(func() bool { return pr.a.tcp.NumPCBs()+pr.b.tcp.NumPCBs() <= 2 }, 5*time.Minute)
	return took
}

func TestBulkClean(t *testing.T) {
	pr := newPair(t, pairOpts{delay: time.Millisecond})
	took := bulk(t, pr, 1<<20, time.Minute)
	t.Logf("1 MiB each way in %v virtual", took)
}

func TestBulkFaults(t *testing.T) {
	cases := []struct {
		name string
		f    fault.Config
		cfg  Config
	}{
		{"loss1", fault.Config{Loss: 0.01}, Config{}},
		{"loss5", fault.Config{Loss: 0.05}, Config{}},
		{"loss5-nosack", fault.Config{Loss: 0.05}, Config{DisableSACK: true}},
		{"loss5-nots", fault.Config{Loss: 0.05}, Config{DisableTimestamps: true, CongestionControl: "reno"}},
		{"reorder", fault.Config{Reorder: 0.05}, Config{}},
		{"dup", fault.Config{Duplicate: 0.05}, Config{}},
		{"corrupt", fault.Config{Corrupt: 0.05}, Config{}},
		{"all", fault.Config{Loss: 0.02, Reorder: 0.02, Duplicate: 0.02, Corrupt: 0.02}, Config{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			pr := newPair(t, pairOpts{delay: 5 * time.Millisecond, fault: &f, cfg: tc.cfg})
			took := bulk(t, pr, 1<<20, 10*time.Minute)
			st := pr.a.tcp.Stats()
			t.Logf("1 MiB each way in %v virtual: %.2f Mbit/s; retrans %d, fast %d, timeouts %d, sackrec %d, newreno %d",
				took, float64(8<<20)/took.Seconds()/1e6, st.RetransSegs, st.FastRetransmits, st.Timeouts, st.SACKRecoveries, st.NewRenoRecovery)
		})
	}
}
