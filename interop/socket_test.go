package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// kernelUDPEcho starts a Go UDP echo server on the kernel side of the
// namespace (the socket is made inside it, so it lives there) and returns
// its address.
func kernelUDPEcho(t *testing.T, e *env) *net.UDPAddr {
	t.Helper()
	var ln *net.UDPConn
	if err := e.ns.Do(func() error {
		var err error
		ln, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(kernelIP), Port: 9999})
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
	return ln.LocalAddr().(*net.UDPAddr)
}

// TestSocketUDPWithKernel: featherip's net.PacketConn and connected
// net.Conn talk to a Go UDP server on the Linux kernel, datagrams that
// need fragmentation included, and the kernel's ICMP port unreachable
// comes back as ECONNREFUSED on a connected conn.
func TestSocketUDPWithKernel(t *testing.T) {
	e := setup(t, "")
	srv := kernelUDPEcho(t, e)

	pc, err := e.host.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	buf := make([]byte, 70000)
	for _, size := range []int{0, 1, 1472, 1473, 8000, 60000} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i*13 + size)
		}
		if _, err := pc.WriteTo(msg, srv); err != nil {
			t.Fatalf("WriteTo %d bytes: %v", size, err)
		}
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("echo of %d bytes: %v", size, err)
		}
		if !bytes.Equal(buf[:n], msg) || from.String() != srv.String() {
			t.Fatalf("echo of %d bytes: got %d bytes from %v", size, n, from)
		}
	}

	conn, err := e.host.DialContext(context.Background(), "udp4", srv.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("connected")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "connected" {
		t.Fatalf("connected echo: %q, %v", buf[:n], err)
	}

	closed, err := e.host.Dial("udp4", kernelIP+":9998")
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	if _, err := closed.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	closed.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := closed.Read(buf); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Read after writing to a closed kernel port: %v, want ECONNREFUSED", err)
	}
}

// TestSocketKernelClient: a Go client on the kernel reaches a featherip
// UDPConn server that answers through the socket API.
func TestSocketKernelClient(t *testing.T) {
	e := setup(t, "")
	srv, err := e.host.ListenUDP("udp4", &net.UDPAddr{Port: 5300})
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
	var cli *net.UDPConn
	if err := e.ns.Do(func() error {
		var err error
		cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(featherIP), Port: 5300})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for _, m := range []string{"hello", "again"} {
		if _, err := cli.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		n, err := cli.Read(buf)
		if err != nil || string(buf[:n]) != m+" back" {
			t.Fatalf("kernel client got %q, %v", buf[:n], err)
		}
	}
}

// TestSocketPingKernel: featherip's ping socket pings the kernel, and
// Host.Ping (built on it) measures a round trip.
func TestSocketPingKernel(t *testing.T) {
	e := setup(t, "")
	p, err := e.host.ListenPing("udp4", "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	data := []byte("featherip ping socket")
	req := make([]byte, 8+len(data))
	req[0] = 8 // echo request; the socket sets identifier and checksum
	binary.BigEndian.PutUint16(req[6:], 77)
	copy(req[8:], data)
	dst := &net.UDPAddr{IP: net.ParseIP(kernelIP)}
	if _, err := p.WriteTo(req, dst); err != nil {
		t.Fatal(err)
	}
	p.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 200)
	n, from, err := p.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no echo reply from the kernel: %v", err)
	}
	reply := buf[:n]
	if from.(*net.UDPAddr).IP.String() != kernelIP || reply[0] != 0 ||
		binary.BigEndian.Uint16(reply[4:]) != p.ID() || binary.BigEndian.Uint16(reply[6:]) != 77 ||
		!bytes.Equal(reply[8:], data) {
		t.Fatalf("reply % x from %v: want an echo reply with id %d, seq 77 and our data", reply, from, p.ID())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.host.Ping(ctx, netip.MustParseAddr(kernelIP), make([]byte, 3000)); err != nil {
		t.Fatalf("Host.Ping to the kernel: %v", err)
	}
}
