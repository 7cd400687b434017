package udp_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/internal/testnet"
	"github.com/featherip/featherip/udp"
)

// TestBindFamilyConflicts checks the port rules between one-family and
// dual-stack wildcards and specific addresses, in both bind orders (Linux's
// inet_rcv_saddr_equal with IPV6_V6ONLY).
func TestBindFamilyConflicts(t *testing.T) {
	v6onlyR := testnet.FamilyBind{Addr: "::", V6Only: true, Reuse: true}
	cases := append(testnet.FamilyConflicts("10.0.0.1", "2001:db8::1"),
		testnet.FamilyCase{A: testnet.FamilyBind{Addr: "::ffff:0.0.0.0"}, B: testnet.FamilyBind{Addr: "::", V6Only: true}, Clash: false},
		testnet.FamilyCase{A: testnet.FamilyBind{Addr: "::ffff:0.0.0.0"}, B: testnet.FamilyBind{Addr: "0.0.0.0"}, Clash: true},
		testnet.FamilyCase{A: v6onlyR, B: v6onlyR, Clash: false},
		testnet.FamilyCase{A: v6onlyR, B: testnet.FamilyBind{Addr: "::", V6Only: true}, Clash: true},
		testnet.FamilyCase{A: testnet.FamilyBind{Addr: "0.0.0.0", Reuse: true}, B: testnet.FamilyBind{Addr: "::", V6Only: true}, Clash: false},
	)
	for _, tc := range cases {
		for _, order := range [][2]testnet.FamilyBind{{tc.A, tc.B}, {tc.B, tc.A}} {
			t.Run(order[0].String()+"+"+order[1].String(), func(t *testing.T) {
				n := newNet6(t)
				var pcbs [2]*udp.PCB
				for i, b := range order {
					c := mustPCB(t, n.a.u)
					c.SetV6Only(b.V6Only)
					c.SetReuseAddr(b.Reuse)
					pcbs[i] = c
				}
				if err := pcbs[0].Bind(order[0].AddrPort(53)); err != nil {
					t.Fatalf("first bind %v: %v", order[0], err)
				}
				err := pcbs[1].Bind(order[1].AddrPort(53))
				if tc.Clash && !errors.Is(err, udp.ErrAddrInUse) {
					t.Fatalf("second bind %v after %v = %v, want ErrAddrInUse", order[1], order[0], err)
				}
				if !tc.Clash && err != nil {
					t.Fatalf("second bind %v after %v = %v, want success", order[1], order[0], err)
				}
				// Closing the first frees the port for the second.
				pcbs[0].Close()
				if err := pcbs[1].Bind(order[1].AddrPort(53)); err != nil {
					t.Fatalf("bind %v after closing %v: %v", order[1], order[0], err)
				}
			})
		}
	}
}

// TestV6OnlyLocalAddr checks what LocalAddr reports for the wildcards.
func TestV6OnlyLocalAddr(t *testing.T) {
	n := newNet6(t)
	for _, tc := range []struct {
		b    testnet.FamilyBind
		want string
	}{
		{testnet.FamilyBind{Addr: "0.0.0.0"}, "0.0.0.0:100"},
		{testnet.FamilyBind{Addr: "::", V6Only: true}, "[::]:101"},
		{testnet.FamilyBind{V6Only: true}, "[::]:102"},
		{testnet.FamilyBind{Addr: "::"}, "0.0.0.0:103"}, // the dual wildcard keeps its old form
	} {
		c := mustPCB(t, n.a.u)
		c.SetV6Only(tc.b.V6Only)
		want := ap(tc.want)
		if err := c.Bind(tc.b.AddrPort(want.Port())); err != nil {
			t.Fatal(err)
		}
		if got := c.LocalAddr(); got != want {
			t.Errorf("%v: LocalAddr = %v, want %v", tc.b, got, want)
		}
	}
}

// sharedPort binds an IPv4-only and an IPv6-only wildcard pcb on b's port.
func sharedPort(t testing.TB, n *testNet, port uint16) (v4, v6 *udp.PCB, r4, r6 *recorder) {
	t.Helper()
	v4, v6 = mustPCB(t, n.b.u), mustPCB(t, n.b.u)
	v6.SetV6Only(true)
	if err := v4.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), port)); err != nil {
		t.Fatal(err)
	}
	if err := v6.Bind(netip.AddrPortFrom(netip.IPv6Unspecified(), port)); err != nil {
		t.Fatal(err)
	}
	r4, r6 = &recorder{}, &recorder{}
	v4.OnRecv(r4.fn)
	v6.OnRecv(r6.fn)
	return v4, v6, r4, r6
}

// TestSharedPortDelivery checks that with an IPv4-only and an IPv6-only
// wildcard pcb on one port each family reaches its own pcb, and that a
// one-family wildcard alone refuses the other family (port unreachable).
func TestSharedPortDelivery(t *testing.T) {
	n := newNet6(t)
	v4, v6, r4, r6 := sharedPort(t, n, 7300)
	cli := mustPCB(t, n.a.u)
	send := func(dst, msg string) {
		t.Helper()
		if err := cli.SendTo([]byte(msg), ap(dst)); err != nil {
			t.Fatal(err)
		}
		n.Advance(100e6) // neighbor resolution
	}
	send("10.0.0.2:7300", "four")
	send("[2001:db8::2]:7300", "six")
	send("10.0.0.2:7300", "four again")
	if len(r4.data) != 2 || string(r4.data[0]) != "four" || string(r4.data[1]) != "four again" {
		t.Fatalf("IPv4 pcb got %q", r4.data)
	}
	if len(r6.data) != 1 || string(r6.data[0]) != "six" {
		t.Fatalf("IPv6 pcb got %q", r6.data)
	}
	if r4.infos[0].Src.Addr() != netip.MustParseAddr("10.0.0.1") || r6.infos[0].Src.Addr() != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("sources %v, %v", r4.infos[0].Src, r6.infos[0].Src)
	}

	// Each alone: the other family finds no pcb.
	no := n.b.u.Stats().NoPorts
	v4.Close()
	send("10.0.0.2:7300", "to nobody 4")
	if len(r6.data) != 1 {
		t.Fatalf("IPv6-only pcb received IPv4: %q", r6.data)
	}
	if got := n.b.u.Stats().NoPorts; got != no+1 {
		t.Errorf("NoPorts = %d, want %d", got, no+1)
	}
	v6.Close()
	v4b := mustPCB(t, n.b.u)
	mustBind(t, v4b, "0.0.0.0:7300")
	rb := &recorder{}
	v4b.OnRecv(rb.fn)
	send("[2001:db8::2]:7300", "to nobody 6")
	if len(rb.data) != 0 {
		t.Fatalf("IPv4-only pcb received IPv6: %q", rb.data)
	}
	if got := n.b.u.Stats().NoPorts; got != no+2 {
		t.Errorf("NoPorts = %d, want %d", got, no+2)
	}

	// The dual wildcard takes both.
	v4b.Close()
	d := mustPCB(t, n.b.u)
	if err := d.Bind(ap("[::]:7300")); err != nil {
		t.Fatal(err)
	}
	rd := &recorder{}
	d.OnRecv(rd.fn)
	send("10.0.0.2:7300", "d4")
	send("[2001:db8::2]:7300", "d6")
	if len(rd.data) != 2 {
		t.Fatalf("dual pcb got %q", rd.data)
	}
}

// TestSharedPortSpecificBeatsWildcard checks that a specific bind of one
// family still beats that family's wildcard and leaves the other alone.
func TestSharedPortSpecificBeatsWildcard(t *testing.T) {
	n := newNet6(t)
	_, _, r4, r6 := sharedPort(t, n, 7301)
	s6 := mustPCB(t, n.b.u)
	if err := s6.Bind(ap("[2001:db8::2]:7301")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Fatalf("specific IPv6 bind over the IPv6-only wildcard = %v, want ErrAddrInUse", err)
	}
	s4 := mustPCB(t, n.b.u)
	if err := s4.Bind(ap("10.0.0.2:7301")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Fatalf("specific IPv4 bind over the IPv4-only wildcard = %v, want ErrAddrInUse", err)
	}
	cli := mustPCB(t, n.a.u)
	for _, dst := range []string{"[2001:db8::2]:7301", "10.0.0.2:7301"} {
		if err := cli.SendTo([]byte(dst), ap(dst)); err != nil {
			t.Fatal(err)
		}
		n.Advance(100e6)
	}
	if len(r4.data) != 1 || len(r6.data) != 1 || string(r6.data[0]) != "[2001:db8::2]:7301" {
		t.Fatalf("v4 %q, v6 %q", r4.data, r6.data)
	}
}

// TestOneFamilySend checks that a one-family wildcard pcb does not send
// or connect to the other family (Linux: ENETUNREACH from an IPV6_V6ONLY
// socket to an IPv4(-mapped) address), and that an implicit bind after
// SetV6Only takes the IPv6 wildcard.
func TestOneFamilySend(t *testing.T) {
	n := newNet6(t)
	c6 := mustPCB(t, n.a.u)
	c6.SetV6Only(true)
	if err := c6.SendTo([]byte("x"), ap("10.0.0.2:9")); !errors.Is(err, udp.ErrNetUnreachable) {
		t.Errorf("v6only SendTo IPv4 = %v, want ErrNetUnreachable", err)
	}
	if a := c6.LocalAddr().Addr(); a != netip.IPv6Unspecified() {
		t.Errorf("implicit bind of a v6only pcb: %v, want ::", a)
	}
	if err := c6.SendTo([]byte("x"), ap("[::ffff:10.0.0.2]:9")); !errors.Is(err, udp.ErrNetUnreachable) {
		t.Errorf("v6only SendTo IPv4-mapped = %v, want ErrNetUnreachable", err)
	}
	if err := c6.Connect(ap("10.0.0.2:9")); !errors.Is(err, udp.ErrInvalid) {
		t.Errorf("v6only Connect IPv4 = %v, want ErrInvalid", err)
	}
	c4 := mustPCB(t, n.a.u)
	mustBind(t, c4, "0.0.0.0:0")
	if err := c4.SendTo([]byte("x"), ap("[2001:db8::2]:9")); !errors.Is(err, udp.ErrInvalid) {
		t.Errorf("IPv4-only SendTo IPv6 = %v, want ErrInvalid", err)
	}
	if err := c4.Connect(ap("[2001:db8::2]:9")); !errors.Is(err, udp.ErrInvalid) {
		t.Errorf("IPv4-only Connect IPv6 = %v, want ErrInvalid", err)
	}
	d := mustPCB(t, n.a.u)
	if err := d.SendTo([]byte("x"), ap("10.0.0.2:9")); err != nil {
		t.Errorf("dual SendTo IPv4: %v", err)
	}
	if err := d.SendTo([]byte("x"), ap("[2001:db8::2]:9")); err != nil {
		t.Errorf("dual SendTo IPv6: %v", err)
	}
}

// TestSharedPortAllocs checks that demultiplexing between the two
// one-family wildcards allocates nothing per datagram.
func TestSharedPortAllocs(t *testing.T) {
	n := newNet6(t)
	v4, v6, _, _ := sharedPort(t, n, 7302)
	var got4, got6 int
	v4.OnRecv(func(*udp.PCB, []byte, *udp.RecvInfo) { got4++ })
	v6.OnRecv(func(*udp.PCB, []byte, *udp.RecvInfo) { got6++ })
	cli := mustPCB(t, n.a.u)
	msg := make([]byte, 64)
	for _, dst := range []netip.AddrPort{ap("10.0.0.2:7302"), ap("[2001:db8::2]:7302")} {
		if err := cli.SendTo(msg, dst); err != nil { // warm up: neighbors, pools
			t.Fatal(err)
		}
		n.Advance(100e6)
	}
	st := n.b.u.Stats().InDatagrams
	var sendErr error
	dst4, dst6 := ap("10.0.0.2:7302"), ap("[2001:db8::2]:7302")
	allocs := testing.AllocsPerRun(100, func() {
		if err := cli.SendTo(msg, dst4); err != nil {
			sendErr = err
		}
		if err := cli.SendTo(msg, dst6); err != nil {
			sendErr = err
		}
		n.Pump()
	})
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	if got := n.b.u.Stats().InDatagrams - st; got != 202 || got4 != 102 || got6 != 102 {
		t.Fatalf("%d datagrams delivered (IPv4 pcb %d, IPv6 pcb %d in all), want 202 (102 each)", got, got4, got6)
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per pair of datagrams, want 0", allocs)
	}
}
