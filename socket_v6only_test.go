package featherip

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// listenPacketErr is ListenPacket that closes what it opens at cleanup.
func listenPacketErr(t *testing.T, h *Host, network, address string) (*UDPConn, error) {
	t.Helper()
	pc, err := h.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(*UDPConn), nil
}

func wantAddrInUse(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("%s: %v, want EADDRINUSE", what, err)
	}
}

// TestUDPFamiliesSharePort checks package net's Linux behavior: a "udp4"
// and a "udp6" socket on the wildcard share a port and each receives only
// its family, while a dual-stack "udp" socket conflicts with both.
func TestUDPFamiliesSharePort(t *testing.T) {
	p := newPair6(t)
	u4 := listenUDP(t, p.b, "udp4", "0.0.0.0:7300")
	u6 := listenUDP(t, p.b, "udp6", "[::]:7300")
	if got := u4.LocalAddr().String(); got != "0.0.0.0:7300" {
		t.Errorf("udp4 LocalAddr %s", got)
	}
	if got := u6.LocalAddr().String(); got != "[::]:7300" {
		t.Errorf("udp6 LocalAddr %s", got)
	}
	for _, addr := range []string{":7300", "0.0.0.0:7300", "[::]:7300"} {
		_, err := listenPacketErr(t, p.b, "udp", addr)
		wantAddrInUse(t, `ListenPacket("udp", "`+addr+`") over udp4+udp6`, err)
	}

	tx4 := listenUDP(t, p.a, "udp4", "10.0.0.1:7350")
	tx6 := listenUDP(t, p.a, "udp6", "[fd00::1]:7360")
	for i := 0; i < 2; i++ {
		if _, err := tx4.WriteToUDPAddrPort([]byte("four"), netip.MustParseAddrPort("10.0.0.2:7300")); err != nil {
			t.Fatal(err)
		}
		if _, err := tx6.WriteToUDPAddrPort([]byte("six"), netip.MustParseAddrPort("[fd00::2]:7300")); err != nil {
			t.Fatal(err)
		}
		if got, ap := udpFrom(t, u4, 5*time.Second); string(got) != "four" || ap != netip.MustParseAddrPort("10.0.0.1:7350") {
			t.Fatalf("udp4 socket got %q from %v", got, ap)
		}
		if got, ap := udpFrom(t, u6, 5*time.Second); string(got) != "six" || ap != netip.MustParseAddrPort("[fd00::1]:7360") {
			t.Fatalf("udp6 socket got %q from %v", got, ap)
		}
	}
	expectNothing(t, u4, 50*time.Millisecond)
	expectNothing(t, u6, 50*time.Millisecond)

	// Replies leave from the shared port in each family.
	if _, err := u6.WriteToUDPAddrPort([]byte("r6"), netip.MustParseAddrPort("[fd00::1]:7360")); err != nil {
		t.Fatal(err)
	}
	if got, ap := udpFrom(t, tx6, 5*time.Second); string(got) != "r6" || ap != netip.MustParseAddrPort("[fd00::2]:7300") {
		t.Fatalf("udp6 reply %q from %v", got, ap)
	}

	// With udp4 gone the port still conflicts with "udp" through udp6;
	// IPv4 to it finds nobody.
	u4.Close()
	_, err := listenPacketErr(t, p.b, "udp", ":7300")
	wantAddrInUse(t, `"udp" over udp6`, err)
	tx4.WriteToUDPAddrPort([]byte("lost"), netip.MustParseAddrPort("10.0.0.2:7300"))
	expectNothing(t, u6, 100*time.Millisecond)
	u6.Close()
	if _, err := listenPacketErr(t, p.b, "udp", ":7300"); err != nil {
		t.Errorf(`"udp" on the freed port: %v`, err)
	}

	// The other order: udp6 first, then udp4.
	listenUDP(t, p.b, "udp6", ":7301")
	listenUDP(t, p.b, "udp4", ":7301")
	_, err = listenPacketErr(t, p.b, "udp", ":7301")
	wantAddrInUse(t, `"udp" over udp6+udp4`, err)

	// A dual-stack socket first: both one-family ones conflict.
	listenUDP(t, p.b, "udp", ":7302")
	_, err = listenPacketErr(t, p.b, "udp4", ":7302")
	wantAddrInUse(t, "udp4 over udp", err)
	_, err = listenPacketErr(t, p.b, "udp6", ":7302")
	wantAddrInUse(t, "udp6 over udp", err)
	listenUDP(t, p.b, "udp", "0.0.0.0:7303") // "udp" on 0.0.0.0 is dual-stack as well
	_, err = listenPacketErr(t, p.b, "udp6", ":7303")
	wantAddrInUse(t, `udp6 over "udp" 0.0.0.0`, err)

	// Specific addresses: an IPv4 one coexists with udp6, not with udp4.
	listenUDP(t, p.b, "udp6", ":7304")
	listenUDP(t, p.b, "udp4", "10.0.0.2:7304")
	_, err = listenPacketErr(t, p.b, "udp4", ":7304")
	wantAddrInUse(t, "udp4 wildcard over udp4 10.0.0.2", err)
	_, err = listenPacketErr(t, p.b, "udp6", "[fd00::2]:7304")
	wantAddrInUse(t, "udp6 fd00::2 over the udp6 wildcard", err)
}

func listenTCPErr(t *testing.T, h *Host, network, address string) (*TCPListener, error) {
	t.Helper()
	l, err := h.Listen(network, address)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { l.Close() })
	return l.(*TCPListener), nil
}

// acceptWithin accepts one connection, failing after d.
func acceptWithin(t *testing.T, l *TCPListener, d time.Duration) *TCPConn {
	t.Helper()
	l.SetDeadline(time.Now().Add(d))
	defer l.SetDeadline(time.Time{})
	c, err := l.AcceptTCP()
	if err != nil {
		t.Fatalf("Accept on %v: %v", l.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func expectNoAccept(t *testing.T, l *TCPListener, d time.Duration) {
	t.Helper()
	l.SetDeadline(time.Now().Add(d))
	defer l.SetDeadline(time.Time{})
	if c, err := l.AcceptTCP(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Accept on %v = %v, %v; want a timeout", l.Addr(), c, err)
	}
}

// TestTCPFamiliesSharePort is TestUDPFamiliesSharePort for listeners.
func TestTCPFamiliesSharePort(t *testing.T) {
	p := newPair6(t)
	l4, err := listenTCPErr(t, p.b, "tcp4", "0.0.0.0:7310")
	if err != nil {
		t.Fatal(err)
	}
	l6, err := listenTCPErr(t, p.b, "tcp6", "[::]:7310")
	if err != nil {
		t.Fatalf("tcp6 next to tcp4: %v", err)
	}
	if l4.Addr().String() != "0.0.0.0:7310" || l6.Addr().String() != "[::]:7310" {
		t.Errorf("listener addresses %v, %v", l4.Addr(), l6.Addr())
	}
	for _, addr := range []string{":7310", "0.0.0.0:7310", "[::]:7310"} {
		_, err := listenTCPErr(t, p.b, "tcp", addr)
		wantAddrInUse(t, `Listen("tcp", "`+addr+`") over tcp4+tcp6`, err)
	}

	dial := func(network, addr string) net.Conn {
		t.Helper()
		c, err := p.a.Dial(network, addr)
		if err != nil {
			t.Fatalf("Dial(%s, %s): %v", network, addr, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	exchange := func(c net.Conn, s *TCPConn, msg string) {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(s, buf); err != nil || string(buf) != msg {
			t.Fatalf("server read %q, %v", buf, err)
		}
	}
	c4 := dial("tcp", "10.0.0.2:7310")
	s4 := acceptWithin(t, l4, 5*time.Second)
	c6 := dial("tcp", "[fd00::2]:7310")
	s6 := acceptWithin(t, l6, 5*time.Second)
	if s4.RemoteAddr().String() != c4.LocalAddr().String() || s4.LocalAddr().String() != "10.0.0.2:7310" {
		t.Errorf("tcp4 listener accepted %v-%v", s4.LocalAddr(), s4.RemoteAddr())
	}
	if s6.RemoteAddr().String() != c6.LocalAddr().String() || s6.LocalAddr().String() != "[fd00::2]:7310" {
		t.Errorf("tcp6 listener accepted %v-%v", s6.LocalAddr(), s6.RemoteAddr())
	}
	exchange(c4, s4, "over four")
	exchange(c6, s6, "over six")
	expectNoAccept(t, l4, 50*time.Millisecond)
	expectNoAccept(t, l6, 50*time.Millisecond)

	// Each alone refuses the other family; "tcp" still conflicts.
	l4.Close()
	if _, err := p.a.Dial("tcp4", "10.0.0.2:7310"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("IPv4 to the tcp6 listener's port: %v, want ECONNREFUSED", err)
	}
	_, err = listenTCPErr(t, p.b, "tcp", ":7310")
	wantAddrInUse(t, `"tcp" over tcp6`, err)
	l6.Close()
	if _, err := listenTCPErr(t, p.b, "tcp", ":7310"); err != nil {
		t.Errorf(`"tcp" on the freed port: %v`, err)
	}

	// The other order, and a dual-stack listener first.
	if _, err := listenTCPErr(t, p.b, "tcp6", ":7311"); err != nil {
		t.Fatal(err)
	}
	if _, err := listenTCPErr(t, p.b, "tcp4", ":7311"); err != nil {
		t.Fatalf("tcp4 next to tcp6: %v", err)
	}
	ld, err := listenTCPErr(t, p.b, "tcp", "0.0.0.0:7312") // dual-stack, as package net makes it
	if err != nil {
		t.Fatal(err)
	}
	if got := ld.Addr().String(); got != "[::]:7312" {
		t.Errorf(`"tcp" listener on 0.0.0.0: Addr %s, want [::]:7312`, got)
	}
	_, err = listenTCPErr(t, p.b, "tcp4", ":7312")
	wantAddrInUse(t, "tcp4 over tcp", err)
	_, err = listenTCPErr(t, p.b, "tcp6", ":7312")
	wantAddrInUse(t, "tcp6 over tcp", err)
	dial("tcp6", "[fd00::2]:7312")
	if s := acceptWithin(t, ld, 5*time.Second); !s.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Is6() {
		t.Errorf("dual listener accepted %v over IPv6", s.RemoteAddr())
	}
	dial("tcp4", "10.0.0.2:7312")
	if s := acceptWithin(t, ld, 5*time.Second); s.RemoteAddr().String() != "10.0.0.1:"+portOf(s.RemoteAddr()) {
		t.Errorf("dual listener accepted %v over IPv4", s.RemoteAddr())
	}
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}
