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

// recLink records the frames a stack sends on one interface.
type recLink struct{ frames [][]byte }

func (l *recLink) Send(f []byte) error {
	l.frames = append(l.frames, append([]byte(nil), f...))
	return nil
}

// udpOut returns the UDP datagrams in l's frames (Ethernet dst, IPv6 src and dst).
func (l *recLink) udpOut(t *testing.T) (out []struct {
	eth      wire.MAC
	src, dst netip.Addr
}) {
	t.Helper()
	for _, f := range l.frames {
		e, err := wire.ParseEthernet(f)
		if err != nil || e.EtherType() != wire.EtherTypeIPv6 {
			continue
		}
		p, err := wire.ParseIPv6(e.Payload())
		if err != nil || p.NextHeader() != wire.ProtoUDP {
			continue
		}
		out = append(out, struct {
			eth      wire.MAC
			src, dst netip.Addr
		}{e.Dst(), p.Src(), p.Dst()})
	}
	l.frames = nil
	return out
}

// TestLinkLocalZone checks that the zone of a link-local destination picks
// the interface (SendTo, Connect/Send), and that a link-local source is
// reported with its arrival interface as zone, so replies go back there.
func TestLinkLocalZone(t *testing.T) {
	clk := &vclock{T: time.Second}
	cfg := stack.Config{Clock: clk, Rand: rand.NewPCG(4, 4)}
	cfg.SLAAC.RouterSolicitations = -1
	s, err := stack.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l0, l1 := &recLink{}, &recLink{}
	e0, _ := s.AddInterface(stack.InterfaceConfig{Name: "eth0", Link: l0, MAC: wire.MAC{2, 0, 0, 0, 0, 1}})
	e1, _ := s.AddInterface(stack.InterfaceConfig{Name: "eth1", Link: l1, MAC: wire.MAC{2, 0, 0, 0, 0, 2}})
	ll0, ll1 := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2")
	peer := netip.MustParseAddr("fe80::99")
	mac0, mac1 := wire.MAC{2, 0, 0, 0, 9, 0}, wire.MAC{2, 0, 0, 0, 9, 1}
	for _, err := range []error{
		s.AddAddressNoDAD(e0, netip.PrefixFrom(ll0, 64)), s.AddAddressNoDAD(e1, netip.PrefixFrom(ll1, 64)),
		s.SetUp(e0, true), s.SetUp(e1, true),
		s.AddStaticNeighbor(e0, peer, mac0), s.AddStaticNeighbor(e1, peer, mac1),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := udp.New(s, udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := u.NewPCB()
	if err := c.Bind(netip.MustParseAddrPort("[::]:5000")); err != nil {
		t.Fatal(err)
	}
	l0.frames, l1.frames = nil, nil
	check := func(name string, l *recLink, other *recLink, mac wire.MAC, src netip.Addr) {
		t.Helper()
		out := l.udpOut(t)
		if len(out) != 1 || out[0].eth != mac || out[0].src != src || out[0].dst != peer {
			t.Fatalf("%s: sent %+v, want one datagram %v -> %v to %v", name, out, src, peer, mac)
		}
		if o := other.udpOut(t); len(o) != 0 {
			t.Fatalf("%s: also sent on the other interface: %+v", name, o)
		}
	}
	for _, z := range []struct {
		zone   string
		l, o   *recLink
		mac    wire.MAC
		source netip.Addr
	}{
		{"eth1", l1, l0, mac1, ll1},
		{"eth0", l0, l1, mac0, ll0},
		{"3", l1, l0, mac1, ll1}, // by index: lo is 1, eth0 2, eth1 3
	} {
		if err := c.SendTo([]byte("x"), netip.AddrPortFrom(peer.WithZone(z.zone), 7)); err != nil {
			t.Fatal(err)
		}
		check("SendTo %"+z.zone, z.l, z.o, z.mac, z.source)
	}
	// Connect keeps the zone for Send.
	cc, _ := u.NewPCB()
	if err := cc.Connect(netip.AddrPortFrom(peer.WithZone("eth1"), 7)); err != nil {
		t.Fatal(err)
	}
	if ra := cc.RemoteAddr(); ra.Addr().Zone() != "eth1" {
		t.Fatalf("RemoteAddr %v lost the zone", ra)
	}
	for i := 0; i < 2; i++ {
		if err := cc.Send([]byte("y")); err != nil {
			t.Fatal(err)
		}
		check("connected Send", l1, l0, mac1, ll1)
	}
	// A datagram from fe80::99 on eth1: Src carries the zone; the reply
	// to it leaves on eth1.
	var info udp.RecvInfo
	c.OnRecv(func(c *udp.PCB, data []byte, i *udp.RecvInfo) { info = *i })
	d := make([]byte, 8+2)
	wire.PutUDP(d, 7, 5000, len(d))
	wire.SetUDPChecksum(d, peer, ll1)
	pkt := make([]byte, wire.IPv6HeaderLen+len(d))
	h := wire.IPv6Header{PayloadLength: len(d), NextHeader: wire.ProtoUDP, HopLimit: 64, Src: peer, Dst: ll1}
	h.Encode(pkt)
	copy(pkt[wire.IPv6HeaderLen:], d)
	f := make([]byte, wire.EthernetHeaderLen+len(pkt))
	wire.PutEthernet(f, wire.MAC{2, 0, 0, 0, 0, 2}, mac1, wire.EtherTypeIPv6)
	copy(f[wire.EthernetHeaderLen:], pkt)
	s.Input(e1, f)
	if info.Src != netip.AddrPortFrom(peer.WithZone("eth1"), 7) || info.NIC != e1 {
		t.Fatalf("received from %v on %v, want %v on eth1", info.Src, info.NIC, peer.WithZone("eth1"))
	}
	if err := c.SendTo([]byte("reply"), info.Src); err != nil {
		t.Fatal(err)
	}
	check("reply", l1, l0, mac1, ll1)
}
