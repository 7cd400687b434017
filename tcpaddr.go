package featherip

import (
	"net"
	"net/netip"
)

// checkTCPNetwork accepts "tcp", "tcp4" and "tcp6".
func checkTCPNetwork(network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return net.UnknownNetworkError(network)
}

// isTCPNetwork reports whether network names TCP.
func isTCPNetwork(network string) bool { return checkTCPNetwork(network) == nil }

// parseTCPAddr parses "host:port" for a TCP socket on network. Hosts are
// numeric (IPv4 or IPv6), "localhost" or empty: the loopback address when
// dialing, the wildcard when listening ("tcp": both families, "tcp4":
// 0.0.0.0, "tcp6": [::]), as package net does.
func parseTCPAddr(network, address string, dial bool) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := parsePort(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var a netip.Addr
	switch host {
	case "":
		switch {
		case dial && network == "tcp6":
			a = netip.IPv6Loopback()
		case dial:
			a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		case network == "tcp4":
			a = netip.IPv4Unspecified()
		case network == "tcp6":
			a = netip.IPv6Unspecified()
		default:
			return netip.AddrPortFrom(netip.Addr{}, p), nil // both families
		}
	case "localhost":
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if network == "tcp6" {
			a = netip.IPv6Loopback()
		}
	default:
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, &net.DNSError{Err: "featherip has no resolver yet: use a numeric IP address", Name: host, IsNotFound: true}
		}
	}
	ap := netip.AddrPortFrom(a.Unmap(), p)
	return ap, checkTCPFamily(network, ap)
}

// checkTCPFamily rejects an address of the wrong family for "tcp4" and
// "tcp6" as package net does.
func checkTCPFamily(network string, ap netip.AddrPort) error {
	a := ap.Addr()
	if !a.IsValid() {
		return nil
	}
	if (network == "tcp4" && !a.Is4()) || (network == "tcp6" && !a.Is6()) {
		return &net.AddrError{Err: "no suitable address found", Addr: ap.String()}
	}
	return nil
}

// tcpAddrPort converts a *net.TCPAddr (nil: the wildcard with port 0).
func tcpAddrPort(a *net.TCPAddr) (netip.AddrPort, error) {
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
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port)), nil
}
