package stack

import (
	"net/netip"

	"github.com/featherip/featherip/wire"
)

// Packet is a datagram addressed to this host, as handed to transports and
// raw handlers. The slices are valid only during the call.
type Packet struct {
	NIC                  NIC // interface it arrived on (LoopbackNIC for looped-back unicast)
	Src, Dst             netip.Addr
	Protocol, TTL, TOS   uint8
	IPHeader             []byte // the IPv4 header as received (after reassembly: offset 0, MF clear)
	Payload              []byte // the transport header + data
	Broadcast, Multicast bool   // destination kind
	// IPv6 is set for IPv6 packets: TTL is then the hop limit, TOS the
	// traffic class, IPHeader the IPv6 header and the extension headers
	// before the upper layer (contiguous with Payload).
	IPv6 bool
	// ChecksumOK says the link verified the transport checksum or the
	// packet came from the local kernel with a partial one (InputMeta):
	// the transport may skip its own check.
	ChecksumOK bool
	// GSOSize is, for a TCP super-frame coalesced from several wire
	// segments (GRO, InputMeta), the payload bytes of each segment but the
	// last; 0 for a packet as it came off the wire.
	GSOSize int

	nhOff       int  // IPv6: offset of the next-header byte naming the upper layer
	routerAlert bool // IPv6: a hop-by-hop router alert option was present
	mldAlert    bool // IPv6: ... with value 0, MLD (RFC 2711)
}

// RouterAlert reports whether an IPv6 packet carried a hop-by-hop router
// alert option (RFC 2711), as MLD messages must.
func (p *Packet) RouterAlert() bool { return p.routerAlert }

// Transport is a protocol above IP (UDP, TCP, ...), registered by number.
type Transport interface {
	// Deliver gets a datagram addressed to this host. It returns false when nobody wants it
	// (the transport may then call SendDestUnreachable itself, e.g. UDP with code 3).
	Deliver(p *Packet) bool
	// HandleICMPError gets ICMP errors (dest unreachable, time exceeded, param problem;
	// source quench is ignored, RFC 6633) whose quoted datagram carried this transport's protocol.
	HandleICMPError(e *ICMPError)
}

// ICMPError is a received ICMP error about a datagram we sent. Quoted is
// valid only during the call.
type ICMPError struct {
	Type, Code uint8
	From       netip.Addr // the reporting router/host
	Src, Dst   netip.Addr // addresses of the quoted (original) datagram
	Protocol   uint8
	Quoted     []byte // quoted transport header bytes (>= 8)
	MTU        int    // next-hop MTU for frag-needed (RFC 1191), else 0
	Pointer    uint8  // parameter problem pointer (RFC 792), else 0

	// Family-neutral fields, set for both ICMPv4 and ICMPv6 errors.
	IPv6   bool          // an ICMPv6 error (Type and Code are ICMPv6 values, RFC 4443)
	Kind   ICMPErrorKind // what the error means, whatever the family
	Offset int           // parameter problem pointer (ICMPv4's Pointer or ICMPv6's 32-bit one), else 0
}

// ICMPErrorKind classifies an ICMP error independently of the family.
type ICMPErrorKind uint8

// ICMP error kinds.
const (
	ICMPOther            ICMPErrorKind = iota
	ICMPNetUnreachable                 // no route to the network (v4 codes 0, 6, 11; v6 codes 0, 2, 6)
	ICMPHostUnreachable                // host or address unreachable (v4 1, 7, 12, ...; v6 3)
	ICMPProtoUnreachable               // protocol unreachable (v4 code 2; v6 parameter problem code 1)
	ICMPPortUnreachable                // port unreachable (v4 code 3; v6 code 4)
	ICMPAdminProhibited                // administratively prohibited (v4 9, 10, 13; v6 1, 5)
	ICMPTooBig                         // fragmentation needed (v4 code 4) or packet too big (v6); see MTU
	ICMPTimeExceeded                   // TTL / hop limit or reassembly time exceeded
	ICMPParamProblem                   // parameter problem
)

// icmpv4Kind classifies an ICMPv4 error.
func icmpv4Kind(typ, code uint8) ICMPErrorKind {
	switch typ {
	case wire.ICMPv4DestUnreachable:
		switch code {
		case 0, 6, 11:
			return ICMPNetUnreachable
		case wire.ICMPv4ProtoUnreachable:
			return ICMPProtoUnreachable
		case wire.ICMPv4PortUnreachable:
			return ICMPPortUnreachable
		case wire.ICMPv4FragNeeded:
			return ICMPTooBig
		case 9, 10, 13:
			return ICMPAdminProhibited
		}
		return ICMPHostUnreachable
	case wire.ICMPv4TimeExceeded:
		return ICMPTimeExceeded
	case wire.ICMPv4ParamProblem:
		return ICMPParamProblem
	}
	return ICMPOther
}

// RawHandler sees datagrams without consuming them.
type RawHandler interface{ DeliverRaw(p *Packet) }

// ProtoAny registers a raw handler for every protocol.
const ProtoAny uint8 = 255

// RegisterTransport registers the transport for an IP protocol number, one
// per protocol. ICMP belongs to the stack (use a raw handler to see it).
func (s *Stack) RegisterTransport(proto uint8, t Transport) error {
	if t == nil || proto == ProtoAny {
		return ErrInvalid
	}
	if proto == wire.ProtoICMP || s.transport(proto) != nil {
		return ErrExists
	}
	for i, x := range s.tlist {
		if x == nil { // a slot freed by UnregisterTransport
			s.tlist[i] = t
			s.tidx[proto] = uint8(i + 1)
			return nil
		}
	}
	s.tlist = append(s.tlist, t)
	s.tidx[proto] = uint8(len(s.tlist))
	return nil
}

// UnregisterTransport removes the transport of proto.
func (s *Stack) UnregisterTransport(proto uint8) error {
	i := s.tidx[proto]
	if i == 0 {
		return ErrNotFound
	}
	s.tlist[i-1] = nil
	s.tidx[proto] = 0
	return nil
}

// transport returns the transport registered for proto, or nil.
func (s *Stack) transport(proto uint8) Transport {
	if i := s.tidx[proto]; i != 0 {
		return s.tlist[i-1]
	}
	return nil
}

// rawEntry is one registered raw handler and its protocol.
type rawEntry struct {
	proto uint8
	h     RawHandler
}

// AddRawHandler lets h see every received datagram of proto (ProtoAny: all
// protocols), before transport delivery, including ICMP and IGMP.
func (s *Stack) AddRawHandler(proto uint8, h RawHandler) {
	if h == nil {
		return
	}
	s.raw = append(s.raw, rawEntry{proto, h})
}

// RemoveRawHandler removes h from proto's raw handlers.
func (s *Stack) RemoveRawHandler(proto uint8, h RawHandler) {
	for i, x := range s.raw {
		if x.proto == proto && x.h == h {
			copy(s.raw[i:], s.raw[i+1:])
			s.raw[len(s.raw)-1] = rawEntry{}
			s.raw = s.raw[:len(s.raw)-1]
			return
		}
	}
}

// deliverRaw hands p to the raw handlers of its protocol and of ProtoAny and
// reports whether there were any.
func (s *Stack) deliverRaw(p *Packet) bool {
	if len(s.raw) == 0 {
		return false
	}
	// the protocol's handlers first, then ProtoAny's, each in order
	// of registration
	any := false
	for _, x := range s.raw {
		if x.proto == p.Protocol {
			x.h.DeliverRaw(p)
			any = true
		}
	}
	if p.Protocol != ProtoAny {
		for _, x := range s.raw {
			if x.proto == ProtoAny {
				x.h.DeliverRaw(p)
				any = true
			}
		}
	}
	return any
}
