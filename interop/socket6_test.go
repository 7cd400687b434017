package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

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
	var ln *net.UDPConn
	if err := e.ns.Do(func() error {
		var err error
		ln, err = net.ListenUDP("udp", &net.UDPAddr{Port: 9999})
		return err
	}); err != nil {
		t.Fatalf("kernel ListenUDP: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		buf := make([]byte, 70000)
		for {
			n, from, err := ln.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			ln.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return ln.LocalAddr().(*net.UDPAddr).Port
}

// TestSocket6UDPWithKernel: featherip's udp6 net.PacketConn talks to a Go
// UDP echo server on the Linux kernel over IPv6, at the kernel's global
// address and at its link-local one with the %fip0 zone, datagrams up to
// 8000 bytes (fragmented both ways, RFC 8200 4.5) included; a dual-stack
// "udp" socket reaches the server over both families; a connected conn
// gets the kernel's ICMPv6 port unreachable as ECONNREFUSED.
func TestSocket6UDPWithKernel(t *testing.T) {
	e := setup6(t, v6Options{})
	ready6(t, e)
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
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i*13 + size)
		}
		if _, err := c.WriteTo(msg, dst); err != nil {
			t.Fatalf("WriteTo %v, %d bytes: %v", dst, size, err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("echo of %d bytes from %v: %v", size, dst, err)
		}
		if !bytes.Equal(buf[:n], msg) || from.String() != dst.String() {
			t.Fatalf("echo of %d bytes from %v: got %d bytes from %v", size, dst, n, from)
		}
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
	if _, err := conn.Write([]byte("connected")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "connected" {
		t.Fatalf("connected echo: %q, %v", buf[:n], err)
	}

	closed, err := e.host.Dial("udp", "["+kernelIP6+"]:9998")
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	if _, err := closed.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	closed.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := closed.Read(buf); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Read after writing to a closed kernel port over IPv6: %v, want ECONNREFUSED", err)
	}
}

// TestSocket6KernelClient: a Go udp6 client on the kernel reaches a
// featherip dual-stack "udp" listener over IPv6 and over IPv4.
func TestSocket6KernelClient(t *testing.T) {
	e := setup6(t, v6Options{})
	ready6(t, e)
	srv, err := e.host.ListenUDP("udp", &net.UDPAddr{Port: 5300})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort(append(buf[:n:n], " back"...), from)
		}
	}()
	for _, dst := range []string{"[" + featherIP6 + "]:5300", featherIP + ":5300"} {
		var cli net.Conn
		if err := e.ns.Do(func() error {
			var err error
			cli, err = net.Dial("udp", dst)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if _, err := cli.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 100)
		n, err := cli.Read(b)
		if err != nil || string(b[:n]) != "hello back" {
			t.Fatalf("kernel client to %s got %q, %v", dst, b[:n], err)
		}
	}
}

// TestSocket6PingKernel: featherip's ping6 socket pings the kernel's
// IPv6 address, and Host.Ping (built on it) measures round trips to the
// global and the link-local address, 3000 bytes fragmented included.
func TestSocket6PingKernel(t *testing.T) {
	e := setup6(t, v6Options{})
	ready6(t, e)
	kll := kernelLinkLocal(t, e)
	p, err := e.host.ListenPing("udp6", "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	data := []byte("featherip ping6 socket")
	req := make([]byte, 8+len(data))
	req[0] = 128 // echo request; the socket sets the identifier, the stack the checksum
	binary.BigEndian.PutUint16(req[6:], 77)
	copy(req[8:], data)
	if _, err := p.WriteTo(req, &net.UDPAddr{IP: net.ParseIP(kernelIP6)}); err != nil {
		t.Fatal(err)
	}
	p.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 200)
	n, from, err := p.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no echo reply from the kernel: %v", err)
	}
	reply := buf[:n]
	if from.(*net.UDPAddr).IP.String() != kernelIP6 || reply[0] != 129 ||
		binary.BigEndian.Uint16(reply[4:]) != p.ID() || binary.BigEndian.Uint16(reply[6:]) != 77 ||
		!bytes.Equal(reply[8:], data) {
		t.Fatalf("reply % x from %v: want an echo reply with id %d, seq 77 and our data", reply, from, p.ID())
	}
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
