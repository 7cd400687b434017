package stack

import (
	"crypto/sha256"
	"math"
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// IPv6 host autoconfiguration (RFC 4862) with stable, opaque interface
// identifiers (RFC 7217).
//
// When an Ethernet or IP interface comes up the stack forms a link-local
// address fe80::/64 whose interface identifier is, by default, the RFC
// 7217 function F(Prefix, Net_Iface, Network_ID, DAD_Counter,
// secret_key): the first 64 bits of SHA-256 over the 64-bit prefix, the
// interface name, an empty Network_ID, the DAD counter and the 16-byte
// Config.StableIIDSecret (derived once from the stack's random source
// when zero). The same secret, prefix and interface give the same address
// across restarts; another prefix or interface gives an unrelated one.
// SLAACConfig.EUI64 selects modified EUI-64 identifiers instead (RFC 4291
// appendix A). Identifiers reserved by RFC 5453 are skipped by counting
// the DAD counter on.
//
// Every address starts tentative and goes through duplicate address
// detection (RFC 4862 5.4): after a delay (random up to
// MAX_RTR_SOLICITATION_DELAY for the first probe after the interface came
// up) the stack joins the solicited-node group of the address (MLD reports
// it, from :: while no link-local address is usable) and sends
// DupAddrDetectTransmits neighbor solicitations from :: to that group,
// RetransTimer apart. An NA for the address, or an NS for it from :: (another
// node doing DAD), marks it duplicate: it is removed, counted
// (AutoconfStats.DADFailures) and reported through Config.OnDADFailure;
// a stable identifier is then regenerated with the DAD counter incremented,
// up to IDGEN_RETRIES (3) times (RFC 7217 6). Otherwise, RetransTimer after
// the last probe, the address becomes preferred and Config.OnAddressChange
// reports it.
//
// Router advertisements (ra.go) whose prefix information has the A flag
// and a /64 prefix form global addresses the same way (RFC 4862 5.5.3),
// at most SLAACConfig.MaxAddresses per interface. Their lifetimes follow
// the RFC: the preferred lifetime is taken as advertised, the valid
// lifetime by the "two-hour rule" (5.5.3 e); an address whose preferred
// lifetime ends is deprecated, one whose valid lifetime ends is removed
// and reported through Config.OnAddressChange.

// SLAACConfig configures IPv6 host autoconfiguration: link-local and
// SLAAC addresses (RFC 4862), router discovery (RFC 4861 6.3) and the
// bounds of the lists router advertisements fill. Zero fields take the
// defaults given.
type SLAACConfig struct {
	// Disabled stops router advertisements' prefixes from forming
	// addresses (link-local addresses, DAD and router discovery still
	// run). SLAAC is on by default.
	Disabled bool
	// EUI64 forms interface identifiers from the MAC address (modified
	// EUI-64, RFC 4291 appendix A) instead of RFC 7217 stable opaque ones.
	EUI64 bool
	// DupAddrDetectTransmits is the number of DAD probes per address (RFC
	// 4862 5.1), autoconfigured or static (AddAddress). Default 1;
	// negative disables DAD for every address (as Linux's dad_transmits 0).
	DupAddrDetectTransmits int
	// RetransTimer spaces DAD probes until a router advertisement gives
	// another value (RFC 4861 10: RETRANS_TIMER). Default 1s.
	RetransTimer time.Duration
	// RouterSolicitations is how many router solicitations are sent when
	// an interface comes up (RFC 4861 10: MAX_RTR_SOLICITATIONS). Default
	// 3; negative sends none.
	RouterSolicitations int
	// MaxAddresses bounds the SLAAC addresses per interface (the
	// link-local address not counted). Default 4; further prefixes are
	// counted in AutoconfStats.AddressesFull.
	MaxAddresses int
	// MaxRouters bounds the default router list per interface. Default 4.
	MaxRouters int
	// MaxPrefixes bounds the on-link prefix list per interface. Default 8.
	MaxPrefixes int
	// MaxRDNSS bounds the DNS servers learned per interface (RFC 8106). Default 4.
	MaxRDNSS int
	// MaxRedirects bounds the redirected destinations per interface. Default 16.
	MaxRedirects int
}

// AutoconfStats counts IPv6 router discovery, address autoconfiguration
// and redirects (RFC 4861, RFC 4862, RFC 8106).
type AutoconfStats struct {
	InRouterSolicits        uint64 // router solicitations received (hosts ignore them)
	OutRouterSolicits       uint64 // router solicitations sent
	InRouterAdvertisements  uint64 // router advertisements processed
	InRouterAdvertErrors    uint64 // malformed router advertisements
	InSpoofedRAs            uint64 // router advertisements from a non-link-local source, dropped (RFC 4861 6.1.2)
	OutDADSolicits          uint64 // neighbor solicitations sent for DAD (RFC 4862 5.4.2), static addresses included
	DADFailures             uint64 // tentative addresses found duplicate (RFC 4862 5.4.5), static addresses included
	DADRetries              uint64 // addresses regenerated after a DAD failure (RFC 7217 6)
	AddressesFormed         uint64 // addresses that passed DAD (link-local, SLAAC and static)
	AddressesDeprecated     uint64 // addresses whose preferred lifetime ended
	AddressesExpired        uint64 // addresses removed when their valid lifetime ended
	AddressesFull           uint64 // SLAAC prefixes not used: SLAACConfig.MaxAddresses or Config.MaxAddresses reached
	PrefixIgnored           uint64 // prefix options ignored: bad length, link-local, preferred > valid
	RoutersFull             uint64 // new default routers not recorded: list full
	PrefixesFull            uint64 // new on-link prefixes not recorded: list full
	RDNSSFull               uint64 // new DNS servers not recorded: list full
	MTUIgnored              uint64 // MTU options below 1280 or above the link MTU
	InRedirects             uint64 // valid redirects accepted (RFC 4861 8.3)
	InRedirectErrors        uint64 // malformed or invalid redirects (RFC 4861 8.1)
	RedirectsFromNonRouters uint64 // redirects not from the current first hop for the destination, dropped
	RedirectEvictions       uint64 // redirected destinations forgotten to make room
	RouterIgnoredRAs        uint64 // router advertisements ignored on an interface that forwards IPv6 (forward6.go)
	RouterIgnoredRedirects  uint64 // redirects ignored on an interface that forwards IPv6
}

// OnAddressChange is called with an address and its prefix length when an
// autoconfigured IPv6 address, or a static one added with DAD
// (AddAddress), becomes usable (added true: DAD passed) or goes (false:
// its valid lifetime ended, or the interface went down). Static addresses
// removed by RemoveAddress, and those added by AddAddressNoDAD, are not
// reported.
// It runs inside Input or Poll: it must not call back into the stack.
type OnAddressChange func(nic NIC, p netip.Prefix, added bool)

// Constants of RFC 4861 10, RFC 4862 and RFC 7217.
const (
	maxRtrSolicitationDelay = time.Second
	rtrSolicitationInterval = 4 * time.Second
	idgenRetries            = 3 // RFC 7217 IDGEN_RETRIES
	twoHours                = 2 * time.Hour
	forever                 = time.Duration(math.MaxInt64) // an infinite lifetime
)

var linkLocalPrefix = netip.MustParsePrefix("fe80::/64")

func (c *SLAACConfig) setDefaults() {
	d := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	d(&c.DupAddrDetectTransmits, 1)
	if c.RetransTimer == 0 {
		c.RetransTimer = time.Second
	}
	d(&c.RouterSolicitations, 3)
	d(&c.MaxAddresses, 4)
	d(&c.MaxRouters, 4)
	d(&c.MaxPrefixes, 8)
	d(&c.MaxRDNSS, 4)
	d(&c.MaxRedirects, 16)
}

// autoconfDefaults fills in the defaults of the autoconfiguration and MLD configuration.
func (c *Config) autoconfDefaults() {
	c.SLAAC.setDefaults()
	c.MLD.setDefaults()
}

// autoconfValidate checks the autoconfiguration and MLD configuration.
func (c *Config) autoconfValidate() (string, any, string) {
	for _, p := range []struct {
		name string
		v    int
	}{
		{"SLAAC.MaxAddresses", c.SLAAC.MaxAddresses}, {"SLAAC.MaxRouters", c.SLAAC.MaxRouters},
		{"SLAAC.MaxPrefixes", c.SLAAC.MaxPrefixes}, {"SLAAC.MaxRDNSS", c.SLAAC.MaxRDNSS},
		{"SLAAC.MaxRedirects", c.SLAAC.MaxRedirects},
		{"MLD.Robustness", c.MLD.Robustness}, {"MLD.MaxSources", c.MLD.MaxSources},
	} {
		if p.v < 0 {
			return p.name, p.v, "must be positive (0 selects the default)"
		}
	}
	if c.SLAAC.RetransTimer < 0 {
		return "SLAAC.RetransTimer", c.SLAAC.RetransTimer, "must be positive (0 selects the default)"
	}
	if c.MLD.UnsolicitedReportInterval < 0 {
		return "MLD.UnsolicitedReportInterval", c.MLD.UnsolicitedReportInterval, "must be positive (0 selects the default)"
	}
	if c.MLD.Version != 1 && c.MLD.Version != 2 {
		return "MLD.Version", c.MLD.Version, "must be 2 (MLDv2, the default) or 1 (MLDv1)"
	}
	if c.MLD.Robustness > 7 {
		return "MLD.Robustness", c.MLD.Robustness, "must be at most 7 (RFC 3810 5.1.8)"
	}
	return "", nil, ""
}

// autoState is the state of an autoconfigured address.
type autoState uint8

const (
	autoTentative  autoState = iota // DAD running
	autoPreferred                   // usable
	autoDeprecated                  // usable, avoided as a source
	autoDuplicate                   // DAD failed: not used; kept so the prefix does not form it again
)

// autoAddr is one autoconfigured address of an interface.
type autoAddr struct {
	prefix         netip.Prefix // the address with its prefix length
	linkLocal      bool
	state          autoState
	dadCount       uint8 // RFC 7217 DAD_Counter
	dadLeft        int   // DAD probes still to send
	dadJoined      bool  // the solicited-node group is joined
	dadAt          time.Duration
	validUntil     time.Duration // forever: infinite
	preferredUntil time.Duration
}

// autoconf is the IPv6 autoconfiguration and MLD host state of an interface.
type autoconf struct {
	started   bool // ipv6InterfaceUp ran, ipv6InterfaceDown did not
	probeWait bool // the next first DAD probe waits a random delay (first after up)
	addrs     []autoAddr

	rsLeft int // router solicitations still to send
	rsAt   time.Duration

	curHopLimit uint8 // from router advertisements; 0: unspecified
	reachable   time.Duration
	retrans     time.Duration

	routers   []raRouter
	prefixes  []raPrefix
	rdnss     []rdnssServer
	redirects []redirectEntry

	mld    igmpIface // MLD host state: v1Until is the Older Version Querier Present timer
	groups []mldGroup
	old    []netip.Addr // scratch: a group's source list before a change
	buf    []byte       // scratch for messages we send
}

// ipv6InterfaceUp starts IPv6 autoconfiguration on n (RFC 4862 5.3):
// link-local address and DAD, router solicitation (RFC 4861 6.3.7) and
// the MLD reports of the groups already joined.
func (s *Stack) ipv6InterfaceUp(n *nic) {
	if n.kind == LinkLoopback || n.auto.started {
		return
	}
	a := &n.auto
	if a.buf == nil {
		c := &s.cfg.SLAAC
		a.addrs = make([]autoAddr, 0, c.MaxAddresses+1)
		a.routers = make([]raRouter, 0, c.MaxRouters)
		a.prefixes = make([]raPrefix, 0, c.MaxPrefixes)
		a.rdnss = make([]rdnssServer, 0, c.MaxRDNSS)
		a.redirects = make([]redirectEntry, 0, c.MaxRedirects)
		a.old = make([]netip.Addr, 0, s.cfg.MLD.MaxSources)
		a.buf = make([]byte, 1500)
	}
	if a.groups == nil {
		a.groups = make([]mldGroup, 0, s.cfg.MaxGroups+s.cfg.MaxAddresses)
	}
	if s.cfg.StableIIDSecret == ([16]byte{}) {
		for i := 0; i < 16; i += 8 {
			v := s.rand.Uint64()
			for j := 0; j < 8; j++ {
				s.cfg.StableIIDSecret[i+j] = byte(v >> (8 * j))
			}
		}
	}
	now := s.clock.Now()
	a.started, a.probeWait = true, true
	a.curHopLimit = 0
	a.reachable, a.retrans = 0, s.cfg.SLAAC.RetransTimer
	a.mld = igmpIface{}
	s.mldRestate(n, now)
	for i := range n.ip6.addrs { // static addresses (AddAddress)
		s.mldJoinSys(n, wire.SolicitedNodeMulticast(n.ip6.addrs[i].prefix.Addr()))
	}
	s.formAddr(n, linkLocalPrefix, true, 0, forever, forever, now)
	a.rsLeft = max(s.cfg.SLAAC.RouterSolicitations, 0)
	a.rsAt = now + s.randDelay(maxRtrSolicitationDelay)
	s.staticDADUp(n, now) // staticdad.go
	if s.forwards6(n) {
		s.routerMode6(n, true) // forward6.go: all-routers, no solicitations
	}
}

// ipv6InterfaceDown stops autoconfiguration on n: autoconfigured
// addresses, routers, prefixes, DNS servers and redirects are forgotten
// (removed addresses are reported), the solicited-node memberships
// dropped and MLD timers stopped; groups joined by the application stay
// and are reported again when n comes up.
func (s *Stack) ipv6InterfaceDown(n *nic) {
	a := &n.auto
	if !a.started {
		return
	}
	a.started = false
	for len(a.addrs) > 0 {
		s.dropAddr(n, 0, true)
	}
	s.staticDADDown(n) // staticdad.go: DAD again at the next up
	for _, r := range a.routers {
		s.setDefaultRouter(n, r.addr, 0)
	}
	for _, p := range a.prefixes {
		s.setOnLinkPrefix(n, p.prefix, -1)
	}
	clear(a.routers)
	clear(a.prefixes)
	clear(a.rdnss)
	clear(a.redirects)
	a.routers, a.prefixes, a.rdnss, a.redirects = a.routers[:0], a.prefixes[:0], a.rdnss[:0], a.redirects[:0]
	a.rsLeft = 0
	s.mldCancel(n)
}

// ipv6StaticAddr is called by AddAddress and RemoveAddress for a static
// IPv6 address of n: MLD reports its solicited-node group while n is up
// (RFC 4862 5.4.2 asks it of every address).
func (s *Stack) ipv6StaticAddr(n *nic, a netip.Addr, added bool) {
	if !n.auto.started {
		return // ipv6InterfaceUp joins the groups of the addresses present
	}
	g := wire.SolicitedNodeMulticast(a.WithZone(""))
	if added {
		s.mldJoinSys(n, g)
	} else {
		s.mldLeaveSys(n, g)
	}
}

// stableIID returns the RFC 7217 interface identifier of n for prefix
// and DAD counter *count, counting *count on past reserved identifiers
// (RFC 5453).
func (s *Stack) stableIID(n *nic, prefix netip.Prefix, count *uint8) [8]byte {
	for {
		p := prefix.Masked().Addr().As16()
		var buf [8 + 1 + 16 + 64]byte
		m := copy(buf[:], p[:8])
		m += copy(buf[m:], n.name) // Net_Iface; Network_ID is empty
		buf[m] = *count
		m++
		m += copy(buf[m:], s.cfg.StableIIDSecret[:])
		h := sha256.Sum256(buf[:m])
		var id [8]byte
		copy(id[:], h[:8])
		if !reservedIID(id) || *count == math.MaxUint8 {
			return id
		}
		*count++
	}
}

// reservedIID reports whether id is a reserved interface identifier (RFC
// 5453): the subnet-router anycast identifier 0, the reserved subnet
// anycast range fdff:ffff:ffff:ff80-ffff and the proxy mobile range
// 0200:5eff:fe00:0000-ffff.
func reservedIID(id [8]byte) bool {
	switch {
	case id == [8]byte{}:
		return true
	case id[0] == 0xfd && id[1] == 0xff && id[2] == 0xff && id[3] == 0xff && id[4] == 0xff && id[5] == 0xff && id[6] == 0xff && id[7] >= 0x80:
		return true
	case id[0] == 0x02 && id[1] == 0x00 && id[2] == 0x5e && id[3] == 0xff && id[4] == 0xfe && id[5] == 0x00:
		return true
	}
	return false
}

// interfaceAddr forms the address of n in the /64 prefix, counting *count
// on for reserved stable identifiers.
func (s *Stack) interfaceAddr(n *nic, prefix netip.Prefix, count *uint8) netip.Addr {
	var id [8]byte
	if s.cfg.SLAAC.EUI64 && n.kind == LinkEthernet {
		id = wire.EUI64(n.mac)
	} else {
		id = s.stableIID(n, prefix, count)
	}
	a := prefix.Masked().Addr().As16()
	copy(a[8:], id[:])
	return netip.AddrFrom16(a)
}

// formAddr forms the address of n in the /64 prefix and starts DAD for
// it (RFC 4862 5.4). It reports false when the address could not be added.
func (s *Stack) formAddr(n *nic, prefix netip.Prefix, linkLocal bool, count uint8, valid, preferred, now time.Duration) bool {
	a := &n.auto
	if len(a.addrs) == cap(a.addrs) {
		s.stats.Autoconf.AddressesFull++
		return false
	}
	addr := s.interfaceAddr(n, prefix, &count)
	p := netip.PrefixFrom(addr, 64)
	if err := s.addIPv6Addr(n, p, addrTentative, aLifetime(valid), aLifetime(preferred)); err != nil {
		s.stats.Autoconf.AddressesFull++ // full, or the address exists already
		return false
	}
	e := autoAddr{prefix: p, linkLocal: linkLocal, state: autoTentative, dadCount: count,
		validUntil: valid, preferredUntil: preferred, dadAt: now}
	if t := s.cfg.SLAAC.DupAddrDetectTransmits; t > 0 {
		e.dadLeft = t
		if a.probeWait {
			a.probeWait = false
			e.dadAt = now + s.randDelay(maxRtrSolicitationDelay)
		}
	}
	a.addrs = append(a.addrs, e)
	if e.dadLeft == 0 {
		i := len(a.addrs) - 1
		s.mldJoinSys(n, wire.SolicitedNodeMulticast(addr))
		a.addrs[i].dadJoined = true
		s.dadDone(n, i, now)
	}
	return true
}

// aLifetime converts an internal deadline (forever: infinite) to the
// address list's convention (0: infinite).
func aLifetime(d time.Duration) time.Duration {
	if d == forever {
		return 0
	}
	return d
}

// lifetimeAt converts a lifetime in seconds from a router advertisement
// (0xffffffff: infinite) to a deadline.
func lifetimeAt(now time.Duration, secs uint32) time.Duration {
	if secs == math.MaxUint32 {
		return forever
	}
	return now + time.Duration(secs)*time.Second
}

// dadDone makes address i of n usable once DAD has passed.
func (s *Stack) dadDone(n *nic, i int, now time.Duration) {
	e := &n.auto.addrs[i]
	e.state = autoPreferred
	st := addrPreferred
	if e.preferredUntil <= now {
		e.state, st = autoDeprecated, addrDeprecated
	}
	s.setIPv6AddrState(n, e.prefix.Addr(), st)
	s.stats.Autoconf.AddressesFormed++
	p := e.prefix
	if e.linkLocal {
		// Reports sent from :: during DAD are ignored by snooping
		// switches: state the memberships again from the new source.
		s.mldRestate(n, now)
	}
	if f := s.cfg.OnAddressChange; f != nil {
		f(n.id, p, true)
	}
}

// dropAddr removes autoconfigured address i of n from the interface,
// leaves its solicited-node group and reports a usable address gone
// (when report is set).
func (s *Stack) dropAddr(n *nic, i int, report bool) {
	a := &n.auto
	e := a.addrs[i]
	a.addrs = append(a.addrs[:i], a.addrs[i+1:]...)
	a.addrs[len(a.addrs):cap(a.addrs)][0] = autoAddr{}
	if e.state != autoDuplicate {
		s.removeIPv6Addr(n, e.prefix.Addr())
	}
	if e.dadJoined {
		s.mldLeaveSys(n, wire.SolicitedNodeMulticast(e.prefix.Addr()))
	}
	if report && (e.state == autoPreferred || e.state == autoDeprecated) {
		if f := s.cfg.OnAddressChange; f != nil {
			f(n.id, e.prefix, false)
		}
	}
}

// dadNeighborMessage is called by NDP input for an NS or NA whose target
// is one of n's tentative addresses (RFC 4862 5.4.3, 5.4.4): an NA, or an
// NS from :: (another node doing DAD), makes the address duplicate; an NS
// from a unicast source is address resolution and is ignored. It reports
// whether the message was consumed.
func (s *Stack) dadNeighborMessage(n *nic, target netip.Addr, src netip.Addr, isAdvert bool) bool {
	a := &n.auto
	target = target.WithZone("")
	if e := n.find6(target); e != nil && e.static && e.state == addrTentative {
		s.staticDADMessage(n, e, src, isAdvert) // staticdad.go
		return true
	}
	for i := range a.addrs {
		e := &a.addrs[i]
		if e.prefix.Addr() != target || e.state != autoTentative {
			continue
		}
		if !isAdvert && !src.IsUnspecified() {
			return true
		}
		s.dadFailed(n, i, s.clock.Now())
		return true
	}
	return false
}

// dadFailed handles a duplicate tentative address i of n (RFC 4862
// 5.4.5, RFC 7217 6).
func (s *Stack) dadFailed(n *nic, i int, now time.Duration) {
	a := &n.auto
	e := &a.addrs[i]
	s.stats.Autoconf.DADFailures++
	addr := e.prefix.Addr()
	s.removeIPv6Addr(n, addr)
	if e.dadJoined {
		s.mldLeaveSys(n, wire.SolicitedNodeMulticast(addr))
		e.dadJoined = false
	}
	e.state = autoDuplicate
	if f := s.cfg.OnDADFailure; f != nil {
		f(n.id, addr)
	}
	stable := !(s.cfg.SLAAC.EUI64 && n.kind == LinkEthernet)
	if !stable || e.dadCount >= idgenRetries {
		return // stays duplicate until its prefix expires or n goes down
	}
	c := *e
	a.addrs = append(a.addrs[:i], a.addrs[i+1:]...)
	s.stats.Autoconf.DADRetries++
	if !s.formAddr(n, c.prefix.Masked(), c.linkLocal, c.dadCount+1, c.validUntil, c.preferredUntil, now) {
		// Keep the duplicate so the prefix does not form it again.
		a.addrs = append(a.addrs, c)
	}
}

// sendDADProbe sends a DAD neighbor solicitation for addr from :: to its
// solicited-node group (RFC 4862 5.4.2).
func (s *Stack) sendDADProbe(n *nic, addr netip.Addr) {
	b := n.auto.buf
	l := wire.PutNDPNeighborSolicitation(b, addr)
	s.stats.Autoconf.OutDADSolicits++
	_ = s.sendICMPv6(n, netip.IPv6Unspecified(), wire.SolicitedNodeMulticast(addr), 255, false, b[:l])
}

// addrTimers runs DAD and the lifetimes of n's autoconfigured addresses.
func (s *Stack) addrTimers(n *nic, now time.Duration) {
	a := &n.auto
	for i := 0; i < len(a.addrs); i++ {
		e := &a.addrs[i]
		if e.validUntil <= now {
			if e.state != autoDuplicate {
				s.stats.Autoconf.AddressesExpired++
			}
			s.dropAddr(n, i, true)
			i--
			continue
		}
		switch e.state {
		case autoTentative:
			if e.dadAt > now {
				continue
			}
			if e.dadLeft == 0 {
				s.dadDone(n, i, now)
				continue
			}
			if !e.dadJoined {
				e.dadJoined = true
				s.mldJoinSys(n, wire.SolicitedNodeMulticast(e.prefix.Addr()))
				e = &a.addrs[i]
			}
			e.dadLeft--
			e.dadAt = now + a.retrans
			s.sendDADProbe(n, e.prefix.Addr())
		case autoPreferred:
			if e.preferredUntil <= now {
				e.state = autoDeprecated
				s.stats.Autoconf.AddressesDeprecated++
				s.setIPv6AddrState(n, e.prefix.Addr(), addrDeprecated)
			}
		}
	}
}

// addrDeadline is the earliest DAD or lifetime event of n's addresses.
func (n *nic) addrDeadline(take func(time.Duration)) {
	for i := range n.auto.addrs {
		e := &n.auto.addrs[i]
		if e.validUntil != forever {
			take(e.validUntil)
		}
		switch e.state {
		case autoTentative:
			take(e.dadAt)
		case autoPreferred:
			if e.preferredUntil != forever {
				take(e.preferredUntil)
			}
		}
	}
}

// usableLinkLocal returns n's link-local address that passed DAD, or ::.
func (n *nic) usableLinkLocal() netip.Addr {
	for i := range n.auto.addrs {
		e := &n.auto.addrs[i]
		if e.linkLocal && (e.state == autoPreferred || e.state == autoDeprecated) {
			return e.prefix.Addr()
		}
	}
	for i := range n.ip6.addrs {
		e := &n.ip6.addrs[i]
		if e.state != addrTentative && e.prefix.Addr().IsLinkLocalUnicast() {
			return e.prefix.Addr()
		}
	}
	return netip.IPv6Unspecified()
}

// autoconfTimers runs the due autoconfiguration and MLD timers.
func (s *Stack) autoconfTimers(now time.Duration) {
	for _, n := range s.nics {
		if !n.auto.started {
			continue
		}
		s.addrTimers(n, now)
		s.staticDADTimers(n, now)
		s.raTimers(n, now)
		s.mldTimers(n, now)
	}
}

// autoconfDeadline reports the earliest autoconfiguration or MLD timer.
func (s *Stack) autoconfDeadline() (time.Duration, bool) {
	var t time.Duration
	ok := false
	take := func(d time.Duration) {
		if !ok || d < t {
			t, ok = d, true
		}
	}
	for _, n := range s.nics {
		if !n.auto.started {
			continue
		}
		n.addrDeadline(take)
		n.staticDADDeadline(take)
		n.raDeadline(take)
		n.mldDeadline(take)
	}
	return t, ok
}
