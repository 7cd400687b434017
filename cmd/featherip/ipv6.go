package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/stack"
)

// IPv6 in `featherip up`: every device gets a link-local address (RFC 4862,
// RFC 7217 stable identifiers) and forms SLAAC addresses from router
// advertisements; --addr6 adds static addresses, --host-addr6 gives the
// kernel side one, --gateway6 sets the default route. The ready line waits
// (at most dadWait) until the link-local and static addresses of each
// device passed duplicate address detection, and lists those that did;
// addresses formed or lost later are printed one line each:
//
//	address added fip0 2001:db8:7::8f3a:1c2:44d0:9e1/64
//	address removed fip0 2001:db8:7::8f3a:1c2:44d0:9e1/64
//	address duplicate fip0 fe80::5c1e:aa:6d1:17b2

// dadWait bounds how long `featherip up` waits for the link-local and
// static IPv6 addresses before it prints the ready line.
const dadWait = 3 * time.Second

// ipv6Options are the IPv6 flags of `featherip up`.
type ipv6Options struct {
	addrs6    prefixList6
	hostAddr6 string // "none" or a prefix
	hostPfx6  netip.Prefix
	gateway6  netip.Addr
	noIPv6    bool
	noSLAAC   bool
}

// prefixList6 is a repeatable --addr6 flag.
type prefixList6 []netip.Prefix

func (p *prefixList6) String() string {
	s := make([]string, len(*p))
	for i, a := range *p {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixList6) Set(v string) error {
	a, err := parsePrefix6(v)
	if err != nil {
		return err
	}
	*p = append(*p, a)
	return nil
}

// parsePrefix6 parses a unicast IPv6 address with its prefix length.
func parsePrefix6(v string) (netip.Prefix, error) {
	a, err := netip.ParsePrefix(v)
	if err != nil || !a.Addr().Is6() || a.Addr().Is4In6() || a.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("want an IPv6 address with prefix length such as 2001:db8:7::2/64")
	}
	if a.Addr().IsMulticast() || a.Addr().IsUnspecified() || a.Addr().IsLoopback() {
		return netip.Prefix{}, fmt.Errorf("%v is not a unicast address", a)
	}
	return a, nil
}

// registerIPv6Flags adds the IPv6 flags to fs.
func (o *upOptions) registerIPv6Flags(fs *flag.FlagSet) {
	v := &o.v6
	fs.Var(&v.addrs6, "addr6", "a static IPv6 `prefix` for featherip, e.g. 2001:db8:7::2/64 (repeatable; link-local and SLAAC addresses are formed anyway)")
	fs.StringVar(&v.hostAddr6, "host-addr6", "none", "IPv6 `prefix` for the kernel side of the TAP device, e.g. fd00:7::1/64 (added without DAD); none adds none (the kernel keeps its link-local address)")
	fs.Func("gateway6", "IPv6 default gateway `address` for featherip (a link-local one may name its device: fe80::1%fip0)", func(s string) error {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Is4In6() || a.IsMulticast() || a.IsUnspecified() {
			return fmt.Errorf("want an IPv6 unicast address such as 2001:db8:7::1 or fe80::1%%fip0")
		}
		v.gateway6 = a
		return nil
	})
	fs.BoolVar(&v.noIPv6, "no-ipv6", false, "turn IPv6 off (no link-local, SLAAC or MLD)")
	fs.BoolVar(&v.noSLAAC, "no-slaac", false, "do not form addresses from router advertisements (the link-local address stays)")
}

// checkIPv6 validates the IPv6 flags after parsing.
func (o *upOptions) checkIPv6() error {
	v := &o.v6
	if v.hostAddr6 != "none" {
		p, err := parsePrefix6(v.hostAddr6)
		if err != nil {
			return fmt.Errorf("--host-addr6 %q: %v, or none", v.hostAddr6, err)
		}
		v.hostPfx6 = p
		for _, a := range v.addrs6 {
			if a.Addr() == p.Addr() {
				return fmt.Errorf("--addr6 %v is the kernel's address (--host-addr6): pick another", a)
			}
		}
	}
	if v.noIPv6 && (len(v.addrs6) > 0 || v.gateway6.IsValid()) {
		return fmt.Errorf("--no-ipv6 with --addr6 or --gateway6: drop one of them")
	}
	return nil
}

// stackConfig is the stack configuration the flags ask for, with the
// address callbacks of ev.
func (o *upOptions) stackConfig(ev *addrEvents) stack.Config {
	var c stack.Config
	c.IPv6.Disabled = o.v6.noIPv6
	c.SLAAC.Disabled = o.v6.noSLAAC
	c.OnAddressChange = ev.onChange
	c.OnDADFailure = ev.onDADFailure
	c.StableIIDSecret = stableIIDSecret(machineIDFiles)
	if o.forward {
		c.Forwarding = true      // IPv4, RFC 1812
		c.IPv6.Forwarding = true // RFC 8200
	}
	return c
}

// machineIDFiles hold the machine's ID, a random value set once at
// installation (systemd's machine-id(5)); the first readable one counts.
var machineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// stableIIDSecret derives the RFC 7217 secret key from the machine ID in
// the first readable file of files, so that featherip's link-local and
// SLAAC addresses stay the same across restarts on one machine (RFC 7217
// section 5: the key is "initialized to a pseudorandom number ... upon
// operating system installation"), as systemd-networkd derives its
// stable identifiers. It hashes the ID with a label, so the key does not
// reveal it. With no machine ID it returns the zero key, and the stack
// draws a random one: addresses are then stable only within one run.
func stableIIDSecret(files []string) [16]byte {
	for _, f := range files {
		id, err := os.ReadFile(f)
		if id = bytes.TrimSpace(id); err != nil || len(id) == 0 {
			continue
		}
		sum := sha256.Sum256(append([]byte("featherip RFC 7217 secret key\x00"), id...))
		return [16]byte(sum[:16])
	}
	return [16]byte{}
}

// addrEvents follows autoconfigured IPv6 addresses. Its callbacks run
// under the Host's core lock (inside the stack's Input or Poll), and so
// does every other use of it: it needs no lock of its own, and its
// callbacks never call back into the Host.
type addrEvents struct {
	out   io.Writer
	ready bool // the ready line is out: print each change from now on
	names map[stack.NIC]string
	// formed holds the autoconfigured addresses that passed DAD.
	formed map[stack.NIC][]netip.Prefix
	// early holds DAD failures seen before the ready line, printed after it.
	early []string
}

func newAddrEvents(out io.Writer) *addrEvents {
	return &addrEvents{out: out, names: map[stack.NIC]string{}, formed: map[stack.NIC][]netip.Prefix{}}
}

func (ev *addrEvents) onChange(nic stack.NIC, p netip.Prefix, added bool) {
	list := ev.formed[nic]
	for i, q := range list {
		if q.Addr() == p.Addr() {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if added {
		list = append(list, p)
	}
	ev.formed[nic] = list
	if ev.ready && ev.out != nil {
		verb := "removed"
		if added {
			verb = "added"
		}
		fmt.Fprintf(ev.out, "address %s %s %v\n", verb, ev.name(nic), p)
	}
}

func (ev *addrEvents) onDADFailure(nic stack.NIC, a netip.Addr) {
	line := fmt.Sprintf("address duplicate %s %v\n", ev.name(nic), a)
	switch {
	case !ev.ready:
		if len(ev.early) < 16 {
			ev.early = append(ev.early, line)
		}
	case ev.out != nil:
		io.WriteString(ev.out, line)
	}
}

// setReady marks the ready line printed and prints what waited for it.
func (ev *addrEvents) setReady() {
	ev.ready = true
	if ev.out != nil {
		for _, l := range ev.early {
			io.WriteString(ev.out, l)
		}
	}
	ev.early = nil
}

func (ev *addrEvents) name(nic stack.NIC) string {
	if n, ok := ev.names[nic]; ok {
		return n
	}
	return fmt.Sprintf("nic%d", nic)
}

// hasLinkLocal reports whether nic's link-local address passed DAD.
func (ev *addrEvents) hasLinkLocal(nic stack.NIC) bool {
	for _, p := range ev.formed[nic] {
		if p.Addr().IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// usable6 lists nic's usable IPv6 addresses: those that passed DAD
// (link-local, SLAAC and static ones alike, RFC 4862 5.4), in the stack's
// order. Under the core lock.
func (ev *addrEvents) usable6(s *stack.Stack, nic stack.NIC) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s.Addresses(nic) {
		if p.Addr().Is6() && ev.isFormed(nic, p.Addr()) {
			out = append(out, p)
		}
	}
	return out
}

// isFormed reports whether a of nic passed DAD.
func (ev *addrEvents) isFormed(nic stack.NIC, a netip.Addr) bool {
	for _, q := range ev.formed[nic] {
		if q.Addr() == a {
			return true
		}
	}
	return false
}

// waitDAD waits until every NIC's link-local address and its static
// addresses (statics, one list per NIC) passed DAD or, found duplicate,
// are gone, or for at most max.
func waitDAD(h *featherip.Host, ev *addrEvents, nics []stack.NIC, statics [][]netip.Prefix, max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		done := true
		h.Do(func(s *stack.Stack) {
			for i, n := range nics {
				done = done && ev.hasLinkLocal(n)
				have := s.Addresses(n)
				for _, p := range statics[i] {
					done = done && (ev.isFormed(n, p.Addr()) || !slices.Contains(have, p))
				}
			}
		})
		if done || time.Now().After(deadline) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// addIPv6 gives featherip's interface nic its static IPv6 addresses and,
// when gw is valid, the IPv6 default route through it. It runs under the
// core lock.
func addIPv6(s *stack.Stack, nic stack.NIC, addrs []netip.Prefix, gw netip.Addr) error {
	for _, p := range addrs {
		if err := s.AddAddress(nic, p); err != nil {
			return fmt.Errorf("address %v: %w", p, err)
		}
	}
	if gw.IsValid() {
		r := stack.Route{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Gateway: gw.WithZone(""), NIC: nic}
		if err := s.AddRoute(r); err != nil {
			return fmt.Errorf("IPv6 default route via %v: %w", gw, err)
		}
	}
	return nil
}

// configureKernel6 gives the kernel side of the TAP device an IPv6
// address without DAD (usable at once), unless host is the zero prefix.
func configureKernel6(dev string, host netip.Prefix) error {
	if !host.IsValid() || kernelHasAddr6(dev, host) {
		return nil
	}
	return ipCmd("-6", "addr", "add", host.String(), "dev", dev, "nodad")
}

// kernelHasAddr6 reports whether dev already has the IPv6 address host.
func kernelHasAddr6(dev string, host netip.Prefix) bool {
	out, err := exec.Command("ip", "-o", "-6", "addr", "show", "dev", dev).Output()
	if err != nil {
		return false
	}
	return strings.Contains(string(out), " "+host.String()+" ")
}
