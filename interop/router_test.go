package interop

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
)

// routerEnv is Linux A — featherip — Linux B: featherip routes between a
// TAP device inside namespace A (10.1.0.0/24, fd01::/64; featherip .1,
// Linux .2) and one inside namespace B (10.2.0.0/24, fd02::/64), with
// IPv4 and IPv6 forwarding on; each Linux side routes the other's
// networks via featherip.
type routerEnv struct {
	a, b       *netns.NS
	host       *featherip.Host
	nicA, nicB stack.NIC
	tapA, tapB *tap.Link
	devA, devB string
}

const (
	routerA4, routerB4 = "10.1.0.1", "10.2.0.1" // featherip
	linuxA4, linuxB4   = "10.1.0.2", "10.2.0.2"
	routerA6, routerB6 = "fd01::1", "fd02::1"
	linuxA6, linuxB6   = "fd01::2", "fd02::2"
)

func setupRouter(t *testing.T) *routerEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop tests need root (network namespaces and /dev/net/tun): run sudo go test ./interop/")
	}
	r := &routerEnv{a: netns.New(t), b: netns.New(t), devA: "fipa0", devB: "fipb0"}
	open := func(ns *netns.NS, dev, linux4, linux6, router4, router6, other4, other6 string) *tap.Link {
		var l *tap.Link
		if err := ns.Do(func() error {
			var err error
			l, err = tap.Open(tap.Config{Name: dev, VnetHdr: vnetOn()})
			return err
		}); err != nil {
			t.Fatalf("opening TAP %s in %s: %v", dev, ns.Name, err)
		}
		ns.Run("ip", "addr", "add", linux4+"/24", "dev", dev)
		ns.Run("ip", "-6", "addr", "add", linux6+"/64", "dev", dev, "nodad")
		ns.Run("ip", "link", "set", "dev", dev, "up")
		ns.Run("ip", "route", "add", other4, "via", router4)
		ns.Run("ip", "-6", "route", "add", other6, "via", router6)
		return l
	}
	r.tapA = open(r.a, r.devA, linuxA4, linuxA6, routerA4, routerA6, "10.2.0.0/24", "fd02::/64")
	r.tapB = open(r.b, r.devB, linuxB4, linuxB6, routerB4, routerB6, "10.1.0.0/24", "fd01::/64")
	var sc stack.Config
	sc.Forwarding = true
	sc.IPv6.Forwarding = true
	h, err := featherip.New(featherip.Config{Stack: sc})
	if err != nil {
		r.tapA.Close()
		r.tapB.Close()
		t.Fatal(err)
	}
	r.host = h
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Host.Close: %v", err)
		}
	})
	add := func(l *tap.Link, dev, a4, a6 string) stack.NIC {
		nic, err := h.AddInterface(l, featherip.InterfaceConfig{Name: dev, Addrs: []netip.Prefix{netip.MustParsePrefix(a4 + "/24")}})
		if err != nil {
			l.Close()
			t.Fatal(err)
		}
		h.Do(func(s *stack.Stack) {
			if err := s.AddAddress(nic, netip.MustParsePrefix(a6+"/64")); err != nil {
				t.Fatal(err)
			}
		})
		return nic
	}
	r.nicA = add(r.tapA, r.devA, routerA4, routerA6)
	r.nicB = add(r.tapB, r.devB, routerB4, routerB6)
	return r
}

func (r *routerEnv) stats() stack.Stats {
	var st stack.Stats
	r.host.Do(func(s *stack.Stack) { st = s.Stats() })
	return st
}

// TestRouterPing: ping from Linux A to Linux B through featherip, IPv4
// and IPv6, small and fragmented (4000 bytes: featherip forwards the
// fragments), all answered.
func TestRouterPing(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	r := setupRouter(t)
	for _, c := range []struct{ fam, dst string }{{"-4", linuxB4}, {"-6", linuxB6}} {
		for _, size := range []string{"56", "4000"} {
			out, err := r.a.Try("ping", c.fam, "-c", "3", "-i", "0.2", "-W", "2", "-s", size, c.dst)
			if err != nil || !strings.Contains(string(out), " 0% packet loss") || strings.Contains(string(out), "wrong data") {
				t.Errorf("ping %s -s %s %s from A through featherip: %v\n%s", c.fam, size, c.dst, err, out)
			}
		}
	}
	st := r.stats()
	if st.IP.ForwDatagrams < 6 {
		t.Errorf("IPv4 ForwDatagrams %d, want >= 6", st.IP.ForwDatagrams)
	}
	if st.IPv6.ForwDatagrams < 6 {
		t.Errorf("IPv6 ForwDatagrams %d, want >= 6", st.IPv6.ForwDatagrams)
	}
}

// TestRouterTCP: 64 MiB over TCP from Linux A to Linux B through
// featherip (IPv4, then IPv6); B answers with the SHA-256 of what it
// received, equal to what A sent.
func TestRouterTCP(t *testing.T) {
	r := setupRouter(t)
	for _, c := range []struct{ network, listen, seed string }{
		{"tcp4", linuxB4 + ":5000", "v4"},
		{"tcp6", "[" + linuxB6 + "]:5000", "v6"},
	} {
		t.Run(c.seed, func(t *testing.T) {
			var ln net.Listener
			if err := r.b.Do(func() error {
				var err error
				ln, err = net.Listen(c.network, c.listen)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				k, err := ln.Accept()
				if err != nil {
					return
				}
				defer k.Close()
				k.SetDeadline(time.Now().Add(transferTimeout()))
				h := sha256.New()
				if _, err := io.Copy(h, k); err == nil {
					io.WriteString(k, hex.EncodeToString(h.Sum(nil))+"\n")
				}
			}()
			var conn net.Conn
			if err := r.a.Do(func() error {
				var err error
				conn, err = net.DialTimeout(c.network, c.listen, 5*time.Second)
				return err
			}); err != nil {
				t.Fatalf("A connects to B through featherip: %v", err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(transferTimeout()))
			size := transferSize()
			sent := newStream(byte(len(c.seed) + int(c.network[3])))
			start := time.Now()
			done := kernelSend(conn, sent, size)
			reply, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				t.Fatalf("reading B's hash: %v (send: %v)", err, <-done)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(reply); got != sent.sum() {
				t.Fatalf("B hashed %s, A sent %s", got, sent.sum())
			}
			t.Logf("%d MiB A -> B through featherip (%s) in %v (%s)", size>>20, c.network, time.Since(start).Round(time.Millisecond), rate(size, time.Since(start)))
		})
	}
}

var hopRe = regexp.MustCompile(`(?m)^\s*(\d+)\s+(\S+)`)

// TestRouterTraceroute: `traceroute -n` (and -6) from A to B shows
// featherip's address as hop 1 (its ICMP time exceeded, RFC 1812 5.3.1,
// RFC 4443 3.3) and B as hop 2 (port unreachable).
func TestRouterTraceroute(t *testing.T) {
	requireTool(t, "traceroute", "traceroute")
	r := setupRouter(t)
	for _, c := range []struct {
		fam, dst string
		hop1     []string
	}{
		{"-4", linuxB4, []string{routerA4, routerB4}},
		{"-6", linuxB6, []string{routerA6, routerB6}},
	} {
		out, err := r.a.Try("traceroute", c.fam, "-n", "-q", "1", "-w", "2", "-m", "5", c.dst)
		if err != nil {
			t.Errorf("traceroute %s: %v\n%s", c.fam, err, out)
			continue
		}
		hops := map[string]string{}
		for _, m := range hopRe.FindAllStringSubmatch(string(out), -1) {
			hops[m[1]] = m[2]
		}
		if h1 := hops["1"]; h1 != c.hop1[0] && h1 != c.hop1[1] {
			t.Errorf("traceroute %s: hop 1 is %q, want featherip (%v):\n%s", c.fam, h1, c.hop1, out)
		}
		if hops["2"] != c.dst {
			t.Errorf("traceroute %s: hop 2 is %q, want %s:\n%s", c.fam, hops["2"], c.dst, out)
		}
		t.Logf("traceroute %s:\n%s", c.fam, out)
	}
	st := r.stats()
	if st.ICMP.OutTimeExcds < 1 || st.ICMPv6.OutTimeExcds < 1 {
		t.Errorf("time exceeded sent: ICMP %d ICMPv6 %d, want >= 1 each", st.ICMP.OutTimeExcds, st.ICMPv6.OutTimeExcds)
	}
}
