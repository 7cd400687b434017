package udp_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// newNet6 is newNet with 2001:db8::1/64 on a and 2001:db8::2/64 on b too.
func newNet6(t testing.TB) *testNet {
	n := newNet(t)
	for i, h := range []*host{n.a, n.b} {
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), 64)
		if err := h.S.AddAddressNoDAD(h.NIC, p); err != nil {
			t.Fatal(err)
		}
	}
	n.Pump()
	return n
}

type got6 struct {
	data string
	info udp.RecvInfo
}

func rec6(c *udp.PCB) *[]got6 {
	var g []got6
	c.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) { g = append(g, got6{string(data), *info}) })
	return &g
}

func TestUDPOverIPv6(t *testing.T) {
	n := newNet6(t)
	srv := mustPCB(t, n.b.u)
	if err := srv.Bind(ap("[::]:7")); err != nil {
		t.Fatal(err)
	}
	rs := rec6(srv)
	cli := mustPCB(t, n.a.u)
	rc := rec6(cli)
	if err := cli.SendTo([]byte("hello6"), ap("[2001:db8::2]:7")); err != nil {
		t.Fatal(err)
	}
	n.Advance(100e6) // neighbor resolution
	if len(*rs) != 1 || (*rs)[0].data != "hello6" {
		t.Fatalf("server got %v", *rs)
	}
	info := (*rs)[0].info
	if info.Src.Addr() != netip.MustParseAddr("2001:db8::1") || info.Dst != netip.MustParseAddr("2001:db8::2") || info.TTL != 64 {
		t.Fatalf("info %+v", info)
	}
	// Reply to the sender, then connect and talk both ways.
	if err := srv.SendTo([]byte("back"), info.Src); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(*rc) != 1 || (*rc)[0].data != "back" {
		t.Fatalf("client got %v", *rc)
	}
	if err := cli.Connect(ap("[2001:db8::2]:7")); err != nil {
		t.Fatal(err)
	}
	if cli.LocalAddr().Addr() != netip.MustParseAddr("2001:db8::1") {
		t.Fatalf("connected local %v", cli.LocalAddr())
	}
	if err := cli.Send([]byte("conn")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(*rs) != 2 || (*rs)[1].data != "conn" {
		t.Fatal("connected send lost")
	}
	// The wildcard bind takes IPv4 too.
	c4 := mustPCB(t, n.a.u)
	if err := c4.SendTo([]byte("four"), ap("10.0.0.2:7")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(*rs) != 3 || (*rs)[2].data != "four" || !(*rs)[2].info.Src.Addr().Is4() {
		t.Fatalf("IPv4 to the wildcard: %v", *rs)
	}
	// A large datagram is fragmented and reassembled.
	big := make([]byte, 4000)
	for i := range big {
		big[i] = byte(i)
	}
	if err := cli.Send(big); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(*rs) != 4 || (*rs)[3].data != string(big) {
		t.Fatal("large datagram lost")
	}
	if st := n.b.S.Stats().IPv6; st.ReasmOKs != 1 {
		t.Fatalf("reassembly %+v", st)
	}
}

func TestUDPOverIPv6ZeroChecksumDropped(t *testing.T) {
	n := newNet6(t)
	srv := mustPCB(t, n.b.u)
	_ = srv.Bind(ap("[2001:db8::2]:9"))
	rs := rec6(srv)
	cli := mustPCB(t, n.a.u)
	cli.SetChecksum(false) // ignored over IPv6
	_ = cli.SendTo([]byte("sum"), ap("[2001:db8::2]:9"))
	n.Pump()
	if len(*rs) != 1 {
		t.Fatal("checksum not sent over IPv6")
	}
	n.a.Tap = func(f []byte) bool {
		e, err := wire.ParseEthernet(f)
		if err == nil && e.EtherType() == wire.EtherTypeIPv6 && len(f) > 14+48 && f[14+6] == wire.ProtoUDP {
			f[14+46], f[14+47] = 0, 0
		}
		return true
	}
	_ = cli.SendTo([]byte("zero"), ap("[2001:db8::2]:9"))
	n.Pump()
	if len(*rs) != 1 || n.b.u.Stats().InCsumErrors != 1 {
		t.Fatalf("zero checksum accepted: %d, %+v", len(*rs), n.b.u.Stats())
	}
}

func TestUDPLiteOverIPv6(t *testing.T) {
	n := newNet6(t)
	srv, err := n.b.u.NewLitePCB()
	if err != nil {
		t.Fatal(err)
	}
	_ = srv.Bind(ap("[::]:11"))
	rs := rec6(srv)
	cli, _ := n.a.u.NewLitePCB()
	cli.SetChecksumCoverage(8)
	if err := cli.SendTo([]byte("lite6"), ap("[2001:db8::2]:11")); err != nil {
		t.Fatal(err)
	}
	n.Advance(100e6)
	if len(*rs) != 1 || (*rs)[0].data != "lite6" {
		t.Fatalf("lite got %v", *rs)
	}
}

// udpOffset6 returns the offset of the UDP header in an Ethernet frame
// carrying an IPv6 UDP or UDP-Lite datagram without extension headers, or -1.
func udpOffset6(frame []byte, proto uint8) int {
	e, err := wire.ParseEthernet(frame)
	if err != nil || e.EtherType() != wire.EtherTypeIPv6 {
		return -1
	}
	ip, err := wire.ParseIPv6(e.Payload())
	if err != nil || ip.NextHeader() != proto {
		return -1
	}
	return e.HeaderLen() + wire.IPv6HeaderLen
}

var lite6 = liteFamily{newNet: newNet6, any: "[::]", peer: "[2001:db8::2]", src: netip.MustParseAddr("2001:db8::1"), offset: udpOffset6}

func TestUDPLiteCoverageOverIPv6(t *testing.T) { testLiteCoverage(t, lite6) }

func TestUDPLiteBadCoverageOverIPv6Dropped(t *testing.T) { testLiteBadCoverage(t, lite6) }

func TestUDPOverIPv6PortUnreachable(t *testing.T) {
	n := newNet6(t)
	cli := mustPCB(t, n.a.u)
	var errs []error
	cli.OnError(func(c *udp.PCB, err error) { errs = append(errs, err) })
	if err := cli.Connect(ap("[2001:db8::2]:4444")); err != nil {
		t.Fatal(err)
	}
	_ = cli.Send([]byte("anyone?"))
	n.Advance(100e6)
	if len(errs) != 1 || !errors.Is(errs[0], udp.ErrConnRefused) {
		t.Fatalf("errors %v", errs)
	}
	if n.b.S.Stats().ICMPv6.OutDestUnreachs != 1 {
		t.Fatal("no ICMPv6 port unreachable")
	}
}
