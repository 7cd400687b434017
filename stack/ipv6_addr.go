package stack

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// IPv6 per-interface state: addresses with their DAD state and lifetimes
// (RFC 4862 5.5.4), the multicast receive filter, the link MTU learned from
// router advertisements and the NDP timers (RFC 4861 6.3.2). The private
// functions here are the hooks the autoconfiguration and MLD code
// (slaac.go, ra.go, mld.go) call.

// IPv6Config configures IPv6. Zero fields take the defaults given.
type IPv6Config struct {
	// Disabled turns IPv6 off: IPv6 frames are dropped (counted in
	// IPv6Stats.InDiscards) and interfaces get no IPv6 addresses. IPv6 is
	// on by default.
	Disabled bool
	// HopLimit is the hop limit of datagrams sent without one. Default 64.
	HopLimit uint8
	// NDP configures the IPv6 neighbor cache (RFC 4861).
	NDP NDPConfig
	// Reassembly bounds IPv6 reassembly (RFC 8200 4.5). Defaults as for
	// IPv4 except Timeout, 60s (RFC 8200 4.5).
	Reassembly ReassemblyConfig
	// MaxExtensionHeaders bounds the extension headers of one packet;
	// longer chains are dropped (IPv6Stats.InExtChainTooLong). Default 8.
	MaxExtensionHeaders int
	// MaxExtensionBytes bounds the bytes of one extension header chain. Default 2048.
	MaxExtensionBytes int
	// PMTUCacheSize bounds the path MTU cache (RFC 8201). Default 32; when
	// full, the least recently updated entry is replaced.
	PMTUCacheSize int
	// PMTUTimeout is how long a lowered path MTU is kept before the link MTU
	// is tried again (RFC 8201 5.3: at least 5 minutes, 10 recommended). Default 10 minutes.
	PMTUTimeout time.Duration
	// ICMPRateLimit limits the ICMPv6 errors we send (RFC 4443 2.4 (f)).
	// Default 100/s, burst 50.
	ICMPRateLimit RateLimitConfig
	// IgnoreMulticastEcho makes the stack ignore echo requests sent to
	// multicast addresses. By default they are answered (RFC 4443 4.2).
	IgnoreMulticastEcho bool
	// Forwarding makes the stack an IPv6 router (RFC 8200, forward6.go):
	// packets for other nodes received on an interface with forwarding on
	// (SetForwarding, shared with IPv4) are forwarded, and such interfaces
	// act as routers (all-routers group, no SLAAC, router flag in neighbor
	// advertisements). Independent of Config.Forwarding (IPv4). Default
	// false (a host, RFC 8504).
	Forwarding bool
}

func (c *IPv6Config) setDefaults() {
	d := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	dt := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	if c.HopLimit == 0 {
		c.HopLimit = 64
	}
	c.NDP.setDefaults()
	d(&c.Reassembly.MaxBytes, 256<<10)
	d(&c.Reassembly.MaxDatagrams, 16)
	d(&c.Reassembly.MaxFragments, 64)
	dt(&c.Reassembly.Timeout, 60*time.Second)
	d(&c.MaxExtensionHeaders, wire.IPv6DefaultMaxExtensions)
	d(&c.MaxExtensionBytes, wire.IPv6DefaultMaxExtensionBytes)
	d(&c.PMTUCacheSize, 32)
	dt(&c.PMTUTimeout, 10*time.Minute)
	d(&c.ICMPRateLimit.PerSecond, 100)
	d(&c.ICMPRateLimit.Burst, 50)
}

// validate returns the name of a bad field and the fix, or "".
func (c *IPv6Config) validate() (string, any, string) {
	pos := []struct {
		name string
		v    int
	}{
		{"IPv6.NDP.CacheSize", c.NDP.CacheSize}, {"IPv6.NDP.QueueLen", c.NDP.QueueLen},
		{"IPv6.NDP.QueueTotal", c.NDP.QueueTotal}, {"IPv6.NDP.MaxMulticastSolicit", c.NDP.MaxMulticastSolicit},
		{"IPv6.NDP.MaxUnicastSolicit", c.NDP.MaxUnicastSolicit},
		{"IPv6.Reassembly.MaxBytes", c.Reassembly.MaxBytes}, {"IPv6.Reassembly.MaxDatagrams", c.Reassembly.MaxDatagrams},
		{"IPv6.Reassembly.MaxFragments", c.Reassembly.MaxFragments},
		{"IPv6.MaxExtensionHeaders", c.MaxExtensionHeaders}, {"IPv6.MaxExtensionBytes", c.MaxExtensionBytes},
		{"IPv6.PMTUCacheSize", c.PMTUCacheSize}, {"IPv6.ICMPRateLimit.Burst", c.ICMPRateLimit.Burst},
	}
	for _, p := range pos {
		if p.v < 0 {
			return p.name, p.v, "must be positive (0 selects the default)"
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"IPv6.NDP.RetransTimer", c.NDP.RetransTimer}, {"IPv6.NDP.ReachableTime", c.NDP.ReachableTime},
		{"IPv6.NDP.DelayFirstProbeTime", c.NDP.DelayFirstProbeTime},
		{"IPv6.Reassembly.Timeout", c.Reassembly.Timeout}, {"IPv6.PMTUTimeout", c.PMTUTimeout},
	}
	for _, p := range durs {
		if p.v < 0 {
			return p.name, p.v, "must be positive (0 selects the default)"
		}
	}
	if c.NDP.QueueTotal < c.NDP.QueueLen {
		return "IPv6.NDP.QueueTotal", c.NDP.QueueTotal, "must be at least IPv6.NDP.QueueLen"
	}
	return "", nil, ""
}

// addrState is the state of an IPv6 address (RFC 4862 5.5.4).
type addrState int

const (
	addrTentative  addrState = iota // DAD running: not used, not answered for
	addrPreferred                   // usable
	addrDeprecated                  // usable, but avoided as a source (RFC 6724 rule 3)
)

func (st addrState) String() string {
	switch st {
	case addrTentative:
		return "tentative"
	case addrPreferred:
		return "preferred"
	case addrDeprecated:
		return "deprecated"
	}
	return "unknown"
}

// ipv6Addr is one IPv6 address of an interface. The deadlines are clock
// readings; 0 means infinite. Whoever set them (SLAAC) runs their expiry.
type ipv6Addr struct {
	prefix         netip.Prefix
	state          addrState
	validUntil     time.Duration
	preferredUntil time.Duration

	// Static addresses (AddAddress) run their own DAD (staticdad.go);
	// autoconfigured ones are driven by n.auto (slaac.go).
	static  bool
	dad     bool          // static: DAD runs whenever the interface comes up
	dadLeft int           // static, tentative, up: DAD probes still to send
	dadAt   time.Duration // static, tentative, up: the next DAD step
}

// group6 is one IPv6 multicast group of an interface's receive filter.
type group6 struct {
	addr netip.Addr
	refs int
}

// nic6 is the IPv6 part of an interface.
type nic6 struct {
	addrs     []ipv6Addr // capacity MaxAddresses
	groups    []group6   // capacity MaxGroups
	linkMTU   int        // MTU from router advertisements; 0 => the interface MTU
	reachable time.Duration
	retrans   time.Duration
}

// ipv6On reports whether IPv6 is enabled.
func (s *Stack) ipv6On() bool { return !s.cfg.IPv6.Disabled }

// mtu6 is the IPv6 link MTU of n.
func (n *nic) mtu6() int {
	if n.ip6.linkMTU > 0 && n.ip6.linkMTU < n.mtu {
		return n.ip6.linkMTU
	}
	return n.mtu
}

// find6 returns n's entry for a (zone ignored), or nil.
func (n *nic) find6(a netip.Addr) *ipv6Addr {
	a = a.WithZone("")
	for i := range n.ip6.addrs {
		if n.ip6.addrs[i].prefix.Addr() == a {
			return &n.ip6.addrs[i]
		}
	}
	return nil
}

// hasAddr6 reports whether a is a usable (not tentative) address of n.
func (n *nic) hasAddr6(a netip.Addr) bool {
	e := n.find6(a)
	return e != nil && e.state != addrTentative
}

// addIPv6Addr adds an address to n in state st with deadlines (0 =
// infinite). It adds no route (on-link prefixes come from AddAddress or
// setOnLinkPrefix, RFC 5942). ErrExists when any interface has it.
func (s *Stack) addIPv6Addr(n *nic, p netip.Prefix, st addrState, validUntil, preferredUntil time.Duration) error {
	a := p.Addr().WithZone("")
	if !p.IsValid() || !a.Is6() || a.Is4In6() || a.IsMulticast() || a.IsUnspecified() {
		return ErrInvalid
	}
	p = netip.PrefixFrom(a, p.Bits())
	for _, x := range s.nics {
		if x.find6(a) != nil {
			return ErrExists
		}
	}
	if len(n.ip6.addrs) >= s.cfg.MaxAddresses {
		return ErrBufferFull
	}
	n.ip6.addrs = append(n.ip6.addrs, ipv6Addr{prefix: p, state: st, validUntil: validUntil, preferredUntil: preferredUntil})
	s.syncMulticastFilter6(n) // its solicited-node group
	return nil
}

// removeIPv6Addr removes an address of n (no route is touched).
func (s *Stack) removeIPv6Addr(n *nic, a netip.Addr) {
	a = a.WithZone("")
	for i := range n.ip6.addrs {
		if n.ip6.addrs[i].prefix.Addr() == a {
			n.ip6.addrs = append(n.ip6.addrs[:i], n.ip6.addrs[i+1:]...)
			s.syncMulticastFilter6(n)
			return
		}
	}
}

// setIPv6AddrState changes the state of an address of n.
func (s *Stack) setIPv6AddrState(n *nic, a netip.Addr, st addrState) {
	if e := n.find6(a); e != nil {
		e.state = st
	}
}

// setIPv6AddrLifetimes updates the deadlines of an address of n (0 = infinite).
func (s *Stack) setIPv6AddrLifetimes(n *nic, a netip.Addr, validUntil, preferredUntil time.Duration) {
	if e := n.find6(a); e != nil {
		e.validUntil, e.preferredUntil = validUntil, preferredUntil
	}
}

// joinIPv6Group adds a reference to group g in n's receive filter.
// All-nodes (ff02::1) and the solicited-node groups of n's addresses are
// always received and need no join.
func (s *Stack) joinIPv6Group(n *nic, g netip.Addr) error {
	g = g.WithZone("")
	if !g.Is6() || !g.IsMulticast() {
		return ErrInvalid
	}
	for i := range n.ip6.groups {
		if n.ip6.groups[i].addr == g {
			n.ip6.groups[i].refs++
			return nil
		}
	}
	if len(n.ip6.groups) >= s.cfg.MaxGroups {
		return ErrBufferFull
	}
	n.ip6.groups = append(n.ip6.groups, group6{addr: g, refs: 1})
	s.syncMulticastFilter6(n)
	return nil
}

// leaveIPv6Group drops a reference to group g of n's receive filter.
func (s *Stack) leaveIPv6Group(n *nic, g netip.Addr) error {
	g = g.WithZone("")
	for i := range n.ip6.groups {
		if n.ip6.groups[i].addr == g {
			n.ip6.groups[i].refs--
			if n.ip6.groups[i].refs <= 0 {
				n.ip6.groups = append(n.ip6.groups[:i], n.ip6.groups[i+1:]...)
				s.syncMulticastFilter6(n)
			}
			return nil
		}
	}
	return ErrNotFound
}

// inGroup6 reports whether n receives datagrams sent to the IPv6
// multicast group g: all-nodes, a solicited-node group of one of its
// addresses (tentative ones included, RFC 4862 5.4.2), or a joined group.
func (n *nic) inGroup6(g netip.Addr) bool {
	if g == wire.IPv6AllNodes {
		return true
	}
	if isSolicitedNode(g) {
		for i := range n.ip6.addrs {
			if wire.SolicitedNodeMulticast(n.ip6.addrs[i].prefix.Addr()) == g {
				return true
			}
		}
	}
	for i := range n.ip6.groups {
		if n.ip6.groups[i].addr == g {
			return true
		}
	}
	return false
}

func isSolicitedNode(g netip.Addr) bool {
	b := g.As16()
	return b[0] == 0xff && b[1] == 0x02 && b[11] == 0x01 && b[12] == 0xff &&
		b[2]|b[3]|b[4]|b[5]|b[6]|b[7]|b[8]|b[9]|b[10] == 0
}

// syncMulticastFilter6 refreshes the link's multicast filter (the IPv4
// part is kept by syncMulticastFilter, which calls appendIPv6MACs).
func (s *Stack) syncMulticastFilter6(n *nic) { s.syncMulticastFilter(n) }

// appendIPv6MACs appends the link-layer groups IPv6 needs on n: all-nodes,
// the solicited-node groups of n's addresses, the joined groups.
func (n *nic) appendIPv6MACs(macs []wire.MAC) []wire.MAC {
	add := func(m wire.MAC) {
		for _, x := range macs {
			if x == m {
				return
			}
		}
		macs = append(macs, m)
	}
	add(wire.IPv6MulticastMAC(wire.IPv6AllNodes))
	for i := range n.ip6.addrs {
		add(wire.IPv6MulticastMAC(wire.SolicitedNodeMulticast(n.ip6.addrs[i].prefix.Addr())))
	}
	for i := range n.ip6.groups {
		add(wire.IPv6MulticastMAC(n.ip6.groups[i].addr))
	}
	return macs
}

// setDefaultRouter adds (lifetime > 0) or removes (lifetime 0) the
// default route ::/0 via router on n (RFC 4861 6.3.4). The router list
// with its expiry is kept by the caller (ra.go).
func (s *Stack) setDefaultRouter(n *nic, router netip.Addr, lifetime time.Duration) {
	r := Route{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Gateway: router.WithZone(""), NIC: n.id}
	if lifetime <= 0 {
		_ = s.RemoveRoute(r)
		return
	}
	if !s.hasRoute(r) {
		_ = s.AddRoute(r)
	}
}

// setOnLinkPrefix adds the on-link route for p on n (RFC 4861 6.3.4), or
// removes it when validUntil is negative or already past (0 = infinite).
// The prefix list with its expiry is kept by the caller (ra.go).
func (s *Stack) setOnLinkPrefix(n *nic, p netip.Prefix, validUntil time.Duration) {
	if !p.IsValid() || !p.Addr().Is6() {
		return
	}
	r := Route{Dst: p.Masked(), NIC: n.id}
	if validUntil < 0 || (validUntil != 0 && validUntil <= s.clock.Now()) {
		_ = s.RemoveRoute(r)
		return
	}
	if !s.hasRoute(r) {
		_ = s.AddRoute(r)
	}
}

// setLinkMTU6 sets n's IPv6 link MTU from a router advertisement's MTU
// option (RFC 4861 6.3.4): values below 1280 or above the interface MTU
// are ignored.
func (s *Stack) setLinkMTU6(n *nic, mtu int) {
	if mtu < minMTU6 || mtu > n.mtu {
		return
	}
	n.ip6.linkMTU = mtu
}

// setNDPTimes sets n's base reachable time and retransmission timer from
// a router advertisement (RFC 4861 6.3.4); 0 leaves a value unchanged.
func (s *Stack) setNDPTimes(n *nic, reachable, retrans time.Duration) {
	if reachable > 0 {
		n.ip6.reachable = reachable
	}
	if retrans > 0 {
		n.ip6.retrans = retrans
	}
}

// minMTU6 is the IPv6 minimum link MTU (RFC 8200 5).
const minMTU6 = 1280

// stack6 is the Stack's IPv6 state.
type stack6 struct {
	ndp    ndpTable
	reasm  reassembler6
	pmtu   []pmtuEntry
	icmpRL rateLimiter
	rx     rx6
	visit  func(e wire.IPv6Extension) bool // rx.visitExt bound once, so walking allocates nothing

	redirectBuf []byte // scratch for redirects we send as a router (forward6.go), made at first use
}

// init6 sets up the IPv6 state at New.
func (s *Stack) init6() {
	c := &s.cfg.IPv6
	s.ip6.ndp.init(&c.NDP)
	s.ip6.reasm.init(&c.Reassembly)
	s.ip6.pmtu = make([]pmtuEntry, c.PMTUCacheSize)
	s.ip6.icmpRL.init(c.ICMPRateLimit)
	s.ip6.visit = func(e wire.IPv6Extension) bool { return s.ip6.rx.visitExt(s, e) }
}

// timers6 runs the IPv6 timers (from Poll).
func (s *Stack) timers6(now time.Duration) {
	s.ndpTimers(now)
	s.reasm6Timers(now)
	s.autoconfTimers(now)
}

// deadline6 is the earliest IPv6 neighbor or reassembly timer
// (autoconfiguration and MLD timers: ctlDeadline).
func (s *Stack) deadline6() (time.Duration, bool) {
	var best time.Duration
	ok := false
	take := func(t time.Duration, has bool) {
		if has && (!ok || t < best) {
			best, ok = t, true
		}
	}
	take(s.ndpDeadline())
	take(s.ip6.reasm.deadline())
	return best, ok
}

// interfaceUp6 runs when n goes up or down: autoconfiguration (slaac.go)
// starts or stops, and going down forgets n's IPv6 neighbors.
func (s *Stack) interfaceUp6(n *nic, up bool) {
	if !s.ipv6On() || n.kind == LinkLoopback {
		return
	}
	if up {
		s.ipv6InterfaceUp(n)
		return
	}
	s.ipv6InterfaceDown(n)
	s.ndpFlushNIC(n.id)
}

// addAddress6 is AddAddress for an IPv6 prefix: a static address and the
// on-link route of its prefix. With dad set (and DAD not turned off, and n
// not loopback) the address starts tentative and DAD runs while n is up
// (staticdad.go); otherwise it is preferred at once.
func (s *Stack) addAddress6(n *nic, p netip.Prefix, dad bool) error {
	if !s.ipv6On() {
		return ErrInvalid
	}
	a := p.Addr().WithZone("")
	p = netip.PrefixFrom(a, p.Bits())
	if a.IsLoopback() && n.kind != LinkLoopback {
		return ErrInvalid
	}
	dad = dad && s.cfg.SLAAC.DupAddrDetectTransmits > 0 && n.kind != LinkLoopback
	st := addrPreferred
	if dad {
		st = addrTentative
	}
	if err := s.addIPv6Addr(n, p, st, 0, 0); err != nil {
		return err
	}
	e := n.find6(a)
	e.static, e.dad = true, dad
	if p.Bits() < 128 && !a.IsLinkLocalUnicast() {
		r := Route{Dst: p.Masked(), NIC: n.id}
		if !s.hasRoute(r) {
			if err := s.AddRoute(r); err != nil {
				s.removeIPv6Addr(n, a)
				return err
			}
		}
	}
	s.syncMulticastFilter6(n)
	s.ipv6StaticAddr(n, a, true) // MLD reports its solicited-node group
	if dad && n.auto.started {
		s.startStaticDAD(n, a, s.clock.Now(), false)
	}
	return nil
}

// removeAddress6 is RemoveAddress for an IPv6 address: its connected
// route goes unless another address of n is in the same prefix.
func (s *Stack) removeAddress6(n *nic, a netip.Addr) error {
	e := n.find6(a)
	if e == nil {
		return ErrNotFound
	}
	p := e.prefix
	s.removeIPv6Addr(n, a)
	s.ipv6StaticAddr(n, p.Addr(), false)
	shared := false
	for i := range n.ip6.addrs {
		shared = shared || n.ip6.addrs[i].prefix.Masked() == p.Masked()
	}
	if !shared && p.Bits() < 128 {
		_ = s.RemoveRoute(Route{Dst: p.Masked(), NIC: n.id})
	}
	s.syncMulticastFilter6(n)
	return nil
}

// appendAddrs6 appends n's IPv6 addresses (tentative ones included).
func (n *nic) appendAddrs6(out []netip.Prefix) []netip.Prefix {
	for i := range n.ip6.addrs {
		out = append(out, n.ip6.addrs[i].prefix)
	}
	return out
}
