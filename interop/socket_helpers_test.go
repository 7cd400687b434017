package interop

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/internal/netns"
)

// kernelUDPEchoOn starts a Go UDP echo server on the kernel side of ns
// (the socket is made inside it, so it lives there) listening on network
// and laddr, closed when the test ends.
func kernelUDPEchoOn(t *testing.T, ns *netns.NS, network string, laddr *net.UDPAddr) *net.UDPAddr {
	t.Helper()
	var ln *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		ln, err = net.ListenUDP(network, laddr)
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

// serveBack answers every datagram srv receives with the datagram and
// " back", until srv is closed.
func serveBack(srv *featherip.UDPConn) {
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
}

// echoVia sends a size-byte datagram from c to the echo server dst and
// requires the same bytes back from dst within 5 s; buf receives them.
func echoVia(t *testing.T, c net.PacketConn, dst *net.UDPAddr, size int, buf []byte) {
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

// exchange writes msg on the connected conn c and requires want back
// within 5 s; what names the exchange in failures.
func exchange(t *testing.T, c net.Conn, msg, want, what string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != want {
		t.Fatalf("%s: %q, %v", what, buf[:n], err)
	}
}

// requireRefused dials addr (a closed port of the kernel) over network
// from h, writes to it and requires the kernel's port unreachable back as
// ECONNREFUSED on the next Read.
func requireRefused(t *testing.T, h *featherip.Host, network, addr string) {
	t.Helper()
	closed, err := h.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	if _, err := closed.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	closed.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := closed.Read(make([]byte, 100)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Read after writing to closed kernel port %s: %v, want ECONNREFUSED", addr, err)
	}
}

// pingOnce sends an ICMP or ICMPv6 echo request of type reqType with
// sequence 77 and some data through the ping socket p to dst, and requires
// an echo reply (type replyType) from dst with p's identifier, sequence 77
// and the data within 5 s.
func pingOnce(t *testing.T, p *featherip.PingConn, dst netip.Addr, reqType, replyType byte) {
	t.Helper()
	data := []byte("featherip ping socket")
	req := make([]byte, 8+len(data))
	req[0] = reqType // the socket sets the identifier, the stack or the socket the checksum
	binary.BigEndian.PutUint16(req[6:], 77)
	copy(req[8:], data)
	if _, err := p.WriteTo(req, &net.UDPAddr{IP: dst.AsSlice()}); err != nil {
		t.Fatal(err)
	}
	p.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 200)
	n, from, err := p.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no echo reply from the kernel: %v", err)
	}
	reply := buf[:n]
	if from.(*net.UDPAddr).IP.String() != dst.String() || n < 8 || reply[0] != replyType ||
		binary.BigEndian.Uint16(reply[4:]) != p.ID() || binary.BigEndian.Uint16(reply[6:]) != 77 ||
		!bytes.Equal(reply[8:], data) {
		t.Fatalf("reply % x from %v: want an echo reply with id %d, seq 77 and our data", reply, from, p.ID())
	}
}

// hashHandler answers a POST with the length and SHA-256 of its body, a
// GET with payload.
func hashHandler(payload []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			sum := sha256.New()
			n, _ := io.Copy(sum, r.Body)
			fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
			return
		}
		w.Write(payload)
	})
}

// checkHTTP runs three GETs of payload and a POST of it through client
// to url (a hashHandler) and checks them; for an https URL also that the
// exchange ran TLS 1.3.
func checkHTTP(t *testing.T, client *http.Client, url string, payload []byte) {
	t.Helper()
	for i := range 3 {
		resp, err := client.Get(url + "/big")
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("GET %d: %d bytes, %v; want the %d-byte payload", i, len(got), err, len(payload))
		}
		if strings.HasPrefix(url, "https:") && (resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 || !resp.TLS.HandshakeComplete) {
			t.Fatalf("GET %d ran without a complete TLS 1.3 handshake: %+v", i, resp.TLS)
		}
	}
	resp, err := client.Post(url+"/up", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %x", len(payload), sha256.Sum256(payload)); string(got) != want {
		t.Fatalf("POST: server saw %q, want %q", got, want)
	}
}

// nsDial dials addr from the namespace ns: a socket of the Linux kernel
// there (5 s timeout).
func nsDial(ns *netns.NS, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = net.DialTimeout(network, addr, 5*time.Second)
		return err
	})
	return c, err
}
