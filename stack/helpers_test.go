package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// fakeClock is virtual time moved by the test.
type fakeClock struct{ t time.Duration }

func (c *fakeClock) Now() time.Duration { return c.t }

// recLink records every frame the stack sends.
type recLink struct {
	frames [][]byte
	err    error
}

func (l *recLink) Send(f []byte) error {
	l.frames = append(l.frames, append([]byte(nil), f...))
	return l.err
}

func (l *recLink) take() [][]byte {
	f := l.frames
	l.frames = nil
	return f
}

var (
	ourMAC  = wire.MAC{2, 0, 0, 0, 0, 1}
	peerMAC = wire.MAC{2, 0, 0, 0, 0, 2}
	ourIP   = netip.MustParseAddr("192.168.7.1")
	peerIP  = netip.MustParseAddr("192.168.7.2")
)

type env struct {
	t    testing.TB
	s    *Stack
	clk  *fakeClock
	link *recLink
	nic  NIC
}

// newEnv builds a stack with eth0 (192.168.7.1/24, up) on a recording link.
func newEnv(t testing.TB, mut func(*Config)) *env {
	t.Helper()
	clk := &fakeClock{t: time.Hour}
	cfg := Config{Clock: clk, Rand: rand.NewPCG(1, 2)}
	// The IPv4 tests count frames exactly: keep IPv6 (link-local, DAD, MLD)
	// off here; IPv6 tests use their own helpers and mut may turn it on.
	cfg.IPv6.Disabled = true
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
	if err != nil {
		t.Fatal(err)
	}
	l := &recLink{}
	n, err := s.AddInterface(InterfaceConfig{Name: "eth0", Link: l, Kind: LinkEthernet, MTU: 1500, MAC: ourMAC})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddAddress(n, netip.MustParsePrefix("192.168.7.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUp(n, true); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, s: s, clk: clk, link: l, nic: n}
	e.advance(10 * time.Second) // let the announcements go
	l.take()
	return e
}

func (e *env) advance(d time.Duration) {
	e.clk.t += d
	e.s.Poll()
}

func ethFrame(dst, src wire.MAC, typ uint16, payload []byte) []byte {
	f := make([]byte, wire.EthernetHeaderLen+len(payload))
	wire.PutEthernet(f, dst, src, typ)
	copy(f[wire.EthernetHeaderLen:], payload)
	return f
}

func arpPkt(op uint16, sha wire.MAC, spa netip.Addr, tha wire.MAC, tpa netip.Addr) []byte {
	b := make([]byte, wire.ARPLen)
	wire.PutARP(b, op, sha, spa, tha, tpa)
	return b
}

func ipPkt(h wire.IPv4Header, payload []byte) []byte {
	if h.TTL == 0 {
		h.TTL = 64
	}
	h.TotalLength = h.HeaderLen() + len(payload)
	b := make([]byte, h.TotalLength)
	n := h.Encode(b)
	copy(b[n:], payload)
	return b
}

func echoMsg(typ uint8, id, seq uint16, data []byte) []byte {
	m := make([]byte, wire.ICMPv4HeaderLen+len(data))
	wire.PutICMPv4(m, typ, 0, uint32(id)<<16|uint32(seq))
	copy(m[8:], data)
	wire.SetICMPv4Checksum(m)
	return m
}

// fragmentPkt splits an IPv4 packet into fragments of at most mtu bytes (test-side, options-free).
func fragmentPkt(t testing.TB, pkt []byte, mtu int) [][]byte {
	p, err := wire.ParseIPv4(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkt) <= mtu {
		return [][]byte{pkt}
	}
	hl := p.HeaderLen()
	pay := p.Payload()
	var out [][]byte
	max := (mtu - hl) &^ 7
	for off := 0; off < len(pay); off += max {
		end := min(off+max, len(pay))
		f := make([]byte, hl+end-off)
		copy(f, pkt[:hl])
		copy(f[hl:], pay[off:end])
		binary.BigEndian.PutUint16(f[2:4], uint16(len(f)))
		fo := uint16(off / 8)
		if end < len(pay) {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:8], fo)
		wire.SetIPv4Checksum(f[:hl])
		out = append(out, f)
	}
	return out
}

// reassemble joins IPv4 fragments (test-side oracle) and checks every fragment header.
func reassemble(t testing.TB, frags [][]byte) []byte {
	t.Helper()
	var hdr []byte
	var data []byte
	total := -1
	got := 0
	for _, f := range frags {
		p, err := wire.ParseIPv4(f)
		if err != nil {
			t.Fatalf("fragment does not parse: %v", err)
		}
		if !p.ChecksumValid() {
			t.Fatal("fragment header checksum invalid")
		}
		off := p.FragmentOffset()
		if p.MoreFragments() && len(p.Payload())%8 != 0 {
			t.Fatalf("non-final fragment of %d bytes", len(p.Payload()))
		}
		if off == 0 {
			hdr = append([]byte(nil), p.Header()...)
		}
		end := off + len(p.Payload())
		if !p.MoreFragments() {
			total = end
		}
		if len(data) < end {
			data = append(data, make([]byte, end-len(data))...)
		}
		copy(data[off:], p.Payload())
		got += len(p.Payload())
	}
	if hdr == nil || total < 0 || got != total || len(data) != total {
		t.Fatalf("incomplete fragments: hdr %v total %d got %d", hdr != nil, total, got)
	}
	out := append(hdr, data...)
	binary.BigEndian.PutUint16(out[2:4], uint16(len(out)))
	binary.BigEndian.PutUint16(out[6:8], 0)
	wire.SetIPv4Checksum(out[:len(hdr)])
	return out
}

// learnPeer teaches the stack the peer's MAC with an ARP request to us.
func (e *env) learnPeer() {
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP,
		arpPkt(wire.ARPRequest, peerMAC, peerIP, wire.MAC{}, ourIP)))
	e.link.take()
}

// ipFrames returns the IPv4 payloads of recorded Ethernet frames, checking they go to dst MAC.
func ipFrames(t testing.TB, frames [][]byte, dst wire.MAC) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range frames {
		eth, err := wire.ParseEthernet(f)
		if err != nil {
			t.Fatal(err)
		}
		if eth.EtherType() != wire.EtherTypeIPv4 {
			continue
		}
		if eth.Dst() != dst || eth.Src() != ourMAC {
			t.Fatalf("frame to %v from %v, want to %v from %v", eth.Dst(), eth.Src(), dst, ourMAC)
		}
		out = append(out, eth.Payload())
	}
	return out
}

// stubTransport records deliveries and ICMP errors.
type stubTransport struct {
	pkts   []Packet
	data   [][]byte
	errs   []ICMPError
	accept bool
}

func (t *stubTransport) Deliver(p *Packet) bool {
	c := *p
	c.IPHeader = append([]byte(nil), p.IPHeader...)
	c.Payload = append([]byte(nil), p.Payload...)
	t.pkts = append(t.pkts, c)
	return t.accept
}

func (t *stubTransport) HandleICMPError(e *ICMPError) {
	c := *e
	c.Quoted = append([]byte(nil), e.Quoted...)
	t.errs = append(t.errs, c)
}

type stubRaw struct{ pkts []Packet }

func (r *stubRaw) DeliverRaw(p *Packet) {
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	r.pkts = append(r.pkts, c)
}

func udpTo(t testing.TB, s *Stack, src, dst netip.Addr, data []byte) []byte {
	t.Helper()
	u := make([]byte, 8+len(data))
	wire.PutUDP(u, 1234, 5678, len(u))
	copy(u[8:], data)
	wire.SetUDPChecksum(u, src, dst)
	return u
}
