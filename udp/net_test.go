package udp_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// vclock is a virtual clock the test advances by hand.
type vclock struct{ t time.Duration }

func (c *vclock) Now() time.Duration { return c.t }

// host is one stack on the test link with the frames queued for it.
type host struct {
	s     *stack.Stack
	u     *udp.Protocol
	nic   stack.NIC
	mac   wire.MAC
	addr  netip.Addr
	peer  *host
	inq   [][]byte // frames waiting for Input
	spare [][]byte // recycled frame buffers
	// tap, when set, sees (and may modify) every frame this host sends,
	// before it is queued for the peer; returning false drops it.
	tap func(frame []byte) bool
	// sent counts frames sent.
	sent int
}

// link is the stack.Link of a host: Send copies the frame onto the peer's
// queue.
type link struct{ h *host }

func (l link) Send(frame []byte) error {
	h := l.h
	h.sent++
	if h.peer == nil {
		return nil // not wired yet (announcements while setting up)
	}
	var b []byte
	if k := len(h.peer.spare); k > 0 && cap(h.peer.spare[k-1]) >= len(frame) {
		b = h.peer.spare[k-1][:len(frame)]
		h.peer.spare = h.peer.spare[:k-1]
	} else {
		b = make([]byte, len(frame), max(len(frame), 2048))
	}
	copy(b, frame)
	if h.tap != nil && !h.tap(b) {
		h.peer.spare = append(h.peer.spare, b)
		return nil
	}
	h.peer.inq = append(h.peer.inq, b)
	return nil
}

// testNet is two stacks, 10.0.0.1/24 (a) and 10.0.0.2/24 (b), on one
// Ethernet link that is pumped by hand.
type testNet struct {
	t     testing.TB
	clock *vclock
	a, b  *host
}

func newHost(t testing.TB, clock *vclock, seed uint64, n byte, ucfg udp.Config) *host {
	t.Helper()
	s, err := stack.New(stack.Config{Clock: clock, Rand: rand.NewPCG(seed, seed*7+1)})
	if err != nil {
		t.Fatalf("stack.New: %v", err)
	}
	h := &host{s: s, mac: wire.MAC{0x02, 0, 0, 0, 0, n}, addr: netip.AddrFrom4([4]byte{10, 0, 0, n})}
	nic, err := s.AddInterface(stack.InterfaceConfig{Name: "eth0", Link: link{h}, Kind: stack.LinkEthernet, MTU: 1500, MAC: h.mac})
	if err != nil {
		t.Fatalf("AddInterface: %v", err)
	}
	h.nic = nic
	if err := s.AddAddress(nic, netip.PrefixFrom(h.addr, 24)); err != nil {
		t.Fatalf("AddAddress: %v", err)
	}
	if err := s.SetUp(nic, true); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	h.u, err = udp.New(s, ucfg)
	if err != nil {
		t.Fatalf("udp.New: %v", err)
	}
	return h
}

func newNet(t testing.TB) *testNet { return newNetCfg(t, udp.Config{}) }

func newNetCfg(t testing.TB, ucfg udp.Config) *testNet {
	t.Helper()
	clock := &vclock{t: time.Second}
	a := newHost(t, clock, 1, 1, ucfg)
	b := newHost(t, clock, 2, 2, ucfg)
	a.peer, b.peer = b, a
	n := &testNet{t: t, clock: clock, a: a, b: b}
	n.pump() // gratuitous ARP and the like
	return n
}

// drain feeds h its queued frames.
func (h *host) drain() {
	for i := 0; i < len(h.inq); i++ {
		f := h.inq[i]
		h.s.Input(h.nic, f)
		h.spare = append(h.spare, f)
		h.inq[i] = nil
	}
	h.inq = h.inq[:0]
}

// pump delivers frames and polls both stacks until nothing moves.
func (n *testNet) pump() {
	for i := 0; i < 1000; i++ {
		n.a.s.Poll()
		n.b.s.Poll()
		if len(n.a.inq) == 0 && len(n.b.inq) == 0 {
			return
		}
		n.a.drain()
		n.b.drain()
	}
	n.t.Fatalf("pump: the link never went quiet")
}

// advance moves the virtual clock by d in small steps, pumping.
func (n *testNet) advance(d time.Duration) {
	end := n.clock.t + d
	for n.clock.t < end {
		n.clock.t += 10 * time.Millisecond
		n.pump()
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// udpOffset returns the offset of the UDP header in an Ethernet frame
// carrying an unfragmented IPv4 UDP or UDP-Lite datagram, or -1.
func udpOffset(frame []byte, proto uint8) int {
	e, err := wire.ParseEthernet(frame)
	if err != nil || e.EtherType() != wire.EtherTypeIPv4 {
		return -1
	}
	ip, err := wire.ParseIPv4(e.Payload())
	if err != nil || ip.Protocol() != proto || ip.IsFragment() {
		return -1
	}
	return e.HeaderLen() + ip.HeaderLen()
}
