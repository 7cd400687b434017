package stack

import (
	"net/netip"
	"testing"

	"github.com/featherip/featherip/wire"
)

func TestRouteSelection(t *testing.T) {
	e := newEnv(t, nil)
	l2 := &recLink{}
	n2, err := e.s.AddInterface(InterfaceConfig{Name: "eth1", Link: l2, MAC: wire.MAC{2, 0, 0, 0, 1, 1}, MTU: 1400})
	if err != nil {
		t.Fatal(err)
	}
	_ = e.s.AddAddress(n2, netip.MustParsePrefix("10.0.0.1/8"))
	_ = e.s.SetUp(n2, true)
	gw := netip.MustParseAddr("192.168.7.254")
	gw2 := netip.MustParseAddr("10.0.0.254")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.s.AddRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw, NIC: e.nic, Metric: 10}))
	must(e.s.AddRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw2, NIC: n2, Metric: 5}))
	must(e.s.AddRoute(Route{Dst: netip.MustParsePrefix("172.16.0.0/12"), Gateway: gw, NIC: e.nic, Metric: 100}))
	must(e.s.AddRoute(Route{Dst: netip.MustParsePrefix("172.16.5.0/24"), Gateway: gw2, NIC: n2, Metric: 100}))
	if err := e.s.AddRoute(Route{Dst: netip.MustParsePrefix("172.16.0.0/12"), Gateway: gw, NIC: e.nic}); err != ErrExists {
		t.Fatalf("duplicate route: %v", err)
	}
	if err := e.s.AddRoute(Route{Dst: netip.MustParsePrefix("1.0.0.0/8"), NIC: 42}); err != ErrNoSuchInterface {
		t.Fatalf("bad NIC: %v", err)
	}
	cases := []struct {
		dst     string
		nic     NIC
		src     string
		nextHop string
	}{
		{"192.168.7.9", e.nic, "192.168.7.1", "192.168.7.9"},  // connected
		{"10.3.3.3", n2, "10.0.0.1", "10.3.3.3"},              // connected on eth1
		{"172.16.1.1", e.nic, "192.168.7.1", "192.168.7.254"}, // /12 beats default
		{"172.16.5.1", n2, "10.0.0.1", "10.0.0.254"},          // /24 beats /12
		{"8.8.8.8", n2, "10.0.0.1", "10.0.0.254"},             // default, lower metric wins
		{"127.0.0.5", LoopbackNIC, "127.0.0.1", "127.0.0.5"},
		{"192.168.7.1", LoopbackNIC, "192.168.7.1", "192.168.7.1"}, // local
	}
	for _, c := range cases {
		var rt outRoute
		if err := e.s.route(netip.MustParseAddr(c.dst), 0, &rt); err != nil {
			t.Fatalf("%s: %v", c.dst, err)
		}
		if rt.nic.id != c.nic || rt.src.String() != c.src || rt.nextHop.String() != c.nextHop {
			t.Errorf("%s: nic %d src %v next hop %v, want %d %s %s", c.dst, rt.nic.id, rt.src, rt.nextHop, c.nic, c.src, c.nextHop)
		}
		src, nic, mtu, err := e.s.Route(netip.MustParseAddr(c.dst))
		if err != nil || nic != c.nic || src.String() != c.src || mtu != e.s.nic(c.nic).mtu {
			t.Errorf("Route(%s) = %v %v %v %v", c.dst, src, nic, mtu, err)
		}
	}
	// eth1 down: its routes are skipped, the default falls back to eth0.
	_ = e.s.SetUp(n2, false)
	var rt outRoute
	if err := e.s.route(netip.MustParseAddr("8.8.8.8"), 0, &rt); err != nil || rt.nic.id != e.nic || rt.nextHop != gw {
		t.Fatalf("fallback: %v %+v", err, rt)
	}
	if err := e.s.route(netip.MustParseAddr("10.3.3.3"), 0, &rt); err != nil || rt.nextHop != gw {
		t.Fatalf("10/8 while eth1 down should use the default: %v %v", err, rt.nextHop)
	}
	// Sending via the default gateway resolves the gateway, not the destination.
	_ = sendUDP(t, e, netip.MustParseAddr("8.8.8.8"), 1)
	fr := e.link.take()
	if len(fr) != 1 {
		t.Fatalf("%d frames", len(fr))
	}
	a, err := wire.ParseARP(fr[0][14:])
	if err != nil || a.TargetIP() != gw {
		t.Fatalf("ARP for %v, want gateway", a.TargetIP())
	}
	e.s.Input(e.nic, ethFrame(ourMAC, wire.MAC{2, 0xee, 0, 0, 0, 1}, wire.EtherTypeARP, arpPkt(wire.ARPReply, wire.MAC{2, 0xee, 0, 0, 0, 1}, gw, ourMAC, ourIP)))
	ips := ipFrames(t, e.link.take(), wire.MAC{2, 0xee, 0, 0, 0, 1})
	if len(ips) != 1 {
		t.Fatal("datagram not sent to the gateway MAC")
	}
	if p, _ := wire.ParseIPv4(ips[0]); p.Dst() != netip.MustParseAddr("8.8.8.8") {
		t.Fatal("wrong IP destination")
	}
	// No route at all.
	_ = e.s.RemoveRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw, NIC: e.nic})
	if err := sendUDP(t, e, netip.MustParseAddr("8.8.8.8"), 1); err != ErrNoRoute || e.s.Stats().IP.OutNoRoutes != 1 {
		t.Fatalf("no route: %v", err)
	}
	if err := e.s.RemoveRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw, NIC: e.nic}); err != ErrNotFound {
		t.Fatal(err)
	}
}

func TestAddressesAndConnectedRoutes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxAddresses = 3 })
	a2 := netip.MustParsePrefix("192.168.7.9/24")
	if err := e.s.AddAddress(e.nic, a2); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AddAddress(e.nic, a2); err != ErrExists {
		t.Fatalf("duplicate address: %v", err)
	}
	for _, bad := range []string{"224.1.1.1/4", "0.0.0.0/0", "255.255.255.255/32", "::1/128"} {
		if err := e.s.AddAddress(e.nic, netip.MustParsePrefix(bad)); err != ErrInvalid {
			t.Errorf("%s: %v", bad, err)
		}
	}
	_ = e.s.AddAddress(e.nic, netip.MustParsePrefix("10.0.0.1/8"))
	if err := e.s.AddAddress(e.nic, netip.MustParsePrefix("10.0.0.2/8")); err != ErrBufferFull {
		t.Fatalf("bound: %v", err)
	}
	count := func(p string) int {
		n := 0
		for _, r := range e.s.Routes() {
			if r.Dst == netip.MustParsePrefix(p) {
				n++
			}
		}
		return n
	}
	if count("192.168.7.0/24") != 1 || count("10.0.0.0/8") != 1 || count("127.0.0.0/8") != 1 {
		t.Fatalf("routes %+v", e.s.Routes())
	}
	_ = e.s.RemoveAddress(e.nic, ourIP)
	if count("192.168.7.0/24") != 1 {
		t.Fatal("connected route removed while another address uses it")
	}
	_ = e.s.RemoveAddress(e.nic, a2.Addr())
	if count("192.168.7.0/24") != 0 {
		t.Fatal("connected route kept")
	}
	if err := e.s.RemoveAddress(e.nic, a2.Addr()); err != ErrNotFound {
		t.Fatal(err)
	}
	if len(e.s.Addresses(e.nic)) != 1 || e.s.Addresses(99) != nil {
		t.Fatal("Addresses")
	}
	ifs := e.s.Interfaces()
	if len(ifs) != 2 || ifs[0].Name != "lo" || ifs[0].NIC != LoopbackNIC || !ifs[0].Up || ifs[0].Addrs[0] != netip.MustParsePrefix("127.0.0.1/8") || ifs[1].MAC != ourMAC {
		t.Fatalf("%+v", ifs)
	}
	if _, err := e.s.AddInterface(InterfaceConfig{Name: "eth0", Link: e.link, MAC: ourMAC}); err != ErrExists {
		t.Fatal(err)
	}
	if _, err := e.s.AddInterface(InterfaceConfig{Name: "x", Link: e.link}); err != ErrInvalid {
		t.Fatal("ethernet without MAC accepted")
	}
	if _, err := e.s.AddInterface(InterfaceConfig{Name: "y", Link: e.link, MAC: ourMAC, MTU: 60}); err != ErrInvalid {
		t.Fatal("MTU 60 accepted")
	}
	if e.s.SetUp(77, true) != ErrNoSuchInterface {
		t.Fatal("SetUp on unknown NIC")
	}
}
