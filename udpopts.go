package featherip

import (
	"net"
	"net/netip"
	"syscall"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
)

func stackNIC(n int) stack.NIC { return stack.NIC(n) }

// setOpt runs fn on the pcb under the core lock, failing on a closed
// socket, and wraps its error as a setsockopt failure.
func (c *UDPConn) setOpt(fn func(p *udp.PCB) error) error {
	h := c.h
	h.mu.Lock()
	var err error
	if c.closedLocked() {
		err = net.ErrClosed
	} else {
		err = fn(c.pcb)
	}
	h.rearmLocked()
	h.mu.Unlock()
	return c.err("set", "setsockopt", nil, err)
}

// closedLocked reports whether the socket is closed (h.mu held).
func (d *dgramSock) closedLocked() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// SetBroadcast allows or forbids sending to broadcast addresses
// (SO_BROADCAST). Without it such writes fail with EACCES, as on Linux.
func (c *UDPConn) SetBroadcast(on bool) error {
	return c.setOpt(func(p *udp.PCB) error { p.SetBroadcast(on); return nil })
}

// SetTTL sets the TTL of unicast and broadcast datagrams (IP_TTL); 0
// selects the stack's default.
func (c *UDPConn) SetTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return c.err("set", "setsockopt", nil, syscall.EINVAL)
	}
	return c.setOpt(func(p *udp.PCB) error { p.SetTTL(uint8(ttl)); return nil })
}

// SetTOS sets the IPv4 TOS byte of sent datagrams (IP_TOS).
func (c *UDPConn) SetTOS(tos int) error {
	if tos < 0 || tos > 255 {
		return c.err("set", "setsockopt", nil, syscall.EINVAL)
	}
	return c.setOpt(func(p *udp.PCB) error { p.SetTOS(uint8(tos)); return nil })
}

// SetMulticastTTL sets the TTL of multicast datagrams (IP_MULTICAST_TTL,
// default 1, RFC 1112).
func (c *UDPConn) SetMulticastTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return c.err("set", "setsockopt", nil, syscall.EINVAL)
	}
	return c.setOpt(func(p *udp.PCB) error { p.SetMulticastTTL(uint8(ttl)); return nil })
}

// SetMulticastLoopback sets whether multicast datagrams this socket sends
// are also delivered on this host (IP_MULTICAST_LOOP, default on).
func (c *UDPConn) SetMulticastLoopback(on bool) error {
	return c.setOpt(func(p *udp.PCB) error { p.SetMulticastLoop(on); return nil })
}

// SetMulticastInterface sets the interface multicast datagrams leave by
// (IP_MULTICAST_IF); nil chooses by route.
func (c *UDPConn) SetMulticastInterface(ifi *net.Interface) error {
	return c.setOpt(func(p *udp.PCB) error {
		nic := 0
		if ifi != nil {
			var ok bool
			if nic, ok = c.h.interfaceNICLocked(ifi); !ok {
				return stack.ErrNoSuchInterface
			}
		}
		p.SetMulticastInterface(stack.NIC(nic))
		return nil
	})
}

// JoinGroup joins the multicast group (a *net.UDPAddr or *net.IPAddr) on
// ifi (from [Host.Interfaces]; nil picks the interface by the group's
// zone or route, or the only non-loopback one), as golang.org/x/net/ipv4's
// and ipv6's PacketConn.JoinGroup. IPv6 groups (reported by MLD) need an
// IPv6 or dual-stack socket, IPv4 groups (IGMP) an IPv4 or dual-stack one
// (EINVAL otherwise).
// The socket then receives datagrams sent to the group and its port.
// Joining twice fails with EADDRINUSE; at most 20 groups per socket
// (ENOBUFS). Close leaves every group.
func (c *UDPConn) JoinGroup(ifi *net.Interface, group net.Addr) error {
	return c.membership("join", ifi, group, true)
}

// LeaveGroup leaves a group joined with JoinGroup (EADDRNOTAVAIL when it
// was not joined).
func (c *UDPConn) LeaveGroup(ifi *net.Interface, group net.Addr) error {
	return c.membership("leave", ifi, group, false)
}

func (c *UDPConn) membership(op string, ifi *net.Interface, group net.Addr, join bool) error {
	g, err := ipOf(group)
	if err == nil && (!g.IsMulticast() || !c.fam.accepts(g)) {
		err = syscall.EINVAL // not a group, or one of the other family
	}
	if err != nil {
		return c.err(op, "setsockopt", group, err)
	}
	h := c.h
	h.mu.Lock()
	err = c.membershipLocked(ifi, g, join)
	h.rearmLocked()
	h.mu.Unlock()
	return c.err(op, "setsockopt", group, err)
}

func (c *UDPConn) membershipLocked(ifi *net.Interface, g netip.Addr, join bool) error {
	if c.closedLocked() {
		return net.ErrClosed
	}
	nic, err := c.h.multicastNICLocked(ifi, g) // an IPv6 group's zone names the interface
	if err != nil {
		return err
	}
	g = g.WithZone("")
	m := mgroup{nic: nic, group: g}
	at := -1
	for i, x := range c.groups {
		if x == m {
			at = i
		}
	}
	if !join {
		if at < 0 {
			return syscall.EADDRNOTAVAIL
		}
		c.groups = append(c.groups[:at], c.groups[at+1:]...)
		return c.h.s.LeaveGroup(stack.NIC(nic), g)
	}
	if at >= 0 {
		return syscall.EADDRINUSE
	}
	if len(c.groups) >= maxMemberships {
		return syscall.ENOBUFS
	}
	if err := c.h.s.JoinGroup(stack.NIC(nic), g); err != nil {
		return err
	}
	c.groups = append(c.groups, m)
	return nil
}

// multicastNICLocked picks the interface for a membership: ifi, else the
// route to the group, else the only non-loopback interface that is up.
func (h *Host) multicastNICLocked(ifi *net.Interface, g netip.Addr) (int, error) {
	if ifi != nil {
		nic, ok := h.interfaceNICLocked(ifi)
		if !ok {
			return 0, stack.ErrNoSuchInterface
		}
		return nic, nil
	}
	if _, nic, _, err := h.s.Route(g); err == nil {
		return int(nic), nil
	}
	found := 0
	for _, i := range h.s.Interfaces() {
		if i.Up && i.NIC != stack.LoopbackNIC {
			if found != 0 {
				return 0, syscall.ENODEV
			}
			found = int(i.NIC)
		}
	}
	if found == 0 {
		return 0, syscall.ENODEV
	}
	return found, nil
}

// Interfaces lists the host's interfaces as package net describes them
// (Index is the stack's NIC number), for JoinGroup and
// SetMulticastInterface.
func (h *Host) Interfaces() []net.Interface {
	h.mu.Lock()
	infos := h.s.Interfaces()
	h.mu.Unlock()
	out := make([]net.Interface, 0, len(infos))
	for _, i := range infos {
		ifi := net.Interface{Index: int(i.NIC), MTU: i.MTU, Name: i.Name}
		if i.Up {
			ifi.Flags |= net.FlagUp | net.FlagRunning
		}
		switch i.Kind {
		case stack.LinkEthernet:
			ifi.HardwareAddr = net.HardwareAddr(i.MAC[:])
			ifi.Flags |= net.FlagBroadcast | net.FlagMulticast
		case stack.LinkLoopback:
			ifi.Flags |= net.FlagLoopback | net.FlagMulticast
		default:
			ifi.Flags |= net.FlagPointToPoint | net.FlagMulticast
		}
		out = append(out, ifi)
	}
	return out
}

// InterfaceByName returns the interface called name (see Interfaces).
func (h *Host) InterfaceByName(name string) (*net.Interface, error) {
	for _, i := range h.Interfaces() {
		if i.Name == name {
			return &i, nil
		}
	}
	return nil, &net.OpError{Op: "route", Net: "ip+net", Err: syscall.ENODEV}
}
