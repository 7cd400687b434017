package featherip

import (
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// Address parsing for the socket API. featherip has no resolver yet, so
// hosts are numeric IPv4 or IPv6 addresses (IPv6 ones may carry a zone,
// an interface name or index: "[fe80::1%eth0]:7", RFC 4007), "localhost"
// or empty (the wildcard when listening, the loopback address when dialing,
// as package net does); ports are numbers.

// family is the address family a datagram socket works in, chosen from the
// network and the addresses as package net does on Linux
// (favoriteAddrFamily): "udp4" is AF_INET, "udp6" is AF_INET6 with
// IPV6_V6ONLY, and "udp" listening on the wildcard is a dual-stack AF_INET6
// socket that takes both families.
type family uint8

const (
	famDual family = iota // both IPv4 and IPv6 ("udp" on the wildcard)
	fam4                  // IPv4 only
	fam6                  // IPv6 only
)

// accepts reports whether a socket of family f takes the address a (an
// unmapped address).
func (f family) accepts(a netip.Addr) bool {
	switch f {
	case fam4:
		return a.Is4()
	case fam6:
		return a.Is6()
	}
	return true
}

// checkUDPNetwork accepts "udp", "udp4" and "udp6", anything else fails
// with net.UnknownNetworkError.
func checkUDPNetwork(network string) error {
	switch network {
	case "udp", "udp4", "udp6":
		return nil
	}
	return net.UnknownNetworkError(network)
}

// parseUDPAddr parses "host:port" for a datagram socket on network (a
// "udp" network). An empty host gives the loopback address when dialing
// (::1 for "udp6") and, when listening, 0.0.0.0 for "udp4", :: for "udp6"
// and the invalid Addr for "udp" (both families). IPv4-mapped addresses
// count as IPv4; IPv6 zones are kept.
func parseUDPAddr(network, address string, dial bool) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := parsePort(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var a netip.Addr
	if host != "" || dial {
		if a, err = parseHost(network, host, dial); err != nil {
			return netip.AddrPort{}, err
		}
	} else {
		switch network {
		case "udp4":
			a = netip.IPv4Unspecified()
		case "udp6":
			a = netip.IPv6Unspecified()
		}
	}
	ap := netip.AddrPortFrom(a, p)
	return ap, checkFamily(network, ap)
}

func parsePort(port string) (uint16, error) {
	if port == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, &net.AddrError{Err: "invalid port (featherip takes numeric ports only)", Addr: port}
	}
	return uint16(n), nil
}

// isV6Network reports whether network names an IPv6-only socket ("udp6",
// "ip6:...").
func isV6Network(network string) bool {
	return len(network) >= 3 && network[:3] == "ip6" || network == "udp6"
}

// parseHost parses a numeric host (IPv4-mapped IPv6 addresses count as
// IPv4; IPv6 zones are kept). The empty host is the wildcard when
// listening and the loopback address when dialing, and "localhost" the
// loopback address: of IPv6 for IPv6-only networks, else of IPv4.
func parseHost(network, host string, dial bool) (netip.Addr, error) {
	v6 := isV6Network(network)
	switch {
	case host == "" && !dial && v6:
		return netip.IPv6Unspecified(), nil
	case host == "" && !dial:
		return netip.IPv4Unspecified(), nil
	case (host == "" || host == "localhost") && v6:
		return netip.IPv6Loopback(), nil
	case host == "" || host == "localhost":
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, &net.DNSError{Err: "featherip has no resolver yet: use a numeric IP address", Name: host, IsNotFound: true}
	}
	return unmap(a), nil
}

// unmap unmaps an IPv4-mapped address; other addresses keep their zone.
func unmap(a netip.Addr) netip.Addr {
	if a.Is4In6() {
		return a.Unmap()
	}
	return a
}

// checkFamily rejects an address of the wrong family for the IPv4-only and
// IPv6-only networks, as package net's resolver does ("no suitable address
// found"). The invalid Addr (both families) passes.
func checkFamily(network string, ap netip.AddrPort) error {
	a := ap.Addr()
	if !a.IsValid() {
		return nil
	}
	v4 := network == "udp4" || len(network) >= 3 && network[:3] == "ip4"
	if (v4 && !a.Is4()) || (isV6Network(network) && !a.Is6()) {
		return &net.AddrError{Err: "no suitable address found", Addr: ap.String()}
	}
	return nil
}

// udpAddrPort converts a *net.UDPAddr (nil or without IP: the invalid Addr,
// meaning the wildcard of the socket's family). IPv4-mapped addresses are
// unmapped; the zone is kept.
func udpAddrPort(a *net.UDPAddr) (netip.AddrPort, error) {
	if a == nil {
		return netip.AddrPort{}, nil
	}
	if a.Port < 0 || a.Port > 65535 {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid port", Addr: a.String()}
	}
	if len(a.IP) == 0 {
		return netip.AddrPortFrom(netip.Addr{}, uint16(a.Port)), nil
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid IP address", Addr: a.String()}
	}
	return netip.AddrPortFrom(unmap(ip.WithZone(a.Zone)), uint16(a.Port)), nil
}

// ipOf returns the address of a *net.UDPAddr or *net.IPAddr (the two
// address types ping and raw sockets take, as golang.org/x/net/icmp does),
// unmapped and with its zone.
func ipOf(addr net.Addr) (netip.Addr, error) {
	var ip net.IP
	var zone string
	switch a := addr.(type) {
	case *net.UDPAddr:
		if a == nil {
			return netip.Addr{}, syscall.EINVAL
		}
		ip, zone = a.IP, a.Zone
	case *net.IPAddr:
		if a == nil {
			return netip.Addr{}, syscall.EINVAL
		}
		ip, zone = a.IP, a.Zone
	default:
		return netip.Addr{}, syscall.EINVAL
	}
	na, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, syscall.EINVAL
	}
	return unmap(na.WithZone(zone)), nil
}

// familyError is what a write to an address of the other family fails
// with: package net's AddrError for IPv4 sockets ("non-IPv4 address"),
// ENETUNREACH for IPv6-only ones (as Linux's IPV6_V6ONLY sockets report
// for IPv4-mapped destinations).
func familyError(f family, a netip.Addr) error {
	if f == fam4 {
		return &net.AddrError{Err: "non-IPv4 address", Addr: a.String()}
	}
	return syscall.ENETUNREACH
}

// udpAddr converts for LocalAddr, RemoteAddr and ReadFrom; the zero
// AddrPort gives a nil *net.UDPAddr.
func udpAddr(ap netip.AddrPort) *net.UDPAddr {
	if !ap.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(ap)
}

// ipAddr converts for raw sockets.
func ipAddr(a netip.Addr) *net.IPAddr {
	if !a.IsValid() {
		return nil
	}
	return &net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()}
}

// zoned gives an IPv6 link-local address the name of the interface it
// was received on as its zone, as Linux reports sin6_scope_id. h.mu must
// be held.
func (h *Host) zonedLocked(a netip.Addr, nic int) netip.Addr {
	if a.Is6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) && a.Zone() == "" {
		if name := h.s.InterfaceName(stackNIC(nic)); name != "" {
			return a.WithZone(name)
		}
	}
	return a
}

// interfaceNIC returns the stack's NIC for a net.Interface from
// Host.Interfaces (by name, else by index). h.mu must be held.
func (h *Host) interfaceNICLocked(ifi *net.Interface) (int, bool) {
	for _, i := range h.s.Interfaces() {
		if (ifi.Name != "" && i.Name == ifi.Name) || (ifi.Name == "" && int(i.NIC) == ifi.Index) {
			return int(i.NIC), true
		}
	}
	return 0, false
}
