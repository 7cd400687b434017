package raw_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

func TestRawICMPv6Ping(t *testing.T) {
	n := newNet(t)
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	_ = n.a.S.AddAddressNoDAD(n.a.NIC, netip.PrefixFrom(a6, 64))
	_ = n.b.S.AddAddressNoDAD(n.b.NIC, netip.PrefixFrom(b6, 64))
	n.Pump()
	c, r := open(t, n.a.r, wire.ProtoICMPv6)
	// Echo request with a zero checksum: the PCB computes it (RFC 3542 3.1).
	req := make([]byte, 8+5)
	wire.PutICMPv6(req, wire.ICMPv6EchoRequest, 0, 7<<16|1)
	copy(req[8:], "ping6")
	if err := c.SendTo(req, b6); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		n.Clock.T += 10 * time.Millisecond
		n.Pump()
	}
	var reply []byte
	for _, dg := range r.dgs {
		if len(dg) > 0 && dg[0] == wire.ICMPv6EchoReply {
			reply = dg
		}
	}
	if reply == nil {
		t.Fatalf("no echo reply among %d datagrams", len(r.dgs))
	}
	m, _ := wire.ParseICMPv6(reply)
	if string(m.Payload()) != "ping6" || m.ID() != 7 || m.Seq() != 1 || !m.ChecksumValid(b6, a6) {
		t.Fatalf("reply %x", reply)
	}
	in := r.infos[len(r.infos)-1]
	if !in.IPv6 || in.Src != b6 || in.Dst != a6 {
		t.Fatalf("info %+v", in)
	}
}
