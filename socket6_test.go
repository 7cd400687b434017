package featherip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/stack"
)

var (
	addr6A = netip.MustParsePrefix("fd00::1/64")
	addr6B = netip.MustParsePrefix("fd00::2/64")
)

// pair6 is two hosts on a pipe with IPv4 (addrA, addrB), their link-local
// IPv6 addresses and a static global one each (addr6A, addr6B).
type pair6 struct {
	a, b         *Host
	nicA, nicB   stack.NIC
	nameA, nameB string     // interface names (the zones)
	llA, llB     netip.Addr // link-local addresses, without zone
}

func newPair6(t *testing.T) *pair6 {
	t.Helper()
	cfg := Config{}
	cfg.Stack.SLAAC.DupAddrDetectTransmits = -1 // addresses usable at once
	ea, eb := pipeEnds()
	p := &pair6{}
	p.a, p.nicA, p.nameA, p.llA = newHost6(t, ea, addrA, addr6A, cfg)
	p.b, p.nicB, p.nameB, p.llB = newHost6(t, eb, addrB, addr6B, cfg)
	return p
}

func newHost6(t *testing.T, l link.Link, p4, p6 netip.Prefix, cfg Config) (*Host, stack.NIC, string, netip.Addr) {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	nic, err := h.AddInterface(l, InterfaceConfig{Addrs: []netip.Prefix{p4}})
	if err != nil {
		t.Fatalf("AddInterface: %v", err)
	}
	var name string
	var ll netip.Addr
	h.Do(func(s *stack.Stack) {
		err = s.AddAddress(nic, p6)
		name = s.InterfaceName(nic)
		for _, pf := range s.Addresses(nic) {
			if pf.Addr().IsLinkLocalUnicast() {
				ll = pf.Addr()
			}
		}
	})
	if err != nil {
		t.Fatalf("AddAddress(%v): %v", p6, err)
	}
	if !ll.IsValid() || name == "" {
		t.Fatalf("no link-local address (%v) or name (%q) on the interface", ll, name)
	}
	return h, nic, name, ll
}

// udpFrom reads one datagram with the AddrPort API, failing after d.
func udpFrom(t *testing.T, c *UDPConn, d time.Duration) ([]byte, netip.AddrPort) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 70000)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("ReadFromUDPAddrPort: %v", err)
	}
	return buf[:n], from
}

func TestUDP6Exchange(t *testing.T) {
	p := newPair6(t)
	ca := listenUDP(t, p.a, "udp6", "[fd00::1]:5000")
	cb := listenUDP(t, p.b, "udp6", ":6000")
	if got := ca.LocalAddr().String(); got != "[fd00::1]:5000" {
		t.Errorf("LocalAddr = %s", got)
	}
	if got := cb.LocalAddr().String(); got != "[::]:6000" {
		t.Errorf("udp6 wildcard LocalAddr = %s, want [::]:6000", got)
	}
	bAddr := &net.UDPAddr{IP: net.ParseIP("fd00::2"), Port: 6000}
	for i, size := range []int{0, 1, 1232, 1452, 1453, 8000, 65000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			msg := pattern(size, i)
			if n, err := ca.WriteTo(msg, bAddr); err != nil || n != size {
				t.Fatalf("WriteTo = %d, %v", n, err)
			}
			got, from := readWithin(t, cb, 5*time.Second)
			if !bytes.Equal(got, msg) {
				t.Fatalf("received %d bytes, differing from the %d sent", len(got), size)
			}
			if from.String() != "[fd00::1]:5000" {
				t.Fatalf("from %v, want [fd00::1]:5000", from)
			}
			if n, err := cb.WriteToUDPAddrPort(msg, from.(*net.UDPAddr).AddrPort()); err != nil || n != size {
				t.Fatalf("WriteToUDPAddrPort = %d, %v", n, err)
			}
			got, ap := udpFrom(t, ca, 5*time.Second)
			if !bytes.Equal(got, msg) || ap != netip.MustParseAddrPort("[fd00::2]:6000") {
				t.Fatalf("reply: %d bytes from %v", len(got), ap)
			}
		})
	}
	// A udp6 socket takes IPv6 only: writing to IPv4 fails as Linux's
	// IPV6_V6ONLY sockets do.
	if _, err := ca.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 6000}); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("udp6 WriteTo an IPv4 address: %v, want ENETUNREACH", err)
	}
}

func TestUDP6LinkLocalZone(t *testing.T) {
	p := newPair6(t)
	srv := listenUDP(t, p.b, "udp", ":7000")
	dst := fmt.Sprintf("[%s%%%s]:7000", p.llB, p.nameA)
	conn, err := p.a.Dial("udp6", dst)
	if err != nil {
		t.Fatalf("Dial %s: %v", dst, err)
	}
	defer conn.Close()
	if got := conn.RemoteAddr().String(); got != dst {
		t.Errorf("RemoteAddr = %s, want %s", got, dst)
	}
	la := conn.LocalAddr().(*net.UDPAddr)
	if !la.IP.Equal(p.llA.AsSlice()) || la.Zone != p.nameA {
		t.Errorf("LocalAddr = %v, want %v%%%s (the link-local source)", la, p.llA, p.nameA)
	}
	msg := []byte("hello over link-local")
	if _, err := conn.Write(msg); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, from := udpFrom(t, srv, 5*time.Second)
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %q", got)
	}
	want := netip.AddrPortFrom(p.llA.WithZone(p.nameB), uint16(la.Port))
	if from != want {
		t.Fatalf("from %v, want %v (zoned with the arrival interface)", from, want)
	}
	// Reply to the zoned source.
	if _, err := srv.WriteToUDPAddrPort([]byte("back"), from); err != nil {
		t.Fatalf("reply: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "back" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	// A zone naming no interface fails.
	if _, err := p.a.Dial("udp6", fmt.Sprintf("[%s%%nosuch]:7000", p.llB)); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("unknown zone: %v, want ENODEV", err)
	}
}

func TestUDPDualStackListener(t *testing.T) {
	p := newPair6(t)
	dual := listenUDP(t, p.b, "udp", ":7100")
	if got := dual.LocalAddr().String(); got != "[::]:7100" {
		t.Errorf("dual-stack LocalAddr = %s, want [::]:7100", got)
	}
	only6 := listenUDP(t, p.b, "udp6", ":7101")
	only4 := listenUDP(t, p.b, "udp4", ":7102")
	tx4 := listenUDP(t, p.a, "udp4", "10.0.0.1:7150")
	tx6 := listenUDP(t, p.a, "udp6", "[fd00::1]:7160")

	// Both families reach the dual-stack socket; IPv4 peers read as IPv4.
	if _, err := tx4.WriteToUDPAddrPort([]byte("v4"), netip.MustParseAddrPort("10.0.0.2:7100")); err != nil {
		t.Fatal(err)
	}
	got, from := readWithin(t, dual, 5*time.Second)
	if string(got) != "v4" || from.String() != "10.0.0.1:7150" || from.(*net.UDPAddr).IP.To4() == nil {
		t.Fatalf("IPv4 datagram: %q from %v", got, from)
	}
	if _, err := dual.WriteTo([]byte("r4"), from); err != nil {
		t.Fatalf("reply to IPv4: %v", err)
	}
	if got, ap := udpFrom(t, tx4, 5*time.Second); string(got) != "r4" || ap != netip.MustParseAddrPort("10.0.0.2:7100") {
		t.Fatalf("IPv4 reply %q from %v", got, ap)
	}
	if _, err := tx6.WriteToUDPAddrPort([]byte("v6"), netip.MustParseAddrPort("[fd00::2]:7100")); err != nil {
		t.Fatal(err)
	}
	got, ap := udpFrom(t, dual, 5*time.Second)
	if string(got) != "v6" || ap != netip.MustParseAddrPort("[fd00::1]:7160") {
		t.Fatalf("IPv6 datagram: %q from %v", got, ap)
	}
	// An IPv4-mapped destination goes out as IPv4.
	if _, err := dual.WriteToUDPAddrPort([]byte("m"), netip.MustParseAddrPort("[::ffff:10.0.0.1]:7150")); err != nil {
		t.Fatalf("reply to a mapped address: %v", err)
	}
	if got, _ := udpFrom(t, tx4, 5*time.Second); string(got) != "m" {
		t.Fatalf("mapped reply: %q", got)
	}

	// udp6 takes IPv6 only, udp4 IPv4 only.
	tx4.WriteToUDPAddrPort([]byte("no"), netip.MustParseAddrPort("10.0.0.2:7101"))
	expectNothing(t, only6, 100*time.Millisecond)
	tx6.WriteToUDPAddrPort([]byte("yes6"), netip.MustParseAddrPort("[fd00::2]:7101"))
	if got, _ := readWithin(t, only6, 5*time.Second); string(got) != "yes6" {
		t.Fatalf("udp6 got %q", got)
	}
	tx6.WriteToUDPAddrPort([]byte("no"), netip.MustParseAddrPort("[fd00::2]:7102"))
	expectNothing(t, only4, 100*time.Millisecond)
	tx4.WriteToUDPAddrPort([]byte("yes4"), netip.MustParseAddrPort("10.0.0.2:7102"))
	if got, _ := readWithin(t, only4, 5*time.Second); string(got) != "yes4" {
		t.Fatalf("udp4 got %q", got)
	}

	// ListenUDP with a nil address is dual-stack too; udp6 on an IPv4
	// address is refused as package net refuses it.
	c, err := p.b.ListenUDP("udp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ip := c.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(net.IPv6unspecified) {
		t.Errorf("ListenUDP(udp, nil) LocalAddr %v", c.LocalAddr())
	}
	c.Close()
	var ae *net.AddrError
	if _, err := p.b.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2)}); !errors.As(err, &ae) {
		t.Errorf("udp6 on an IPv4 address: %v, want a *net.AddrError", err)
	}
	if _, err := p.b.ListenPacket("udp6", "[fd00::99]:0"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("udp6 on a foreign address: %v, want EADDRNOTAVAIL", err)
	}
}

func TestUDP6Multicast(t *testing.T) {
	p := newPair6(t)
	group := netip.MustParseAddr("ff12::feed")
	rx := listenUDP(t, p.b, "udp6", ":7300")
	ifB, err := p.b.InterfaceByName(p.nameB)
	if err != nil {
		t.Fatal(err)
	}
	gaddr := &net.UDPAddr{IP: group.AsSlice()}
	if err := rx.JoinGroup(ifB, gaddr); err != nil {
		t.Fatalf("JoinGroup: %v", err)
	}
	if err := rx.JoinGroup(ifB, gaddr); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second JoinGroup: %v, want EADDRINUSE", err)
	}
	var joined bool
	p.b.Do(func(s *stack.Stack) {
		for _, g := range s.Groups(p.nicB) {
			joined = joined || g == group
		}
	})
	if !joined {
		t.Fatal("the stack has not joined the group")
	}
	tx := listenUDP(t, p.a, "udp6", ":0")
	ifA, err := p.a.InterfaceByName(p.nameA)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SetMulticastInterface(ifA); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(group, 7300)
	if _, err := tx.WriteToUDPAddrPort([]byte("to the group"), dst); err != nil {
		t.Fatalf("WriteTo the group: %v", err)
	}
	got, from := udpFrom(t, rx, 5*time.Second)
	if string(got) != "to the group" {
		t.Fatalf("got %q", got)
	}
	if from.Addr().WithZone("") != p.llA || from.Addr().Zone() != p.nameB {
		t.Errorf("from %v, want %v%%%s (a's link-local address)", from, p.llA, p.nameB)
	}
	// A zone on the group picks the interface as well.
	tx2 := listenUDP(t, p.a, "udp", ":0")
	if _, err := tx2.WriteToUDPAddrPort([]byte("zoned"), netip.AddrPortFrom(group.WithZone(p.nameA), 7300)); err != nil {
		t.Fatalf("WriteTo the zoned group: %v", err)
	}
	if got, _ := udpFrom(t, rx, 5*time.Second); string(got) != "zoned" {
		t.Fatalf("got %q", got)
	}
	if err := rx.LeaveGroup(ifB, gaddr); err != nil {
		t.Fatalf("LeaveGroup: %v", err)
	}
	tx.WriteToUDPAddrPort([]byte("after leaving"), dst)
	expectNothing(t, rx, 100*time.Millisecond)
	// A udp4 socket cannot join an IPv6 group.
	c4 := listenUDP(t, p.b, "udp4", ":7301")
	if err := c4.JoinGroup(ifB, gaddr); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("udp4 JoinGroup(IPv6 group): %v, want EINVAL", err)
	}
}

// icmp6Checksum computes the ICMPv6 checksum over the IPv6 pseudo-header
// (RFC 4443 2.3, RFC 8200 8.1), independently of package wire.
func icmp6Checksum(msg []byte, src, dst netip.Addr) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

func TestUDP6ICMPErrors(t *testing.T) {
	p := newPair6(t)
	// Port unreachable from b's stack: ECONNREFUSED.
	conn, err := p.a.Dial("udp6", "[fd00::2]:7498")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("x"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 10))
	var oe *net.OpError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &oe) || oe.Op != "read" || oe.Addr.String() != "[fd00::2]:7498" {
		t.Fatalf("Read: %v, want a read OpError for [fd00::2]:7498 with ECONNREFUSED", err)
	}

	// Hand-made ICMPv6 destination unreachable errors, sent by b's raw
	// ICMPv6 socket about what b's raw UDP socket saw (without its IPv6
	// header, which the test rebuilds for the quote).
	watch, err := p.b.ListenIP6(17, false)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	icmp, err := p.b.ListenPacket("ip6:ipv6-icmp", "")
	if err != nil {
		t.Fatal(err)
	}
	defer icmp.Close()
	watch4, err := p.b.ListenIP(17, false)
	if err != nil {
		t.Fatal(err)
	}
	defer watch4.Close()
	for _, tc := range []struct {
		code uint8
		port int
		want syscall.Errno
	}{
		{code: 0, port: 7402, want: syscall.ENETUNREACH},
		{code: 3, port: 7401, want: syscall.EHOSTUNREACH},
		{code: 4, port: 7403, want: syscall.ECONNREFUSED},
	} {
		t.Run(tc.want.Error(), func(t *testing.T) {
			listenUDP(t, p.b, "udp6", fmt.Sprintf(":%d", tc.port)) // b's stack stays quiet
			conn, err := p.a.Dial("udp", fmt.Sprintf("[fd00::2]:%d", tc.port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte("probe")); err != nil {
				t.Fatal(err)
			}
			var seg []byte
			for {
				dg, from := readWithin(t, watch, 5*time.Second)
				if from.String() == "fd00::1" && len(dg) >= 8 && int(binary.BigEndian.Uint16(dg[2:4])) == tc.port {
					seg = dg
					break
				}
			}
			ip6 := make([]byte, 40, 40+len(seg))
			ip6[0] = 0x60
			binary.BigEndian.PutUint16(ip6[4:6], uint16(len(seg)))
			ip6[6], ip6[7] = 17, 64
			s, d := addr6A.Addr().As16(), addr6B.Addr().As16()
			copy(ip6[8:24], s[:])
			copy(ip6[24:40], d[:])
			msg := append([]byte{1, tc.code, 0, 0, 0, 0, 0, 0}, append(ip6, seg...)...)
			if _, err := icmp.WriteTo(msg, &net.IPAddr{IP: addr6A.Addr().AsSlice()}); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 10))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read: %v, want %v", err, tc.want)
			}
			conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			if _, err := conn.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("second Read: %v, want a timeout", err)
			}
		})
	}
	// The IPv4 raw socket of the same protocol number saw none of it.
	expectNothing(t, watch4, 20*time.Millisecond)
}

func TestPing6Socket(t *testing.T) {
	p := newPair6(t)
	c, err := p.a.ListenPing("udp6", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.LocalAddr().String(); got != fmt.Sprintf("[::]:%d", c.ID()) {
		t.Errorf("LocalAddr = %s", got)
	}
	for i, dst := range []netip.Addr{addr6B.Addr(), p.llB.WithZone(p.nameA)} {
		data := pattern(100+i, i)
		req := make([]byte, 8+len(data))
		req[0] = 128
		binary.BigEndian.PutUint16(req[4:6], 0xdead) // the socket sets its own
		binary.BigEndian.PutUint16(req[6:8], uint16(i+1))
		copy(req[8:], data)
		keep := append([]byte(nil), req...)
		if _, err := c.WriteTo(req, &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}); err != nil {
			t.Fatalf("WriteTo %v: %v", dst, err)
		}
		if !bytes.Equal(req, keep) {
			t.Error("WriteTo changed the caller's buffer")
		}
		got, from := readWithin(t, c, 5*time.Second)
		if from.String() != netip.AddrPortFrom(dst.WithZone(zoneIfLL(dst, p.nameA)), 0).String() {
			t.Errorf("reply from %v, want %v", from, dst)
		}
		if len(got) != len(req) || got[0] != 129 || got[1] != 0 ||
			binary.BigEndian.Uint16(got[4:6]) != c.ID() || binary.BigEndian.Uint16(got[6:8]) != uint16(i+1) || !bytes.Equal(got[8:], data) {
			t.Fatalf("reply % x", got[:8])
		}
		ours := addr6A.Addr()
		if dst.IsLinkLocalUnicast() {
			ours = p.llA
		}
		if icmp6Checksum(got, dst.WithZone(""), ours) != 0 {
			t.Error("reply checksum invalid")
		}
	}
	// What a ping6 socket refuses.
	if _, err := c.WriteTo([]byte{8, 0, 0, 0, 0, 0, 0, 1}, &net.UDPAddr{IP: addr6B.Addr().AsSlice()}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ICMPv4 echo type on a ping6 socket: %v, want EINVAL", err)
	}
	if _, err := c.WriteTo([]byte{128, 0, 0, 0, 0, 0, 0, 1}, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2)}); err == nil {
		t.Error("ping6 socket wrote to an IPv4 address")
	}
	bound, err := p.a.ListenPing("udp6", "[fd00::1]:777")
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	if bound.ID() != 777 || bound.LocalAddr().String() != "[fd00::1]:777" {
		t.Errorf("bound ping6 socket: ID %d, LocalAddr %v", bound.ID(), bound.LocalAddr())
	}
	// The families have their own identifiers.
	v4, err := p.a.ListenPing("udp4", ":777")
	if err != nil {
		t.Fatalf("udp4 identifier 777 next to a udp6 one: %v", err)
	}
	v4.Close()
	if _, err := p.a.ListenPing("udp6", "fd00::99"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("foreign address: %v, want EADDRNOTAVAIL", err)
	}
}

func zoneIfLL(a netip.Addr, zone string) string {
	if a.IsLinkLocalUnicast() {
		return zone
	}
	return ""
}

func TestHostPing6(t *testing.T) {
	p := newPair6(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, dst := range []netip.Addr{addr6B.Addr(), p.llB.WithZone(p.nameA), netip.IPv6Loopback(), addr6A.Addr()} {
		if _, err := p.a.Ping(ctx, dst, []byte("ping6 data")); err != nil {
			t.Errorf("Ping %v: %v", dst, err)
		}
	}
	st := p.b.Stats().Stack
	if st.ICMPv6.InEchos == 0 || st.ICMPv6.OutEchoReplies == 0 {
		t.Errorf("b's ICMPv6 counters: %+v", st.ICMPv6)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := p.a.Ping(short, netip.MustParseAddr("fd00::77"), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping of a silent address: %v, want a deadline error", err)
	}
}

func TestRawICMPv6Socket(t *testing.T) {
	p := newPair6(t)
	rb, err := p.b.ListenPacket("ip6:ipv6-icmp", "")
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	if got := rb.LocalAddr().String(); got != "::" {
		t.Errorf("LocalAddr = %s, want ::", got)
	}
	// b's raw socket sees a's echo request, without the IPv6 header.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.a.Ping(ctx, addr6B.Addr(), []byte("seen raw")); err != nil {
		t.Fatal(err)
	}
	for {
		got, from := readWithin(t, rb, 5*time.Second)
		if got[0] != 128 {
			continue // NDP, MLD and the like
		}
		if from.String() != "fd00::1" || string(got[8:]) != "seen raw" {
			t.Fatalf("echo request from %v: % x", from, got)
		}
		break
	}
	// An echo request written to the raw socket gets its checksum from
	// the stack: a answers it.
	ra, err := p.b.ListenIP6(58, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	req := []byte{128, 0, 0, 0, 0x12, 0x34, 0, 9, 'r', 'a', 'w'}
	if _, err := ra.WriteToAddr(req, addr6A.Addr()); err != nil {
		t.Fatal(err)
	}
	for {
		got, from := readWithin(t, ra, 5*time.Second)
		if got[0] != 129 {
			continue
		}
		if from.String() != "fd00::1" || !bytes.Equal(got[4:], req[4:]) {
			t.Fatalf("echo reply from %v: % x", from, got)
		}
		if icmp6Checksum(got, addr6A.Addr(), addr6B.Addr()) != 0 {
			t.Error("echo reply checksum invalid")
		}
		break
	}
	if _, err := ra.WriteTo(req, &net.IPAddr{IP: net.IPv4(10, 0, 0, 1)}); err == nil {
		t.Error("IPv6 raw socket wrote to an IPv4 address")
	}
	// Bound to an address, with a numeric protocol.
	bound, err := p.b.ListenPacket("ip6:58", "fd00::2")
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	if got := bound.LocalAddr().String(); got != "fd00::2" {
		t.Errorf("bound LocalAddr = %s", got)
	}
	// An IPv4 raw ICMP socket sees no ICMPv6.
	r4, err := p.b.ListenPacket("ip4:icmp", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r4.Close()
	if _, err := p.a.Ping(ctx, addr6B.Addr(), nil); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, r4, 50*time.Millisecond)
}

func TestStatsTCP(t *testing.T) {
	p := newPair6(t)
	ln, err := p.b.Listen("tcp6", "[fd00::2]:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
	}()
	before := p.a.Stats().TCP.ActiveOpens
	c, err := p.a.Dial("tcp6", "[fd00::2]:80")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := p.a.Stats().TCP.ActiveOpens; got != before+1 {
		t.Errorf("Stats().TCP.ActiveOpens = %d, want %d", got, before+1)
	}
}

// TestUDP6SocketAllocs: a steady-state request/response over ::1 between
// a udp6 socket and a dual-stack one allocates nothing.
func TestUDP6SocketAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv, err := h.ListenUDPAddrPort("udp", netip.AddrPortFrom(netip.Addr{}, 9201))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := h.ListenUDPAddrPort("udp6", netip.MustParseAddrPort("[::1]:0"))
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 200)
	buf := make([]byte, 2000)
	to := netip.MustParseAddrPort("[::1]:9201")
	round := func() {
		if _, err := cli.WriteToUDPAddrPort(msg, to); err != nil {
			t.Fatal(err)
		}
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.WriteToUDPAddrPort(buf[:n], from); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cli.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		round()
	}
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Errorf("%v allocations per UDP round trip over ::1, want 0", n)
	}
}
