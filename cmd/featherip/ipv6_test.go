package main

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
)

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func TestParseUpIPv6Defaults(t *testing.T) {
	o, err := parseUp(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.v6.noIPv6 || o.v6.noSLAAC || len(o.v6.addrs6) != 0 || o.v6.hostPfx6.IsValid() || o.v6.gateway6.IsValid() || o.forward {
		t.Fatalf("IPv6 defaults: %+v", o.v6)
	}
	want := []devConfig{{name: "fip0", addrs: pfx("192.168.7.2/24"), host4: pfx("192.168.7.1/24")}}
	if !reflect.DeepEqual(o.devs, want) {
		t.Fatalf("devices %+v, want %+v", o.devs, want)
	}
	c := o.stackConfig(newAddrEvents(nil))
	if c.IPv6.Disabled || c.SLAAC.Disabled || c.Forwarding || c.IPv6.Forwarding || c.OnAddressChange == nil || c.OnDADFailure == nil {
		t.Fatalf("stack config %+v", c)
	}
}

func TestParseUpIPv6Flags(t *testing.T) {
	o, err := parseUp([]string{"--addr6", "2001:db8:7::2/64", "--addr6", "fd00:7::2/64", "--host-addr6", "fd00:7::1/64",
		"--gateway6", "fe80::1%fip0", "--no-slaac"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	d := o.devs[0]
	if !reflect.DeepEqual(d.addrs6, pfx("2001:db8:7::2/64", "fd00:7::2/64")) || !reflect.DeepEqual(d.host6, pfx("fd00:7::1/64")) ||
		d.gw6 != netip.MustParseAddr("fe80::1") || !o.v6.noSLAAC {
		t.Fatalf("parsed %+v", d)
	}
	if c := o.stackConfig(newAddrEvents(nil)); !c.SLAAC.Disabled || c.IPv6.Disabled {
		t.Fatalf("--no-slaac: %+v", c.SLAAC)
	}
	o, err = parseUp([]string{"--no-ipv6"}, &bytes.Buffer{})
	if err != nil || !o.stackConfig(newAddrEvents(nil)).IPv6.Disabled {
		t.Fatalf("--no-ipv6: %v", err)
	}
}

func TestParseUpForward(t *testing.T) {
	o, err := parseUp([]string{"--forward",
		"--tap", "fa0,10.1.0.1/24,fd01::1/64,host=10.1.0.2/24,host=fd01::2/64",
		"--tap", "fb0,10.2.0.1/24,fd02::1/64,host=10.2.0.2/24",
		"--tap", "fc0",
		"--gateway", "10.2.0.254", "--gateway6", "fd01::fe"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := []devConfig{
		{name: "fa0", addrs: pfx("10.1.0.1/24"), addrs6: pfx("fd01::1/64"), host4: pfx("10.1.0.2/24"), host6: pfx("fd01::2/64"), gw6: netip.MustParseAddr("fd01::fe")},
		{name: "fb0", addrs: pfx("10.2.0.1/24"), addrs6: pfx("fd02::1/64"), host4: pfx("10.2.0.2/24"), gw: netip.MustParseAddr("10.2.0.254")},
		{name: "fc0"},
	}
	if !reflect.DeepEqual(o.devs, want) {
		t.Fatalf("devices\n%+v\nwant\n%+v", o.devs, want)
	}
	if o.tap != "fa0" || !reflect.DeepEqual([]netip.Prefix(o.addrs), pfx("10.1.0.1/24")) || o.hostPfx != netip.MustParsePrefix("10.1.0.2/24") {
		t.Fatalf("first device: tap %q addrs %v host %v", o.tap, o.addrs, o.hostPfx)
	}
	if c := o.stackConfig(newAddrEvents(nil)); !c.Forwarding || !c.IPv6.Forwarding {
		t.Fatal("--forward: Config.Forwarding or Config.IPv6.Forwarding off")
	}
	// one --tap with inline addresses takes only those: no defaults
	o, err = parseUp([]string{"--tap", "x0,10.9.0.2/24"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []devConfig{{name: "x0", addrs: pfx("10.9.0.2/24")}}; !reflect.DeepEqual(o.devs, want) {
		t.Fatalf("inline single: %+v", o.devs)
	}
	// a link-local gateway names its device by zone
	o, err = parseUp([]string{"--tap", "a0,10.1.0.1/24", "--tap", "b0,10.2.0.1/24", "--gateway6", "fe80::1%b0"}, &bytes.Buffer{})
	if err != nil || o.devs[1].gw6 != netip.MustParseAddr("fe80::1") || o.devs[0].gw6.IsValid() {
		t.Fatalf("zoned gateway6: %v %+v", err, o)
	}
}

func TestParseUpErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--addr6", "10.0.0.1/24"}, "2001:db8:7::2/64"},
		{[]string{"--addr6", "2001:db8::1"}, "--addr6"},
		{[]string{"--addr6", "ff02::1/64"}, "not a unicast"},
		{[]string{"--host-addr6", "10.0.0.1/24"}, "--host-addr6"},
		{[]string{"--host-addr6", "fd00:7::1/64", "--addr6", "fd00:7::1/64"}, "kernel's address"},
		{[]string{"--gateway6", "10.0.0.1"}, "--gateway6"},
		{[]string{"--gateway6", "ff02::2"}, "--gateway6"},
		{[]string{"--no-ipv6", "--addr6", "fd00::2/64"}, "--no-ipv6"},
		{[]string{"--tap", "a,b"}, "--tap"},
		{[]string{"--tap", "a,host="}, "--tap"},
		{[]string{"--tap", "a,224.0.0.1/4"}, "not a unicast"},
		{[]string{"--tap", "a,10.0.0.1/24,host=10.0.0.1/24"}, "both"},
		{[]string{"--tap", "a", "--tap", "a"}, "twice"},
		{[]string{"--tap", "thisnameistoolong0"}, "--tap"},
		{[]string{"--tap", "a", "--tap", "b", "--addr", "10.0.0.2/24"}, "--addr with several --tap"},
		{[]string{"--tap", "a,10.0.0.2/24", "--host-addr6", "fd00::1/64"}, "--host-addr6 with several --tap"},
		{[]string{"--tap", "a", "--tap", "b", "--gateway6", "fe80::1%c"}, `no device "c"`},
	} {
		var errb bytes.Buffer
		_, err := parseUp(tc.args, &errb)
		if err == nil || !strings.Contains(err.Error()+errb.String(), tc.err) {
			t.Errorf("parseUp(%q) = %v (stderr %q), want an error with %q", tc.args, err, errb.String(), tc.err)
		}
	}
}

func TestUpHelpIPv6AndForward(t *testing.T) {
	var errb bytes.Buffer
	run([]string{"up", "-h"}, &bytes.Buffer{}, &errb)
	for _, want := range []string{"-addr6", "-host-addr6", "-gateway6", "-no-slaac", "-forward", "host=", "--tap fa0,"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("up --help lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestReadyLineIPv6(t *testing.T) {
	o, err := parseUp([]string{"--forward", "--tap", "fa0,10.1.0.1/24,fd01::1/64,host=10.1.0.2/24,host=fd01::2/64", "--tap", "fb0,fd02::1/64"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := pipe.New(pipe.Config{})
	b, _ := pipe.New(pipe.Config{})
	line := readyLine(o, []link.Link{a, b}, [][]netip.Prefix{pfx("fe80::1/64", "fd01::1/64"), pfx("fe80::2/64", "fd02::1/64")})
	want := "ready fa0 10.1.0.1/24 mac 02:00:00:00:00:01 host 10.1.0.2/24 ipv6 fe80::1/64 fd01::1/64 host6 fd01::2/64;" +
		" fb0 mac 02:00:00:00:00:01 ipv6 fe80::2/64 fd02::1/64  forwarding  tcp: echo 7, discard 9, chargen 19, iperf 5001" +
		"  status: http://10.1.0.1/  try: ping 10.1.0.1; echo hi | socat - udp:10.1.0.1:7; iperf -c 10.1.0.1"
	if line != want {
		t.Fatalf("ready line\n%q\nwant\n%q", line, want)
	}
	// IPv6 only: the hints use the first global IPv6 address
	o, _ = parseUp([]string{"--tap", "v0,2001:db8::2/64"}, &bytes.Buffer{})
	line = readyLine(o, []link.Link{a}, [][]netip.Prefix{pfx("fe80::1/64", "2001:db8::2/64")})
	if !strings.Contains(line, "status: http://[2001:db8::2]/") || !strings.Contains(line, "ping -6 2001:db8::2") {
		t.Fatalf("IPv6-only ready line %q", line)
	}
}

// TestAddrEvents: changes are recorded before the ready line and printed,
// one line each, after it; the ready line lists static and formed
// addresses but not tentative ones.
func TestAddrEvents(t *testing.T) {
	var out bytes.Buffer
	ev := newAddrEvents(&out)
	ev.names[1] = "fip0"
	ll := netip.MustParsePrefix("fe80::1234/64")
	ev.onChange(1, ll, true)
	if !ev.hasLinkLocal(1) || ev.hasLinkLocal(2) || out.Len() != 0 {
		t.Fatalf("before ready: formed %v, out %q", ev.formed, out.String())
	}
	ev.onDADFailure(1, netip.MustParseAddr("fe80::1"))
	if out.Len() != 0 {
		t.Fatalf("printed before ready: %q", out.String())
	}
	ev.setReady()
	g := netip.MustParsePrefix("2001:db8:1::abcd/64")
	ev.onChange(1, g, true)
	ev.onChange(1, g, false)
	ev.onDADFailure(2, netip.MustParseAddr("fe80::99"))
	want := "address duplicate fip0 fe80::1\naddress added fip0 2001:db8:1::abcd/64\naddress removed fip0 2001:db8:1::abcd/64\naddress duplicate nic2 fe80::99\n"
	if out.String() != want {
		t.Fatalf("printed\n%q\nwant\n%q", out.String(), want)
	}
	if !reflect.DeepEqual(ev.formed[1], []netip.Prefix{ll}) {
		t.Fatalf("formed %v", ev.formed[1])
	}
}

// TestUsable6 runs a real stack: its link-local and static addresses
// are listed only once DAD passed.
func TestUsable6(t *testing.T) {
	ev := newAddrEvents(nil)
	clk := &fakeClock{}
	cfg := stack.Config{Clock: clk, Rand: rand.NewPCG(1, 2), OnAddressChange: ev.onChange, OnDADFailure: ev.onDADFailure}
	s, err := stack.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nic, err := s.AddInterface(stack.InterfaceConfig{Name: "fip0", Kind: stack.LinkEthernet, Link: discardLink{}, MTU: 1500, MAC: [6]byte{2, 0, 0, 0, 0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUp(nic, true); err != nil {
		t.Fatal(err)
	}
	static := pfx("2001:db8::2/64")
	if err := addIPv6(s, nic, static, netip.MustParseAddr("2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if got := ev.usable6(s, nic); len(got) != 0 {
		t.Fatalf("before DAD: %v, want none", got)
	}
	for i := 0; i < 100 && (!ev.hasLinkLocal(nic) || !ev.isFormed(nic, static[0].Addr())); i++ {
		clk.t += 100 * time.Millisecond
		s.Poll()
	}
	if !ev.hasLinkLocal(nic) {
		t.Fatalf("no link-local address after 10 s; addresses %v", s.Addresses(nic))
	}
	got := ev.usable6(s, nic)
	if len(got) != 2 {
		t.Fatalf("after DAD: %v", got)
	}
	found := false
	for _, r := range s.Routes() {
		found = found || (r.Dst == netip.MustParsePrefix("::/0") && r.Gateway == netip.MustParseAddr("2001:db8::1"))
	}
	if !found {
		t.Fatalf("no IPv6 default route: %v", s.Routes())
	}
}

type fakeClock struct{ t time.Duration }

func (c *fakeClock) Now() time.Duration { return c.t }

type discardLink struct{}

func (discardLink) Send([]byte) error { return nil }

// TestStableIIDSecret: the RFC 7217 key comes from the machine ID, the
// same for the same ID, another for another, from the first readable
// file; without one it is zero (the stack then draws a random key).
func TestStableIIDSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, id string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(id), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a", "4f1e0c9a2b3d4e5f60718293a4b5c6d7\n")
	a2 := write("a2", "4f1e0c9a2b3d4e5f60718293a4b5c6d7")
	b := write("b", "0123456789abcdef0123456789abcdef\n")
	empty := write("empty", "\n")
	missing := filepath.Join(dir, "missing")
	ka := stableIIDSecret([]string{a})
	if ka == ([16]byte{}) {
		t.Fatal("zero key from a machine ID")
	}
	if stableIIDSecret([]string{a2}) != ka {
		t.Error("the same machine ID gave another key")
	}
	if stableIIDSecret([]string{b}) == ka {
		t.Error("another machine ID gave the same key")
	}
	if stableIIDSecret([]string{missing, empty, a}) != ka {
		t.Error("the first readable, non-empty file does not count")
	}
	if k := stableIIDSecret([]string{missing, empty}); k != ([16]byte{}) {
		t.Errorf("no machine ID: key %x, want zero", k)
	}
	if bytes.Contains(ka[:], []byte("4f1e0c9a")) {
		t.Error("the key shows the machine ID")
	}
}
