package interop

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// kernelUDPEcho starts a Go UDP echo server on the kernel side of the
// namespace (the socket is made inside it, so it lives there) and returns
// its address.
func kernelUDPEcho(t *testing.T, e *env) *net.UDPAddr {
	t.Helper()
	return kernelUDPEchoOn(t, e.ns, "udp4", &net.UDPAddr{IP: net.ParseIP(kernelIP), Port: 9999})
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
		echoVia(t, pc, srv, size, buf)
	}

	conn, err := e.host.DialContext(context.Background(), "udp4", srv.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exchange(t, conn, "connected", "connected", "connected echo")
	requireRefused(t, e.host, "udp4", kernelIP+":9998")
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
	serveBack(srv)
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
		exchange(t, cli, m, m+" back", "kernel client got")
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
	pingOnce(t, p, netip.MustParseAddr(kernelIP), 8, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.host.Ping(ctx, netip.MustParseAddr(kernelIP), make([]byte, 3000)); err != nil {
		t.Fatalf("Host.Ping to the kernel: %v", err)
	}
}
