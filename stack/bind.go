package stack

import "net/netip"

// BindsOverlap reports whether two transport binds share an address, which
// makes them clash on one port unless both allow reuse: Linux's
// inet_rcv_saddr_equal with IPV6_V6ONLY. A bind is an address and whether
// it is the wildcard of both families (dual: an AF_INET6 socket on ::
// without IPV6_V6ONLY). The dual wildcard overlaps every bind; a
// one-family wildcard (0.0.0.0, or :: with IPV6_V6ONLY) every address and
// wildcard of its family; a specific address only itself. An invalid
// address counts as the dual wildcard. TCP and UDP share these rules.
func BindsOverlap(a netip.Addr, adual bool, b netip.Addr, bdual bool) bool {
	switch {
	case adual || bdual || !a.IsValid() || !b.IsValid():
		return true
	case a.IsUnspecified() || b.IsUnspecified():
		return a.Is4() == b.Is4()
	}
	return a == b
}
