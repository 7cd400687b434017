package testnet

import "net/netip"

// FamilyBind is one bind of the address-family conflict matrix that the
// TCP and UDP tests share: Addr "" is the zero Addr (the dual-stack
// wildcard), V6Only sets IPV6_V6ONLY, Reuse SO_REUSEADDR.
type FamilyBind struct {
	Addr          string
	V6Only, Reuse bool
}

// AddrPort is b's address with port.
func (b FamilyBind) AddrPort(port uint16) netip.AddrPort {
	if b.Addr == "" {
		return netip.AddrPortFrom(netip.Addr{}, port)
	}
	return netip.AddrPortFrom(netip.MustParseAddr(b.Addr), port)
}

func (b FamilyBind) String() string {
	s := b.Addr
	if s == "" {
		s = "zero"
	}
	if b.V6Only {
		s += "/v6only"
	}
	if b.Reuse {
		s += "/reuse"
	}
	return s
}

// FamilyCase is two binds of one port and whether the second clashes with
// the first (in either order).
type FamilyCase struct {
	A, B  FamilyBind
	Clash bool
}

// FamilyConflicts is the conflict matrix of Linux's inet_rcv_saddr_equal
// with IPV6_V6ONLY, for a host whose addresses are v4 and v6: the IPv4
// wildcard and the IPv6-only one coexist, the dual wildcard clashes with
// every bind, a specific address with the wildcards of its family and
// itself (an IPv4-mapped address counting as IPv4).
func FamilyConflicts(v4, v6 string) []FamilyCase {
	var (
		v4any  = FamilyBind{Addr: "0.0.0.0"}
		v6only = FamilyBind{Addr: "::", V6Only: true}
		zero6  = FamilyBind{V6Only: true} // the zero Addr with V6Only: the IPv6 wildcard
		v6dual = FamilyBind{Addr: "::"}
		zero   = FamilyBind{}
		v4spec = FamilyBind{Addr: v4}
		mapped = FamilyBind{Addr: "::ffff:" + v4}
		v6spec = FamilyBind{Addr: v6}
	)
	return []FamilyCase{
		{v4any, v6only, false},
		{v4any, zero6, false},
		{v4any, v6dual, true},
		{v4any, zero, true},
		{v4any, v4any, true},
		{v6only, v6only, true},
		{v6only, v6dual, true},
		{v6only, zero, true},
		{v6dual, zero, true},
		{v4spec, v6only, false},
		{mapped, v6only, false},
		{v4spec, v4any, true},
		{v4spec, v6dual, true},
		{v4spec, zero, true},
		{v6spec, v6only, true},
		{v6spec, v6dual, true},
		{v6spec, v4any, false},
		{v6spec, v4spec, false},
		{v6spec, v6spec, true},
		{v4spec, mapped, true},
	}
}
