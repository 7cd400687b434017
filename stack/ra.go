package stack

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// Router discovery for hosts (RFC 4861 6.3), DNS configuration from router
// advertisements (RFC 8106) and redirects (RFC 4861 8).
//
// When an interface comes up the host sends up to
// SLAACConfig.RouterSolicitations router solicitations to ff02::2,
// RTR_SOLICITATION_INTERVAL (4s) apart after a random delay up to
// MAX_RTR_SOLICITATION_DELAY (1s), from its link-local address with a
// source link-layer address option once that address passed DAD, from ::
// without the option before; it stops once a router advertisement with a
// non-zero router lifetime arrives.
//
// Router advertisements are accepted only from link-local sources (the
// hop limit of 255 is checked by ICMPv6 input); others are counted in
// AutoconfStats.InSpoofedRAs and dropped. A valid one updates the default
// router list (the ::/0 routes), the on-link prefix list (the connected
// routes of the prefixes with the L flag), the link MTU, the hop limit,
// the neighbor discovery timers, the DNS servers, and forms SLAAC
// addresses (slaac.go). Every list is bounded (SLAACConfig) and its
// entries expire with their lifetimes; what does not fit is counted.
//
// A redirect (RFC 4861 8.1) is accepted only from a link-local source
// that is the current first hop for its destination (the router the
// routing table or an earlier redirect sends it to); the destination is
// then sent to the target instead (redirectNextHop), for as long as the
// router stays a default router (and at most redirectLifetime).

// redirectLifetime bounds how long a redirected destination is kept
// (RFC 4861 leaves it to the destination cache; Linux ages it out).
const redirectLifetime = 10 * time.Minute

// maxReachableTime is MAX_REACHABLE_TIME (RFC 4861 10); larger values in a
// router advertisement are ignored.
const maxReachableTime = time.Hour

// raRouter is one entry of the default router list.
type raRouter struct {
	addr  netip.Addr
	until time.Duration
}

// raPrefix is one entry of the on-link prefix list.
type raPrefix struct {
	prefix netip.Prefix
	until  time.Duration
}

// rdnssServer is one recursive DNS server (RFC 8106 5.1).
type rdnssServer struct {
	addr  netip.Addr
	until time.Duration
}

// redirectEntry sends traffic for dst to target instead of router.
type redirectEntry struct {
	dst, target, router netip.Addr
	until               time.Duration
}

// handleRouterSolicit handles a router solicitation: hosts only count it
// (RFC 4861 6.2.6 is for routers).
func (s *Stack) handleRouterSolicit(n *nic, src, dst netip.Addr, m wire.ICMPv6) {
	s.stats.Autoconf.InRouterSolicits++
}

// handleRouterAdvert processes a router advertisement (RFC 4861 6.3.4,
// RFC 4862 5.5.3, RFC 8106 5.3.1). ICMPv6 input has checked the checksum,
// the code and the hop limit of 255.
func (s *Stack) handleRouterAdvert(n *nic, src, dst netip.Addr, m wire.ICMPv6) {
	st := &s.stats.Autoconf
	src = src.WithZone("")
	if !src.Is6() || !src.IsLinkLocalUnicast() {
		st.InSpoofedRAs++ // RFC 4861 6.1.2
		return
	}
	ra, err := wire.ParseNDPRouterAdvertisement(m.Bytes())
	if err != nil || ra.Code() != 0 {
		st.InRouterAdvertErrors++
		return
	}
	if !n.auto.started {
		return
	}
	if s.forwards6(n) {
		st.RouterIgnoredRAs++ // a router does not configure itself from RAs (RFC 4862 5)
		return
	}
	st.InRouterAdvertisements++
	now := s.clock.Now()
	a := &n.auto
	if h := ra.CurHopLimit(); h != 0 {
		a.curHopLimit = h
	}
	var reach, retrans time.Duration
	if v := time.Duration(ra.ReachableTime()) * time.Millisecond; v > 0 && v <= maxReachableTime {
		reach = max(v, 100*time.Millisecond)
		a.reachable = reach
	}
	if v := ra.RetransTimer(); v > 0 {
		retrans = min(max(time.Duration(v)*time.Millisecond, 10*time.Millisecond), time.Hour)
		a.retrans = retrans
	}
	if reach > 0 || retrans > 0 {
		s.setNDPTimes(n, reach, retrans)
	}
	life := time.Duration(ra.RouterLifetime()) * time.Second
	s.raRouterUpdate(n, src, life, now)
	if life > 0 {
		a.rsLeft = 0 // RFC 4861 6.3.7
	}
	slla := false
	ra.ForEachOption(func(o wire.NDPOption) bool {
		switch o.Type() {
		case wire.NDPOptSourceLinkAddr:
			if mac, ok := o.LinkLayerAddr(); ok {
				slla = true
				s.ndpNoteLinkAddr(n, src, mac, true) // RFC 4861 6.3.4
			}
		case wire.NDPOptMTU:
			if v, ok := o.MTU(); ok {
				if v < minMTU6 || int64(v) > int64(n.mtu) {
					st.MTUIgnored++
				} else {
					s.setLinkMTU6(n, int(v))
				}
			}
		case wire.NDPOptPrefixInfo:
			if p, ok := o.PrefixInfo(); ok {
				s.raPrefixInfo(n, p, now)
			}
		case wire.NDPOptRDNSS:
			if r, ok := o.RDNSS(); ok {
				for i := 0; i < r.NumServers(); i++ {
					s.rdnssUpdate(n, r.Server(i), r.Lifetime(), now)
				}
			}
		}
		return true
	})
	if !slla { // RFC 4861 6.3.4: an existing entry becomes a router's
		if e := s.ip6.ndp.find(n.id, src.WithZone("")); e != nil && e.state != ndpStatic {
			e.router = true
		}
	}
}

// raRouterUpdate adds, refreshes or (lifetime 0) removes router in n's
// default router list.
func (s *Stack) raRouterUpdate(n *nic, router netip.Addr, life, now time.Duration) {
	a := &n.auto
	for i := range a.routers {
		if a.routers[i].addr != router {
			continue
		}
		if life == 0 {
			s.removeRouter(n, i)
			return
		}
		a.routers[i].until = now + life
		s.setDefaultRouter(n, router, life)
		return
	}
	if life == 0 {
		return
	}
	if len(a.routers) == cap(a.routers) {
		s.stats.Autoconf.RoutersFull++
		return
	}
	a.routers = append(a.routers, raRouter{addr: router, until: now + life})
	s.setDefaultRouter(n, router, life)
}

// removeRouter drops router i of n and the redirects it gave.
func (s *Stack) removeRouter(n *nic, i int) {
	a := &n.auto
	r := a.routers[i].addr
	a.routers = append(a.routers[:i], a.routers[i+1:]...)
	a.routers[len(a.routers):cap(a.routers)][0] = raRouter{}
	s.setDefaultRouter(n, r, 0)
	k := 0
	for _, e := range a.redirects {
		if e.router != r {
			a.redirects[k] = e
			k++
		}
	}
	clear(a.redirects[k:])
	a.redirects = a.redirects[:k]
}

// raPrefixInfo processes a prefix information option: the on-link prefix
// list (RFC 4861 6.3.4) and SLAAC (RFC 4862 5.5.3).
func (s *Stack) raPrefixInfo(n *nic, pi wire.NDPPrefixInfo, now time.Duration) {
	p := pi.Prefix()
	if !p.IsValid() || p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() {
		s.stats.Autoconf.PrefixIgnored++
		return
	}
	p = p.Masked()
	valid, pref := pi.ValidLifetime(), pi.PreferredLifetime()
	if pi.OnLink() {
		s.onLinkUpdate(n, p, valid, now)
	}
	if !pi.Autonomous() || s.cfg.SLAAC.Disabled {
		return
	}
	if pref > valid || p.Bits() != 64 {
		s.stats.Autoconf.PrefixIgnored++
		return
	}
	s.slaacPrefix(n, p, valid, pref, now)
}

// onLinkUpdate adds, refreshes or (valid lifetime 0) removes p in n's
// on-link prefix list.
func (s *Stack) onLinkUpdate(n *nic, p netip.Prefix, valid uint32, now time.Duration) {
	a := &n.auto
	until := lifetimeAt(now, valid)
	for i := range a.prefixes {
		if a.prefixes[i].prefix != p {
			continue
		}
		if valid == 0 {
			a.prefixes = append(a.prefixes[:i], a.prefixes[i+1:]...)
			s.setOnLinkPrefix(n, p, -1)
			return
		}
		a.prefixes[i].until = until
		return
	}
	if valid == 0 {
		return
	}
	if len(a.prefixes) == cap(a.prefixes) {
		s.stats.Autoconf.PrefixesFull++
		return
	}
	a.prefixes = append(a.prefixes, raPrefix{prefix: p, until: until})
	s.setOnLinkPrefix(n, p, aLifetime(until))
}

// slaacPrefix forms an address in the /64 prefix p or updates the
// lifetimes of the one formed (RFC 4862 5.5.3 d, e).
func (s *Stack) slaacPrefix(n *nic, p netip.Prefix, valid, pref uint32, now time.Duration) {
	a := &n.auto
	prefUntil := lifetimeAt(now, pref)
	found := false
	for i := range a.addrs {
		e := &a.addrs[i]
		if e.linkLocal || e.prefix.Masked() != p {
			continue
		}
		found = true
		// e) the two-hour rule for the valid lifetime.
		recv := lifetimeAt(now, valid)
		switch {
		case valid == 0xffffffff || recv > now+twoHours || (e.validUntil != forever && recv > e.validUntil):
			e.validUntil = recv
		case e.validUntil != forever && e.validUntil <= now+twoHours:
			// ignore the valid lifetime
		default:
			e.validUntil = now + twoHours
		}
		e.preferredUntil = prefUntil
		if e.state == autoDuplicate {
			continue
		}
		switch {
		case e.state == autoDeprecated && prefUntil > now:
			e.state = autoPreferred
			s.setIPv6AddrState(n, e.prefix.Addr(), addrPreferred)
		case e.state == autoPreferred && prefUntil <= now:
			e.state = autoDeprecated
			s.stats.Autoconf.AddressesDeprecated++
			s.setIPv6AddrState(n, e.prefix.Addr(), addrDeprecated)
		}
		s.setIPv6AddrLifetimes(n, e.prefix.Addr(), aLifetime(e.validUntil), aLifetime(e.preferredUntil))
	}
	if found || valid == 0 {
		return
	}
	slaac := 0
	for i := range a.addrs {
		if !a.addrs[i].linkLocal {
			slaac++
		}
	}
	if slaac >= s.cfg.SLAAC.MaxAddresses {
		s.stats.Autoconf.AddressesFull++
		return
	}
	s.formAddr(n, p, false, 0, lifetimeAt(now, valid), prefUntil, now)
}

// rdnssUpdate adds, refreshes or (lifetime 0) removes a DNS server (RFC
// 8106 5.3.1).
func (s *Stack) rdnssUpdate(n *nic, srv netip.Addr, life uint32, now time.Duration) {
	if !srv.IsValid() || srv.IsUnspecified() || srv.IsMulticast() || srv.IsLoopback() {
		return
	}
	a := &n.auto
	for i := range a.rdnss {
		if a.rdnss[i].addr != srv {
			continue
		}
		if life == 0 {
			a.rdnss = append(a.rdnss[:i], a.rdnss[i+1:]...)
			return
		}
		a.rdnss[i].until = lifetimeAt(now, life)
		return
	}
	if life == 0 {
		return
	}
	if len(a.rdnss) == cap(a.rdnss) {
		s.stats.Autoconf.RDNSSFull++
		return
	}
	a.rdnss = append(a.rdnss, rdnssServer{addr: srv, until: lifetimeAt(now, life)})
}

// RDNSS returns the recursive DNS servers learned from router
// advertisements on an interface (RFC 8106), in the order learned, without
// the expired ones.
func (s *Stack) RDNSS(id NIC) []netip.Addr {
	n := s.nic(id)
	if n == nil {
		return nil
	}
	now := s.clock.Now()
	var out []netip.Addr
	for _, r := range n.auto.rdnss {
		if r.until > now {
			out = append(out, r.addr)
		}
	}
	return out
}

// DefaultRouters returns the default routers learned from router
// advertisements on an interface (RFC 4861 6.3.4).
func (s *Stack) DefaultRouters(id NIC) []netip.Addr {
	n := s.nic(id)
	if n == nil {
		return nil
	}
	var out []netip.Addr
	for _, r := range n.auto.routers {
		out = append(out, r.addr)
	}
	return out
}

// sendRouterSolicit sends a router solicitation on n (RFC 4861 6.3.7).
func (s *Stack) sendRouterSolicit(n *nic) {
	b := n.auto.buf
	l := wire.PutNDPRouterSolicitation(b)
	src := n.usableLinkLocal()
	if !src.IsUnspecified() && n.kind == LinkEthernet {
		l += wire.PutNDPLinkLayerOption(b[l:], wire.NDPOptSourceLinkAddr, n.mac)
	}
	s.stats.Autoconf.OutRouterSolicits++
	_ = s.sendICMPv6(n, src, wire.IPv6AllRouters, 255, false, b[:l])
}

// raTimers sends due router solicitations and expires routers,
// prefixes, DNS servers and redirects of n.
func (s *Stack) raTimers(n *nic, now time.Duration) {
	a := &n.auto
	if a.rsLeft > 0 && a.rsAt <= now {
		a.rsLeft--
		a.rsAt = now + rtrSolicitationInterval
		s.sendRouterSolicit(n)
	}
	for i := 0; i < len(a.routers); i++ {
		if a.routers[i].until <= now {
			s.removeRouter(n, i)
			i--
		}
	}
	k := 0
	for _, p := range a.prefixes {
		if p.until <= now {
			s.setOnLinkPrefix(n, p.prefix, -1)
			continue
		}
		a.prefixes[k] = p
		k++
	}
	clear(a.prefixes[k:])
	a.prefixes = a.prefixes[:k]
	k = 0
	for _, r := range a.rdnss {
		if r.until > now {
			a.rdnss[k] = r
			k++
		}
	}
	clear(a.rdnss[k:])
	a.rdnss = a.rdnss[:k]
	k = 0
	for _, r := range a.redirects {
		if r.until > now {
			a.redirects[k] = r
			k++
		}
	}
	clear(a.redirects[k:])
	a.redirects = a.redirects[:k]
}

// raDeadline reports n's earliest router discovery event.
func (n *nic) raDeadline(take func(time.Duration)) {
	a := &n.auto
	if a.rsLeft > 0 {
		take(a.rsAt)
	}
	for _, r := range a.routers {
		take(r.until)
	}
	for _, p := range a.prefixes {
		if p.until != forever {
			take(p.until)
		}
	}
	for _, r := range a.rdnss {
		if r.until != forever {
			take(r.until)
		}
	}
	for _, r := range a.redirects {
		take(r.until)
	}
}

// handleRedirect processes a redirect (RFC 4861 8.1 validity, 8.3). ICMPv6
// input has checked the checksum, the code and the hop limit of 255.
func (s *Stack) handleRedirect(n *nic, src, dst netip.Addr, m wire.ICMPv6) {
	st := &s.stats.Autoconf
	src = src.WithZone("")
	r, err := wire.ParseNDPRedirect(m.Bytes())
	if err != nil || r.Code() != 0 || !src.IsLinkLocalUnicast() {
		st.InRedirectErrors++
		return
	}
	target, d := r.Target(), r.Destination()
	if d.IsMulticast() || d.IsUnspecified() || !(target.IsLinkLocalUnicast() || target == d) {
		st.InRedirectErrors++
		return
	}
	if !n.auto.started {
		return
	}
	if s.forwards6(n) {
		st.RouterIgnoredRedirects++ // redirects are for hosts (RFC 4861 8.1)
		return
	}
	hop, ok := s.firstHop6(n, d)
	if !ok || hop != src {
		st.RedirectsFromNonRouters++
		return
	}
	st.InRedirects++
	r.ForEachOption(func(o wire.NDPOption) bool {
		if mac, ok := o.LinkLayerAddr(); ok && o.Type() == wire.NDPOptTargetLinkAddr {
			s.ndpNoteLinkAddr(n, target, mac, target != d) // RFC 4861 8.3
		}
		return true
	})
	now := s.clock.Now()
	a := &n.auto
	e := redirectEntry{dst: d, target: target, router: src, until: now + redirectLifetime}
	for i := range a.redirects {
		if a.redirects[i].dst == d {
			if target == src {
				a.redirects = append(a.redirects[:i], a.redirects[i+1:]...) // back to the router itself
				return
			}
			a.redirects[i] = e
			return
		}
	}
	if target == src {
		return
	}
	if len(a.redirects) == cap(a.redirects) {
		st.RedirectEvictions++
		copy(a.redirects, a.redirects[1:])
		a.redirects = a.redirects[:len(a.redirects)-1]
	}
	a.redirects = append(a.redirects, e)
}

// firstHop6 returns the router n currently sends traffic for dst to:
// the target of an earlier redirect, else the gateway of the route; false
// when dst is on-link or not routed through n.
func (s *Stack) firstHop6(n *nic, dst netip.Addr) (netip.Addr, bool) {
	if t, ok := s.redirectNextHop(n, dst); ok {
		return t, true
	}
	r, rn, ok := s.lookup(dst)
	if !ok || rn != n || !r.Gateway.IsValid() || r.Gateway.IsUnspecified() {
		return netip.Addr{}, false
	}
	return r.Gateway.WithZone(""), true
}

// redirectNextHop returns the next hop a redirect (RFC 4861 8.3) gave for
// dst on n: a better router, or dst itself when it is on-link. IPv6
// output calls it before using a route's gateway.
func (s *Stack) redirectNextHop(n *nic, dst netip.Addr) (netip.Addr, bool) {
	if n == nil {
		return netip.Addr{}, false
	}
	dst = dst.WithZone("")
	for i := range n.auto.redirects {
		if n.auto.redirects[i].dst == dst {
			return n.auto.redirects[i].target, true
		}
	}
	return netip.Addr{}, false
}
