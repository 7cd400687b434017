package interop

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/stack"
)

// startRadvd runs radvd in the namespace advertising 2001:db8:7::/64
// (autonomous, on-link) and an RDNSS option on the TAP device, where the
// kernel holds 2001:db8:7::1/64, once the kernel's own link-local address
// is usable.
func startRadvd(t *testing.T, ns *netns.NS) {
	t.Helper()
	requireTool(t, "radvd", "radvd")
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := ns.Try("ip", "-6", "-o", "addr", "show", "dev", tapName, "scope", "link")
		if llRe.Match(out) && !containsWord(string(out), "tentative") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel has no usable link-local address on %s: %s", tapName, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The router's own address in the prefix it advertises (the route
	// Linux uses to reach the SLAAC addresses).
	ns.Run("ip", "-6", "addr", "add", "2001:db8:7::1/64", "dev", tapName, "nodad")
	// radvd wants the namespace to be a router (namespace-local sysctl).
	ns.Run("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
	dir := t.TempDir()
	conf := filepath.Join(dir, "radvd.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`interface %s {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 4;
	AdvDefaultLifetime 600;
	prefix 2001:db8:7::/64 {
		AdvOnLink on;
		AdvAutonomous on;
		AdvValidLifetime 3600;
		AdvPreferredLifetime 1800;
	};
	RDNSS 2001:db8:7::53 {
	};
};
`, tapName)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command("radvd", "-n", "-C", conf, "-p", filepath.Join(dir, "radvd.pid"), "-m", "stderr")
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting radvd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("radvd:\n%s", log.String())
		}
	})
}

var slaacPrefix = netip.MustParsePrefix("2001:db8:7::/64")

// TestV6SLAACFromRadvd: radvd in the namespace advertises
// 2001:db8:7::/64; featherip forms an address in it (RFC 4862 5.5.3),
// reports it through OnAddressChange, learns the kernel as its default
// router and the RDNSS server (RFC 8106), and Linux pings the new
// address.
func TestV6SLAACFromRadvd(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	requireTool(t, "radvd", "radvd")
	e := setup6(t, v6Options{noStatic: true, beforeUp: func(ns *netns.NS, _ []byte) { startRadvd(t, ns) }})
	a := e.waitAddr(t, "SLAAC address in "+slaacPrefix.String(), 15*time.Second, func(p netip.Prefix) bool {
		return slaacPrefix.Contains(p.Addr())
	})
	t.Logf("featherip formed %v", a)
	if a.Bits() != 64 {
		t.Errorf("SLAAC address %v: want a /64", a)
	}
	var routers, dns []netip.Addr
	var addrs []netip.Prefix
	e.host.Do(func(s *stack.Stack) {
		routers, dns, addrs = s.DefaultRouters(e.nic), s.RDNSS(e.nic), s.Addresses(e.nic)
	})
	if !slices.Contains(addrs, a) {
		t.Errorf("Stack.Addresses %v lacks %v", addrs, a)
	}
	if len(routers) != 1 || !routers[0].IsLinkLocalUnicast() {
		t.Errorf("default routers %v, want the kernel's link-local address", routers)
	}
	if !slices.Contains(dns, netip.MustParseAddr("2001:db8:7::53")) {
		t.Errorf("RDNSS %v, want 2001:db8:7::53", dns)
	}
	ping6(t, e.ns, a.Addr().String(), 56)
	ping6(t, e.ns, a.Addr().String(), 3000)
}

// stableLinkLocal computes the link-local address featherip forms on an
// interface named name with the RFC 7217 secret: it brings a stack with
// that secret up under virtual time and returns its first address.
func stableLinkLocal(t *testing.T, secret [16]byte, name string) netip.Addr {
	t.Helper()
	clk := &virtClock{}
	var got netip.Addr
	s, err := stack.New(stack.Config{Clock: clk, Rand: rand.NewPCG(7, 7), StableIIDSecret: secret,
		OnAddressChange: func(_ stack.NIC, p netip.Prefix, added bool) {
			if added && p.Addr().IsLinkLocalUnicast() && !got.IsValid() {
				got = p.Addr()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	nic, err := s.AddInterface(stack.InterfaceConfig{Name: name, Kind: stack.LinkEthernet, Link: nullLink{}, MTU: 1500, MAC: [6]byte{2, 9, 9, 9, 9, 9}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUp(nic, true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && !got.IsValid(); i++ {
		clk.t += 50 * time.Millisecond
		s.Poll()
	}
	if !got.IsValid() {
		t.Fatal("the virtual-time stack formed no link-local address")
	}
	return got
}

type virtClock struct{ t time.Duration }

func (c *virtClock) Now() time.Duration { return c.t }

type nullLink struct{}

func (nullLink) Send([]byte) error { return nil }

// TestV6DADDetectsDuplicate: Linux already holds the link-local address
// featherip would form (the same RFC 7217 secret gives the same address;
// the kernel holds it without DAD). featherip's DAD sees the kernel's
// defending NA (RFC 4862 5.4.5): it reports the duplicate, never uses the
// address, regenerates a stable identifier with the next DAD counter
// (RFC 7217 6) and forms another link-local address that passes DAD and
// answers ping.
func TestV6DADDetectsDuplicate(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	var secret [16]byte
	copy(secret[:], "dad-test-secret!")
	dup := stableLinkLocal(t, secret, tapName)
	t.Logf("featherip's first choice: %v", dup)
	e := setup6(t, v6Options{
		stack: func(c *stack.Config) { c.StableIIDSecret = secret },
		beforeUp: func(ns *netns.NS, _ []byte) {
			ns.Run("ip", "-6", "addr", "add", dup.String()+"/64", "dev", tapName, "nodad")
		},
	})
	ll := e.linkLocal(t)
	var fails []netip.Addr
	var st stack.Stats
	var addrs []netip.Prefix
	e.host.Do(func(s *stack.Stack) { fails, st, addrs = slices.Clone(e.dadFail), s.Stats(), s.Addresses(e.nic) })
	if !slices.Contains(fails, dup) {
		t.Fatalf("OnDADFailure reported %v, want %v", fails, dup)
	}
	if st.Autoconf.DADFailures < 1 || st.Autoconf.DADRetries < 1 {
		t.Errorf("Autoconf DADFailures %d DADRetries %d, want >= 1 each", st.Autoconf.DADFailures, st.Autoconf.DADRetries)
	}
	if ll == dup {
		t.Fatalf("featherip uses the duplicate address %v", dup)
	}
	for _, p := range addrs {
		if p.Addr() == dup {
			t.Errorf("the duplicate %v is still among featherip's addresses %v", dup, addrs)
		}
	}
	e.host.Do(func(*stack.Stack) {
		for _, p := range e.added {
			if p.Addr() == dup {
				t.Errorf("OnAddressChange reported the duplicate %v as usable", dup)
			}
		}
	})
	t.Logf("featherip's link-local after DAD failure: %v", ll)
	// The regenerated address works; the duplicate stays Linux's alone:
	// no NA from featherip's MAC for it reached the kernel.
	ping6(t, e.ns, ll.String()+"%"+tapName, 56)
	ping6(t, e.ns, featherIP6, 56)
	out := string(e.ns.Run("ip", "-6", "neigh", "show", "dev", tapName))
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, dup.String()+" ") {
			t.Errorf("the kernel has a neighbor entry for its own address %v: %q", dup, line)
		}
	}
}
