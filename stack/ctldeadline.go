package stack

import (
	"strconv"
	"time"
)

// The control-plane timers (IPv6 autoconfiguration: DAD, router
// solicitations, address, router, prefix and RDNSS lifetimes; MLD and IGMP
// reports) live in many small per-interface lists changed in many places.
// Rather than mark every one of those places, their earliest timer is
// cached and invalidated where a change can enter: Poll (the timers
// themselves), ICMPv6 messages other than echo (router and neighbor
// discovery, MLD), IGMP messages, and the API calls that add interfaces or
// addresses, bring interfaces up or down, switch forwarding or join and
// leave groups. Packets of the data path (TCP, UDP, echo) leave the cache
// alone, so NextDeadline reads it in O(1) between control events.

// ctlDeadlineCache is the cached earliest control-plane timer.
type ctlDeadlineCache struct {
	next    time.Duration
	hasNext bool
	dirty   bool
}

// ctlChanged invalidates the cached earliest control-plane timer.
func (s *Stack) ctlChanged() { s.ctl.dirty = true }

// ctlDeadline is the earliest autoconfiguration, MLD or IGMP timer, from
// the cache unless something may have changed since it was computed.
func (s *Stack) ctlDeadline() (time.Duration, bool) {
	if s.ctl.dirty {
		s.ctl.next, s.ctl.hasNext = s.ctlScanDeadline()
		s.ctl.dirty = false
	}
	return s.ctl.next, s.ctl.hasNext
}

// ctlScanDeadline computes the earliest control-plane timer from the lists.
func (s *Stack) ctlScanDeadline() (time.Duration, bool) {
	t, ok := s.autoconfDeadline()
	if g, gok := s.igmpDeadline(); gok && (!ok || g < t) {
		t, ok = g, true
	}
	return t, ok
}

// verifyDeadlineCaches panics when a cached earliest timer differs from a
// scan of its table. NextDeadline and Poll call it when Stack.verifyDeadlines is
// set, which the package's tests do for every stack they build, so the
// whole test suite checks the caches' invalidation.
func (s *Stack) verifyDeadlineCaches() {
	check := func(what string, ct time.Duration, cok bool, st time.Duration, sok bool) {
		if ct != st || cok != sok {
			panic("stack: cached " + what + " deadline " + ct.String() + " (" + strconv.FormatBool(cok) + "), scan " + st.String() + " (" + strconv.FormatBool(sok) + ")")
		}
	}
	ct, cok := s.arpDeadline()
	st, sok := s.arpScanDeadline()
	check("ARP", ct, cok, st, sok)
	ct, cok = s.reasm.deadline()
	st, sok = s.reasm.scanDeadline()
	check("IPv4 reassembly", ct, cok, st, sok)
	ct, cok = s.ndpDeadline()
	st, sok = s.ndpScanDeadline()
	check("NDP", ct, cok, st, sok)
	ct, cok = s.ip6.reasm.deadline()
	st, sok = s.ip6.reasm.scanDeadline()
	check("IPv6 reassembly", ct, cok, st, sok)
	ct, cok = s.ctlDeadline()
	st, sok = s.ctlScanDeadline()
	check("control-plane", ct, cok, st, sok)
}
