package stack

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

var (
	h6Our    = netip.MustParseAddr("2001:db8::1")
	h6Peer   = netip.MustParseAddr("2001:db8::2")
	h6Far    = netip.MustParseAddr("2001:db8:99::9")
	h6PeerLL = netip.MustParseAddr("fe80::2")
)

// host6 is a stack with eth0 (2001:db8::1/64 static, plus the link-local
// address autoconfiguration forms) on a recording link, settled: DAD, router
// solicitation and MLD reports are over and their frames forgotten.
type host6 struct {
	t    testing.TB
	s    *Stack
	clk  *fakeClock
	link *recLink
	nic  NIC
}

func newHost6(t testing.TB, mut func(*Config)) *host6 {
	t.Helper()
	clk := &fakeClock{t: time.Hour}
	cfg := Config{Clock: clk, Rand: rand.NewPCG(5, 6)}
	cfg.ARP.Announcements = -1
	cfg.SLAAC.RouterSolicitations = -1
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
	if err := s.AddAddress(n, netip.MustParsePrefix("2001:db8::1/64")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUp(n, true); err != nil {
		t.Fatal(err)
	}
	h := &host6{t: t, s: s, clk: clk, link: l, nic: n}
	h.run(30 * time.Second)
	l.take()
	return h
}

// run polls at every deadline up to now+d.
func (h *host6) run(d time.Duration) {
	end := h.clk.t + d
	for i := 0; i < 100000; i++ {
		t, ok := h.s.NextDeadline()
		if !ok || t > end {
			break
		}
		if t > h.clk.t {
			h.clk.t = t
		}
		h.s.Poll()
	}
	h.clk.t = end
	h.s.Poll()
}

func (h *host6) staticPeer() {
	h.t.Helper()
	if err := h.s.AddStaticNeighbor(h.nic, h6Peer, peerMAC); err != nil {
		h.t.Fatal(err)
	}
}

// in feeds an IPv6 packet from peerMAC to eth0 (to our MAC, or to the
// group's 33:33 MAC for a multicast destination).
func (h *host6) in(pkt []byte) {
	dst := ourMAC
	if pkt[24] == 0xff {
		dst = wire.IPv6MulticastMAC(netip.AddrFrom16([16]byte(pkt[24:40])))
	}
	h.s.Input(h.nic, ethFrame(dst, peerMAC, wire.EtherTypeIPv6, pkt))
}

// out returns the IPv6 packets sent since the last call (other frames dropped).
func (h *host6) out() [][]byte {
	var out [][]byte
	for _, f := range h.link.take() {
		e, err := wire.ParseEthernet(f)
		if err != nil {
			h.t.Fatal(err)
		}
		if e.EtherType() != wire.EtherTypeIPv6 {
			continue
		}
		if e.Src() != ourMAC {
			h.t.Fatalf("frame from %v", e.Src())
		}
		out = append(out, e.Payload())
	}
	return out
}

// icmpOut returns the ICMPv6 messages (other than MLD) in sent packets.
func (h *host6) icmpOut() []wire.ICMPv6 {
	var out []wire.ICMPv6
	for _, p := range h.out() {
		ip, err := wire.ParseIPv6(p)
		if err != nil {
			h.t.Fatal(err)
		}
		proto, data, err := ip.UpperLayer()
		if err != nil || proto != wire.ProtoICMPv6 {
			continue
		}
		m, err := wire.ParseICMPv6(data)
		if err != nil || !m.ChecksumValid(ip.Src(), ip.Dst()) {
			h.t.Fatalf("bad ICMPv6 out: %v", err)
		}
		if t := m.Type(); t == wire.ICMPv6MLDv2Report || t == wire.ICMPv6MLDv1Report || t == wire.ICMPv6MLDv1Done {
			continue
		}
		out = append(out, m)
	}
	return out
}

func pkt6(src, dst netip.Addr, next, hop uint8, payload []byte) []byte {
	b := make([]byte, wire.IPv6HeaderLen+len(payload))
	h := wire.IPv6Header{PayloadLength: len(payload), NextHeader: next, HopLimit: hop, Src: src, Dst: dst}
	h.Encode(b)
	copy(b[wire.IPv6HeaderLen:], payload)
	return b
}

func echo6(typ uint8, id, seq uint16, data []byte, src, dst netip.Addr) []byte {
	m := make([]byte, wire.ICMPv6HeaderLen+len(data))
	wire.PutICMPv6(m, typ, 0, uint32(id)<<16|uint32(seq))
	copy(m[8:], data)
	wire.SetICMPv6Checksum(m, src, dst)
	return m
}

func udp6(src, dst netip.Addr, data []byte) []byte {
	u := make([]byte, 8+len(data))
	wire.PutUDP(u, 1234, 5678, len(u))
	copy(u[8:], data)
	wire.SetUDPChecksum(u, src, dst)
	return u
}

// frag6Split fragments an IPv6 packet without extension headers into
// packets of at most mtu bytes (test-side fragmenter).
func frag6Split(pkt []byte, mtu int, id uint32) [][]byte {
	rest := pkt[wire.IPv6HeaderLen:]
	max := (mtu - wire.IPv6HeaderLen - 8) &^ 7
	var out [][]byte
	for off := 0; off < len(rest); off += max {
		end := min(off+max, len(rest))
		f := make([]byte, wire.IPv6HeaderLen+8+end-off)
		copy(f, pkt[:wire.IPv6HeaderLen])
		f[6] = wire.ProtoFragment
		binary.BigEndian.PutUint16(f[4:6], uint16(len(f)-wire.IPv6HeaderLen))
		wire.PutIPv6Fragment(f[wire.IPv6HeaderLen:], pkt[6], off, end < len(rest), id)
		copy(f[wire.IPv6HeaderLen+8:], rest[off:end])
		out = append(out, f)
	}
	return out
}

// frag6Join reassembles fragments the stack sent (test-side oracle),
// checking each fragment's header.
func frag6Join(t testing.TB, frags [][]byte, mtu int) []byte {
	t.Helper()
	var hdr []byte
	var data []byte
	total, got := -1, 0
	var id uint32
	for i, f := range frags {
		if len(f) > mtu {
			t.Fatalf("fragment of %d bytes over MTU %d", len(f), mtu)
		}
		p, err := wire.ParseIPv6(f)
		if err != nil || p.NextHeader() != wire.ProtoFragment {
			t.Fatalf("fragment %d: %v next %d", i, err, p.NextHeader())
		}
		fh, err := wire.ParseIPv6Fragment(p.Payload())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			id = fh.ID()
		} else if fh.ID() != id {
			t.Fatal("fragment IDs differ")
		}
		pl := p.Payload()[8:]
		if fh.MoreFragments() && len(pl)%8 != 0 {
			t.Fatalf("non-final fragment of %d bytes", len(pl))
		}
		off := fh.FragmentOffset()
		if off == 0 {
			hdr = append([]byte(nil), f[:wire.IPv6HeaderLen]...)
			hdr[6] = fh.NextHeader()
		}
		if !fh.MoreFragments() {
			total = off + len(pl)
		}
		if len(data) < off+len(pl) {
			data = append(data, make([]byte, off+len(pl)-len(data))...)
		}
		copy(data[off:], pl)
		got += len(pl)
	}
	if hdr == nil || total != got || len(data) != total {
		t.Fatalf("incomplete: hdr %v total %d got %d", hdr != nil, total, got)
	}
	out := append(hdr, data...)
	binary.BigEndian.PutUint16(out[4:6], uint16(len(data)))
	return out
}

func TestPing6EchoByteExact(t *testing.T) {
	for _, size := range []int{0, 56, 1232, 4000} {
		h := newHost6(t, nil)
		h.staticPeer()
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + size)
		}
		req := pkt6(h6Peer, h6Our, wire.ProtoICMPv6, 64, echo6(wire.ICMPv6EchoRequest, 0x4242, 9, data, h6Peer, h6Our))
		frags := [][]byte{req}
		if len(req) > 1280 {
			frags = frag6Split(req, 1280, 77)
		}
		for _, f := range frags {
			h.in(f)
		}
		out := h.out()
		var reply []byte
		switch {
		case len(req) > 1500:
			if len(out) < 3 {
				t.Fatalf("size %d: %d packets out, want fragments", size, len(out))
			}
			reply = frag6Join(t, out, 1500)
		case len(out) == 1:
			reply = out[0]
		default:
			t.Fatalf("size %d: %d packets out", size, len(out))
		}
		want := pkt6(h6Our, h6Peer, wire.ProtoICMPv6, 64, echo6(wire.ICMPv6EchoReply, 0x4242, 9, data, h6Our, h6Peer))
		if !bytes.Equal(reply, want) {
			t.Fatalf("size %d: reply differs\n got %x\nwant %x", size, reply[:min(len(reply), 80)], want[:min(len(want), 80)])
		}
		st := h.s.Stats()
		if st.ICMPv6.InEchos != 1 || st.ICMPv6.OutEchoReplies != 1 {
			t.Fatalf("size %d: counters %+v", size, st.ICMPv6)
		}
		if len(frags) > 1 && (st.IPv6.ReasmOKs != 1 || st.IPv6.ReasmReqds != uint64(len(frags))) {
			t.Fatalf("size %d: reassembly counters %+v", size, st.IPv6)
		}
		if len(req) > 1500 && (st.IPv6.FragOKs != 1 || st.IPv6.FragCreates != uint64(len(out))) {
			t.Fatalf("size %d: fragmentation counters %+v", size, st.IPv6)
		}
	}
}

func TestPing6ZeroAllocs(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	req := pkt6(h6Peer, h6Our, wire.ProtoICMPv6, 64, echo6(wire.ICMPv6EchoRequest, 1, 1, make([]byte, 56), h6Peer, h6Our))
	frame := ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv6, req)
	sink := &countLink{}
	h.s.nic(h.nic).link = sink
	h.s.Input(h.nic, frame) // warm up
	allocs := testing.AllocsPerRun(200, func() { h.s.Input(h.nic, frame) })
	if allocs != 0 {
		t.Fatalf("%v allocations per echo", allocs)
	}
	if sink.n < 200 {
		t.Fatalf("only %d replies", sink.n)
	}
}

func TestPing6Multicast(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	req := pkt6(h6Peer, wire.IPv6AllNodes, wire.ProtoICMPv6, 64, echo6(wire.ICMPv6EchoRequest, 1, 2, []byte("all"), h6Peer, wire.IPv6AllNodes))
	h.in(req)
	ms := h.icmpOut()
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6EchoReply {
		t.Fatalf("multicast echo: %d replies", len(ms))
	}
	h2 := newHost6(t, func(c *Config) { c.IPv6.IgnoreMulticastEcho = true })
	h2.staticPeer()
	h2.in(req)
	if ms := h2.icmpOut(); len(ms) != 0 {
		t.Fatal("answered a multicast echo with IgnoreMulticastEcho")
	}
}

// rawRec is a raw handler that records IPv6 packets.
type rawRec struct{ pkts []Packet }

func (r *rawRec) DeliverRaw(p *Packet) {
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	c.IPHeader = append([]byte(nil), p.IPHeader...)
	r.pkts = append(r.pkts, c)
}

// optsHdr builds a hop-by-hop or destination options header of 8 bytes
// holding one option of type typ with a 4-byte value.
func optsHdr(next, typ uint8) []byte {
	return []byte{next, 0, typ, 4, 0, 0, 0, 0}
}

func TestExtensionHeaderChains(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	raw := &rawRec{}
	h.s.AddRawHandler(wire.ProtoUDP, raw)
	u := udp6(h6Peer, h6Our, []byte("ext"))
	// Valid: hop-by-hop (PadN) + destination options (PadN) + UDP.
	chain := append(append(optsHdr(wire.ProtoDestOpts, wire.IPv6OptPadN), optsHdr(wire.ProtoUDP, wire.IPv6OptPadN)...), u...)
	h.in(pkt6(h6Peer, h6Our, wire.ProtoHopByHop, 64, chain))
	if len(raw.pkts) != 1 || !bytes.Equal(raw.pkts[0].Payload, u) || len(raw.pkts[0].IPHeader) != 56 || !raw.pkts[0].IPv6 {
		t.Fatalf("valid chain: %d delivered", len(raw.pkts))
	}
	// A chain that never ends: destination options after destination options.
	var long []byte
	for i := 0; i < 20; i++ {
		long = append(long, optsHdr(wire.ProtoDestOpts, wire.IPv6OptPadN)...)
	}
	long = append(long, u...)
	h.in(pkt6(h6Peer, h6Our, wire.ProtoDestOpts, 64, long))
	if st := h.s.Stats().IPv6; st.InExtChainTooLong != 1 || len(raw.pkts) != 1 {
		t.Fatalf("endless chain: %+v", st)
	}
	// Hop-by-hop not first: parameter problem code 1.
	h.in(pkt6(h6Peer, h6Our, wire.ProtoDestOpts, 64, append(append(optsHdr(wire.ProtoHopByHop, 1), optsHdr(wire.ProtoUDP, 1)...), u...)))
	if ms := h.icmpOut(); len(ms) != 1 || ms[0].Type() != wire.ICMPv6ParamProblem || ms[0].Code() != 1 || ms[0].Pointer() != 40 {
		t.Fatalf("misplaced hop-by-hop: %v", ms)
	}
	h.out()
	// Unknown options with each action, to unicast and multicast.
	h.s.nic(h.nic).ip6.groups = append(h.s.nic(h.nic).ip6.groups, group6{addr: netip.MustParseAddr("ff0e::42"), refs: 1})
	for _, c := range []struct {
		typ           uint8
		deliver       bool
		icmpU, icmpMC bool
	}{
		{0x1e, true, false, false},  // 00: skip
		{0x5e, false, false, false}, // 01: discard
		{0x9e, false, true, true},   // 10: discard, ICMP even to multicast
		{0xde, false, true, false},  // 11: discard, ICMP unless multicast
	} {
		for _, dst := range []netip.Addr{h6Our, netip.MustParseAddr("ff0e::42")} {
			raw.pkts = nil
			uu := udp6(h6Peer, dst, []byte("o"))
			h.in(pkt6(h6Peer, dst, wire.ProtoDestOpts, 64, append(optsHdr(wire.ProtoUDP, c.typ), uu...)))
			if (len(raw.pkts) == 1) != c.deliver {
				t.Fatalf("option %#x to %v: delivered %d", c.typ, dst, len(raw.pkts))
			}
			want := c.icmpU
			if dst.IsMulticast() {
				want = c.icmpMC
			}
			ms := h.icmpOut()
			if want != (len(ms) == 1) {
				t.Fatalf("option %#x to %v: %d ICMP errors", c.typ, dst, len(ms))
			}
			if want && (ms[0].Type() != wire.ICMPv6ParamProblem || ms[0].Code() != 2 || ms[0].Pointer() != 42) {
				t.Fatalf("option %#x: type %d code %d pointer %d", c.typ, ms[0].Type(), ms[0].Code(), ms[0].Pointer())
			}
		}
	}
	if h.s.Stats().IPv6.InUnknownOptions != 6 {
		t.Fatalf("unknown options counted %d", h.s.Stats().IPv6.InUnknownOptions)
	}
}

func TestRoutingHeaderType0Refused(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	raw := &rawRec{}
	h.s.AddRawHandler(wire.ProtoUDP, raw)
	u := udp6(h6Peer, h6Our, []byte("rh"))
	rh := func(typ, left uint8) []byte {
		b := make([]byte, 24)
		a := h6Far.As16()
		wire.PutIPv6Routing(b, wire.ProtoUDP, typ, left, append([]byte{0, 0, 0, 0}, a[:]...))
		return b
	}
	for _, typ := range []uint8{0, 2, 4} {
		h.in(pkt6(h6Peer, h6Our, wire.ProtoRouting, 64, append(rh(typ, 1), u...)))
		ms := h.icmpOut()
		if len(ms) != 1 || ms[0].Type() != wire.ICMPv6ParamProblem || ms[0].Code() != 0 || ms[0].Pointer() != 42 {
			t.Fatalf("type %d with segments left: %v", typ, ms)
		}
	}
	if len(raw.pkts) != 0 {
		t.Fatal("delivered a packet with segments left")
	}
	h.in(pkt6(h6Peer, h6Our, wire.ProtoRouting, 64, append(rh(0, 0), u...)))
	if len(raw.pkts) != 1 || len(h.icmpOut()) != 0 {
		t.Fatal("segments left 0 not ignored")
	}
	if h.s.Stats().IPv6.InRoutingRefused != 3 {
		t.Fatal("not counted")
	}
}

func TestUnknownNextHeader(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	h.in(pkt6(h6Peer, h6Our, 150, 64, []byte("xxxxxxxx")))
	ms := h.icmpOut()
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6ParamProblem || ms[0].Code() != 1 || ms[0].Pointer() != 6 {
		t.Fatalf("unknown next header: %v", ms)
	}
	// Never an error about an ICMPv6 error, nor about multicast.
	bad := echo6(wire.ICMPv6DestUnreachable, 0, 0, make([]byte, 48), h6Peer, h6Our)
	h.in(pkt6(h6Peer, h6Our, wire.ProtoDestOpts, 64, append(optsHdr(wire.ProtoICMPv6, 0xde), bad...)))
	h.in(pkt6(h6Peer, wire.IPv6AllNodes, 150, 64, []byte("xxxxxxxx")))
	if ms := h.icmpOut(); len(ms) != 0 {
		t.Fatalf("error about an error or multicast: %d", len(ms))
	}
}

func TestFragmentsHostile(t *testing.T) {
	h := newHost6(t, func(c *Config) { c.IPv6.Reassembly.MaxBytes = 32 << 10 })
	h.staticPeer()
	raw := &rawRec{}
	h.s.AddRawHandler(wire.ProtoUDP, raw)
	full := pkt6(h6Peer, h6Our, wire.ProtoUDP, 64, udp6(h6Peer, h6Our, make([]byte, 3000)))
	frags := frag6Split(full, 1280, 5)

	// Overlap: a fragment overlapping the first kills the datagram, and
	// the real fragments arriving afterwards do not revive it (RFC 5722).
	over := append([]byte(nil), frags[1]...)
	binary.BigEndian.PutUint16(over[42:44], binary.BigEndian.Uint16(over[42:44])-8)
	h.in(frags[0])
	h.in(over)
	for _, f := range frags[1:] {
		h.in(f)
	}
	st := h.s.Stats().IPv6
	if len(raw.pkts) != 0 || st.ReasmOverlaps != 1 || st.ReasmOKs != 0 {
		t.Fatalf("overlap: delivered %d, %+v", len(raw.pkts), st)
	}
	// The same fragments with another ID reassemble, in any order with duplicates.
	frags = frag6Split(full, 1280, 6)
	for _, i := range []int{2, 0, 0, 1} {
		h.in(frags[i])
	}
	if len(raw.pkts) != 1 || !bytes.Equal(raw.pkts[0].Payload, full[40:]) || h.s.Stats().IPv6.ReasmDuplicates != 1 {
		t.Fatalf("reassembly: %d delivered", len(raw.pkts))
	}

	// Tiny first fragment: the UDP header is in the second fragment (RFC 7112).
	tiny := pkt6(h6Peer, h6Our, wire.ProtoFragment, 64, nil)
	tf := make([]byte, 8+4)
	wire.PutIPv6Fragment(tf, wire.ProtoUDP, 0, true, 9)
	tiny = append(tiny[:40], tf...)
	tiny = append(tiny, make([]byte, 4)...) // 8 bytes of data, no room for the chain check
	tiny = tiny[:40+8+8]
	binary.BigEndian.PutUint16(tiny[4:6], 16)
	// make the first fragment carry a destination options header that
	// is cut: the header chain is incomplete
	tiny[40] = wire.ProtoDestOpts
	tiny[49] = 1 // 16-byte options header, only 8 present
	h.out()
	h.in(tiny)
	if st := h.s.Stats().IPv6; st.InTinyFragments != 1 {
		t.Fatalf("tiny fragment not counted: %+v", st)
	}
	if ms := h.icmpOut(); len(ms) != 1 || ms[0].Type() != wire.ICMPv6ParamProblem || ms[0].Code() != 3 {
		t.Fatalf("tiny fragment: %v", ms)
	}

	// Atomic fragment: processed in isolation (RFC 6946), even with a
	// pending reassembly of the same ID.
	raw.pkts = nil
	h.in(frag6Split(full, 1280, 11)[0])
	small := pkt6(h6Peer, h6Our, wire.ProtoUDP, 64, udp6(h6Peer, h6Our, []byte("atomic")))
	at := frag6Split(small, 1500, 11)
	if len(at) != 1 {
		t.Fatal("not atomic")
	}
	h.in(at[0])
	if len(raw.pkts) != 1 || string(raw.pkts[0].Payload[8:]) != "atomic" || h.s.Stats().IPv6.InAtomicFrags != 1 {
		t.Fatalf("atomic fragment: %d delivered", len(raw.pkts))
	}

	// Flood: many incomplete datagrams stay within the budget.
	for id := uint32(100); id < 400; id++ {
		h.in(frag6Split(full, 1280, id)[0])
		if h.s.ip6.reasm.mem > 32<<10 {
			t.Fatalf("reassembly memory %d over budget", h.s.ip6.reasm.mem)
		}
	}
	if h.s.Stats().IPv6.ReasmEvictions == 0 {
		t.Fatal("no evictions counted")
	}
	// Timeout: time exceeded code 1 for datagrams whose first fragment came.
	h.out()
	h.run(61 * time.Second)
	ms := h.icmpOut()
	if len(ms) == 0 || ms[0].Type() != wire.ICMPv6TimeExceeded || ms[0].Code() != 1 {
		t.Fatalf("timeout: %v", ms)
	}
	if h.s.ip6.reasm.mem != 0 || h.s.Stats().IPv6.ReasmTimeouts == 0 {
		t.Fatal("state left after timeout")
	}
}

func TestFragmentNotMultipleOf8(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	full := pkt6(h6Peer, h6Our, wire.ProtoUDP, 64, udp6(h6Peer, h6Our, make([]byte, 2000)))
	f := frag6Split(full, 1280, 3)[0]
	f = f[:len(f)-3]
	binary.BigEndian.PutUint16(f[4:6], uint16(len(f)-40))
	h.in(f)
	ms := h.icmpOut()
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6ParamProblem || ms[0].Code() != 0 || ms[0].Pointer() != 4 {
		t.Fatalf("odd fragment: %v", ms)
	}
}

func ptb(t testing.TB, mtu uint32, quoted []byte) []byte {
	q := quoted[:min(len(quoted), 1232)]
	m := make([]byte, 8+len(q))
	wire.PutICMPv6(m, wire.ICMPv6PacketTooBig, 0, mtu)
	copy(m[8:], q)
	wire.SetICMPv6Checksum(m, h6PeerLL, h6Our)
	return pkt6(h6PeerLL, h6Our, wire.ProtoICMPv6, 64, m)
}

func TestPacketTooBigLowersPMTU(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	if err := h.s.AddRoute(Route{Dst: netip.MustParsePrefix("::/0"), Gateway: h6Peer, NIC: h.nic}); err != nil {
		t.Fatal(err)
	}
	send := func(n int) [][]byte {
		b := h.s.NewPacket(n)
		if err := h.s.WriteIP(b, &WriteOptions{Dst: h6Far, Protocol: 253}); err != nil {
			t.Fatal(err)
		}
		return h.out()
	}
	out := send(1400)
	if len(out) != 1 {
		t.Fatalf("%d packets", len(out))
	}
	if h.s.PathMTU(h6Far) != 1500 {
		t.Fatal("initial path MTU")
	}
	// A PTB quoting a packet we did not send is ignored.
	forged := append([]byte(nil), out[0]...)
	copy(forged[8:24], h6Peer.AsSlice())
	h.in(ptb(t, 1300, forged))
	if h.s.PathMTU(h6Far) != 1500 {
		t.Fatal("forged PTB believed")
	}
	h.in(ptb(t, 1300, out[0]))
	if got := h.s.PathMTU(h6Far); got != 1300 {
		t.Fatalf("path MTU %d after PTB 1300", got)
	}
	out = send(1400)
	if len(out) != 2 {
		t.Fatalf("%d packets after PTB", len(out))
	}
	frag6Join(t, out, 1300)
	// Never below 1280, never raised.
	h.in(ptb(t, 500, out[0]))
	if got := h.s.PathMTU(h6Far); got != 1280 {
		t.Fatalf("path MTU %d after PTB 500", got)
	}
	h.in(ptb(t, 1400, out[0]))
	if got := h.s.PathMTU(h6Far); got != 1280 {
		t.Fatalf("path MTU raised to %d", got)
	}
	// Aging: back to the link MTU after PMTUTimeout.
	h.clk.t += 11 * time.Minute
	if got := h.s.PathMTU(h6Far); got != 1500 {
		t.Fatalf("path MTU %d after aging", got)
	}
	// DontFragment refuses what does not fit.
	h.in(ptb(t, 1280, out[0]))
	b := h.s.NewPacket(1300)
	if err := h.s.WriteIP(b, &WriteOptions{Dst: h6Far, Protocol: 253, DontFragment: true}); err != ErrMessageTooLong {
		t.Fatalf("DontFragment: %v", err)
	}
}

func TestPMTUCacheBounded(t *testing.T) {
	h := newHost6(t, func(c *Config) { c.IPv6.PMTUCacheSize = 4 })
	for i := 0; i < 20; i++ {
		if !h.s.pmtuLower(netip.AddrFrom16([16]byte{0x20, 1, 15: byte(i)}), 1300) {
			t.Fatal("not lowered")
		}
	}
	if len(h.s.ip6.pmtu) != 4 || h.s.Stats().IPv6.PMTUEvictions != 16 {
		t.Fatalf("cache %d evictions %d", len(h.s.ip6.pmtu), h.s.Stats().IPv6.PMTUEvictions)
	}
}

func TestSourceAddressSelection(t *testing.T) {
	h := newHost6(t, nil)
	n := h.s.nic(h.nic)
	n.ip6.addrs = n.ip6.addrs[:0]
	add := func(a string, st addrState) {
		if err := h.s.addIPv6Addr(n, netip.MustParsePrefix(a), st, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	add("fe80::1/64", addrPreferred)
	add("2001:db8:1::1/64", addrPreferred)
	add("2001:db8:2::1/64", addrDeprecated)
	add("fd00::1/64", addrPreferred)
	add("2001:db8:3::1/64", addrTentative)
	for _, c := range []struct{ dst, want string }{
		{"2001:db8:1::1", "2001:db8:1::1"}, // rule 1: the destination itself
		{"fe80::9", "fe80::1"},             // rule 2: link-local scope
		{"ff02::1", "fe80::1"},             // rule 2: link-scope multicast
		{"2001:db8:2::9", "2001:db8:1::1"}, // rule 3: avoid deprecated
		{"fd00::9", "fd00::1"},             // rule 6: matching label (ULA)
		{"2001:db8:3::9", "2001:db8:1::1"}, // never tentative; rule 8 among the rest
		{"2001:db8:1::9", "2001:db8:1::1"}, // rule 8: longest prefix
		{"ff0e::1", "2001:db8:1::1"},       // rule 2: global multicast wants a global source
	} {
		if got := h.s.selectSource(netip.MustParseAddr(c.dst), n); got != netip.MustParseAddr(c.want) {
			t.Errorf("source for %s = %v, want %s", c.dst, got, c.want)
		}
	}
	// Rule 5: prefer the outgoing interface.
	l2 := &recLink{}
	id2, _ := h.s.AddInterface(InterfaceConfig{Name: "eth1", Link: l2, MAC: wire.MAC{2, 0, 0, 0, 0, 9}})
	n2 := h.s.nic(id2)
	if err := h.s.addIPv6Addr(n2, netip.MustParsePrefix("2001:db8:1::2/64"), addrPreferred, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := h.s.selectSource(netip.MustParseAddr("2001:db8:5::9"), n2); got != netip.MustParseAddr("2001:db8:1::2") {
		t.Errorf("rule 5: %v", got)
	}
	// Only tentative: nothing.
	n.ip6.addrs = n.ip6.addrs[:0]
	n2.ip6.addrs = n2.ip6.addrs[:0]
	add("2001:db8:3::1/64", addrTentative)
	if got := h.s.selectSource(netip.MustParseAddr("2001:db8:3::9"), n); got.IsValid() {
		t.Errorf("tentative chosen: %v", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { h.s.selectSource(h6Far, n) }); allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}

func TestZoneSelectsInterface(t *testing.T) {
	h := newHost6(t, nil)
	l2 := &recLink{}
	id2, _ := h.s.AddInterface(InterfaceConfig{Name: "eth1", Link: l2, MAC: wire.MAC{2, 0, 0, 0, 0, 9}})
	_ = h.s.SetUp(id2, true)
	h.run(30 * time.Second)
	h.link.take()
	l2.take()
	_ = h.s.AddStaticNeighbor(id2, h6PeerLL, peerMAC)
	b := h.s.NewPacket(8)
	if err := h.s.WriteIP(b, &WriteOptions{Dst: h6PeerLL.WithZone("eth1"), Protocol: 253}); err != nil {
		t.Fatal(err)
	}
	if len(l2.take()) != 1 || len(h.link.take()) != 0 {
		t.Fatal("zone eth1 not honoured")
	}
	b = h.s.NewPacket(8)
	if err := h.s.WriteIP(b, &WriteOptions{Dst: h6PeerLL.WithZone("2"), Protocol: 253}); err != nil {
		t.Fatal(err)
	}
	if len(h.link.take()) != 1 {
		t.Fatal("zone index 2 not honoured")
	}
	b = h.s.NewPacket(8)
	if err := h.s.WriteIP(b, &WriteOptions{Dst: h6PeerLL.WithZone("nope"), Protocol: 253}); err != ErrNoSuchInterface {
		t.Fatalf("unknown zone: %v", err)
	}
}

// naFrom builds a neighbor advertisement from the peer for target.
func naFrom(src, dst, target netip.Addr, flags uint8, mac wire.MAC, hop uint8) []byte {
	m := make([]byte, 32)
	l := wire.PutNDPNeighborAdvertisement(m, flags, target)
	l += wire.PutNDPLinkLayerOption(m[l:], wire.NDPOptTargetLinkAddr, mac)
	wire.SetICMPv6Checksum(m[:l], src, dst)
	return pkt6(src, dst, wire.ProtoICMPv6, hop, m[:l])
}

// nsFrom builds a neighbor solicitation for target.
func nsFrom(src, dst, target netip.Addr, mac wire.MAC, hop uint8) []byte {
	m := make([]byte, 32)
	l := wire.PutNDPNeighborSolicitation(m, target)
	if !src.IsUnspecified() {
		l += wire.PutNDPLinkLayerOption(m[l:], wire.NDPOptSourceLinkAddr, mac)
	}
	wire.SetICMPv6Checksum(m[:l], src, dst)
	return pkt6(src, dst, wire.ProtoICMPv6, hop, m[:l])
}

func (h *host6) neighbor(ip netip.Addr) *ndpEntry { return h.s.ip6.ndp.find(h.nic, ip) }

func TestNDPResolutionWithQueue(t *testing.T) {
	h := newHost6(t, nil)
	for i := 0; i < 6; i++ {
		b := h.s.NewPacket(8)
		b.Bytes()[0] = byte(i)
		if err := h.s.WriteIP(b, &WriteOptions{Dst: h6Peer, Protocol: 253}); err != nil {
			t.Fatal(err)
		}
	}
	frames := h.link.take()
	if len(frames) != 1 {
		t.Fatalf("%d frames while resolving", len(frames))
	}
	e, _ := wire.ParseEthernet(frames[0])
	p, _ := wire.ParseIPv6(e.Payload())
	sn := wire.SolicitedNodeMulticast(h6Peer)
	if e.Dst() != wire.IPv6MulticastMAC(sn) || p.Dst() != sn || p.HopLimit() != 255 || p.Src() != h6Our {
		t.Fatalf("NS to %v/%v hop %d from %v", e.Dst(), p.Dst(), p.HopLimit(), p.Src())
	}
	ns, err := wire.ParseNDPNeighborSolicitation(p.Payload())
	if err != nil || ns.Target() != h6Peer {
		t.Fatal("bad NS")
	}
	if mac, _, ok := ndpLinkOption(ns.Options(), wire.NDPOptSourceLinkAddr); !ok || mac != ourMAC {
		t.Fatal("NS without our link address")
	}
	if en := h.neighbor(h6Peer); en == nil || en.state != ndpIncomplete || en.qlen != 4 {
		t.Fatal("not INCOMPLETE with 4 queued")
	}
	// Retransmissions, then the answer flushes the queue (the latest 4).
	h.run(time.Second)
	if len(h.link.take()) != 1 {
		t.Fatal("no retransmission")
	}
	h.in(naFrom(h6Peer, h6Our, h6Peer, wire.NDPNAFlagSolicited|wire.NDPNAFlagOverride, peerMAC, 255))
	frames = h.link.take()
	if len(frames) != 4 {
		t.Fatalf("%d queued packets sent", len(frames))
	}
	for i, f := range frames {
		e, _ := wire.ParseEthernet(f)
		if e.Dst() != peerMAC || e.Payload()[40] != byte(i+2) {
			t.Fatalf("packet %d to %v first byte %d", i, e.Dst(), e.Payload()[40])
		}
	}
	if en := h.neighbor(h6Peer); en == nil || en.state != ndpReachable || en.mac != peerMAC {
		t.Fatal("not REACHABLE")
	}
	if h.s.Stats().NDP.QueueDrops != 2 {
		t.Fatalf("queue drops %d", h.s.Stats().NDP.QueueDrops)
	}
	found := false
	for _, ni := range h.s.Neighbors() {
		found = found || (ni.IP == h6Peer && ni.State == "reachable" && ni.MAC == peerMAC)
	}
	if !found {
		t.Fatal("not in Neighbors")
	}
}

func TestNDPResolutionFailure(t *testing.T) {
	h := newHost6(t, nil)
	raw := &rawRec{}
	h.s.AddRawHandler(wire.ProtoICMPv6, raw)
	b := h.s.NewPacket(8)
	_ = h.s.WriteIP(b, &WriteOptions{Dst: h6Peer, Protocol: 253})
	h.run(5 * time.Second)
	if n := len(h.link.take()); n != 3 {
		t.Fatalf("%d solicitations, want 3", n)
	}
	if h.neighbor(h6Peer) != nil || h.s.Stats().NDP.ResolutionFailures != 1 {
		t.Fatal("entry left")
	}
	// Address unreachable looped back to us.
	ok := false
	for _, p := range raw.pkts {
		ok = ok || (len(p.Payload) > 1 && p.Payload[0] == wire.ICMPv6DestUnreachable && p.Payload[1] == wire.ICMPv6AddressUnreachable)
	}
	if !ok {
		t.Fatal("no address unreachable")
	}
}

func TestNUDTransitions(t *testing.T) {
	h := newHost6(t, nil)
	send := func() {
		b := h.s.NewPacket(8)
		if err := h.s.WriteIP(b, &WriteOptions{Dst: h6Peer, Protocol: 253}); err != nil {
			t.Fatal(err)
		}
	}
	send()
	h.in(naFrom(h6Peer, h6Our, h6Peer, wire.NDPNAFlagSolicited|wire.NDPNAFlagOverride, peerMAC, 255))
	h.link.take()
	e := h.neighbor(h6Peer)
	if e.state != ndpReachable {
		t.Fatal("not REACHABLE")
	}
	h.run(46 * time.Second) // at most 1.5 x 30s
	if e.state != ndpStale {
		t.Fatalf("state %v, want stale", e.state)
	}
	send()
	if e.state != ndpDelay || len(h.out()) != 1 {
		t.Fatal("STALE + send: not DELAY, or not sent")
	}
	h.run(5 * time.Second)
	if e.state != ndpProbe {
		t.Fatalf("state %v, want probe", e.state)
	}
	out := h.out()
	if len(out) != 1 {
		t.Fatal("no probe")
	}
	p, _ := wire.ParseIPv6(out[0])
	if p.Dst() != h6Peer {
		t.Fatalf("probe to %v, want unicast", p.Dst())
	}
	h.run(3 * time.Second)
	if h.neighbor(h6Peer) != nil || h.s.Stats().NDP.Unreachable != 1 {
		t.Fatal("entry not gone after unanswered probes")
	}
	if n := len(h.out()); n != 2 {
		t.Fatalf("%d more probes, want 2", n)
	}
	// A probe answered: PROBE -> REACHABLE.
	send()
	h.in(naFrom(h6Peer, h6Our, h6Peer, wire.NDPNAFlagSolicited|wire.NDPNAFlagOverride, peerMAC, 255))
	h.run(46 * time.Second)
	send()
	h.run(6 * time.Second)
	h.in(naFrom(h6Peer, h6Our, h6Peer, wire.NDPNAFlagSolicited, peerMAC, 255))
	if e := h.neighbor(h6Peer); e == nil || e.state != ndpReachable {
		t.Fatal("probe answer did not confirm")
	}
	// Unsolicited NA without override and a new MAC: REACHABLE -> STALE, MAC kept.
	other := wire.MAC{2, 0, 0, 0, 0, 0x77}
	h.in(naFrom(h6Peer, wire.IPv6AllNodes, h6Peer, 0, other, 255))
	if e := h.neighbor(h6Peer); e.state != ndpStale || e.mac != peerMAC {
		t.Fatal("non-override NA handled wrong")
	}
	h.in(naFrom(h6Peer, wire.IPv6AllNodes, h6Peer, wire.NDPNAFlagOverride, other, 255))
	if e := h.neighbor(h6Peer); e.mac != other {
		t.Fatal("override NA did not update")
	}
}

func TestNeighborSolicitationAnswered(t *testing.T) {
	h := newHost6(t, nil)
	h.in(nsFrom(h6Peer, wire.SolicitedNodeMulticast(h6Our), h6Our, peerMAC, 255))
	frames := h.link.take()
	if len(frames) != 1 {
		t.Fatalf("%d frames", len(frames))
	}
	e, _ := wire.ParseEthernet(frames[0])
	p, _ := wire.ParseIPv6(e.Payload())
	na, err := wire.ParseNDPNeighborAdvertisement(p.Payload())
	if err != nil || e.Dst() != peerMAC || p.Src() != h6Our || p.Dst() != h6Peer || p.HopLimit() != 255 ||
		na.Target() != h6Our || !na.Solicited() || !na.Override() || na.Router() {
		t.Fatalf("bad NA %v", err)
	}
	if mac, _, ok := ndpLinkOption(na.Options(), wire.NDPOptTargetLinkAddr); !ok || mac != ourMAC {
		t.Fatal("no target link address")
	}
	// Cached STALE (RFC 4861 7.2.3), then DELAY as the answer went to it (7.3.3).
	if en := h.neighbor(h6Peer); en == nil || en.state != ndpDelay || en.mac != peerMAC {
		t.Fatal("NS sender not cached")
	}
	// DAD probe for our address: answered to all-nodes, not solicited.
	h.in(nsFrom(netip.IPv6Unspecified(), wire.SolicitedNodeMulticast(h6Our), h6Our, wire.MAC{}, 255))
	frames = h.link.take()
	if len(frames) != 1 {
		t.Fatal("DAD probe not answered")
	}
	e, _ = wire.ParseEthernet(frames[0])
	p, _ = wire.ParseIPv6(e.Payload())
	na, _ = wire.ParseNDPNeighborAdvertisement(p.Payload())
	if p.Dst() != wire.IPv6AllNodes || na.Solicited() {
		t.Fatal("DAD answer wrong")
	}
}

func TestHostileNDP(t *testing.T) {
	h := newHost6(t, func(c *Config) { c.IPv6.NDP.CacheSize = 8 })
	sn := wire.SolicitedNodeMulticast(h6Our)
	for _, bad := range [][]byte{
		nsFrom(h6Peer, sn, h6Our, peerMAC, 254),                                          // hop limit
		nsFrom(h6Peer, sn, sn, peerMAC, 255),                                             // multicast target
		nsFrom(netip.IPv6Unspecified(), h6Our, h6Our, wire.MAC{}, 255),                   // DAD not to solicited-node
		naFrom(h6Peer, wire.IPv6AllNodes, h6Peer, wire.NDPNAFlagSolicited, peerMAC, 255), // solicited to multicast
		naFrom(h6Peer, h6Our, h6Peer, wire.NDPNAFlagSolicited, peerMAC, 64),              // hop limit
	} {
		h.in(bad)
	}
	if st := h.s.Stats().NDP; st.InInvalid != 5 || len(h.link.take()) != 0 {
		t.Fatalf("hostile NDP: %+v", st)
	}
	// Code != 0.
	ns := nsFrom(h6Peer, sn, h6Our, peerMAC, 255)
	ns[41] = 1
	binary.BigEndian.PutUint16(ns[42:44], 0)
	wire.SetICMPv6Checksum(ns[40:], h6Peer, sn)
	h.in(ns)
	if h.s.Stats().NDP.InInvalid != 6 {
		t.Fatal("code 1 accepted")
	}
	// A flood of solicitations from many sources: the cache stays bounded.
	for i := 0; i < 1000; i++ {
		src := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		h.in(nsFrom(src, sn, h6Our, wire.MAC{2, 1, 0, 0, byte(i >> 8), byte(i)}, 255))
	}
	h.link.take()
	n := 0
	for i := range h.s.ip6.ndp.entries {
		if h.s.ip6.ndp.entries[i].state != ndpFree {
			n++
		}
	}
	if n > 8 || h.s.Stats().NDP.CacheEvictions < 990 {
		t.Fatalf("%d entries, %d evictions", n, h.s.Stats().NDP.CacheEvictions)
	}
}

// stub6 is a transport that accepts IPv6.
type stub6 struct{ stubTransport }

func (*stub6) AcceptsIPv6() bool { return true }

func TestTransportOverIPv6AndErrors(t *testing.T) {
	h := newHost6(t, nil)
	h.staticPeer()
	tr := &stub6{}
	if err := h.s.RegisterTransport(wire.ProtoUDP, tr); err != nil {
		t.Fatal(err)
	}
	u := udp6(h6Peer, h6Our, []byte("hi"))
	h.in(pkt6(h6Peer, h6Our, wire.ProtoUDP, 33, u))
	if len(tr.pkts) != 1 || tr.pkts[0].Src != h6Peer || tr.pkts[0].TTL != 33 || !bytes.Equal(tr.pkts[0].Payload, u) {
		t.Fatal("not delivered")
	}
	// Port unreachable through SendDestUnreachable (ICMPv4 code mapped).
	tr2 := &stubTransport{}
	_ = tr2
	h.s.SendDestUnreachable(&Packet{NIC: h.nic, Src: h6Peer, Dst: h6Our, IPv6: true, IPHeader: pkt6(h6Peer, h6Our, wire.ProtoUDP, 33, u)[:40:40]}, wire.ICMPv4PortUnreachable)
	ms := h.icmpOut()
	if len(ms) != 1 || ms[0].Type() != wire.ICMPv6DestUnreachable || ms[0].Code() != wire.ICMPv6PortUnreachable {
		t.Fatalf("port unreachable: %v", ms)
	}
	// An ICMPv6 error about a datagram we sent reaches the transport.
	b := h.s.NewPacket(8 + 3)
	copy(b.Bytes()[8:], "out")
	wire.PutUDP(b.Bytes(), 5678, 1234, 11)
	_ = h.s.WriteIP(b, &WriteOptions{Dst: h6Peer, Protocol: wire.ProtoUDP})
	sent := h.out()[0]
	m := make([]byte, 8+len(sent))
	wire.PutICMPv6(m, wire.ICMPv6DestUnreachable, wire.ICMPv6PortUnreachable, 0)
	copy(m[8:], sent)
	wire.SetICMPv6Checksum(m, h6Peer, h6Our)
	h.in(pkt6(h6Peer, h6Our, wire.ProtoICMPv6, 64, m))
	if len(tr.errs) != 1 {
		t.Fatal("error not delivered")
	}
	e := tr.errs[0]
	if !e.IPv6 || e.Kind != ICMPPortUnreachable || e.Src != h6Our || e.Dst != h6Peer || e.Protocol != wire.ProtoUDP || len(e.Quoted) != 11 {
		t.Fatalf("error %+v", e)
	}
	// Rate limit.
	h2 := newHost6(t, func(c *Config) { c.IPv6.ICMPRateLimit = RateLimitConfig{PerSecond: 1, Burst: 2} })
	h2.staticPeer()
	for i := 0; i < 10; i++ {
		h2.in(pkt6(h6Peer, h6Our, 150, 64, []byte("xxxxxxxx")))
	}
	if n := len(h2.icmpOut()); n != 2 || h2.s.Stats().ICMPv6.RateLimited != 8 {
		t.Fatalf("%d errors sent", n)
	}
}

func TestLoopback6(t *testing.T) {
	h := newHost6(t, nil)
	raw := &rawRec{}
	h.s.AddRawHandler(wire.ProtoICMPv6, raw)
	for _, dst := range []netip.Addr{netip.IPv6Loopback(), h6Our} {
		raw.pkts = nil
		b := h.s.NewPacket(12)
		copy(b.Bytes(), echo6(wire.ICMPv6EchoRequest, 1, 1, []byte("lo6!"), dst, dst))
		if err := h.s.WriteIP(b, &WriteOptions{Dst: dst, Protocol: wire.ProtoICMPv6}); err != nil {
			t.Fatal(err)
		}
		h.s.Poll()
		h.s.Poll()
		if len(raw.pkts) != 2 || raw.pkts[1].Payload[0] != wire.ICMPv6EchoReply {
			t.Fatalf("loopback to %v: %d packets", dst, len(raw.pkts))
		}
	}
	if len(h.out()) != 0 {
		t.Fatal("loopback traffic on the wire")
	}
}

func TestAddressesAndRoutes6(t *testing.T) {
	h := newHost6(t, nil)
	found := false
	for _, p := range h.s.Addresses(h.nic) {
		found = found || p == netip.MustParsePrefix("2001:db8::1/64")
	}
	if !found || !h.s.IsLocal(h6Our) || !h.s.IsLocal(netip.IPv6Loopback()) {
		t.Fatal("address missing")
	}
	src, nic, mtu, err := h.s.Route(h6Peer)
	if err != nil || src != h6Our || nic != h.nic || mtu != 1500 {
		t.Fatalf("Route: %v %v %v %v", src, nic, mtu, err)
	}
	if _, _, _, err := h.s.Route(h6Far); err != ErrNoRoute {
		t.Fatalf("no route: %v", err)
	}
	if err := h.s.AddAddress(h.nic, netip.MustParsePrefix("2001:db8::1/64")); err != ErrExists {
		t.Fatalf("duplicate: %v", err)
	}
	if err := h.s.RemoveAddress(h.nic, h6Our); err != nil {
		t.Fatal(err)
	}
	if h.s.IsLocal(h6Our) {
		t.Fatal("still local")
	}
	if _, _, _, err := h.s.Route(h6Peer); err != ErrNoRoute {
		t.Fatalf("connected route left: %v", err)
	}
	// Tentative addresses are not ours for input nor as sources.
	n := h.s.nic(h.nic)
	_ = h.s.addIPv6Addr(n, netip.MustParsePrefix("2001:db8::5/64"), addrTentative, 0, 0)
	if h.s.IsLocal(netip.MustParseAddr("2001:db8::5")) {
		t.Fatal("tentative is local")
	}
	raw := &rawRec{}
	h.s.AddRawHandler(ProtoAny, raw)
	h.in(pkt6(h6Peer, netip.MustParseAddr("2001:db8::5"), wire.ProtoUDP, 64, udp6(h6Peer, netip.MustParseAddr("2001:db8::5"), nil)))
	if len(raw.pkts) != 0 {
		t.Fatal("accepted a packet to a tentative address")
	}
}
