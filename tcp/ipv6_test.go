package tcp

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/link/fault"
)

func TestIPv6Bulk(t *testing.T) {
	f := fault.Config{Loss: 0.01}
	pr := newPair(t, pairOpts{delay: 2 * time.Millisecond, v6: true, fault: &f})
	took := bulkTo(t, pr, pr.b.ip6, 1<<20, 5*time.Minute)
	t.Logf("IPv6: 1 MiB each way in %v", took)
	if pr.a.tcp.Stats().ActiveOpens != 1 {
		t.Fatal("no IPv6 connection")
	}
}

func TestIPv6MSSAndRefused(t *testing.T) {
	pr := newPair(t, pairOpts{v6: true})
	c, _ := pr.a.tcp.NewPCB()
	var got error
	done := false
	c.OnConnected(func(c *PCB, err error) { got, done = err, true })
	if err := c.Connect(netip.AddrPortFrom(pr.b.ip6, 9)); err != nil {
		t.Fatal(err)
	}
	pr.run(func() bool { return done }, time.Second)
	if !errors.Is(got, ErrConnRefused) {
		t.Fatalf("connect to a closed IPv6 port: %v", got)
	}
	l, _ := pr.b.tcp.NewPCB()
	l.Listen(netip.MustParseAddrPort("[::]:80"), 4)
	var srv *PCB
	l.OnAccept(func(l, c *PCB) { srv = c })
	c, _ = pr.a.tcp.NewPCB()
	c.Connect(netip.AddrPortFrom(pr.b.ip6, 80))
	pr.run(func() bool { return srv != nil }, time.Second)
	if srv == nil || srv.Stats().SndMSS != 1500-60 || !srv.RemoteAddr().Addr().Is6() {
		t.Fatalf("IPv6 accept: %v", srv)
	}
	// the dual-stack listener takes IPv4 too
	srv = nil
	c4, _ := pr.a.tcp.NewPCB()
	c4.Connect(netip.AddrPortFrom(pr.b.ip, 80))
	pr.run(func() bool { return srv != nil }, time.Second)
	if srv == nil || !srv.RemoteAddr().Addr().Is4() || srv.Stats().SndMSS != 1460 {
		t.Fatalf("IPv4 on [::]: %v", srv)
	}
}
