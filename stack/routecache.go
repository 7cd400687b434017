package stack

import "net/netip"

// routeCache is a one-entry IPv4 destination cache: the last successful
// output route decision, reused while the routing inputs are unchanged.
// Every send resolves its route (a transport's Route, then WriteIPv4), and
// a stream of datagrams or segments goes to one destination, so one entry
// takes the table scans (routes, interfaces, addresses) off the per-packet
// path. It is validated by Stack.routeGen, which every change to what
// route decides on bumps (routeInputsChanged): the routing table, the
// interfaces, their up state and their IPv4 addresses. Failed decisions
// are not cached.
type routeCache struct {
	gen uint64 // Stack.routeGen when filled; 0 = empty
	dst netip.Addr
	via NIC
	rt  outRoute
}

// routeInputsChanged invalidates the destination cache. Call it after any
// change to the routing table, the interfaces, their up state or their
// IPv4 addresses.
func (s *Stack) routeInputsChanged() {
	s.routeGen++
	s.rcache.gen = 0
}

// cachedRoute4 fills rt from the cache when it holds dst via via.
func (s *Stack) cachedRoute4(dst netip.Addr, via NIC, rt *outRoute) bool {
	c := &s.rcache
	if c.gen == 0 || c.gen != s.routeGen || c.via != via || c.dst != dst {
		return false
	}
	*rt = c.rt
	return true
}

// fillRoute4 stores a successful decision.
func (s *Stack) fillRoute4(dst netip.Addr, via NIC, rt *outRoute) {
	if s.routeGen == 0 {
		s.routeGen = 1
	}
	s.rcache = routeCache{gen: s.routeGen, dst: dst, via: via, rt: *rt}
}
