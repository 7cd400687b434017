package stack

import "net/netip"

// Route is one entry of the routing table. A route without a Gateway is
// connected: its destinations are on the link of NIC. Among matching routes
// via interfaces that are up, the longest prefix wins, then the lowest
// Metric, then the route added first (RFC 1812 5.2.4.3 in spirit).
type Route struct {
	Dst     netip.Prefix // destination subnet; 0.0.0.0/0 is the default route
	Gateway netip.Addr   // next hop; zero for connected routes
	NIC     NIC          // outgoing interface
	Metric  int          // lower is preferred at equal prefix length
}

// AddRoute adds a route. Dst is masked to its prefix; the NIC must exist and
// the gateway, if any, must be an IPv4 unicast address.
func (s *Stack) AddRoute(r Route) error {
	if r.Dst.IsValid() && is6(r.Dst.Addr()) {
		if r.Metric < 0 || (r.Gateway.IsValid() && (!is6(r.Gateway) || r.Gateway.IsMulticast() || r.Gateway.IsUnspecified())) {
			return ErrInvalid
		}
		r.Dst = netip.PrefixFrom(r.Dst.Addr().WithZone(""), r.Dst.Bits())
		r.Gateway = r.Gateway.WithZone("")
	} else if !r.Dst.IsValid() || !r.Dst.Addr().Is4() || r.Metric < 0 {
		return ErrInvalid
	} else if r.Gateway.IsValid() && (!r.Gateway.Is4() || r.Gateway.IsMulticast() || r.Gateway.IsUnspecified() || r.Gateway == limitedBroadcast) {
		return ErrInvalid
	}
	if s.nic(r.NIC) == nil {
		return ErrNoSuchInterface
	}
	r.Dst = r.Dst.Masked()
	if s.hasRoute(r) {
		return ErrExists
	}
	if len(s.routes) >= s.cfg.MaxRoutes {
		return ErrBufferFull
	}
	s.routes = append(s.routes, r)
	s.routeInputsChanged()
	return nil
}

func (s *Stack) hasRoute(r Route) bool {
	for _, x := range s.routes {
		if x.Dst == r.Dst && x.Gateway == r.Gateway && x.NIC == r.NIC {
			return true
		}
	}
	return false
}

// RemoveRoute removes the route with r's Dst, Gateway and NIC (the metric is ignored).
func (s *Stack) RemoveRoute(r Route) error {
	if r.Dst.IsValid() {
		r.Dst = r.Dst.Masked()
	}
	for i, x := range s.routes {
		if x.Dst == r.Dst && x.Gateway == r.Gateway && x.NIC == r.NIC {
			s.routes = append(s.routes[:i], s.routes[i+1:]...)
			s.routeInputsChanged()
			return nil
		}
	}
	return ErrNotFound
}

// Routes returns a copy of the routing table in insertion order.
func (s *Stack) Routes() []Route { return append([]Route(nil), s.routes...) }

// lookup finds the best route to dst via an interface that is up.
func (s *Stack) lookup(dst netip.Addr) (Route, *nic, bool) {
	best := -1
	var bn *nic
	for i := range s.routes {
		r := &s.routes[i]
		if !r.Dst.Contains(dst) {
			continue
		}
		n := s.nic(r.NIC)
		if n == nil || !n.up {
			continue
		}
		if best >= 0 {
			b := &s.routes[best]
			if r.Dst.Bits() < b.Dst.Bits() || (r.Dst.Bits() == b.Dst.Bits() && r.Metric >= b.Metric) {
				continue
			}
		}
		best, bn = i, n
	}
	if best < 0 {
		return Route{}, nil, false
	}
	return s.routes[best], bn, true
}

// Route looks up dst for a transport: the source address to use, the
// outgoing interface and its MTU. Local destinations route via loopback.
func (s *Stack) Route(dst netip.Addr) (src netip.Addr, nic NIC, mtu int, err error) {
	var rt outRoute
	if err := s.route(dst, 0, &rt); err != nil {
		return netip.Addr{}, 0, 0, err
	}
	if is6(dst) {
		if !rt.src.IsValid() {
			return netip.Addr{}, 0, 0, ErrAddrNotAvailable
		}
		return rt.src, rt.nic.id, s.pathMTU(rt.nic, dst.WithZone("")), nil
	}
	return rt.src, rt.nic.id, rt.nic.mtu, nil
}

// outRoute is the result of an output route decision.
type outRoute struct {
	nic     *nic
	nextHop netip.Addr // gateway or destination (unicast only)
	src     netip.Addr // preferred source
	kind    dstKind
}

type dstKind uint8

const (
	dstUnicast dstKind = iota
	dstLocal           // one of our addresses or 127/8: loop back
	dstBroadcast
	dstMulticast
)

// route decides how to send to dst. via != 0 forces the interface (used for
// broadcast and multicast on a chosen interface, and for unicast when the
// caller pins the interface).
func (s *Stack) route(dst netip.Addr, via NIC, rt *outRoute) error {
	if !dst.Is4() {
		if is6(dst) {
			return s.route6(dst, via, rt)
		}
		return ErrInvalid
	}
	if s.cachedRoute4(dst, via, rt) {
		return nil
	}
	if err := s.route4(dst, via, rt); err != nil {
		return err
	}
	s.fillRoute4(dst, via, rt)
	return nil
}

// route4 is route for an IPv4 destination, without the cache.
func (s *Stack) route4(dst netip.Addr, via NIC, rt *outRoute) error {
	*rt = outRoute{}
	if s.IsLocal(dst) || isLoopbackAddr(dst) {
		lo := s.nic(LoopbackNIC)
		rt.nic, rt.kind, rt.nextHop = lo, dstLocal, dst
		rt.src = dst
		if isLoopbackAddr(dst) || !dst.Is4() {
			rt.src = lo.sourceFor(dst)
		}
		return nil
	}
	if via != 0 {
		n := s.nic(via)
		if n == nil {
			return ErrNoSuchInterface
		}
		if !n.up {
			return ErrNoRoute
		}
		rt.nic = n
		switch {
		case dst == limitedBroadcast || n.isDirectedBroadcast(dst):
			rt.kind = dstBroadcast
		case dst.IsMulticast():
			rt.kind = dstMulticast
		default:
			rt.kind = dstUnicast
			rt.nextHop = dst
			// use a gateway of a route via this interface when dst is not on-link
			if r, rn, ok := s.lookup(dst); ok && rn == n && r.Gateway.IsValid() {
				rt.nextHop = r.Gateway
			}
		}
		rt.src = n.sourceFor(rt.nextHopOr(dst))
		return nil
	}
	r, n, ok := s.lookup(dst)
	if !ok {
		return ErrNoRoute
	}
	rt.nic = n
	switch {
	case dst == limitedBroadcast || n.isDirectedBroadcast(dst):
		rt.kind = dstBroadcast
	case dst.IsMulticast():
		rt.kind = dstMulticast
	default:
		rt.kind = dstUnicast
		rt.nextHop = dst
		if r.Gateway.IsValid() {
			rt.nextHop = r.Gateway
		}
	}
	rt.src = n.sourceFor(rt.nextHopOr(dst))
	return nil
}

func (rt *outRoute) nextHopOr(dst netip.Addr) netip.Addr {
	if rt.nextHop.IsValid() {
		return rt.nextHop
	}
	return dst
}

func isLoopbackAddr(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 127 }
