package stack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// Tests of the hooks between the IPv6 core and autoconfiguration/MLD:
// source filters on multicast input, redirects in output, the RA's hop
// limit (static addresses' solicited-node groups: slaac_test.go).

func TestMulticast6SourceFilter(t *testing.T) {
	h := newHost6(t, nil)
	tr := &stub6{}
	if err := h.s.RegisterTransport(wire.ProtoUDP, tr); err != nil {
		t.Fatal(err)
	}
	if err := h.s.JoinGroupSource6(h.nic, grp6A, []netip.Addr{src6A}, Include); err != nil {
		t.Fatal(err)
	}
	h.link.take()
	h.in(pkt6(src6A, grp6A, wire.ProtoUDP, 5, udp6(src6A, grp6A, []byte("a"))))
	if len(tr.pkts) != 1 || !tr.pkts[0].Multicast {
		t.Fatalf("included source not delivered: %d", len(tr.pkts))
	}
	h.in(pkt6(src6B, grp6A, wire.ProtoUDP, 5, udp6(src6B, grp6A, []byte("b"))))
	if len(tr.pkts) != 1 || h.s.Stats().IPv6.InSourceFiltered != 1 {
		t.Fatalf("excluded source: %d delivered, %d filtered", len(tr.pkts), h.s.Stats().IPv6.InSourceFiltered)
	}
	// Fragmented datagrams are filtered after reassembly too.
	big := make([]byte, 2000)
	for _, f := range frag6Split(pkt6(src6B, grp6A, wire.ProtoUDP, 5, udp6(src6B, grp6A, big)), 1280, 7) {
		h.in(f)
	}
	if len(tr.pkts) != 1 || h.s.Stats().IPv6.InSourceFiltered != 2 {
		t.Fatalf("reassembled excluded source: %d delivered, %d filtered", len(tr.pkts), h.s.Stats().IPv6.InSourceFiltered)
	}
	// Not joined at all: an address error, not a source filter drop.
	h.in(pkt6(src6A, grp6B, wire.ProtoUDP, 5, udp6(src6A, grp6B, []byte("c"))))
	if st := h.s.Stats().IPv6; len(tr.pkts) != 1 || st.InSourceFiltered != 2 || st.InAddrErrors != 1 {
		t.Fatalf("unjoined group: %+v", st)
	}
	// EXCLUDE {src6A}: src6B passes, src6A does not.
	if err := h.s.LeaveGroupSource6(h.nic, grp6A, []netip.Addr{src6A}, Include); err != nil {
		t.Fatal(err)
	}
	if err := h.s.JoinGroupSource6(h.nic, grp6A, []netip.Addr{src6A}, Exclude); err != nil {
		t.Fatal(err)
	}
	h.in(pkt6(src6B, grp6A, wire.ProtoUDP, 5, udp6(src6B, grp6A, []byte("d"))))
	h.in(pkt6(src6A, grp6A, wire.ProtoUDP, 5, udp6(src6A, grp6A, []byte("e"))))
	if len(tr.pkts) != 2 || tr.pkts[1].Src != src6B || h.s.Stats().IPv6.InSourceFiltered != 3 {
		t.Fatalf("exclude mode: %d delivered, %d filtered", len(tr.pkts), h.s.Stats().IPv6.InSourceFiltered)
	}
	// ICMPv6 (echo to the group) is not filtered.
	h.in(pkt6(src6A, grp6A, wire.ProtoICMPv6, 5, echo6(wire.ICMPv6EchoRequest, 1, 1, nil, src6A, grp6A)))
	if h.s.Stats().ICMPv6.InEchos != 1 || h.s.Stats().IPv6.InSourceFiltered != 3 {
		t.Fatal("ICMPv6 to a group was source filtered")
	}
}

func TestRedirectUsedByOutput(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	e.sendRA(raSpec{lifetime: 1800, prefixes: []pio{{prefixA, lA, 3600, 3600}}})
	e.runUntil(3 * time.Second)
	e.take()
	far := netip.MustParseAddr("2001:db8:99::1")
	better := netip.MustParseAddr("fe80::77")
	send := func() wire.MAC {
		t.Helper()
		b := e.s.NewPacket(8)
		wire.PutUDP(b.Bytes(), 1, 2, 8)
		if err := e.s.WriteIPv6(b, &WriteOptions{Dst: far, Protocol: wire.ProtoUDP}); err != nil {
			t.Fatal(err)
		}
		for _, f := range e.link.take() {
			eth, _ := wire.ParseEthernet(f)
			if p, err := wire.ParseIPv6(eth.Payload()); err == nil && p.Dst() == far {
				return eth.Dst()
			}
		}
		t.Fatal("nothing sent to far")
		return wire.MAC{}
	}
	if mac := send(); mac != routerMAC {
		t.Fatalf("before the redirect: sent to %v", mac)
	}
	e.inject(routerMAC, routerLL, e.linkLocal(), 255, false, redirectMsg(better, far))
	if mac := send(); mac != otherMAC {
		t.Fatalf("after the redirect: sent to %v, want the target %v", mac, otherMAC)
	}
	// A redirect saying the destination is on-link: resolved as a neighbor.
	near := netip.MustParseAddr("2001:db8:98::5")
	nearMAC := wire.MAC{2, 0, 0, 0, 0, 0x55}
	b := make([]byte, wire.NDPRedirectLen+8)
	l := wire.PutNDPRedirect(b, near, near)
	l += wire.PutNDPLinkLayerOption(b[l:], wire.NDPOptTargetLinkAddr, nearMAC)
	e.inject(routerMAC, routerLL, e.linkLocal(), 255, false, b[:l])
	far = near
	if mac := send(); mac != nearMAC {
		t.Fatalf("on-link redirect: sent to %v", mac)
	}
}

func TestHopLimitFromRA(t *testing.T) {
	e := newEnv6(t, nil)
	e.settle()
	hopOf := func(dst netip.Addr) uint8 {
		t.Helper()
		b := e.s.NewPacket(8)
		wire.PutUDP(b.Bytes(), 1, 2, 8)
		if err := e.s.WriteIPv6(b, &WriteOptions{Dst: dst, Protocol: wire.ProtoUDP}); err != nil {
			t.Fatal(err)
		}
		for _, f := range e.link.take() {
			eth, _ := wire.ParseEthernet(f)
			if p, err := wire.ParseIPv6(eth.Payload()); err == nil && p.Dst() == dst.WithZone("") && p.NextHeader() == wire.ProtoUDP {
				return p.HopLimit()
			}
		}
		t.Fatal("not sent")
		return 0
	}
	peer := netip.MustParseAddr("fe80::99%eth0")
	_ = e.s.AddStaticNeighbor(e.nic, peer.WithZone(""), otherMAC)
	if h := hopOf(peer); h != 64 {
		t.Fatalf("default hop limit %d", h)
	}
	e.sendRA(raSpec{hopLimit: 17, lifetime: 1800})
	if h := hopOf(peer); h != 17 {
		t.Fatalf("hop limit %d after an RA with Cur Hop Limit 17", h)
	}
	if h := hopOf(netip.MustParseAddr("ff02::1234%eth0")); h != 1 {
		t.Fatalf("multicast hop limit %d", h)
	}
	// Cur Hop Limit 0 means unspecified: the last value stays.
	e.sendRA(raSpec{hopLimit: 0, lifetime: 1800})
	if h := hopOf(peer); h != 17 {
		t.Fatalf("hop limit %d after an RA with Cur Hop Limit 0", h)
	}
	// A new interface start forgets it.
	_ = e.s.SetUp(e.nic, false)
	_ = e.s.SetUp(e.nic, true)
	e.settle()
	_ = e.s.AddStaticNeighbor(e.nic, peer.WithZone(""), otherMAC)
	if h := hopOf(peer); h != 64 {
		t.Fatalf("hop limit %d after down/up", h)
	}
}
