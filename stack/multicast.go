package stack

import (
	"net/netip"

	"github.com/featherip/featherip/wire"
)

// allHosts is 224.0.0.1, which every IPv4 multicast host receives (RFC 1112).
var allHosts = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// MulticastFilter is an optional interface of a Link whose hardware or
// kernel filters multicast frames (a NIC's multicast table, a TAP
// device's, a switch port). When the set of link-layer groups an
// interface must receive changes (an IPv4 or IPv6 group joined or left,
// an IPv6 address added or removed) and when the interface comes up, the
// stack calls SetMulticast with the complete list, which always holds
// 01:00:5e:00:00:01 (224.0.0.1, RFC 1112 6.4), with IPv6 on also
// 33:33:00:00:00:01 (ff02::1, RFC 2464 7) and the 33:33:ff:.. MACs of the
// solicited-node groups of the interface's addresses, and holds each
// address once. The slice is only valid during the call. An error is counted in
// LinkStats.MulticastFilterErrors; the stack keeps its own filter either
// way. Links without the interface are assumed to pass every multicast
// frame up.
type MulticastFilter interface {
	SetMulticast(macs []wire.MAC) error
}

// JoinGroup adds an any-source membership of an IPv4 multicast group to
// an interface (an EXCLUDE {} membership, see JoinGroupSource): the group
// is received, and IGMP reports it (igmp.go). Joins are counted: the
// membership stays until as many LeaveGroup calls. At most
// Config.MaxGroups groups per interface. 224.0.0.1 is always received and
// never reported.
//
// IPv6 groups are joined the same way (JoinGroupSource6) and reported by
// MLD (mld.go); ff02::1 is always received and never reported.
func (s *Stack) JoinGroup(id NIC, g netip.Addr) error {
	s.ctlChanged()
	if g.Is6() && !g.Is4In6() {
		return s.JoinGroupSource6(id, g, nil, Exclude)
	}
	return s.JoinGroupSource(id, g, nil, Exclude)
}

// LeaveGroup drops one membership added with JoinGroup; when the last
// membership of the group goes, IGMP reports the leave.
// The same holds for IPv6 groups, whose leave MLD reports.
func (s *Stack) LeaveGroup(id NIC, g netip.Addr) error {
	s.ctlChanged()
	if g.Is6() && !g.Is4In6() {
		return s.LeaveGroupSource6(id, g, nil, Exclude)
	}
	return s.LeaveGroupSource(id, g, nil, Exclude)
}

// Groups returns the groups joined on an interface, IPv4 first, then
// IPv6 (without 224.0.0.1, ff02::1 and the stack's own solicited-node
// memberships unless joined explicitly).
func (s *Stack) Groups(id NIC) []netip.Addr {
	n := s.nic(id)
	if n == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(n.groups))
	for i := range n.groups {
		if n.groups[i].active() {
			out = append(out, n.groups[i].addr)
		}
	}
	for i := range n.auto.groups {
		if g := &n.auto.groups[i]; g.refs > g.sys || g.inRefs > 0 {
			out = append(out, g.addr)
		}
	}
	return out
}

// inGroup reports whether n receives datagrams for multicast group g
// (from some source).
func (n *nic) inGroup(g netip.Addr) bool {
	if g == allHosts {
		return true
	}
	for i := range n.groups {
		if n.groups[i].addr == g {
			return n.groups[i].active()
		}
	}
	return false
}

// acceptMulticast reports whether n joined g and whether its source
// filter (RFC 3376 3.2) admits datagrams from src.
func (n *nic) acceptMulticast(g, src netip.Addr) (joined, accepted bool) {
	if g == allHosts {
		return true, true
	}
	for i := range n.groups {
		gr := &n.groups[i]
		if gr.addr == g {
			if !gr.active() {
				return false, false
			}
			return true, gr.accepts(src)
		}
	}
	return false, false
}

// syncMulticastFilter hands n's link-layer groups to a Link that
// implements MulticastFilter.
func (s *Stack) syncMulticastFilter(n *nic) {
	f, ok := n.link.(MulticastFilter)
	if !ok || n.kind != LinkEthernet {
		return
	}
	macs := make([]wire.MAC, 1, len(n.groups)+1)
	macs[0] = wire.IPv4MulticastMAC(allHosts)
	for i := range n.groups {
		if !n.groups[i].active() {
			continue
		}
		m := wire.IPv4MulticastMAC(n.groups[i].addr)
		dup := false
		for _, x := range macs {
			dup = dup || x == m
		}
		if !dup {
			macs = append(macs, m)
		}
	}
	if s.ipv6On() {
		macs = n.appendIPv6MACs(macs) // all-nodes, solicited-node and joined IPv6 groups (ipv6_addr.go)
	}
	if err := f.SetMulticast(macs); err != nil {
		s.stats.Link.MulticastFilterErrors++
	}
}
