package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/stack"
)

// openDevices opens (creating when missing) every device of o.devs and
// gives each kernel side its addresses. On error it removes what it
// opened.
func openDevices(o *upOptions) ([]*tapDevice, error) {
	var devs []*tapDevice
	fail := func(err error) ([]*tapDevice, error) {
		for _, d := range devs {
			d.remove()
		}
		return nil, err
	}
	for _, c := range o.devs {
		d, err := openTAP(c.name, o.mtu)
		if err != nil {
			return fail(err)
		}
		devs = append(devs, d)
		for _, p := range c.host4 {
			if err := configureKernel(d.link.Name(), p); err != nil {
				return fail(err)
			}
		}
		for _, p := range c.host6 {
			if err := configureKernel6(d.link.Name(), p); err != nil {
				return fail(err)
			}
		}
	}
	return devs, nil
}

// addDevices adds links[i] to h as o.devs[i] with its addresses, routes
// and forwarding, and names the interfaces in ev. The Host owns the links
// it added; on error addDevices closes the others and returns the NICs
// added so far.
func addDevices(h *featherip.Host, o *upOptions, links []link.Link, ev *addrEvents) ([]stack.NIC, error) {
	var nics []stack.NIC
	for i, l := range links {
		c := o.devs[i]
		nic, err := h.AddInterface(l, featherip.InterfaceConfig{Name: c.name, Addrs: c.addrs, Gateway: c.gw, MTU: min(o.mtu, l.MTU())})
		if err != nil {
			for _, l := range links[i:] {
				l.Close()
			}
			return nics, err
		}
		nics = append(nics, nic)
		h.Do(func(s *stack.Stack) {
			ev.names[nic] = c.name
			if len(c.addrs6) > 0 || c.gw6.IsValid() {
				err = addIPv6(s, nic, c.addrs6, c.gw6)
			}
			if err == nil && o.forward {
				err = enableForwarding(s, nic)
			}
		})
		if err != nil {
			for _, l := range links[i+1:] {
				l.Close()
			}
			return nics, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nics, nil
}

// readyLine is the one line that says featherip runs and how to reach it:
// per device its name, IPv4 addresses, MAC, the kernel side's addresses
// and featherip's usable IPv6 addresses (addrs6[i], may be nil), devices
// separated by "; ".
func readyLine(o *upOptions, links []link.Link, addrs6 [][]netip.Prefix) string {
	var b strings.Builder
	b.WriteString("ready")
	var first, first6 netip.Addr
	for i, c := range o.devs {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s", c.name)
		for _, a := range c.addrs {
			fmt.Fprintf(&b, " %v", a)
			if !first.IsValid() {
				first = a.Addr()
			}
		}
		if i < len(links) {
			if hw := links[i].HardwareAddr(); hw != nil {
				fmt.Fprintf(&b, " mac %v", hw)
			}
		}
		for _, p := range c.host4 {
			fmt.Fprintf(&b, " host %v", p)
		}
		if i < len(addrs6) && len(addrs6[i]) > 0 {
			b.WriteString(" ipv6")
			for _, p := range addrs6[i] {
				fmt.Fprintf(&b, " %v", p)
				if !first6.IsValid() && !p.Addr().IsLinkLocalUnicast() {
					first6 = p.Addr()
				}
			}
		}
		for _, p := range c.host6 {
			fmt.Fprintf(&b, " host6 %v", p)
		}
	}
	if o.forward {
		b.WriteString("  forwarding")
	}
	fmt.Fprintf(&b, "  tcp: echo %d, discard %d, chargen %d, iperf %d", portEcho, portDiscard, portChargen, portIperf)
	switch {
	case first.IsValid():
		a := first
		fmt.Fprintf(&b, "  status: http://%v/", a)
		fmt.Fprintf(&b, "  try: ping %v; echo hi | socat - udp:%v:7; iperf -c %v", a, a, a)
	case first6.IsValid():
		a := first6
		fmt.Fprintf(&b, "  status: http://[%v]/", a)
		fmt.Fprintf(&b, "  try: ping -6 %v; echo hi | socat - udp6:[%v]:7", a, a)
	}
	return b.String()
}
