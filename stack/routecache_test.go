package stack

import (
	"net/netip"
	"testing"

	"github.com/featherip/featherip/wire"
)

// TestRouteCacheInvalidation checks that the one-entry destination cache
// never answers with a decision made before a change to the routing
// table, an interface's up state or its addresses: each step changes what
// route must decide for the same destination, asked twice (the second
// answer comes from the cache when it is valid).
func TestRouteCacheInvalidation(t *testing.T) {
	e := newEnv(t, nil)
	dst := netip.MustParseAddr("172.16.5.1")
	gw := netip.MustParseAddr("192.168.7.254")
	gw2 := netip.MustParseAddr("10.0.0.254")
	want := func(step string, wantErr error, nic NIC, src, nextHop string) {
		t.Helper()
		for range 2 {
			var rt outRoute
			err := e.s.route(dst, 0, &rt)
			if err != wantErr {
				t.Fatalf("%s: err %v, want %v", step, err, wantErr)
			}
			if err != nil {
				continue
			}
			if rt.nic.id != nic || rt.src.String() != src || rt.nextHop.String() != nextHop {
				t.Fatalf("%s: nic %d src %v next hop %v, want %d %s %s", step, rt.nic.id, rt.src, rt.nextHop, nic, src, nextHop)
			}
		}
	}
	want("no route", ErrNoRoute, 0, "", "")
	if err := e.s.AddRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw, NIC: e.nic}); err != nil {
		t.Fatal(err)
	}
	want("default route", nil, e.nic, "192.168.7.1", "192.168.7.254")

	l2 := &recLink{}
	n2, err := e.s.AddInterface(InterfaceConfig{Name: "eth1", Link: l2, MAC: wire.MAC{2, 0, 0, 0, 1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.AddAddress(n2, netip.MustParsePrefix("10.0.0.1/8")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AddRoute(Route{Dst: netip.MustParsePrefix("172.16.0.0/16"), Gateway: gw2, NIC: n2}); err != nil {
		t.Fatal(err)
	}
	want("more specific route, interface down", nil, e.nic, "192.168.7.1", "192.168.7.254")
	if err := e.s.SetUp(n2, true); err != nil {
		t.Fatal(err)
	}
	want("interface up", nil, n2, "10.0.0.1", "10.0.0.254")
	// A second address in the gateway's subnet, added first in the list
	// order only after the first is removed: the source follows.
	if err := e.s.AddAddress(n2, netip.MustParsePrefix("10.9.9.9/8")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveAddress(n2, netip.MustParseAddr("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	want("address replaced", nil, n2, "10.9.9.9", "10.0.0.254")
	if err := e.s.AddAddress(e.nic, netip.MustParsePrefix("172.16.5.1/32")); err != nil {
		t.Fatal(err)
	}
	want("destination became local", nil, LoopbackNIC, "172.16.5.1", "172.16.5.1")
	if err := e.s.RemoveAddress(e.nic, dst); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveRoute(Route{Dst: netip.MustParsePrefix("172.16.0.0/16"), Gateway: gw2, NIC: n2}); err != nil {
		t.Fatal(err)
	}
	want("specific route removed", nil, e.nic, "192.168.7.1", "192.168.7.254")
	if err := e.s.SetUp(e.nic, false); err != nil {
		t.Fatal(err)
	}
	want("interface down", ErrNoRoute, 0, "", "")
	// A pinned interface is part of the key.
	var rt outRoute
	if err := e.s.route(dst, n2, &rt); err != nil || rt.nic.id != n2 {
		t.Fatalf("via eth1: %v %+v", err, rt)
	}
	if err := e.s.route(dst, e.nic, &rt); err != ErrNoRoute {
		t.Fatalf("via the down interface: %v, want ErrNoRoute", err)
	}
}

// TestRouteCacheNoAllocs holds a cached route lookup at zero allocations.
func TestRouteCacheNoAllocs(t *testing.T) {
	e := newEnv(t, nil)
	dst := netip.MustParseAddr("192.168.7.9")
	if n := testing.AllocsPerRun(100, func() {
		if _, _, _, err := e.s.Route(dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per Route", n)
	}
}
