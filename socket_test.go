package featherip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
)

// Compile-time checks that the sockets are what code written for package
// net expects.
var (
	_ net.PacketConn = (*UDPConn)(nil)
	_ net.Conn       = (*UDPConn)(nil)
	_ net.PacketConn = (*PingConn)(nil)
	_ net.PacketConn = (*IPConn)(nil)
	_ interface {
		ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error)
		WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
		ReadFromUDP([]byte) (int, *net.UDPAddr, error)
		WriteToUDP([]byte, *net.UDPAddr) (int, error)
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	} = (*UDPConn)(nil)
	_ func(context.Context, string, string) (net.Conn, error) = (&Dialer{}).DialContext
)

func pipeEnds() (link.Link, link.Link) {
	ea, eb := pipe.New(pipe.Config{})
	return ea, eb
}

func newHostCfg(t *testing.T, l link.Link, p netip.Prefix, cfg Config) *Host {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	if _, err := h.AddInterface(l, InterfaceConfig{Addrs: []netip.Prefix{p}}); err != nil {
		t.Fatalf("AddInterface: %v", err)
	}
	return h
}

// warmARP resolves the two hosts' addresses so bursts are not limited by
// the ARP queue.
func warmARP(t *testing.T, a, b *Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, addrB.Addr(), nil); err != nil {
		t.Fatalf("warm-up ping: %v", err)
	}
	if _, err := b.Ping(ctx, addrA.Addr(), nil); err != nil {
		t.Fatalf("warm-up ping: %v", err)
	}
}

func listenUDP(t *testing.T, h *Host, network, address string) *UDPConn {
	t.Helper()
	pc, err := h.ListenPacket(network, address)
	if err != nil {
		t.Fatalf("ListenPacket(%q, %q): %v", network, address, err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(*UDPConn)
}

// readWithin reads one datagram, failing the test after d.
func readWithin(t *testing.T, c net.PacketConn, d time.Duration) ([]byte, net.Addr) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 70000)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return buf[:n], from
}

// expectNothing checks that no datagram arrives within d.
func expectNothing(t *testing.T, c net.PacketConn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 70000)
	n, from, err := c.ReadFrom(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom = %d bytes from %v, err %v; want a timeout (nothing to read)", n, from, err)
	}
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + seed)
	}
	return b
}

func TestUDPPacketConnExchange(t *testing.T) {
	a, b := newPair(t)
	ca := listenUDP(t, a, "udp4", "10.0.0.1:5000")
	cb := listenUDP(t, b, "udp", ":6000")
	if got := ca.LocalAddr().String(); got != "10.0.0.1:5000" {
		t.Errorf("LocalAddr = %s", got)
	}
	if got := cb.LocalAddr().String(); got != "[::]:6000" {
		t.Errorf("dual-stack LocalAddr = %v, want [::]:6000 (as package net on Linux)", got)
	}
	if ca.RemoteAddr() != nil {
		t.Errorf("unconnected RemoteAddr = %v, want nil", ca.RemoteAddr())
	}
	bAddr := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 6000}
	for i, size := range []int{0, 1, 512, 1472, 1473, 8000, 65507} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			msg := pattern(size, i)
			if n, err := ca.WriteTo(msg, bAddr); err != nil || n != size {
				t.Fatalf("WriteTo = %d, %v", n, err)
			}
			got, from := readWithin(t, cb, 5*time.Second)
			if !bytes.Equal(got, msg) {
				t.Fatalf("received %d bytes, differing from the %d sent", len(got), size)
			}
			if from.String() != "10.0.0.1:5000" {
				t.Fatalf("from %v, want 10.0.0.1:5000", from)
			}
			// Reply with the AddrPort API.
			n, err := cb.WriteToUDPAddrPort(msg, from.(*net.UDPAddr).AddrPort())
			if err != nil || n != size {
				t.Fatalf("WriteToUDPAddrPort = %d, %v", n, err)
			}
			ca.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 70000)
			n, ap, err := ca.ReadFromUDPAddrPort(buf)
			if err != nil || !bytes.Equal(buf[:n], msg) || ap != netip.MustParseAddrPort("10.0.0.2:6000") {
				t.Fatalf("ReadFromUDPAddrPort = %d bytes from %v, %v", n, ap, err)
			}
		})
	}
}

func TestUDPTruncatesShortRead(t *testing.T) {
	a, b := newPair(t)
	ca := listenUDP(t, a, "udp4", ":0")
	cb := listenUDP(t, b, "udp4", ":6001")
	for _, m := range [][]byte{[]byte("0123456789"), []byte("ab")} {
		if _, err := ca.WriteTo(m, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 6001}); err != nil {
			t.Fatal(err)
		}
	}
	cb.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	n, _, err := cb.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "0123" {
		t.Fatalf("short read = %q, %v; want the first 4 bytes", buf[:n], err)
	}
	// The rest of the first datagram is gone; the next read is the second.
	n, _, err = cb.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ab" {
		t.Fatalf("next read = %q, %v; want the second datagram", buf[:n], err)
	}
}

func TestUDPDial(t *testing.T) {
	a, b := newPair(t)
	srv := listenUDP(t, b, "udp4", ":7000")
	other := listenUDP(t, b, "udp4", ":7001")

	for _, tc := range []struct {
		name string
		dial func() (net.Conn, error)
	}{
		{"Host.DialContext", func() (net.Conn, error) {
			return a.DialContext(context.Background(), "udp", "10.0.0.2:7000")
		}},
		{"Dialer with LocalAddr", func() (net.Conn, error) {
			d := &Dialer{Host: a, LocalAddr: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5555}, Timeout: time.Second}
			return d.DialContext(context.Background(), "udp4", "10.0.0.2:7000")
		}},
		{"DialUDP", func() (net.Conn, error) {
			return a.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 7000})
		}},
		{"DialUDPAddrPort", func() (net.Conn, error) {
			return a.DialUDPAddrPort("udp", netip.AddrPort{}, netip.MustParseAddrPort("10.0.0.2:7000"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tc.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := conn.(*UDPConn)
			if conn.RemoteAddr().String() != "10.0.0.2:7000" {
				t.Errorf("RemoteAddr = %v", conn.RemoteAddr())
			}
			la := conn.LocalAddr().(*net.UDPAddr)
			if !la.IP.Equal(net.IPv4(10, 0, 0, 1)) || la.Port == 0 {
				t.Errorf("LocalAddr = %v, want 10.0.0.1 (the route's source) and a port", la)
			}
			if _, err := conn.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			got, from := readWithin(t, srv, 5*time.Second)
			if string(got) != "hello" || from.String() != la.String() {
				t.Fatalf("server got %q from %v", got, from)
			}
			// A datagram from another port is not for the connected conn.
			if _, err := other.WriteTo([]byte("stranger"), la); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.WriteTo([]byte("world"), from); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 100)
			n, err := conn.Read(buf)
			if err != nil || string(buf[:n]) != "world" {
				t.Fatalf("Read = %q, %v; want world (the stranger's datagram filtered)", buf[:n], err)
			}
			expectNothing(t, c, 50*time.Millisecond)
			// WriteTo on a connected socket fails like package net.
			if _, err := c.WriteTo([]byte("x"), from); !errors.Is(err, net.ErrWriteToConnected) {
				t.Errorf("WriteTo on a connected conn: %v, want ErrWriteToConnected", err)
			}
		})
	}
	// Write on an unconnected socket.
	if _, err := srv.Write([]byte("x")); !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Errorf("Write on an unconnected socket: %v, want EDESTADDRREQ", err)
	}
}

func TestUDPDialErrors(t *testing.T) {
	a, _ := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		network string
		address string
		want    error
	}{
		{"no route", context.Background(), "udp", "192.168.99.1:7", syscall.ENETUNREACH},
		{"udp6 no route", context.Background(), "udp6", "[2001:db8::1]:7", nil},
		{"udp6 with IPv4", context.Background(), "udp6", "10.0.0.2:7", nil},
		{"udp4 with IPv6", context.Background(), "udp4", "[fd00::1]:7", nil},
		{"unknown zone", context.Background(), "udp", "[fe80::1%nope]:7", syscall.ENODEV},
		{"unknown network", context.Background(), "sctp", "10.0.0.2:7", net.UnknownNetworkError("sctp")},
		{"cancelled", ctx, "udp", "10.0.0.2:7", context.Canceled},
		{"bad port", context.Background(), "udp", "10.0.0.2:http", nil},
		{"hostname", context.Background(), "udp", "example.com:53", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := a.DialContext(tc.ctx, tc.network, tc.address)
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "dial" {
				t.Fatalf("err = %#v, want a dial *net.OpError", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want one matching %v", err, tc.want)
			}
		})
	}
	var dnsErr *net.DNSError
	if _, err := a.Dial("udp", "example.com:53"); !errors.As(err, &dnsErr) {
		t.Errorf("hostname: %v, want a *net.DNSError", err)
	}
	var ae *net.AddrError
	if _, err := a.Dial("udp4", "[::1]:7"); !errors.As(err, &ae) || ae.Err != "no suitable address found" {
		t.Errorf("udp4 to an IPv6 address: %v, want package net's *net.AddrError", err)
	}
}

func TestUDPBindErrors(t *testing.T) {
	a, _ := newPair(t)
	listenUDP(t, a, "udp4", ":7100")
	_, err := a.ListenPacket("udp4", ":7100")
	var oe *net.OpError
	if !errors.Is(err, syscall.EADDRINUSE) || !errors.As(err, &oe) || oe.Op != "listen" {
		t.Errorf("second bind: %v, want a listen OpError with EADDRINUSE", err)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.EADDRINUSE {
		t.Errorf("errors.As errno = %v", errno)
	}
	if err != nil && err.Error() != "listen udp4 0.0.0.0:7100: bind: address already in use" {
		t.Errorf("message %q does not read like package net's", err.Error())
	}
	if _, err := a.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 99), Port: 7101}); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("bind to a foreign address: %v, want EADDRNOTAVAIL", err)
	}
	if _, err := a.ListenUDPAddrPort("udp4", netip.MustParseAddrPort("10.0.0.1:7100")); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("specific bind over a wildcard one: %v, want EADDRINUSE", err)
	}
	c, err := a.ListenUDPAddrPort("udp4", netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.LocalAddr().(*net.UDPAddr).Port; p < 49152 {
		t.Errorf("ephemeral port %d outside 49152..65535", p)
	}
	c.Close()
}

func TestUDPNoRouteOnWrite(t *testing.T) {
	a, _ := newPair(t)
	c := listenUDP(t, a, "udp4", ":0")
	_, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(192, 168, 99, 1), Port: 9})
	var oe *net.OpError
	if !errors.Is(err, syscall.ENETUNREACH) || !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("WriteTo without a route: %v, want a write OpError with ENETUNREACH", err)
	}
	if _, err := c.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 9}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("WriteTo a *net.TCPAddr: %v, want EINVAL", err)
	}
	var ae *net.AddrError
	if _, err := c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("[fd00::1]:9")); !errors.As(err, &ae) || ae.Err != "non-IPv4 address" {
		t.Errorf("udp4 WriteTo an IPv6 address: %v, want package net's non-IPv4 *net.AddrError", err)
	}
}

func TestUDPDeadlines(t *testing.T) {
	a, b := newPair(t)
	c := listenUDP(t, a, "udp4", ":7200")
	cAddr := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 7200}
	peer := listenUDP(t, b, "udp4", ":0")
	buf := make([]byte, 100)

	t.Run("past deadline returns at once", func(t *testing.T) {
		c.SetReadDeadline(time.Now().Add(-time.Second))
		start := time.Now()
		_, _, err := c.ReadFrom(buf)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("err = %v, want os.ErrDeadlineExceeded", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err = %v: Timeout() is not true", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("took %v", d)
		}
		// A pending datagram does not override a passed deadline (as
		// package net).
		if _, err := peer.WriteTo([]byte("x"), cAddr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if _, _, err := c.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("with data queued: err = %v", err)
		}
		c.SetReadDeadline(time.Time{})
		if n, _, err := c.ReadFrom(buf); err != nil || string(buf[:n]) != "x" {
			t.Fatalf("after clearing: %q, %v", buf[:n], err)
		}
	})
	t.Run("future deadline fires", func(t *testing.T) {
		start := time.Now()
		c.SetReadDeadline(start.Add(80 * time.Millisecond))
		_, _, err := c.ReadFrom(buf)
		d := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) || d < 80*time.Millisecond || d > 2*time.Second {
			t.Fatalf("err = %v after %v, want a timeout after 80ms", err, d)
		}
	})
	t.Run("extend while blocked", func(t *testing.T) {
		start := time.Now()
		c.SetReadDeadline(start.Add(50 * time.Millisecond))
		go func() {
			time.Sleep(10 * time.Millisecond)
			c.SetReadDeadline(start.Add(300 * time.Millisecond))
		}()
		_, _, err := c.ReadFrom(buf)
		d := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) || d < 300*time.Millisecond {
			t.Fatalf("err = %v after %v, want a timeout at the extended 300ms", err, d)
		}
	})
	t.Run("shorten while blocked", func(t *testing.T) {
		start := time.Now()
		c.SetReadDeadline(time.Time{})
		go func() {
			time.Sleep(20 * time.Millisecond)
			c.SetReadDeadline(time.Now().Add(-time.Second))
		}()
		_, _, err := c.ReadFrom(buf)
		if d := time.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || d > 2*time.Second {
			t.Fatalf("err = %v after %v", err, d)
		}
	})
	t.Run("cleared while blocked, data arrives", func(t *testing.T) {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		go func() {
			c.SetReadDeadline(time.Time{})
			time.Sleep(150 * time.Millisecond)
			peer.WriteTo([]byte("late"), cAddr)
		}()
		c2 := c
		n, _, err := c2.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "late" {
			t.Fatalf("ReadFrom = %q, %v; want the late datagram", buf[:n], err)
		}
	})
	t.Run("write deadline", func(t *testing.T) {
		c.SetWriteDeadline(time.Now().Add(-time.Second))
		_, err := c.WriteTo([]byte("x"), peer.LocalAddr())
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write with a past deadline: %v", err)
		}
		c.SetDeadline(time.Time{})
		if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: peer.LocalAddr().(*net.UDPAddr).Port}); err != nil {
			t.Fatalf("write after clearing: %v", err)
		}
	})
}

func TestUDPCloseUnblocksRead(t *testing.T) {
	a, _ := newPair(t)
	c, err := a.ListenPacket("udp4", ":7300")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 3)
	for range 3 {
		go func() {
			_, _, err := c.ReadFrom(make([]byte, 10))
			errc <- err
		}()
	}
	time.Sleep(30 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("blocked ReadFrom returned %v, want net.ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Close did not wake a blocked ReadFrom")
		}
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 1}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close: %v", err)
	}
	if err := c.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetDeadline after Close: %v", err)
	}
	// The port is free again.
	c2, err := a.ListenPacket("udp4", ":7300")
	if err != nil {
		t.Fatalf("rebinding after Close: %v", err)
	}
	c2.Close()
}

// icmpErrorTo makes b answer the next datagram a's conn sends with an ICMP
// destination unreachable of the given code, built by hand on a raw socket:
// b watches UDP with a raw socket (which sees the datagram with its
// header, as on Linux) and quotes it (RFC 792).
func TestUDPICMPErrors(t *testing.T) {
	a, b := newPair(t)
	watch, err := b.ListenIP(17, false)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	icmp, err := b.ListenIP(1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer icmp.Close()
	for _, tc := range []struct {
		code uint8
		port int // 0: a closed port that b's stack itself refuses
		want syscall.Errno
	}{
		{code: 3, want: syscall.ECONNREFUSED},
		{code: 1, port: 7401, want: syscall.EHOSTUNREACH},
		{code: 0, port: 7402, want: syscall.ENETUNREACH},
	} {
		t.Run(tc.want.Error(), func(t *testing.T) {
			port := tc.port
			if port == 0 {
				port = 7499 // nobody listens: b's stack answers port unreachable
			} else {
				// Someone listens, so b's stack stays quiet and our
				// hand-made error is the only one.
				listenUDP(t, b, "udp4", fmt.Sprintf(":%d", port))
			}
			conn, err := a.Dial("udp4", fmt.Sprintf("10.0.0.2:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte("probe")); err != nil {
				t.Fatal(err)
			}
			if tc.port != 0 {
				dgram, _ := readWithin(t, watch, 5*time.Second)
				hl := int(dgram[0]&0x0f) * 4
				msg := make([]byte, 8+hl+8)
				msg[0], msg[1] = 3, tc.code
				copy(msg[8:], dgram[:hl+8])
				setICMPChecksum(msg)
				if _, err := icmp.WriteTo(msg, &net.IPAddr{IP: net.IPv4(10, 0, 0, 1)}); err != nil {
					t.Fatal(err)
				}
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 10))
			var oe *net.OpError
			if !errors.Is(err, tc.want) || !errors.As(err, &oe) || oe.Op != "read" {
				t.Fatalf("Read: %v, want a read OpError with %v", err, tc.want)
			}
			if oe.Addr.String() != fmt.Sprintf("10.0.0.2:%d", port) {
				t.Errorf("OpError.Addr = %v", oe.Addr)
			}
			// Reported once: the next read just times out.
			conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			if _, err := conn.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("second Read: %v, want a timeout", err)
			}
			for {
				// Drain watch so the next case sees its own datagram.
				watch.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
				if _, _, err := watch.ReadFrom(make([]byte, 2000)); err != nil {
					break
				}
			}
		})
	}
}

// setICMPChecksum fills an ICMP message's checksum (RFC 1071), computed
// here independently of package wire.
func setICMPChecksum(msg []byte) {
	msg[2], msg[3] = 0, 0
	var sum uint32
	for i := 0; i+1 < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	if len(msg)%2 == 1 {
		sum += uint32(msg[len(msg)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	cs := ^uint16(sum)
	msg[2], msg[3] = byte(cs>>8), byte(cs)
}

func TestUDPConnRefusedOnWrite(t *testing.T) {
	a, _ := newPair(t)
	conn, err := a.Dial("udp4", "10.0.0.2:7498")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("x"))
	// The error is pending until one Read or Write takes it (Linux).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := conn.Write([]byte("y"))
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("Write: %v, want ECONNREFUSED eventually", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUDPBroadcast(t *testing.T) {
	a, b := newPair(t)
	rx := listenUDP(t, b, "udp4", ":7500")
	tx := listenUDP(t, a, "udp4", ":0")
	for _, dst := range []string{"10.0.0.255", "255.255.255.255"} {
		t.Run(dst, func(t *testing.T) {
			to := &net.UDPAddr{IP: net.ParseIP(dst), Port: 7500}
			tx.SetBroadcast(false)
			if _, err := tx.WriteTo([]byte("no"), to); !errors.Is(err, syscall.EACCES) {
				t.Fatalf("broadcast without SetBroadcast: %v, want EACCES", err)
			}
			if err := tx.SetBroadcast(true); err != nil {
				t.Fatal(err)
			}
			if dst == "255.255.255.255" {
				// No route covers it (Linux says ENETUNREACH as well):
				// name the interface.
				if _, err := tx.WriteTo([]byte("x"), to); !errors.Is(err, syscall.ENETUNREACH) {
					t.Fatalf("limited broadcast without an interface: %v, want ENETUNREACH", err)
				}
				ifi, err := a.InterfaceByName("eth0")
				if err != nil {
					t.Fatal(err)
				}
				tx.SetMulticastInterface(ifi)
			}
			if _, err := tx.WriteTo([]byte("yes "+dst), to); err != nil {
				t.Fatalf("broadcast with SetBroadcast: %v", err)
			}
			got, from := readWithin(t, rx, 5*time.Second)
			if string(got) != "yes "+dst || !from.(*net.UDPAddr).IP.Equal(net.IPv4(10, 0, 0, 1)) {
				t.Fatalf("got %q from %v", got, from)
			}
		})
	}
}

func TestUDPMulticast(t *testing.T) {
	a, b := newPair(t)
	group := &net.UDPAddr{IP: net.IPv4(239, 1, 2, 3), Port: 7600}
	rx := listenUDP(t, b, "udp4", ":7600")
	tx := listenUDP(t, a, "udp4", ":0")
	ifa, err := a.InterfaceByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if ifa.Flags&net.FlagMulticast == 0 || len(ifa.HardwareAddr) != 6 {
		t.Errorf("eth0 = %+v", ifa)
	}
	if err := tx.SetMulticastInterface(ifa); err != nil {
		t.Fatal(err)
	}
	if err := tx.SetMulticastTTL(2); err != nil {
		t.Fatal(err)
	}
	if err := tx.SetMulticastLoopback(false); err != nil {
		t.Fatal(err)
	}
	ifb, err := b.InterfaceByName("eth0")
	if err != nil {
		t.Fatal(err)
	}

	// Not joined: nothing arrives.
	if _, err := tx.WriteTo([]byte("before"), group); err != nil {
		t.Fatalf("multicast WriteTo: %v", err)
	}
	expectNothing(t, rx, 100*time.Millisecond)

	if err := rx.JoinGroup(ifb, group); err != nil {
		t.Fatalf("JoinGroup: %v", err)
	}
	if err := rx.JoinGroup(ifb, group); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("joining twice: %v, want EADDRINUSE", err)
	}
	if err := rx.JoinGroup(ifb, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 9)}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("joining a unicast address: %v, want EINVAL", err)
	}
	if _, err := tx.WriteTo([]byte("joined"), group); err != nil {
		t.Fatal(err)
	}
	got, from := readWithin(t, rx, 5*time.Second)
	if string(got) != "joined" || !from.(*net.UDPAddr).IP.Equal(net.IPv4(10, 0, 0, 1)) {
		t.Fatalf("got %q from %v", got, from)
	}
	// A second socket on another host joined with ifi == nil (the only
	// non-loopback interface).
	rx2 := listenUDP(t, a, "udp4", ":7600")
	if err := rx2.JoinGroup(nil, &net.IPAddr{IP: group.IP}); err != nil {
		t.Fatalf("JoinGroup(nil): %v", err)
	}
	fromB := listenUDP(t, b, "udp4", ":0")
	fromB.SetMulticastInterface(ifb)
	fromB.SetMulticastLoopback(false) // rx, on b, has joined too
	if _, err := fromB.WriteTo([]byte("to a"), group); err != nil {
		t.Fatal(err)
	}
	if got, _ := readWithin(t, rx2, 5*time.Second); string(got) != "to a" {
		t.Fatalf("rx2 got %q", got)
	}

	if err := rx.LeaveGroup(ifb, group); err != nil {
		t.Fatalf("LeaveGroup: %v", err)
	}
	if err := rx.LeaveGroup(ifb, group); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("leaving twice: %v, want EADDRNOTAVAIL", err)
	}
	if _, err := tx.WriteTo([]byte("after"), group); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, rx, 100*time.Millisecond)

	// Close leaves the group.
	rx2.Close()
	var groups []netip.Addr
	a.Do(func(s *stack.Stack) { groups = s.Groups(stackNIC(ifa.Index)) })
	for _, g := range groups {
		if g == netip.MustParseAddr("239.1.2.3") {
			t.Errorf("group still joined after Close: %v", groups)
		}
	}
}

func TestUDPReadBufferBounds(t *testing.T) {
	a, b := newPair(t)
	rx := listenUDP(t, b, "udp4", ":7700")
	tx := listenUDP(t, a, "udp4", ":0")
	warmARP(t, a, b)
	if err := rx.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if rx.ReadBuffer() != 4096 {
		t.Fatalf("ReadBuffer = %d", rx.ReadBuffer())
	}
	if err := rx.SetReadBuffer(0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SetReadBuffer(0): %v, want EINVAL", err)
	}
	before := b.Stats()
	to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 7700}
	for i := range 10 {
		if _, err := tx.WriteTo(pattern(1000, i), to); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until all ten reached the socket layer.
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().UDP.InDatagrams-before.UDP.InDatagrams < 10 {
		if time.Now().After(deadline) {
			t.Fatal("datagrams did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 4 {
		got, _ := readWithin(t, rx, time.Second)
		if !bytes.Equal(got, pattern(1000, i)) {
			t.Fatalf("datagram %d differs", i)
		}
	}
	expectNothing(t, rx, 20*time.Millisecond)
	if d := b.Stats().Shell.RcvbufErrors - before.Shell.RcvbufErrors; d != 6 {
		t.Errorf("RcvbufErrors grew by %d, want 6 (4 of 10 fit in 4096 bytes)", d)
	}
	// Clamped to the configured maximum.
	rx.SetReadBuffer(1 << 30)
	if rx.ReadBuffer() != DefaultMaxReadBuffer {
		t.Errorf("ReadBuffer after a huge SetReadBuffer = %d, want %d", rx.ReadBuffer(), DefaultMaxReadBuffer)
	}
}

func TestUDPQueueDatagramBound(t *testing.T) {
	ea, eb := pipeEnds()
	a := newHostCfg(t, ea, addrA, Config{})
	b := newHostCfg(t, eb, addrB, Config{Sockets: SocketConfig{MaxQueuedDatagrams: 3}})
	rx := listenUDP(t, b, "udp4", ":7701")
	tx := listenUDP(t, a, "udp4", ":0")
	to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 7701}
	warmARP(t, a, b)
	for range 5 {
		tx.WriteTo(nil, to) // empty datagrams: only the count bounds them
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().Shell.RcvbufErrors < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("RcvbufErrors = %d, want 2", b.Stats().Shell.RcvbufErrors)
		}
		time.Sleep(time.Millisecond)
	}
	for range 3 {
		if got, _ := readWithin(t, rx, time.Second); len(got) != 0 {
			t.Fatalf("got %d bytes", len(got))
		}
	}
	expectNothing(t, rx, 20*time.Millisecond)
}

func TestSocketConfigValidates(t *testing.T) {
	for _, cfg := range []SocketConfig{
		{ReadBuffer: -1},
		{ReadBuffer: 100},
		{ReadBuffer: 8192, MaxReadBuffer: 4096},
		{MaxQueuedDatagrams: -5},
	} {
		if _, err := New(Config{Sockets: cfg}); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}
