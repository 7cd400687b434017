package stack

import (
	"encoding/binary"
	"net/netip"

	"github.com/featherip/featherip/wire"
)

// IPv4 forwarding between interfaces (RFC 1812, "Requirements for IP
// Version 4 Routers").
//
// Forwarding is off unless Config.Forwarding is set; then a datagram is
// forwarded when the interface it came in on has forwarding on as well
// (SetForwarding; on by default for every interface but loopback, like
// Linux's net.ipv4.ip_forward turning on conf/all/forwarding).
//
// A forwarded datagram is copied once from the received frame into a pool
// buffer, its TTL decremented with an incremental checksum update (RFC
// 1624), and it is sent to the next hop of the best route, fragmented when
// the outgoing MTU is smaller (RFC 1812 5.2.6) or answered with ICMP
// "fragmentation needed" carrying the next-hop MTU when DF is set (RFC
// 1191). Expired TTLs get ICMP time exceeded (RFC 1812 5.3.1), datagrams
// without a route ICMP net unreachable (5.2.7.1); datagrams that leave on
// the interface they came in on toward a next hop on the source's subnet
// get an ICMP host redirect (5.2.7.2) and are still forwarded. ICMP errors
// are rate limited and never sent about ICMP errors, broadcasts,
// multicasts or non-first fragments (sendICMPError).
//
// Never forwarded (counted): martian sources and destinations (RFC 1812
// 5.3.7, 5.2.3: 0/8, 127/8, 169.254/16 link-local (RFC 3927 7), 240/4,
// broadcast, multicast), multicast and broadcast destinations (no
// multicast routing; directed broadcasts are not forwarded, RFC 2644),
// unicast datagrams received in a link-layer broadcast or multicast frame
// (RFC 1812 5.3.4), and source-routed datagrams (LSRR/SSRR; like Linux's
// accept_source_route=0 default, RFC 1812 5.3.16 lets routers refuse
// them).

// SetForwarding turns forwarding of datagrams received on an interface on
// or off, for both families: IPv4 datagrams are forwarded when
// Config.Forwarding is set as well, IPv6 packets when
// Config.IPv6.Forwarding is (forward6.go; the interface then acts as an
// IPv6 router). Every interface but loopback starts with forwarding on;
// loopback cannot forward (ErrInvalid).
func (s *Stack) SetForwarding(id NIC, on bool) error {
	s.ctlChanged()
	n := s.nic(id)
	if n == nil {
		return ErrNoSuchInterface
	}
	if n.kind == LinkLoopback {
		if on {
			return ErrInvalid
		}
		return nil
	}
	was := s.forwards6(n)
	n.noForward = !on
	if now := s.forwards6(n); now != was {
		s.routerMode6(n, now)
	}
	return nil
}

// Forwarding reports whether datagrams received on an interface are
// forwarded: Config.Forwarding is set and the interface has forwarding on.
func (s *Stack) Forwarding(id NIC) bool {
	n := s.nic(id)
	return n != nil && s.forwards(n)
}

func (s *Stack) forwards(n *nic) bool {
	return s.cfg.Forwarding && !n.noForward && n.kind != LinkLoopback
}

// isMartian reports whether a may neither be the source nor the
// destination of a forwarded datagram (RFC 1812 5.3.7 and 4.2.2.11, RFC
// 3927 section 7, RFC 1122 3.2.1.3): 0/8, 127/8, 169.254/16, 224/4
// (multicast is never forwarded here) and 240/4 (class E and the limited
// broadcast).
func isMartian(a netip.Addr) bool {
	b := a.As4()
	switch {
	case b[0] == 0, b[0] == 127, b[0] >= 224:
		return true
	case b[0] == 169 && b[1] == 254:
		return true
	}
	return false
}

// forward handles a datagram received on n that is addressed to some
// other host. p has passed the input checks (version, lengths, header
// checksum, options syntax). The datagram is not fragmented or
// reassembled first: fragments are forwarded (and refragmented) as they
// come.
func (s *Stack) forward(n *nic, p wire.IPv4, linkGroup bool) {
	st := &s.stats.IP
	src, dst := p.Src(), p.Dst()
	if isMartian(src) || s.IsBroadcast(0, src) {
		st.InHdrErrors++
		st.InMartians++
		return
	}
	if isMartian(dst) {
		st.InAddrErrors++
		st.InMartians++
		return
	}
	if linkGroup {
		// RFC 1812 5.3.4: a unicast datagram in a link-layer broadcast
		// or multicast frame is not forwarded.
		st.InAddrErrors++
		return
	}
	if p.HeaderLen() > wire.IPv4MinHeaderLen && hasSourceRoute(p.Options()) {
		st.InSourceRouted++
		st.InDiscards++
		return
	}
	hdr := p.Header()
	if p.TTL() <= 1 {
		// RFC 1812 5.3.1; RFC 4293 counts TTL expiry in InHdrErrors.
		st.InHdrErrors++
		s.sendICMPError(hdr, p.Payload(), false, wire.ICMPv4TimeExceeded, 0, 0)
		return
	}
	r, out, ok := s.lookup(dst)
	if !ok || out.kind == LinkLoopback {
		st.OutNoRoutes++
		s.sendICMPError(hdr, p.Payload(), false, wire.ICMPv4DestUnreachable, wire.ICMPv4NetUnreachable, 0)
		return
	}
	if out.isDirectedBroadcast(dst) {
		st.InAddrErrors++ // directed broadcasts are not forwarded (RFC 2644)
		return
	}
	nextHop := dst
	if r.Gateway.IsValid() {
		nextHop = r.Gateway
	}
	size := p.TotalLength()
	if size > out.mtu && p.DontFragment() {
		st.FragFails++
		s.sendICMPError(hdr, p.Payload(), false, wire.ICMPv4DestUnreachable, wire.ICMPv4FragNeeded, uint32(uint16(out.mtu)))
		return
	}
	if out == n && out.kind == LinkEthernet && n.sameSubnet(src, nextHop) {
		s.sendRedirect(p, nextHop)
	}
	b := s.pool.Get(size)
	if b == nil {
		s.stats.Link.PoolExhausted++
		st.InDiscards++
		return
	}
	d := b.Bytes()
	copy(d, p.Bytes())
	wire.SetIPv4TTL(d, p.TTL()-1)
	st.ForwDatagrams++
	if out.kind == LinkIP {
		_ = s.transmit(out, b, wire.MAC{})
		return
	}
	_ = s.arpResolve(out, b, nextHop)
}

// sameSubnet reports whether a and b are in one subnet of n.
func (n *nic) sameSubnet(a, b netip.Addr) bool {
	for _, p := range n.addrs {
		if p.Contains(a) && p.Contains(b) {
			return true
		}
	}
	return false
}

// sendRedirect tells the source of p to send to dst via gw directly: an
// ICMP host redirect (type 5 code 1; RFC 1812 5.2.7.2 prefers host
// redirects), rate limited with the other ICMP errors.
func (s *Stack) sendRedirect(p wire.IPv4, gw netip.Addr) {
	before := s.stats.ICMP.OutMsgs
	g := gw.As4()
	s.sendICMPError(p.Header(), p.Payload(), false, wire.ICMPv4Redirect, 1, binary.BigEndian.Uint32(g[:]))
	if s.stats.ICMP.OutMsgs != before {
		s.stats.ICMP.OutRedirects++
	}
}

// hasSourceRoute reports whether the option bytes hold a loose or strict
// source route option. The options have been checked by the input path.
func hasSourceRoute(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch t := opts[i]; t {
		case wire.IPv4OptionEOL:
			return false
		case wire.IPv4OptionNOP:
			i++
			continue
		case wire.IPv4OptionLSRR, wire.IPv4OptionSSRR:
			return true
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return false
		}
		i += int(opts[i+1])
	}
	return false
}
