package tcp

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/testnet"
)

// TestListenFamilyConflicts checks the port rules between one-family and
// dual-stack wildcard listeners and specific addresses, in both orders
// (Linux's inet_rcv_saddr_equal with IPV6_V6ONLY).
func TestListenFamilyConflicts(t *testing.T) {
	pr := newPair(t, pairOpts{v6: true})
	p := pr.b.tcp // 10.0.0.2, fd00::2
	port := uint16(2000)
	for _, tc := range testnet.FamilyConflicts("10.0.0.2", "fd00::2") {
		for _, order := range [][2]testnet.FamilyBind{{tc.A, tc.B}, {tc.B, tc.A}} {
			port++
			name := order[0].String() + "+" + order[1].String()
			var pcbs [2]*PCB
			for i, b := range order {
				c, err := p.NewPCB()
				if err != nil {
					t.Fatal(err)
				}
				c.SetV6Only(b.V6Only)
				pcbs[i] = c
			}
			if err := pcbs[0].Listen(order[0].AddrPort(port), 4); err != nil {
				t.Fatalf("%s: first listen: %v", name, err)
			}
			err := pcbs[1].Listen(order[1].AddrPort(port), 4)
			if tc.Clash && !errors.Is(err, ErrAddrInUse) {
				t.Errorf("%s: second listen = %v, want ErrAddrInUse", name, err)
			}
			if !tc.Clash && err != nil {
				t.Errorf("%s: second listen = %v, want success", name, err)
			}
			// A bound, not listening PCB holds the port the same way.
			c, _ := p.NewPCB()
			c.SetV6Only(order[1].V6Only)
			err = c.Bind(order[1].AddrPort(port + 1000))
			if err != nil {
				t.Fatalf("%s: bind on a free port: %v", name, err)
			}
			d, _ := p.NewPCB()
			d.SetV6Only(order[0].V6Only)
			err = d.Bind(order[0].AddrPort(port + 1000))
			if tc.Clash != errors.Is(err, ErrAddrInUse) || !tc.Clash && err != nil {
				t.Errorf("%s: bind after bind (reversed) = %v, clash %v", name, err, tc.Clash)
			}
			for _, x := range []*PCB{pcbs[0], pcbs[1], c, d} {
				x.Abort()
			}
		}
	}
}

// TestSharedPortListeners checks that an IPv4-only and an IPv6-only
// wildcard listener on one port each get the SYNs of their family, that a
// one-family listener alone refuses the other family, and that a dual
// listener takes both.
func TestSharedPortListeners(t *testing.T) {
	pr := newPair(t, pairOpts{v6: true})
	listen := func(a netip.AddrPort, v6only bool) (*PCB, *[]*PCB) {
		t.Helper()
		l, err := pr.b.tcp.NewPCB()
		if err != nil {
			t.Fatal(err)
		}
		l.SetV6Only(v6only)
		if err := l.Listen(a, 4); err != nil {
			t.Fatalf("Listen(%v, v6only %v): %v", a, v6only, err)
		}
		var got []*PCB
		l.OnAccept(func(_, c *PCB) { got = append(got, c) })
		return l, &got
	}
	dial := func(dst netip.AddrPort) error {
		t.Helper()
		c, _ := pr.a.tcp.NewPCB()
		var res error
		done := false
		c.OnConnected(func(_ *PCB, err error) { res, done = err, true })
		if err := c.Connect(dst); err != nil {
			t.Fatal(err)
		}
		pr.run(func() bool { return done }, 5*time.Second)
		if !done {
			t.Fatalf("connect to %v: no outcome", dst)
		}
		return res
	}
	to4, to6 := netip.AddrPortFrom(pr.b.ip, 7300), netip.AddrPortFrom(pr.b.ip6, 7300)

	l4, got4 := listen(netip.MustParseAddrPort("0.0.0.0:7300"), false)
	l6, got6 := listen(netip.MustParseAddrPort("[::]:7300"), true)
	if a := l6.LocalAddr(); a != netip.MustParseAddrPort("[::]:7300") {
		t.Errorf("IPv6-only listener LocalAddr %v", a)
	}
	for _, dst := range []netip.AddrPort{to4, to6, to6, to4} {
		if err := dial(dst); err != nil {
			t.Fatalf("connect to %v: %v", dst, err)
		}
	}
	if len(*got4) != 2 || len(*got6) != 2 {
		t.Fatalf("accepted: IPv4 listener %d, IPv6 listener %d, want 2 each", len(*got4), len(*got6))
	}
	for _, c := range *got4 {
		if c.LocalAddr() != to4 || !c.RemoteAddr().Addr().Is4() {
			t.Errorf("IPv4 listener accepted %v-%v", c.LocalAddr(), c.RemoteAddr())
		}
	}
	for _, c := range *got6 {
		if c.LocalAddr() != to6 || !c.RemoteAddr().Addr().Is6() {
			t.Errorf("IPv6 listener accepted %v-%v", c.LocalAddr(), c.RemoteAddr())
		}
	}

	// Each alone refuses the other family.
	l4.Close()
	if err := dial(to4); !errors.Is(err, ErrConnRefused) {
		t.Errorf("IPv4 SYN to the IPv6-only listener's port: %v, want ErrConnRefused", err)
	}
	if len(*got6) != 2 {
		t.Errorf("IPv6-only listener accepted IPv4")
	}
	l6.Close()
	l4b, got4b := listen(netip.MustParseAddrPort("0.0.0.0:7300"), false)
	if err := dial(to6); !errors.Is(err, ErrConnRefused) {
		t.Errorf("IPv6 SYN to the IPv4 listener's port: %v, want ErrConnRefused", err)
	}
	if len(*got4b) != 0 {
		t.Errorf("IPv4 listener accepted IPv6")
	}
	l4b.Close()

	// The dual wildcard takes both; after SetV6Only(false) too.
	_, gotd := listen(netip.MustParseAddrPort("[::]:7300"), false)
	if err := dial(to4); err != nil {
		t.Fatal(err)
	}
	if err := dial(to6); err != nil {
		t.Fatal(err)
	}
	if len(*gotd) != 2 {
		t.Fatalf("dual listener accepted %d, want 2", len(*gotd))
	}
}

// TestOneFamilyConnect checks that a PCB bound to a one-family wildcard
// does not connect to the other family, and that a dual one does.
func TestOneFamilyConnect(t *testing.T) {
	pr := newPair(t, pairOpts{v6: true})
	c6, _ := pr.a.tcp.NewPCB()
	c6.SetV6Only(true)
	if err := c6.Bind(netip.MustParseAddrPort("[::]:0")); err != nil {
		t.Fatal(err)
	}
	if err := c6.Connect(netip.AddrPortFrom(pr.b.ip, 80)); !errors.Is(err, ErrInvalidAddr) {
		t.Errorf("IPv6-only wildcard Connect to IPv4 = %v, want ErrInvalidAddr", err)
	}
	c4, _ := pr.a.tcp.NewPCB()
	if err := c4.Bind(netip.MustParseAddrPort("0.0.0.0:0")); err != nil {
		t.Fatal(err)
	}
	if err := c4.Connect(netip.AddrPortFrom(pr.b.ip6, 80)); !errors.Is(err, ErrInvalidAddr) {
		t.Errorf("IPv4 wildcard Connect to IPv6 = %v, want ErrInvalidAddr", err)
	}
	d, _ := pr.a.tcp.NewPCB()
	if err := d.Bind(netip.MustParseAddrPort("[::]:0")); err != nil {
		t.Fatal(err)
	}
	if err := d.Connect(netip.AddrPortFrom(pr.b.ip, 80)); err != nil {
		t.Errorf("dual wildcard Connect to IPv4: %v", err)
	}
	for _, x := range []*PCB{c6, c4, d} {
		x.Abort()
	}
}
