package interop

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/stack"
)

// ready6 waits until featherip's static IPv6 address passed DAD and is
// the source it picks towards the kernel.
func ready6(t *testing.T, e *env6) {
	t.Helper()
	e.linkLocal(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var src netip.Addr
		e.host.Do(func(s *stack.Stack) { src, _ = s.SelectSource(netip.MustParseAddr(kernelIP6), 0) })
		if src == netip.MustParseAddr(featherIP6) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not usable after 5s (source towards the kernel: %v)", featherIP6, src)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kernelUDPEcho6 starts a Go UDP echo server on the kernel side of the
// namespace, dual-stack ("udp" on the wildcard, as Go opens it on
// Linux), and returns its port.
func kernelUDPEcho6(t *testing.T, e *env6) int {
	t.Helper()
	return kernelUDPEchoOn(t, e.ns, "udp", &net.UDPAddr{Port: 9999}).Port
}

// TestSocket6UDPWithKernel: featherip's udp6 net.PacketConn talks to a Go
// UDP echo server on the Linux kernel over IPv6, at the kernel's global
// address and at its link-local one with the %fip0 zone, datagrams up to
// 8000 bytes (fragmented both ways, RFC 8200 4.5) included; a dual-stack
// "udp" socket reaches the server over both families; a connected conn
// gets the kernel's ICMPv6 port unreachable as ECONNREFUSED.
func TestSocket6UDPWithKernel(t *testing.T) {
	e := setup6(t, v6Options{})
	port := kernelUDPEcho6(t, e)
	kll := kernelLinkLocal(t, e)

	pc, err := e.host.ListenPacket("udp6", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	buf := make([]byte, 70000)
	echo := func(c net.PacketConn, dst *net.UDPAddr, size int) {
		t.Helper()
		echoVia(t, c, dst, size, buf)
	}
	global := &net.UDPAddr{IP: net.ParseIP(kernelIP6), Port: port}
	linkLocal := &net.UDPAddr{IP: kll.AsSlice(), Zone: tapName, Port: port}
	for _, dst := range []*net.UDPAddr{global, linkLocal} {
		for _, size := range []int{0, 1, 1232, 1452, 1453, 4000, 8000} {
			echo(pc, dst, size)
		}
	}
	var st stack.Stats
	e.host.Do(func(s *stack.Stack) { st = s.Stats() })
	if st.IPv6.FragOKs < 4 || st.IPv6.ReasmOKs < 4 {
		t.Errorf("IPv6 FragOKs %d ReasmOKs %d, want >= 4 each (the large datagrams)", st.IPv6.FragOKs, st.IPv6.ReasmOKs)
	}

	dual, err := e.host.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()
	echo(dual, &net.UDPAddr{IP: net.ParseIP(kernelIP).To4(), Port: port}, 3000)
	echo(dual, global, 3000)

	conn, err := e.host.DialContext(context.Background(), "udp6", global.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if la := conn.LocalAddr().String(); la != "["+featherIP6+"]:"+strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port) {
		t.Errorf("connected LocalAddr %s, want featherip's global address", la)
	}
	exchange(t, conn, "connected", "connected", "connected echo")
	requireRefused(t, e.host, "udp", "["+kernelIP6+"]:9998")
}

// TestSocket6KernelClient: a Go udp6 client on the kernel reaches a
// featherip dual-stack "udp" listener over IPv6 and over IPv4.
func TestSocket6KernelClient(t *testing.T) {
	e := setup6(t, v6Options{})
	srv, err := e.host.ListenUDP("udp", &net.UDPAddr{Port: 5300})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	serveBack(srv)
	for _, dst := range []string{"[" + featherIP6 + "]:5300", featherIP + ":5300"} {
		cli, err := nsDial(e.ns, "udp", dst)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		exchange(t, cli, "hello", "hello back", "kernel client to "+dst+" got")
	}
}

// TestSocket6PingKernel: featherip's ping6 socket pings the kernel's
// IPv6 address, and Host.Ping (built on it) measures round trips to the
// global and the link-local address, 3000 bytes fragmented included.
func TestSocket6PingKernel(t *testing.T) {
	e := setup6(t, v6Options{})
	kll := kernelLinkLocal(t, e)
	p, err := e.host.ListenPing("udp6", "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pingOnce(t, p, netip.MustParseAddr(kernelIP6), 128, 129)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, dst := range []netip.Addr{netip.MustParseAddr(kernelIP6), kll.WithZone(tapName)} {
		for _, size := range []int{56, 3000} {
			if _, err := e.host.Ping(ctx, dst, make([]byte, size)); err != nil {
				t.Fatalf("Host.Ping %v with %d bytes: %v", dst, size, err)
			}
		}
	}
}

// TestSocket6KernelSharedPort: featherip's "udp4" and "udp6" sockets share
// wildcard port 5301 (and "tcp4" and "tcp6" listeners port 5302), as
// package net's do on Linux; Go clients on the kernel send to both
// families and each featherip socket gets only its own.
func TestSocket6KernelSharedPort(t *testing.T) {
	e := setup6(t, v6Options{})
	u4, err := e.host.ListenPacket("udp4", "0.0.0.0:5301")
	if err != nil {
		t.Fatal(err)
	}
	defer u4.Close()
	u6, err := e.host.ListenPacket("udp6", "[::]:5301")
	if err != nil {
		t.Fatalf("udp6 next to udp4 on the wildcard: %v", err)
	}
	defer u6.Close()
	dsts := map[string]net.PacketConn{featherIP + ":5301": u4, "[" + featherIP6 + "]:5301": u6}
	for dst, srv := range dsts {
		cli, err := nsDial(e.ns, "udp", dst)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if _, err := cli.Write([]byte("to " + dst)); err != nil {
			t.Fatal(err)
		}
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		n, from, err := srv.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "to "+dst {
			t.Fatalf("socket %v: %q, %v; want the datagram to %s", srv.LocalAddr(), buf[:n], err, dst)
		}
		if from.String() != cli.LocalAddr().String() {
			t.Errorf("socket %v: from %v, want %v", srv.LocalAddr(), from, cli.LocalAddr())
		}
		if _, err := srv.WriteTo([]byte("back"), from); err != nil {
			t.Fatal(err)
		}
		cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := cli.Read(buf); err != nil || string(buf[:n]) != "back" {
			t.Fatalf("kernel client to %s: reply %q, %v", dst, buf[:n], err)
		}
	}
	for _, srv := range dsts { // nothing crossed over
		srv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, from, err := srv.ReadFrom(make([]byte, 100)); err == nil {
			t.Errorf("socket %v got a stray %d bytes from %v", srv.LocalAddr(), n, from)
		}
	}

	l4, err := e.host.Listen("tcp4", ":5302")
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	l6, err := e.host.Listen("tcp6", ":5302")
	if err != nil {
		t.Fatalf("tcp6 next to tcp4 on the wildcard: %v", err)
	}
	defer l6.Close()
	for _, tc := range []struct {
		dst string
		l   net.Listener
	}{{featherIP + ":5302", l4}, {"[" + featherIP6 + "]:5302", l6}} {
		cli, err := nsDial(e.ns, "tcp", tc.dst)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		tl := tc.l.(*featherip.TCPListener)
		tl.SetDeadline(time.Now().Add(5 * time.Second))
		srv, err := tl.Accept()
		if err != nil {
			t.Fatalf("listener %v: accept of the connection to %s: %v", tl.Addr(), tc.dst, err)
		}
		defer srv.Close()
		if srv.RemoteAddr().String() != cli.LocalAddr().String() || srv.LocalAddr().String() != tc.dst {
			t.Errorf("listener %v accepted %v-%v for %v-%v", tl.Addr(), srv.LocalAddr(), srv.RemoteAddr(), tc.dst, cli.LocalAddr())
		}
		exchangeTCP := func() {
			if _, err := cli.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			srv.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("server read %q, %v", buf, err)
			}
		}
		exchangeTCP()
	}
}
