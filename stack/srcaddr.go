package stack

import (
	"errors"
	"net/netip"
)

// ErrAddrNotAvailable means no usable (preferred or deprecated, not
// tentative) IPv6 source address exists for a destination.
var ErrAddrNotAvailable = errors.New("stack: no usable source address")

// IPv6 source address selection (RFC 6724 section 5). Candidates are the
// usable addresses of the outgoing interface (all interfaces when it has
// none); tentative addresses are never candidates (RFC 4862 5.4). Rules
// applied in order: 1 prefer the destination itself, 2 prefer the
// appropriate scope, 3 avoid deprecated addresses, 5 prefer the outgoing
// interface, 6 prefer a matching policy label, 8 prefer the longest
// matching prefix. Rules 4 (home addresses) and 7 (temporary addresses)
// do not apply: the stack has neither.

// scope6 returns the RFC 6724 3.1 scope of an address: the multicast
// scope field, 2 (link-local) for link-local unicast and loopback, 5 for
// the deprecated site-local prefix, 14 (global) otherwise.
func scope6(a netip.Addr) int {
	b := a.As16()
	switch {
	case a.IsMulticast():
		return int(b[1] & 0xf)
	case a.IsLinkLocalUnicast(), a.IsLoopback():
		return 2
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0:
		return 5
	}
	return 14
}

// policy6 is the default policy table of RFC 6724 2.1.
var policy6 = [...]struct {
	p     netip.Prefix
	prec  int
	label int
}{
	{netip.MustParsePrefix("::1/128"), 50, 0},
	{netip.MustParsePrefix("::ffff:0:0/96"), 35, 4},
	{netip.MustParsePrefix("2002::/16"), 30, 2},
	{netip.MustParsePrefix("2001::/32"), 5, 5},
	{netip.MustParsePrefix("fc00::/7"), 3, 13},
	{netip.MustParsePrefix("::/96"), 1, 3},
	{netip.MustParsePrefix("fec0::/10"), 1, 11},
	{netip.MustParsePrefix("3ffe::/16"), 1, 12},
	{netip.MustParsePrefix("::/0"), 40, 1},
}

// label6 returns the policy label of a: the entry with the longest
// matching prefix (the table is ordered so the first match is it).
func label6(a netip.Addr) int {
	for _, e := range policy6 {
		if e.p.Contains(a) {
			return e.label
		}
	}
	return 1
}

// commonPrefixLen is the number of leading bits a and b share, up to 64
// (the prefix part of the address, RFC 6724 2.2).
func commonPrefixLen(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	for i := 0; i < 8; i++ {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		for d&0x80 == 0 {
			n++
			d <<= 1
		}
		return n
	}
	return n
}

// srcCand is a candidate source address.
type srcCand struct {
	a          netip.Addr
	deprecated bool
	onOut      bool
}

// better reports whether a is a better source than b for dst (RFC 6724 5).
func better(a, b *srcCand, dst netip.Addr) bool {
	// Rule 1: prefer same address.
	if a.a == dst {
		return true
	}
	if b.a == dst {
		return false
	}
	// Rule 2: prefer appropriate scope.
	sa, sb, sd := scope6(a.a), scope6(b.a), scope6(dst)
	if sa < sb {
		return sa >= sd
	}
	if sb < sa {
		return sb < sd
	}
	// Rule 3: avoid deprecated addresses.
	if a.deprecated != b.deprecated {
		return !a.deprecated
	}
	// Rule 5: prefer outgoing interface.
	if a.onOut != b.onOut {
		return a.onOut
	}
	// Rule 6: prefer matching label.
	ld := label6(dst)
	if la, lb := label6(a.a) == ld, label6(b.a) == ld; la != lb {
		return la
	}
	// Rule 8: longest matching prefix.
	return commonPrefixLen(a.a, dst) > commonPrefixLen(b.a, dst)
}

// selectSource picks the source address for dst leaving by out (nil: any
// interface); the zero Addr when there is no usable address. It allocates
// nothing.
func (s *Stack) selectSource(dst netip.Addr, out *nic) netip.Addr {
	dst = dst.WithZone("")
	var best srcCand
	found := false
	consider := func(n *nic) {
		for i := range n.ip6.addrs {
			e := &n.ip6.addrs[i]
			if e.state == addrTentative {
				continue
			}
			c := srcCand{a: e.prefix.Addr(), deprecated: e.state == addrDeprecated, onOut: n == out}
			if !found || better(&c, &best, dst) {
				best, found = c, true
			}
		}
	}
	if out != nil {
		consider(out)
	}
	// Addresses of other interfaces are candidates too (rule 5 ranks
	// them lower), except for link-scoped destinations (RFC 4007).
	if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() || dst.IsInterfaceLocalMulticast() {
		if found || out != nil {
			return best.a
		}
	}
	for _, n := range s.nics {
		if n != out && n.kind != LinkLoopback {
			consider(n)
		}
	}
	if !found {
		return netip.Addr{}
	}
	return best.a
}

// SelectSource returns the source address the stack would use for the
// IPv6 destination dst leaving by nic (0: by route), per RFC 6724, or
// ErrNoRoute / ErrNoSuchInterface / ErrAddrNotAvailable.
func (s *Stack) SelectSource(dst netip.Addr, nic NIC) (netip.Addr, error) {
	var rt outRoute
	if !is6(dst) {
		return netip.Addr{}, ErrInvalid
	}
	if err := s.route6(dst, nic, &rt); err != nil {
		return netip.Addr{}, err
	}
	if !rt.src.IsValid() {
		return netip.Addr{}, ErrAddrNotAvailable
	}
	return rt.src, nil
}
