package featherip

import (
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// Address parsing for the socket API. featherip has no resolver yet, so
// hosts are numeric IPv4 addresses, "localhost" (127.0.0.1) or empty (the
// wildcard when listening, 127.0.0.1 when dialing, as package net does);
// ports are numbers.

// checkUDPNetwork accepts "udp" and "udp4"; "udp6" fails with
// ErrIPv6NotSupported, anything else with net.UnknownNetworkError.
func checkUDPNetwork(network string) error {
	switch network {
	case "udp", "udp4":
		return nil
	case "udp6":
		return ErrIPv6NotSupported
	}
	return net.UnknownNetworkError(network)
}

// parseAddrPort parses "host:port" for a socket. dial selects the meaning of
// an empty host.
func parseAddrPort(address string, dial bool) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := parsePort(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a, err := parseHost(host, dial)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, p), nil
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

// parseHost parses a numeric host; IPv4-mapped IPv6 addresses count as
// IPv4.
func parseHost(host string, dial bool) (netip.Addr, error) {
	switch host {
	case "":
		if dial {
			return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
		}
		return netip.IPv4Unspecified(), nil
	case "localhost":
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, &net.DNSError{Err: "featherip has no resolver yet: use a numeric IPv4 address", Name: host, IsNotFound: true}
	}
	return ipv4Only(a.WithZone(""))
}

// ipv4Only unmaps an IPv4-mapped address and rejects IPv6 ones.
func ipv4Only(a netip.Addr) (netip.Addr, error) {
	a = a.Unmap()
	if a.Is6() {
		return netip.Addr{}, ErrIPv6NotSupported
	}
	return a, nil
}

// udpAddrPort converts a *net.UDPAddr (nil: the wildcard with port 0).
func udpAddrPort(a *net.UDPAddr) (netip.AddrPort, error) {
	if a == nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0), nil
	}
	if a.Port < 0 || a.Port > 65535 {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid port", Addr: a.String()}
	}
	var ip netip.Addr
	if len(a.IP) == 0 {
		ip = netip.IPv4Unspecified()
	} else {
		var ok bool
		ip, ok = netip.AddrFromSlice(a.IP)
		if !ok {
			return netip.AddrPort{}, &net.AddrError{Err: "invalid IP address", Addr: a.String()}
		}
	}
	ip, err := ipv4Only(ip)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ip, uint16(a.Port)), nil
}

// ipOf returns the IPv4 address of a *net.UDPAddr or *net.IPAddr (the two
// address types ping and raw sockets take, as golang.org/x/net/icmp does).
func ipOf(addr net.Addr) (netip.Addr, error) {
	var ip net.IP
	switch a := addr.(type) {
	case *net.UDPAddr:
		if a == nil {
			return netip.Addr{}, syscall.EINVAL
		}
		ip = a.IP
	case *net.IPAddr:
		if a == nil {
			return netip.Addr{}, syscall.EINVAL
		}
		ip = a.IP
	default:
		return netip.Addr{}, syscall.EINVAL
	}
	na, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, syscall.EINVAL
	}
	return ipv4Only(na)
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
	return &net.IPAddr{IP: a.AsSlice()}
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
