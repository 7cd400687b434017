package stack

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// A router with eth0 192.168.7.1/24 (host A 192.168.7.2, host C .50) and
// eth1 10.1.0.1/24 (host B 10.1.0.2, gateway G 10.1.0.254 for 172.16/16).
var (
	r0MAC = wire.MAC{2, 0, 0, 0, 1, 1}
	r1MAC = wire.MAC{2, 0, 0, 0, 1, 2}
	aMAC  = wire.MAC{2, 0, 0, 0, 0, 0xa}
	bMAC  = wire.MAC{2, 0, 0, 0, 0, 0xb}
	cMAC  = wire.MAC{2, 0, 0, 0, 0, 0xc}
	gMAC  = wire.MAC{2, 0, 0, 0, 0, 0xe}
	r0IP  = netip.MustParseAddr("192.168.7.1")
	r1IP  = netip.MustParseAddr("10.1.0.1")
	aIP   = netip.MustParseAddr("192.168.7.2")
	bIP   = netip.MustParseAddr("10.1.0.2")
	cIP   = netip.MustParseAddr("192.168.7.50")
	gIP   = netip.MustParseAddr("10.1.0.254")
)

type router struct {
	t          testing.TB
	s          *Stack
	clk        *fakeClock
	l0         *recLink
	l1         Link
	eth0, eth1 NIC
}

// newRouter builds the router; link1 is eth1's driver (a recLink when nil).
func newRouter(t testing.TB, forwarding bool, mtu1 int, link1 Link) *router {
	t.Helper()
	clk := &fakeClock{t: time.Hour}
	s, err := New(Config{Clock: clk, Rand: rand.NewPCG(3, 4), Forwarding: forwarding, ARP: ARPConfig{Announcements: -1}})
	verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
	if err != nil {
		t.Fatal(err)
	}
	l0 := &recLink{}
	if link1 == nil {
		link1 = &recLink{}
	}
	e0, err := s.AddInterface(InterfaceConfig{Name: "eth0", Link: l0, MAC: r0MAC})
	if err != nil {
		t.Fatal(err)
	}
	e1, err := s.AddInterface(InterfaceConfig{Name: "eth1", Link: link1, MAC: r1MAC, MTU: mtu1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AddAddress(e0, netip.MustParsePrefix("192.168.7.1/24")))
	must(s.AddAddress(e1, netip.MustParsePrefix("10.1.0.1/24")))
	must(s.SetUp(e0, true))
	must(s.SetUp(e1, true))
	must(s.AddRoute(Route{Dst: netip.MustParsePrefix("172.16.0.0/16"), Gateway: gIP, NIC: e1}))
	must(s.AddRoute(Route{Dst: netip.MustParsePrefix("172.20.0.0/16"), Gateway: cIP, NIC: e0}))
	must(s.AddStaticNeighbor(e0, aIP, aMAC))
	must(s.AddStaticNeighbor(e0, cIP, cMAC))
	must(s.AddStaticNeighbor(e1, bIP, bMAC))
	must(s.AddStaticNeighbor(e1, gIP, gMAC))
	return &router{t: t, s: s, clk: clk, l0: l0, l1: link1, eth0: e0, eth1: e1}
}

func (r *router) rec1() *recLink { return r.l1.(*recLink) }

// udpPkt builds an IPv4/UDP datagram.
func udpPkt(t testing.TB, src, dst netip.Addr, ttl uint8, flags uint8, data []byte) []byte {
	return ipPkt(wire.IPv4Header{ID: 0x4242, Flags: flags, TTL: ttl, Protocol: wire.ProtoUDP, Src: src, Dst: dst},
		udpTo(t, nil, src, dst, data))
}

// forwarded returns what the router must emit for pkt: TTL-1, checksum updated.
func forwarded(pkt []byte) []byte {
	w := append([]byte(nil), pkt...)
	w[8]--
	wire.SetIPv4Checksum(w)
	return w
}

// frameIP checks an Ethernet frame's addresses and returns its IPv4 payload.
func frameIP(t testing.TB, f []byte, dst, src wire.MAC) []byte {
	t.Helper()
	e, err := wire.ParseEthernet(f)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dst() != dst || e.Src() != src || e.EtherType() != wire.EtherTypeIPv4 {
		t.Fatalf("frame %v -> %v type %#x, want %v -> %v IPv4", e.Src(), e.Dst(), e.EtherType(), src, dst)
	}
	return e.Payload()
}

func TestForwardBothDirections(t *testing.T) {
	r := newRouter(t, true, 1500, nil)
	l1 := r.rec1()
	cases := []struct {
		name           string
		in             NIC
		inSrc          wire.MAC
		inDst          wire.MAC
		src, dst       netip.Addr
		out            *recLink
		outDst, outSrc wire.MAC
		opts           []byte
	}{
		{"A to B", r.eth0, aMAC, r0MAC, aIP, bIP, l1, bMAC, r1MAC, nil},
		{"B to A", r.eth1, bMAC, r1MAC, bIP, aIP, r.l0, aMAC, r0MAC, nil},
		{"A to 172.16 via gateway", r.eth0, aMAC, r0MAC, aIP, netip.MustParseAddr("172.16.5.5"), l1, gMAC, r1MAC, nil},
		{"B to A with options", r.eth1, bMAC, r1MAC, bIP, aIP, r.l0, aMAC, r0MAC, []byte{wire.IPv4OptionNOP, wire.IPv4OptionRecordRoute, 7, 4, 0, 0, 0, 0}},
	}
	for i, c := range cases {
		for _, ttl := range []uint8{64, 2, 255} {
			pkt := ipPkt(wire.IPv4Header{ID: uint16(i), TTL: ttl, Protocol: wire.ProtoUDP, Src: c.src, Dst: c.dst, Options: c.opts},
				udpTo(t, nil, c.src, c.dst, []byte("payload "+c.name)))
			r.s.Input(c.in, ethFrame(c.inDst, c.inSrc, wire.EtherTypeIPv4, pkt))
			frames := c.out.take()
			if len(frames) != 1 || len(r.l0.frames)+len(l1.frames) != 0 {
				t.Fatalf("%s ttl %d: %d frames out", c.name, ttl, len(frames))
			}
			got := frameIP(t, frames[0], c.outDst, c.outSrc)
			want := forwarded(pkt)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s ttl %d:\n got %x\nwant %x", c.name, ttl, got, want)
			}
			p, _ := wire.ParseIPv4(got)
			if !p.ChecksumValid() || p.TTL() != ttl-1 {
				t.Fatalf("%s: ttl %d checksum valid %v", c.name, p.TTL(), p.ChecksumValid())
			}
		}
	}
	st := r.s.Stats()
	if st.IP.ForwDatagrams != 12 || st.IP.InDelivers != 0 || st.IP.InAddrErrors != 0 || st.IP.OutRequests != 0 {
		t.Fatalf("ip stats %+v", st.IP)
	}
	if r.s.Pool().Stats().InUse != 0 {
		t.Fatalf("%d buffers leaked", r.s.Pool().Stats().InUse)
	}
}

func TestForwardResolvesNextHop(t *testing.T) {
	r := newRouter(t, true, 1500, nil)
	l1 := r.rec1()
	dIP, dMAC := netip.MustParseAddr("10.1.0.3"), wire.MAC{2, 0, 0, 0, 0, 0xd}
	pkt := udpPkt(t, aIP, dIP, 30, 0, []byte("wait for ARP"))
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
	f := l1.take()
	if len(f) != 1 {
		t.Fatalf("%d frames, want one ARP request", len(f))
	}
	if e, _ := wire.ParseEthernet(f[0]); e.EtherType() != wire.EtherTypeARP {
		t.Fatal("no ARP request")
	}
	r.s.Input(r.eth1, ethFrame(r1MAC, dMAC, wire.EtherTypeARP, arpPkt(wire.ARPReply, dMAC, dIP, r1MAC, r1IP)))
	f = l1.take()
	if len(f) != 1 || !bytes.Equal(frameIP(t, f[0], dMAC, r1MAC), forwarded(pkt)) {
		t.Fatalf("queued datagram not forwarded after resolution (%d frames)", len(f))
	}
}

// icmpFrom parses the single ICMP message the router sent to A on eth0.
func icmpToA(t testing.TB, r *router) (wire.IPv4, wire.ICMPv4) {
	t.Helper()
	f := r.l0.take()
	if len(f) != 1 {
		t.Fatalf("%d frames to A, want one ICMP message", len(f))
	}
	p, err := wire.ParseIPv4(frameIP(t, f[0], aMAC, r0MAC))
	if err != nil || !p.ChecksumValid() || p.Protocol() != wire.ProtoICMP || p.Src() != r0IP || p.Dst() != aIP {
		t.Fatalf("bad ICMP datagram %v", err)
	}
	m, err := wire.ParseICMPv4(p.Payload())
	if err != nil || !m.ChecksumValid() {
		t.Fatalf("bad ICMP message %v", err)
	}
	return p, m
}

func TestForwardTTLExpired(t *testing.T) {
	r := newRouter(t, true, 1500, nil)
	l1 := r.rec1()
	for _, ttl := range []uint8{1, 0} {
		pkt := udpPkt(t, aIP, bIP, 1, 0, []byte("dying"))
		wire.SetIPv4TTL(pkt, ttl)
		r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
		if len(l1.take()) != 0 {
			t.Fatalf("ttl %d forwarded", ttl)
		}
		_, m := icmpToA(t, r)
		if m.Type() != wire.ICMPv4TimeExceeded || m.Code() != 0 {
			t.Fatalf("type %d code %d", m.Type(), m.Code())
		}
		// The quote is the datagram as received: header with the old TTL, then the data.
		if !bytes.Equal(m.Payload(), pkt) {
			t.Fatalf("quote %x, want %x", m.Payload(), pkt)
		}
	}
	// TTL 1 to the router itself is delivered, not expired.
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, udpPkt(t, aIP, r0IP, 1, 0, []byte("for me"))))
	if _, m := icmpToA(t, r); m.Type() != wire.ICMPv4DestUnreachable || m.Code() != wire.ICMPv4ProtoUnreachable {
		t.Fatalf("local TTL 1: type %d code %d", m.Type(), m.Code())
	}
	// No ICMP error about an ICMP error or a non-first fragment.
	te := ipPkt(wire.IPv4Header{TTL: 1, Protocol: wire.ProtoICMP, Src: aIP, Dst: bIP}, func() []byte {
		m := make([]byte, 8+28)
		wire.PutICMPv4(m, wire.ICMPv4TimeExceeded, 0, 0)
		wire.SetICMPv4Checksum(m)
		return m
	}())
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, te))
	fr := ipPkt(wire.IPv4Header{TTL: 1, FragmentOffset: 8, Protocol: wire.ProtoUDP, Src: aIP, Dst: bIP}, make([]byte, 16))
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, fr))
	if f := append(r.l0.take(), l1.take()...); len(f) != 0 {
		t.Fatalf("%d frames sent about an ICMP error / non-first fragment", len(f))
	}
	st := r.s.Stats()
	if st.ICMP.OutTimeExcds != 2 || st.IP.InHdrErrors != 4 || st.IP.ForwDatagrams != 0 {
		t.Fatalf("icmp %+v ip %+v", st.ICMP, st.IP)
	}
}

func TestForwardFragNeeded(t *testing.T) {
	r := newRouter(t, true, 1000, nil)
	pkt := udpPkt(t, aIP, bIP, 64, wire.IPv4FlagDF, make([]byte, 1400))
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
	if len(r.rec1().take()) != 0 {
		t.Fatal("DF datagram bigger than the MTU forwarded")
	}
	_, m := icmpToA(t, r)
	if m.Type() != wire.ICMPv4DestUnreachable || m.Code() != wire.ICMPv4FragNeeded || m.NextHopMTU() != 1000 {
		t.Fatalf("type %d code %d mtu %d", m.Type(), m.Code(), m.NextHopMTU())
	}
	if !bytes.Equal(m.Payload(), pkt[:icmpErrorQuoteMax]) {
		t.Fatal("quote is not the start of the datagram as received")
	}
	st := r.s.Stats()
	if st.ICMP.OutDestUnreachs != 1 || st.IP.FragFails != 1 || st.IP.ForwDatagrams != 0 {
		t.Fatalf("icmp %+v ip %+v", st.ICMP, st.IP)
	}
	// Exactly the MTU passes.
	ok := udpPkt(t, aIP, bIP, 64, wire.IPv4FlagDF, make([]byte, 1000-28))
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, ok))
	if f := r.rec1().take(); len(f) != 1 || !bytes.Equal(frameIP(t, f[0], bMAC, r1MAC), forwarded(ok)) {
		t.Fatal("datagram of exactly the MTU not forwarded")
	}
}

func TestForwardFragments(t *testing.T) {
	r := newRouter(t, true, 1000, nil)
	data := make([]byte, 2500)
	for i := range data {
		data[i] = byte(i * 13)
	}
	pkt := udpPkt(t, aIP, bIP, 9, 0, data)
	check := func(name string, in [][]byte) {
		t.Helper()
		for _, f := range in {
			r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, f))
		}
		var out [][]byte
		for _, f := range r.rec1().take() {
			ip := frameIP(t, f, bMAC, r1MAC)
			if len(ip) > 1000 {
				t.Fatalf("%s: %d-byte fragment over the MTU", name, len(ip))
			}
			p, _ := wire.ParseIPv4(ip)
			if p.TTL() != 8 || p.ID() != 0x4242 {
				t.Fatalf("%s: fragment ttl %d id %#x", name, p.TTL(), p.ID())
			}
			out = append(out, ip)
		}
		if len(out) < 3 {
			t.Fatalf("%s: %d fragments", name, len(out))
		}
		if got := reassemble(t, out); !bytes.Equal(got, forwarded(pkt)) {
			t.Fatalf("%s: reassembled datagram differs", name)
		}
	}
	check("whole datagram", [][]byte{pkt})
	// Fragments of fragments: A's own 1500-byte fragments are split again.
	check("fragments", fragmentPkt(t, pkt, 1500))
	st := r.s.Stats().IP
	if st.ForwDatagrams != 3 || st.FragOKs != 3 || st.ReasmReqds != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestForwardMartiansAndNotForwarded(t *testing.T) {
	r := newRouter(t, true, 1500, nil)
	l1 := r.rec1()
	for _, c := range []struct{ src, dst string }{
		{"0.0.0.0", "10.1.0.2"}, {"0.1.2.3", "10.1.0.2"}, {"169.254.1.1", "10.1.0.2"}, {"240.0.0.1", "10.1.0.2"},
		{"127.0.0.1", "10.1.0.2"}, {"10.1.0.255", "10.1.0.2"},
		{"192.168.7.2", "0.1.2.3"}, {"192.168.7.2", "169.254.9.9"}, {"192.168.7.2", "240.1.1.1"},
		{"192.168.7.2", "127.0.0.5"},
	} {
		before := r.s.Stats().IP.InMartians
		pkt := udpPkt(t, netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst), 64, 0, []byte("m"))
		r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
		if f := append(r.l0.take(), l1.take()...); len(f) != 0 {
			t.Errorf("%s -> %s: %d frames sent", c.src, c.dst, len(f))
		}
		if r.s.Stats().IP.InMartians != before+1 {
			t.Errorf("%s -> %s: not counted as martian", c.src, c.dst)
		}
	}
	ae := r.s.Stats().IP.InAddrErrors
	notFwd := [][]byte{
		// unicast in a link broadcast frame
		ethFrame(wire.BroadcastMAC, aMAC, wire.EtherTypeIPv4, udpPkt(t, aIP, bIP, 64, 0, []byte("b"))),
		// directed broadcast of the other subnet (RFC 2644)
		ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, udpPkt(t, aIP, netip.MustParseAddr("10.1.0.255"), 64, 0, []byte("b"))),
		// multicast we did not join
		ethFrame(wire.IPv4MulticastMAC(netip.MustParseAddr("239.1.1.1")), aMAC, wire.EtherTypeIPv4, udpPkt(t, aIP, netip.MustParseAddr("239.1.1.1"), 64, 0, []byte("b"))),
	}
	for i, f := range notFwd {
		r.s.Input(r.eth0, f)
		if out := append(r.l0.take(), l1.take()...); len(out) != 0 {
			t.Errorf("case %d forwarded", i)
		}
	}
	if got := r.s.Stats().IP.InAddrErrors - ae; got != 3 {
		t.Errorf("InAddrErrors +%d, want 3", got)
	}
	// Source routed: refused.
	lsrr := ipPkt(wire.IPv4Header{TTL: 64, Protocol: wire.ProtoUDP, Src: aIP, Dst: bIP,
		Options: []byte{wire.IPv4OptionLSRR, 7, 4, 10, 1, 0, 9}}, make([]byte, 8))
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, lsrr))
	if len(l1.take()) != 0 || r.s.Stats().IP.InSourceRouted != 1 {
		t.Error("source-routed datagram forwarded")
	}
	if r.s.Stats().IP.ForwDatagrams != 0 {
		t.Fatal("something was forwarded")
	}
}

func TestForwardNoRoute(t *testing.T) {
	r := newRouter(t, true, 1500, nil)
	pkt := udpPkt(t, aIP, netip.MustParseAddr("8.8.8.8"), 64, 0, []byte("nowhere"))
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
	_, m := icmpToA(t, r)
	if m.Type() != wire.ICMPv4DestUnreachable || m.Code() != wire.ICMPv4NetUnreachable || !bytes.Equal(m.Payload(), pkt) {
		t.Fatalf("type %d code %d", m.Type(), m.Code())
	}
	if st := r.s.Stats(); st.IP.OutNoRoutes != 1 || st.ICMP.OutDestUnreachs != 1 {
		t.Fatalf("ip %+v", st.IP)
	}
	// A default route fixes it.
	_ = r.s.AddRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gIP, NIC: r.eth1})
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
	if f := r.rec1().take(); len(f) != 1 || !bytes.Equal(frameIP(t, f[0], gMAC, r1MAC), forwarded(pkt)) {
		t.Fatal("not forwarded by the default route")
	}
}

func TestForwardingSwitches(t *testing.T) {
	pkt := udpPkt(t, aIP, bIP, 64, 0, []byte("x"))
	off := newRouter(t, false, 1500, nil)
	off.s.Input(off.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
	if len(off.rec1().take()) != 0 || off.s.Stats().IP.InAddrErrors != 1 || off.s.Forwarding(off.eth0) {
		t.Fatal("forwarded with Config.Forwarding off")
	}
	r := newRouter(t, true, 1500, nil)
	if !r.s.Forwarding(r.eth0) || r.s.Forwarding(LoopbackNIC) {
		t.Fatal("default per-interface switches")
	}
	if err := r.s.SetForwarding(r.eth0, false); err != nil {
		t.Fatal(err)
	}
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
	if len(r.rec1().take()) != 0 || r.s.Stats().IP.InAddrErrors != 1 {
		t.Fatal("forwarded from an interface with forwarding off")
	}
	// The other direction still works.
	back := udpPkt(t, bIP, aIP, 64, 0, []byte("y"))
	r.s.Input(r.eth1, ethFrame(r1MAC, bMAC, wire.EtherTypeIPv4, back))
	if len(r.l0.take()) != 1 {
		t.Fatal("eth1 -> eth0 not forwarded")
	}
	if r.s.SetForwarding(LoopbackNIC, true) != ErrInvalid || r.s.SetForwarding(99, true) != ErrNoSuchInterface {
		t.Fatal("SetForwarding errors")
	}
	_ = r.s.SetForwarding(r.eth0, true)
	r.s.Input(r.eth0, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, pkt))
	if len(r.rec1().take()) != 1 {
		t.Fatal("not forwarded after SetForwarding on")
	}
}

func TestForwardRedirect(t *testing.T) {
	r := newRouter(t, true, 1500, nil)
	for _, c := range []struct {
		dst    string
		gw     netip.Addr
		gwMAC  wire.MAC
		redir  bool
		srcMAC wire.MAC
		src    netip.Addr
	}{
		{"192.168.7.50", cIP, cMAC, true, aMAC, aIP},                              // on-link destination
		{"172.20.1.1", cIP, cMAC, true, aMAC, aIP},                                // gateway on A's subnet
		{"172.20.1.1", cIP, cMAC, false, aMAC, netip.MustParseAddr("172.30.0.9")}, // source not on the subnet
	} {
		pkt := udpPkt(t, c.src, netip.MustParseAddr(c.dst), 64, 0, []byte("hairpin"))
		before := r.s.Stats().ICMP.OutRedirects
		r.s.Input(r.eth0, ethFrame(r0MAC, c.srcMAC, wire.EtherTypeIPv4, pkt))
		f := r.l0.take()
		want := 1
		if c.redir {
			want = 2
		}
		if len(f) != want {
			t.Fatalf("%s from %v: %d frames, want %d", c.dst, c.src, len(f), want)
		}
		if c.redir {
			p, _ := wire.ParseIPv4(frameIP(t, f[0], aMAC, r0MAC))
			m, _ := wire.ParseICMPv4(p.Payload())
			if p.Src() != r0IP || m.Type() != wire.ICMPv4Redirect || m.Code() != 1 || !m.ChecksumValid() {
				t.Fatalf("redirect %v type %d code %d", p.Src(), m.Type(), m.Code())
			}
			if gw := m.Bytes()[4:8]; netip.AddrFrom4([4]byte(gw)) != c.gw || !bytes.Equal(m.Payload(), pkt) {
				t.Fatalf("redirect gateway %v", gw)
			}
			if r.s.Stats().ICMP.OutRedirects != before+1 {
				t.Fatal("redirect not counted")
			}
		}
		if !bytes.Equal(frameIP(t, f[len(f)-1], c.gwMAC, r0MAC), forwarded(pkt)) {
			t.Fatalf("%s: hairpinned datagram differs", c.dst)
		}
	}
}

func TestForwardOverIPLink(t *testing.T) {
	clk := &fakeClock{}
	s, _ := New(Config{Clock: clk, Rand: rand.NewPCG(1, 1), Forwarding: true})
	verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
	tl := &recLink{}
	el := &recLink{}
	tun, _ := s.AddInterface(InterfaceConfig{Name: "tun0", Link: tl, Kind: LinkIP})
	eth, _ := s.AddInterface(InterfaceConfig{Name: "eth0", Link: el, MAC: r0MAC})
	_ = s.AddAddress(tun, netip.MustParsePrefix("10.8.0.1/24"))
	_ = s.AddAddress(eth, netip.MustParsePrefix("192.168.7.1/24"))
	_ = s.SetUp(tun, true)
	_ = s.SetUp(eth, true)
	_ = s.AddStaticNeighbor(eth, aIP, aMAC)
	el.take()
	pkt := udpPkt(t, netip.MustParseAddr("10.8.0.2"), aIP, 64, 0, []byte("from the tunnel"))
	s.Input(tun, pkt)
	if f := el.take(); len(f) != 1 || !bytes.Equal(frameIP(t, f[0], aMAC, r0MAC), forwarded(pkt)) {
		t.Fatal("tun -> eth not forwarded")
	}
	back := udpPkt(t, aIP, netip.MustParseAddr("10.8.0.2"), 64, 0, []byte("to the tunnel"))
	s.Input(eth, ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, back))
	if f := tl.take(); len(f) != 1 || !bytes.Equal(f[0], forwarded(back)) {
		t.Fatal("eth -> tun not forwarded")
	}
}

func TestForwardZeroAllocs(t *testing.T) {
	l := &countLink{}
	r := newRouter(t, true, 1500, l)
	frame := ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, udpPkt(t, aIP, bIP, 64, 0, make([]byte, 1000)))
	r.s.Input(r.eth0, frame) // warm the pool
	allocs := testing.AllocsPerRun(1000, func() { r.s.Input(r.eth0, frame) })
	if allocs != 0 {
		t.Fatalf("%v allocations per forwarded datagram", allocs)
	}
	if l.n != 1002 || l.ln != len(frame) {
		t.Fatalf("%d frames of %d bytes forwarded", l.n, l.ln)
	}
	if r.s.Pool().Stats().InUse != 0 {
		t.Fatal("buffers leaked")
	}
}

func BenchmarkForward(b *testing.B) {
	l := &countLink{}
	r := newRouter(b, true, 1500, l)
	frame := ethFrame(r0MAC, aMAC, wire.EtherTypeIPv4, udpPkt(b, aIP, bIP, 64, 0, make([]byte, 1000)))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		r.s.Input(r.eth0, frame)
	}
	if l.n == 0 {
		b.Fatal("nothing forwarded")
	}
}
