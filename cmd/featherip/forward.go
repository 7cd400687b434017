package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"

	"github.com/featherip/featherip/stack"
)

// Several devices and routing between them: `featherip up` takes --tap
// more than once; each device then carries its addresses after its name,
//
//	--tap NAME[,PREFIX...][,host=PREFIX...]
//
// where a plain PREFIX (IPv4 or IPv6) is featherip's address on the device
// and host=PREFIX the kernel side's. With --forward featherip routes
// between the devices (IPv4, RFC 1812, and IPv6), as a router:
//
//	featherip up --forward \
//	    --tap fa0,10.1.0.1/24,fd01::1/64,host=10.1.0.2/24,host=fd01::2/64 \
//	    --tap fb0,10.2.0.1/24,fd02::1/64,host=10.2.0.2/24,host=fd02::2/64
//
// A single plain --tap NAME takes --addr, --addr6, --host-addr and
// --host-addr6 (and their defaults), as before.

// tapSpec is one --tap flag.
type tapSpec struct {
	name       string
	addrs      []netip.Prefix // featherip's, IPv4 and IPv6
	hosts      []netip.Prefix // the kernel side's
	hasInlines bool
}

// tapList is the repeatable --tap flag.
type tapList []tapSpec

func (l *tapList) String() string {
	var s []string
	for _, t := range *l {
		s = append(s, t.name)
	}
	return strings.Join(s, " ")
}

func (l *tapList) Set(v string) error {
	t, err := parseTapSpec(v)
	if err != nil {
		return fmt.Errorf("--tap %q: %w", v, err)
	}
	for _, x := range *l {
		if x.name == t.name {
			return fmt.Errorf("--tap %q: device %s given twice", v, t.name)
		}
	}
	*l = append(*l, t)
	return nil
}

// validDevName reports whether name can be a Linux interface name.
func validDevName(name string) bool {
	return name != "" && len(name) <= 15 && !strings.ContainsAny(name, "/ \t,=:%")
}

// parseTapSpec parses NAME[,PREFIX...][,host=PREFIX...].
func parseTapSpec(v string) (tapSpec, error) {
	parts := strings.Split(v, ",")
	t := tapSpec{name: parts[0], hasInlines: len(parts) > 1}
	if !validDevName(t.name) {
		return t, fmt.Errorf("want an interface name of 1 to 15 characters without spaces, /, commas or =, then optionally ,PREFIX and ,host=PREFIX items")
	}
	for _, item := range parts[1:] {
		host := false
		if s, ok := strings.CutPrefix(item, "host="); ok {
			host, item = true, s
		}
		p, err := netip.ParsePrefix(item)
		if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return t, fmt.Errorf("%q: want an address with prefix length such as 10.1.0.1/24 or fd01::1/64 (host=... for the kernel side)", item)
		}
		if a := p.Addr(); a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
			return t, fmt.Errorf("%q is not a unicast address", item)
		}
		if host {
			t.hosts = append(t.hosts, p)
		} else {
			t.addrs = append(t.addrs, p)
		}
	}
	for _, h := range t.hosts {
		for _, a := range t.addrs {
			if a.Addr() == h.Addr() {
				return t, fmt.Errorf("%v is both featherip's and the kernel's address: pick another", a)
			}
		}
	}
	return t, nil
}

// devConfig is one device `featherip up` runs on.
type devConfig struct {
	name   string
	addrs  []netip.Prefix // featherip's IPv4 addresses
	addrs6 []netip.Prefix // featherip's static IPv6 addresses
	host4  []netip.Prefix // the kernel side's IPv4 addresses
	host6  []netip.Prefix // the kernel side's IPv6 addresses
	gw     netip.Addr     // IPv4 default gateway through this device
	gw6    netip.Addr     // IPv6 default gateway through this device
}

// addressFlags are the flags a device with inline addresses does without.
var addressFlags = []string{"addr", "addr6", "host-addr", "host-addr6"}

// buildDevices turns the parsed flags into o.devs, and keeps o.tap,
// o.addrs and o.hostPfx describing the first device. set holds the names
// of the flags given on the command line.
func (o *upOptions) buildDevices(set map[string]bool) error {
	if len(o.taps) == 0 {
		o.taps = tapList{{name: "fip0"}}
	}
	single := len(o.taps) == 1 && !o.taps[0].hasInlines
	if !single {
		for _, f := range addressFlags {
			if set[f] {
				return fmt.Errorf("--%s with several --tap or inline addresses: put the addresses after the device name (--tap NAME,PREFIX,host=PREFIX)", f)
			}
		}
	}
	o.devs = nil
	for _, t := range o.taps {
		d := devConfig{name: t.name}
		if single {
			d.addrs = append(d.addrs, o.addrs...)
			d.addrs6 = append(d.addrs6, o.v6.addrs6...)
			if o.hostPfx.IsValid() {
				d.host4 = append(d.host4, o.hostPfx)
			}
			if o.v6.hostPfx6.IsValid() {
				d.host6 = append(d.host6, o.v6.hostPfx6)
			}
		} else {
			for _, p := range t.addrs {
				if p.Addr().Is4() {
					d.addrs = append(d.addrs, p)
				} else {
					d.addrs6 = append(d.addrs6, p)
				}
			}
			for _, p := range t.hosts {
				if p.Addr().Is4() {
					d.host4 = append(d.host4, p)
				} else {
					d.host6 = append(d.host6, p)
				}
			}
		}
		if o.v6.noIPv6 && len(d.addrs6) > 0 {
			return fmt.Errorf("--no-ipv6 with IPv6 addresses on %s: drop one of them", d.name)
		}
		o.devs = append(o.devs, d)
	}
	if o.gateway.IsValid() {
		o.devs[o.deviceFor(o.gateway)].gw = o.gateway
	}
	if g := o.v6.gateway6; g.IsValid() {
		i := o.deviceFor(g)
		if z := g.Zone(); z != "" {
			i = -1
			for j, d := range o.devs {
				if d.name == z {
					i = j
				}
			}
			if i < 0 {
				return fmt.Errorf("--gateway6 %v: no device %q", g, z)
			}
		}
		o.devs[i].gw6 = g.WithZone("")
	}
	o.tap = o.devs[0].name
	if !single {
		o.addrs = append(prefixList(nil), o.devs[0].addrs...)
		o.hostPfx = netip.Prefix{}
		if len(o.devs[0].host4) > 0 {
			o.hostPfx = o.devs[0].host4[0]
		}
	}
	return nil
}

// deviceFor returns the index of the device whose (featherip or kernel)
// subnet holds a, else 0.
func (o *upOptions) deviceFor(a netip.Addr) int {
	a = a.WithZone("")
	for i, d := range o.devs {
		for _, list := range [][]netip.Prefix{d.addrs, d.addrs6, d.host4, d.host6} {
			for _, p := range list {
				if p.Masked().Contains(a) {
					return i
				}
			}
		}
	}
	return 0
}

// registerForwardFlags adds --forward; --tap is registered by parseUp.
func (o *upOptions) registerForwardFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.forward, "forward", false, "route between the devices: IPv4 (RFC 1812) and IPv6 forwarding on (see the --tap syntax below)")
}

// enableForwarding turns forwarding on for nic, both families
// (stack.SetForwarding covers IPv4 and IPv6). Under the core lock.
func enableForwarding(s *stack.Stack, nic stack.NIC) error {
	return s.SetForwarding(nic, true)
}
