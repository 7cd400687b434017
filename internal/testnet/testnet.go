// Package testnet is a test harness: two featherip stacks, 10.0.0.1/24 (A)
// and 10.0.0.2/24 (B), on one Ethernet link that the test pumps by hand
// under a virtual clock. Transport packages attach their protocol to each
// stack and drive traffic through Pump and Advance.
package testnet

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// Clock is a virtual clock the test advances by hand.
type Clock struct{ T time.Duration }

// Now returns the virtual time.
func (c *Clock) Now() time.Duration { return c.T }

// Host is one stack on the test link with the frames queued for it.
type Host struct {
	S    *stack.Stack
	NIC  stack.NIC
	MAC  wire.MAC
	Addr netip.Addr
	Peer *Host
	// Inq holds the frames waiting for Input.
	Inq   [][]byte
	spare [][]byte // recycled frame buffers
	// Tap, when set, sees (and may modify) every frame this host sends,
	// before it is queued for the peer; returning false drops it.
	Tap func(frame []byte) bool
	// Sent counts frames sent.
	Sent int
}

// link is the stack.Link of a host: Send copies the frame onto the peer's
// queue.
type link struct{ h *Host }

func (l link) Send(frame []byte) error {
	h := l.h
	h.Sent++
	if h.Peer == nil {
		return nil // not wired yet (announcements while setting up)
	}
	var b []byte
	if k := len(h.Peer.spare); k > 0 && cap(h.Peer.spare[k-1]) >= len(frame) {
		b = h.Peer.spare[k-1][:len(frame)]
		h.Peer.spare = h.Peer.spare[:k-1]
	} else {
		b = make([]byte, len(frame), max(len(frame), 2048))
	}
	copy(b, frame)
	if h.Tap != nil && !h.Tap(b) {
		h.Peer.spare = append(h.Peer.spare, b)
		return nil
	}
	h.Peer.Inq = append(h.Peer.Inq, b)
	return nil
}

// Net is two stacks, 10.0.0.1/24 (A) and 10.0.0.2/24 (B), on one Ethernet
// link that is pumped by hand.
type Net struct {
	T     testing.TB
	Clock *Clock
	A, B  *Host
}

// NewHost makes host number n (MAC 02:00:00:00:00:n, address 10.0.0.n/24)
// with its interface up, then calls attach (when not nil) on it, for the
// test to add its protocol.
func NewHost(t testing.TB, clock *Clock, seed uint64, n byte, attach func(*Host)) *Host {
	t.Helper()
	s, err := stack.New(stack.Config{Clock: clock, Rand: rand.NewPCG(seed, seed*7+1)})
	if err != nil {
		t.Fatalf("stack.New: %v", err)
	}
	h := &Host{S: s, MAC: wire.MAC{0x02, 0, 0, 0, 0, n}, Addr: netip.AddrFrom4([4]byte{10, 0, 0, n})}
	nic, err := s.AddInterface(stack.InterfaceConfig{Name: "eth0", Link: link{h}, Kind: stack.LinkEthernet, MTU: 1500, MAC: h.MAC})
	if err != nil {
		t.Fatalf("AddInterface: %v", err)
	}
	h.NIC = nic
	if err := s.AddAddress(nic, netip.PrefixFrom(h.Addr, 24)); err != nil {
		t.Fatalf("AddAddress: %v", err)
	}
	if err := s.SetUp(nic, true); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	if attach != nil {
		attach(h)
	}
	return h
}

// New makes hosts A (seed 1) and B (seed 2) with NewHost, calling attach on
// A then on B, wires them together and pumps the link until it is quiet.
// The clock starts at one second.
func New(t testing.TB, attach func(*Host)) *Net {
	t.Helper()
	clock := &Clock{T: time.Second}
	a := NewHost(t, clock, 1, 1, attach)
	b := NewHost(t, clock, 2, 2, attach)
	a.Peer, b.Peer = b, a
	n := &Net{T: t, Clock: clock, A: a, B: b}
	n.Pump() // gratuitous ARP and the like
	return n
}

// Drain feeds h its queued frames.
func (h *Host) Drain() {
	for i := 0; i < len(h.Inq); i++ {
		f := h.Inq[i]
		h.S.Input(h.NIC, f)
		h.spare = append(h.spare, f)
		h.Inq[i] = nil
	}
	h.Inq = h.Inq[:0]
}

// Pump delivers frames and polls both stacks until nothing moves; it fails
// the test when the link does not go quiet within 1000 rounds.
func (n *Net) Pump() {
	for i := 0; i < 1000; i++ {
		n.A.S.Poll()
		n.B.S.Poll()
		if len(n.A.Inq) == 0 && len(n.B.Inq) == 0 {
			return
		}
		n.A.Drain()
		n.B.Drain()
	}
	n.T.Fatalf("pump: the link never went quiet")
}

// Advance moves the virtual clock by d in 10 ms steps, pumping.
func (n *Net) Advance(d time.Duration) {
	end := n.Clock.T + d
	for n.Clock.T < end {
		n.Clock.T += 10 * time.Millisecond
		n.Pump()
	}
}

// UDPOffset returns the offset of the UDP header in an Ethernet frame
// carrying an unfragmented IPv4 datagram of protocol proto (UDP or
// UDP-Lite), or -1.
func UDPOffset(frame []byte, proto uint8) int {
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
