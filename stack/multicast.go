package stack

import "net/netip"

// allHosts is 224.0.0.1, which every IPv4 multicast host receives (RFC 1112).
var allHosts = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// JoinGroup adds an IPv4 multicast group to an interface's receive filter.
// Joins are counted: the group stays until as many LeaveGroup calls. At most
// Config.MaxGroups groups per interface. 224.0.0.1 is always received.
// (IGMP membership reports come with the IGMP issue.)
func (s *Stack) JoinGroup(id NIC, g netip.Addr) error {
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	if !g.Is4() || !g.IsMulticast() {
		return ErrInvalid
	}
	for i := range n.groups {
		if n.groups[i].addr == g {
			n.groups[i].refs++
			return nil
		}
	}
	if len(n.groups) >= s.cfg.MaxGroups {
		return ErrBufferFull
	}
	n.groups = append(n.groups, group{addr: g, refs: 1})
	return nil
}

// LeaveGroup drops one reference to a group joined with JoinGroup.
func (s *Stack) LeaveGroup(id NIC, g netip.Addr) error {
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	for i := range n.groups {
		if n.groups[i].addr == g {
			n.groups[i].refs--
			if n.groups[i].refs == 0 {
				n.groups = append(n.groups[:i], n.groups[i+1:]...)
			}
			return nil
		}
	}
	return ErrNotFound
}

// Groups returns the groups joined on an interface (without 224.0.0.1).
func (s *Stack) Groups(id NIC) []netip.Addr {
	n := s.nic(id)
	if n == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(n.groups))
	for _, g := range n.groups {
		out = append(out, g.addr)
	}
	return out
}

// inGroup reports whether n receives datagrams for multicast group g.
func (n *nic) inGroup(g netip.Addr) bool {
	if g == allHosts {
		return true
	}
	for i := range n.groups {
		if n.groups[i].addr == g {
			return true
		}
	}
	return false
}
