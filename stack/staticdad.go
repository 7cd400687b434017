package stack

import (
	"net/netip"
	"time"
)

// Duplicate address detection for static IPv6 addresses (RFC 4862 5.4:
// DAD "MUST be performed on all unicast addresses prior to assigning them
// to an interface, regardless of whether they are obtained through
// stateless autoconfiguration, DHCPv6, or manual configuration").
//
// A static address added with DAD (AddAddress) is tentative until DAD
// passes. Its solicited-node group is joined when it is added (and again
// at every up, ipv6StaticAddr and ipv6InterfaceUp); while the interface is
// up the stack sends SLAACConfig.DupAddrDetectTransmits neighbor
// solicitations from :: to that group, RetransTimer apart, the first at
// once or, when DAD starts as the interface comes up, after a random delay
// of up to MAX_RTR_SOLICITATION_DELAY. RetransTimer after the last one
// without an answer the address becomes preferred, counted in
// AutoconfStats.AddressesFormed and reported through
// Config.OnAddressChange. An NA for it, or an NS for it from :: (another
// node doing DAD), makes it duplicate (RFC 4862 5.4.5): it is removed with
// its connected route (as RemoveAddress would), counted in
// AutoconfStats.DADFailures and reported through Config.OnDADFailure. The
// stack does not retry: the application may add it again. Going down
// makes a usable address tentative again (reported gone through
// Config.OnAddressChange), so DAD runs again at the next up.
//
// The state lives in the address list entry (ipv6Addr.dadLeft, dadAt);
// every entry point that changes it (AddAddress, RemoveAddress, SetUp,
// ICMPv6 neighbor discovery input, Poll) invalidates the control-plane
// deadline cache (ctldeadline.go).

// startStaticDAD starts DAD for the tentative static address a of n, at
// now or, when atUp (n is coming up), after a random delay (RFC 4862
// 5.4.2).
func (s *Stack) startStaticDAD(n *nic, a netip.Addr, now time.Duration, atUp bool) {
	e := n.find6(a)
	if e == nil || !e.static || !e.dad || e.state != addrTentative {
		return
	}
	e.dadLeft = max(s.cfg.SLAAC.DupAddrDetectTransmits, 1)
	e.dadAt = now
	if atUp {
		e.dadAt = now + s.randDelay(maxRtrSolicitationDelay)
	}
}

// staticDADUp starts DAD for n's tentative static addresses as n comes up.
func (s *Stack) staticDADUp(n *nic, now time.Duration) {
	for i := range n.ip6.addrs {
		if e := &n.ip6.addrs[i]; e.static && e.dad && e.state == addrTentative {
			s.startStaticDAD(n, e.prefix.Addr(), now, true)
		}
	}
}

// staticDADDown makes n's static addresses that went through DAD
// tentative again as n goes down, reporting the usable ones gone.
func (s *Stack) staticDADDown(n *nic) {
	for i := range n.ip6.addrs {
		e := &n.ip6.addrs[i]
		if !e.static || !e.dad {
			continue
		}
		wasUsable := e.state != addrTentative
		e.state, e.dadLeft, e.dadAt = addrTentative, 0, 0
		if wasUsable {
			if f := s.cfg.OnAddressChange; f != nil {
				f(n.id, e.prefix, false)
			}
		}
	}
}

// staticDADTimers sends the due DAD probes of n's tentative static
// addresses and makes those whose last probe went unanswered preferred.
func (s *Stack) staticDADTimers(n *nic, now time.Duration) {
	for i := range n.ip6.addrs {
		e := &n.ip6.addrs[i]
		if !e.static || e.state != addrTentative || !e.dad || e.dadAt > now {
			continue
		}
		if e.dadLeft == 0 {
			e.state = addrPreferred
			s.stats.Autoconf.AddressesFormed++
			if f := s.cfg.OnAddressChange; f != nil {
				f(n.id, e.prefix, true)
			}
			continue
		}
		e.dadLeft--
		e.dadAt = now + n.auto.retrans
		s.sendDADProbe(n, e.prefix.Addr())
	}
}

// staticDADDeadline reports the next DAD step of n's static addresses.
func (n *nic) staticDADDeadline(take func(time.Duration)) {
	for i := range n.ip6.addrs {
		if e := &n.ip6.addrs[i]; e.static && e.dad && e.state == addrTentative {
			take(e.dadAt)
		}
	}
}

// staticDADMessage handles an NS or NA whose target is the tentative
// static address e of n (RFC 4862 5.4.3, 5.4.4), as dadNeighborMessage
// does for autoconfigured ones: an NA, or an NS from ::, makes it
// duplicate; an NS from a unicast source is address resolution and is
// ignored.
func (s *Stack) staticDADMessage(n *nic, e *ipv6Addr, src netip.Addr, isAdvert bool) {
	if !isAdvert && !src.IsUnspecified() {
		return
	}
	a := e.prefix.Addr()
	s.stats.Autoconf.DADFailures++
	_ = s.removeAddress6(n, a) // e is gone from here on
	if f := s.cfg.OnDADFailure; f != nil {
		f(n.id, a)
	}
}
