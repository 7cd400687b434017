package stack

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// NIC is an interface index; 0 means "none / choose by route". The loopback
// interface is NIC 1.
type NIC int

// LoopbackNIC is the loopback interface every stack has.
const LoopbackNIC NIC = 1

// LinkKind says what the frames of an interface's link start with.
type LinkKind int

const (
	// LinkEthernet frames carry an Ethernet II header (TAP, in-memory switch).
	LinkEthernet LinkKind = iota
	// LinkIP frames are bare IP packets (TUN, PPP).
	LinkIP
	// LinkLoopback is the stack's own loopback: it has no Link.
	LinkLoopback
)

// String names the kind.
func (k LinkKind) String() string {
	switch k {
	case LinkEthernet:
		return "ethernet"
	case LinkIP:
		return "ip"
	case LinkLoopback:
		return "loopback"
	}
	return "unknown"
}

// Link is the stack's view of a driver. frame is only valid during Send.
type Link interface{ Send(frame []byte) error }

// InterfaceConfig describes an interface to add.
type InterfaceConfig struct {
	// Name is unique among the stack's interfaces, e.g. "eth0".
	Name string
	// Link sends frames. Required except for LinkLoopback.
	Link Link
	// Kind says whether frames carry an Ethernet header.
	Kind LinkKind
	// MTU is the largest IP packet (without link header). Default 1500;
	// at least 68 (RFC 791), at most 65535.
	MTU int
	// MAC is the interface's address; required (unicast, non-zero) for LinkEthernet.
	MAC wire.MAC
}

// InterfaceInfo describes an interface.
type InterfaceInfo struct {
	Name  string
	NIC   NIC
	Kind  LinkKind
	MTU   int
	MAC   wire.MAC
	Up    bool
	Addrs []netip.Prefix
}

// group is one multicast group of an interface: refs counts its EXCLUDE
// memberships (JoinGroup), igmpGroup the rest of its state (igmp.go).
type group struct {
	addr netip.Addr
	refs int
	igmpGroup
}

// nic is one interface.
type nic struct {
	id     NIC
	name   string
	link   Link
	kind   LinkKind
	mtu    int
	mac    wire.MAC
	up     bool
	addrs  []netip.Prefix // IPv4 addresses, capacity MaxAddresses
	groups []group        // IPv4 multicast receive filter, capacity MaxGroups

	noForward bool      // forwarding of datagrams received here is off (forward.go)
	igmp      igmpIface // IGMP host state (igmp.go)

	announceLeft int           // gratuitous ARP announcements still to send
	announceAt   time.Duration // when the next one is due

	ip6  nic6     // IPv6 state: addresses, groups, link MTU, NDP times (ipv6_addr.go)
	auto autoconf // IPv6 autoconfiguration and MLD host state (slaac.go, ra.go, mld.go)
}

func (s *Stack) addLoopback() error {
	n, err := s.AddInterface(InterfaceConfig{Name: "lo", Kind: LinkLoopback, MTU: 65535})
	if err != nil {
		return err
	}
	if err := s.AddAddress(n, netip.MustParsePrefix("127.0.0.1/8")); err != nil {
		return err
	}
	if s.ipv6On() {
		if err := s.AddAddress(n, netip.MustParsePrefix("::1/128")); err != nil {
			return err
		}
	}
	return s.SetUp(n, true)
}

// nic returns the interface for id, or nil.
func (s *Stack) nic(id NIC) *nic {
	if id < 1 || int(id) > len(s.nics) {
		return nil
	}
	return s.nics[id-1]
}

// AddInterface adds a down interface and returns its NIC number.
func (s *Stack) AddInterface(cfg InterfaceConfig) (NIC, error) {
	s.ctlChanged()
	if len(s.nics) >= s.cfg.MaxInterfaces {
		return 0, ErrBufferFull
	}
	if cfg.Name == "" {
		return 0, ErrInvalid
	}
	for _, n := range s.nics {
		if n.name == cfg.Name {
			return 0, ErrExists
		}
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.MTU < 68 || cfg.MTU > 65535 {
		return 0, ErrInvalid
	}
	switch cfg.Kind {
	case LinkEthernet:
		if cfg.Link == nil || cfg.MAC == (wire.MAC{}) || cfg.MAC.IsMulticast() {
			return 0, ErrInvalid
		}
	case LinkIP:
		if cfg.Link == nil {
			return 0, ErrInvalid
		}
	case LinkLoopback:
	default:
		return 0, ErrInvalid
	}
	n := &nic{
		id: NIC(len(s.nics) + 1), name: cfg.Name, link: cfg.Link, kind: cfg.Kind, mtu: cfg.MTU, mac: cfg.MAC,
		addrs:  make([]netip.Prefix, 0, s.cfg.MaxAddresses),
		groups: make([]group, 0, s.cfg.MaxGroups),
	}
	n.ip6.addrs = make([]ipv6Addr, 0, s.cfg.MaxAddresses)
	s.nics = append(s.nics, n)
	s.routeInputsChanged()
	return n.id, nil
}

// SetUp brings an interface up or down. Bringing an Ethernet interface up
// schedules gratuitous ARP announcements for its addresses (RFC 5227 2.3);
// bringing it down forgets its dynamic neighbors and drops what waits for them.
func (s *Stack) SetUp(id NIC, up bool) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	if n.up == up {
		return nil
	}
	n.up = up
	s.routeInputsChanged()
	if up {
		s.scheduleAnnounce(n)
		s.syncMulticastFilter(n) // the driver may have reset its filter while down
	} else {
		n.announceLeft = 0
		s.arpFlushNIC(n.id) // also invalidates the cached ARP deadline
	}
	s.interfaceUp6(n, up)
	return nil
}

// AddAddress adds an IPv4 or IPv6 address with its prefix length to an
// interface and the connected route for its subnet (none for an IPv6 /128).
//
// An IPv6 address added here is static and goes through duplicate address
// detection like an autoconfigured one (RFC 4862 5.4: "regardless of
// whether they are obtained through stateless autoconfiguration, DHCPv6,
// or manual configuration"): it stays tentative (listed by Addresses, but
// neither used as a source nor answered for) while the interface is down
// and for SLAACConfig.DupAddrDetectTransmits probes, RetransTimer apart,
// once it is up (plus a random delay of up to 1s when DAD starts as the
// interface comes up). Then it becomes preferred and
// Config.OnAddressChange reports it. Found duplicate, it is removed with
// its connected route, counted in AutoconfStats.DADFailures and reported
// through Config.OnDADFailure. When the interface goes down and up again,
// DAD runs again (the address is reported gone at down). Loopback
// addresses, and every address when DupAddrDetectTransmits is negative,
// skip DAD; AddAddressNoDAD skips it for one address.
func (s *Stack) AddAddress(id NIC, p netip.Prefix) error {
	return s.addAddress(id, p, true)
}

// AddAddressNoDAD is AddAddress without duplicate address detection, like
// Linux's `ip addr add ... nodad`: an IPv6 address is preferred at once
// and no OnAddressChange call reports it. For an IPv4 address it is
// AddAddress.
func (s *Stack) AddAddressNoDAD(id NIC, p netip.Prefix) error {
	return s.addAddress(id, p, false)
}

// addAddress is AddAddress, with DAD for an IPv6 address when dad is set.
func (s *Stack) addAddress(id NIC, p netip.Prefix, dad bool) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	a := p.Addr()
	if p.IsValid() && is6(a) {
		return s.addAddress6(n, p, dad)
	}
	if !p.IsValid() || !a.Is4() || a.IsMulticast() || a.IsUnspecified() || a == limitedBroadcast {
		return ErrInvalid
	}
	if s.IsLocal(a) {
		return ErrExists
	}
	if len(n.addrs) >= s.cfg.MaxAddresses {
		return ErrBufferFull
	}
	r := Route{Dst: p.Masked(), NIC: id}
	if !s.hasRoute(r) {
		if err := s.AddRoute(r); err != nil {
			return err
		}
	}
	n.addrs = append(n.addrs, p)
	s.routeInputsChanged()
	if n.up {
		s.scheduleAnnounce(n)
	}
	return nil
}

// RemoveAddress removes an address from an interface, and its connected
// route unless another address of the interface is in the same subnet.
func (s *Stack) RemoveAddress(id NIC, a netip.Addr) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	if is6(a) {
		return s.removeAddress6(n, a)
	}
	for i, p := range n.addrs {
		if p.Addr() != a {
			continue
		}
		n.addrs = append(n.addrs[:i], n.addrs[i+1:]...)
		s.routeInputsChanged()
		shared := false
		for _, q := range n.addrs {
			if q.Masked() == p.Masked() {
				shared = true
			}
		}
		if !shared {
			_ = s.RemoveRoute(Route{Dst: p.Masked(), NIC: id})
		}
		return nil
	}
	return ErrNotFound
}

// Addresses returns a copy of an interface's addresses (nil for an unknown NIC).
func (s *Stack) Addresses(id NIC) []netip.Prefix {
	n := s.nic(id)
	if n == nil {
		return nil
	}
	return n.appendAddrs6(append([]netip.Prefix(nil), n.addrs...))
}

// InterfaceName returns the name of an interface ("" for an unknown NIC),
// the zone of its IPv6 link-local addresses (RFC 4007).
func (s *Stack) InterfaceName(id NIC) string {
	if n := s.nic(id); n != nil {
		return n.name
	}
	return ""
}

// Interfaces describes every interface, loopback first.
func (s *Stack) Interfaces() []InterfaceInfo {
	out := make([]InterfaceInfo, 0, len(s.nics))
	for _, n := range s.nics {
		out = append(out, InterfaceInfo{Name: n.name, NIC: n.id, Kind: n.kind, MTU: n.mtu, MAC: n.mac, Up: n.up,
			Addrs: n.appendAddrs6(append([]netip.Prefix(nil), n.addrs...))})
	}
	return out
}

// IsLocal reports whether a is one of our unicast addresses (any interface).
func (s *Stack) IsLocal(a netip.Addr) bool {
	for _, n := range s.nics {
		if n.hasAddr(a) {
			return true
		}
	}
	return false
}

// IsBroadcast reports whether a is the limited broadcast address or a
// directed broadcast of one of nic's subnets (any interface when nic is 0).
func (s *Stack) IsBroadcast(id NIC, a netip.Addr) bool {
	if a == limitedBroadcast {
		return true
	}
	if id == 0 {
		for _, n := range s.nics {
			if n.isDirectedBroadcast(a) {
				return true
			}
		}
		return false
	}
	n := s.nic(id)
	return n != nil && n.isDirectedBroadcast(a)
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

func (n *nic) hasAddr(a netip.Addr) bool {
	if a.Is6() {
		return n.hasAddr6(a)
	}
	for _, p := range n.addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// isDirectedBroadcast reports whether a is the all-ones host of one of n's
// subnets (prefixes shorter than /31, RFC 922 / RFC 3021).
func (n *nic) isDirectedBroadcast(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	for _, p := range n.addrs {
		if p.Bits() < 31 && a == subnetBroadcast(p) {
			return true
		}
	}
	return false
}

// subnetBroadcast returns the all-ones host address of an IPv4 prefix.
func subnetBroadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= ^uint32(0) >> uint(p.Bits())
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// sourceFor picks the source address for traffic to dst (or via gateway
// nextHop) on n: an address whose subnet contains nextHop, else the first
// address, else 0.0.0.0.
func (n *nic) sourceFor(nextHop netip.Addr) netip.Addr {
	for _, p := range n.addrs {
		if p.Contains(nextHop) {
			return p.Addr()
		}
	}
	if len(n.addrs) > 0 {
		return n.addrs[0].Addr()
	}
	return netip.IPv4Unspecified()
}
