package wire

import (
	"encoding/binary"
	"net/netip"
)

// Lengths of the NDP messages before their options (RFC 4861 §4), ICMPv6
// header included.
const (
	NDPRouterSolicitationLen    = 8
	NDPRouterAdvertisementLen   = 16
	NDPNeighborSolicitationLen  = 24
	NDPNeighborAdvertisementLen = 24
	NDPRedirectLen              = 40
)

// Router advertisement flags (RFC 4861 §4.2, RFC 3775, RFC 4191), as
// returned by NDPRouterAdvertisement.Flags.
const (
	NDPRAFlagManaged   = 0x80 // M: addresses from DHCPv6
	NDPRAFlagOther     = 0x40 // O: other configuration from DHCPv6
	NDPRAFlagHomeAgent = 0x20 // H: Mobile IPv6 home agent
	NDPRAPrefMask      = 0x18 // default router preference bits (RFC 4191 §2.2)
)

// Neighbor advertisement flags (RFC 4861 §4.4), as returned by
// NDPNeighborAdvertisement.Flags.
const (
	NDPNAFlagRouter    = 0x80 // R: sender is a router
	NDPNAFlagSolicited = 0x40 // S: sent in response to a solicitation
	NDPNAFlagOverride  = 0x20 // O: override an existing cache entry
)

// Prefix information flags (RFC 4861 §4.6.2), as returned by
// NDPPrefixInfo.Flags.
const (
	NDPPrefixFlagOnLink     = 0x80 // L: prefix is on-link
	NDPPrefixFlagAutonomous = 0x40 // A: usable for SLAAC (RFC 4862)
)

// NDP option types (RFC 4861 §4.6, RFC 4191, RFC 8106).
const (
	NDPOptSourceLinkAddr   = 1
	NDPOptTargetLinkAddr   = 2
	NDPOptPrefixInfo       = 3
	NDPOptRedirectedHeader = 4
	NDPOptMTU              = 5
	NDPOptRouteInfo        = 24
	NDPOptRDNSS            = 25
	NDPOptDNSSL            = 31
)

// Lengths of NDP options this package builds.
const (
	NDPLinkLayerOptionLen = 8  // Ethernet source/target link-layer address
	NDPPrefixInfoLen      = 32 // prefix information
	NDPMTUOptionLen       = 8  // MTU
)

// ndpMsg holds what all NDP message views share.
type ndpMsg struct {
	b      []byte
	optOff int
}

// parseNDP checks b as an NDP message of type typ with minLen bytes before
// its options, and its options.
func parseNDP(b []byte, typ uint8, minLen int) (ndpMsg, error) {
	if len(b) < minLen {
		return ndpMsg{}, ErrTooShort
	}
	if b[0] != typ {
		return ndpMsg{}, ErrUnsupported
	}
	if err := ForEachNDPOption(b[minLen:], nil); err != nil {
		return ndpMsg{}, err
	}
	return ndpMsg{b: b, optOff: minLen}, nil
}

// Code returns the ICMPv6 code (0 in a valid NDP message, RFC 4861 §6.1).
func (m ndpMsg) Code() uint8 { return m.b[1] }

// Options returns the option bytes after the fixed part of the message.
func (m ndpMsg) Options() []byte { return m.b[m.optOff:] }

// ForEachOption calls fn for each option of the message, in order, until
// fn returns false. The parser has checked the options.
func (m ndpMsg) ForEachOption(fn func(o NDPOption) bool) { _ = ForEachNDPOption(m.b[m.optOff:], fn) }

// Bytes returns the whole ICMPv6 message.
func (m ndpMsg) Bytes() []byte { return m.b }

// NDPRouterSolicitation is a view of a router solicitation (RFC 4861
// §4.1). Make one with ParseNDPRouterSolicitation.
type NDPRouterSolicitation struct{ ndpMsg }

// NDPRouterAdvertisement is a view of a router advertisement (RFC 4861
// §4.2). Make one with ParseNDPRouterAdvertisement.
type NDPRouterAdvertisement struct{ ndpMsg }

// NDPNeighborSolicitation is a view of a neighbor solicitation (RFC 4861
// §4.3). Make one with ParseNDPNeighborSolicitation.
type NDPNeighborSolicitation struct{ ndpMsg }

// NDPNeighborAdvertisement is a view of a neighbor advertisement
// (RFC 4861 §4.4). Make one with ParseNDPNeighborAdvertisement.
type NDPNeighborAdvertisement struct{ ndpMsg }

// NDPRedirect is a view of a redirect (RFC 4861 §4.5). Make one with
// ParseNDPRedirect.
type NDPRedirect struct{ ndpMsg }

// The NDP parsers take the whole ICMPv6 message (type, code, checksum,
// body, options). They return ErrTooShort when b is shorter than the fixed
// part of the message, ErrUnsupported when the type is not the parser's,
// and ErrBadLength when an option has length 0 or runs past b (RFC 4861
// §4.6: such messages are discarded). The checksum (ICMPv6.ChecksumValid),
// the code and the hop limit of 255 (RFC 4861 §6.1) are for the caller to
// check.

// ParseNDPRouterSolicitation checks b as a router solicitation; see the
// rules above.
func ParseNDPRouterSolicitation(b []byte) (NDPRouterSolicitation, error) {
	m, err := parseNDP(b, ICMPv6RouterSolicitation, NDPRouterSolicitationLen)
	return NDPRouterSolicitation{m}, err
}

// ParseNDPRouterAdvertisement checks b as a router advertisement; see
// ParseNDPRouterSolicitation.
func ParseNDPRouterAdvertisement(b []byte) (NDPRouterAdvertisement, error) {
	m, err := parseNDP(b, ICMPv6RouterAdvertisement, NDPRouterAdvertisementLen)
	return NDPRouterAdvertisement{m}, err
}

// ParseNDPNeighborSolicitation checks b as a neighbor solicitation; see
// ParseNDPRouterSolicitation.
func ParseNDPNeighborSolicitation(b []byte) (NDPNeighborSolicitation, error) {
	m, err := parseNDP(b, ICMPv6NeighborSolicitation, NDPNeighborSolicitationLen)
	return NDPNeighborSolicitation{m}, err
}

// ParseNDPNeighborAdvertisement checks b as a neighbor advertisement; see
// ParseNDPRouterSolicitation.
func ParseNDPNeighborAdvertisement(b []byte) (NDPNeighborAdvertisement, error) {
	m, err := parseNDP(b, ICMPv6NeighborAdvertisement, NDPNeighborAdvertisementLen)
	return NDPNeighborAdvertisement{m}, err
}

// ParseNDPRedirect checks b as a redirect; see ParseNDPRouterSolicitation.
func ParseNDPRedirect(b []byte) (NDPRedirect, error) {
	m, err := parseNDP(b, ICMPv6Redirect, NDPRedirectLen)
	return NDPRedirect{m}, err
}

// CurHopLimit returns the hop limit hosts should use (0: unspecified).
func (m NDPRouterAdvertisement) CurHopLimit() uint8 { return m.b[4] }

// Flags returns the flags byte (NDPRAFlagManaged ...).
func (m NDPRouterAdvertisement) Flags() uint8 { return m.b[5] }

// Managed reports whether the M flag is set.
func (m NDPRouterAdvertisement) Managed() bool { return m.b[5]&NDPRAFlagManaged != 0 }

// Other reports whether the O flag is set.
func (m NDPRouterAdvertisement) Other() bool { return m.b[5]&NDPRAFlagOther != 0 }

// Preference returns the default router preference of RFC 4191 §2.2: 1
// high, 0 medium, -1 low; the reserved value 10 reads as medium.
func (m NDPRouterAdvertisement) Preference() int {
	switch (m.b[5] & NDPRAPrefMask) >> 3 {
	case 1:
		return 1
	case 3:
		return -1
	}
	return 0
}

// RouterLifetime returns the router lifetime in seconds (0: not a
// default router).
func (m NDPRouterAdvertisement) RouterLifetime() uint16 { return binary.BigEndian.Uint16(m.b[6:8]) }

// ReachableTime returns the reachable time in milliseconds (0: unspecified).
func (m NDPRouterAdvertisement) ReachableTime() uint32 { return binary.BigEndian.Uint32(m.b[8:12]) }

// RetransTimer returns the retransmission timer in milliseconds (0:
// unspecified).
func (m NDPRouterAdvertisement) RetransTimer() uint32 { return binary.BigEndian.Uint32(m.b[12:16]) }

// Target returns the address whose link-layer address is solicited.
func (m NDPNeighborSolicitation) Target() netip.Addr { return netip.AddrFrom16([16]byte(m.b[8:24])) }

// Flags returns the flags byte (NDPNAFlagRouter ...).
func (m NDPNeighborAdvertisement) Flags() uint8 { return m.b[4] }

// Router reports whether the R flag is set.
func (m NDPNeighborAdvertisement) Router() bool { return m.b[4]&NDPNAFlagRouter != 0 }

// Solicited reports whether the S flag is set.
func (m NDPNeighborAdvertisement) Solicited() bool { return m.b[4]&NDPNAFlagSolicited != 0 }

// Override reports whether the O flag is set.
func (m NDPNeighborAdvertisement) Override() bool { return m.b[4]&NDPNAFlagOverride != 0 }

// Target returns the address the advertisement is about.
func (m NDPNeighborAdvertisement) Target() netip.Addr { return netip.AddrFrom16([16]byte(m.b[8:24])) }

// Target returns the better first hop (or the destination itself when it
// is a neighbor).
func (m NDPRedirect) Target() netip.Addr { return netip.AddrFrom16([16]byte(m.b[8:24])) }

// Destination returns the destination that is redirected.
func (m NDPRedirect) Destination() netip.Addr { return netip.AddrFrom16([16]byte(m.b[24:40])) }

// PutNDPRouterSolicitation writes the 8-byte fixed part of a router
// solicitation with a zero checksum and returns 8. Write options after it
// and call SetICMPv6Checksum over the whole message.
func PutNDPRouterSolicitation(b []byte) int {
	PutICMPv6(b, ICMPv6RouterSolicitation, 0, 0)
	return NDPRouterSolicitationLen
}

// NDPRouterAdvert describes the fixed part of a router advertisement to
// build with Encode.
type NDPRouterAdvert struct {
	CurHopLimit    uint8
	Flags          uint8  // NDPRAFlagManaged | NDPRAFlagOther ...
	RouterLifetime uint16 // seconds
	ReachableTime  uint32 // milliseconds
	RetransTimer   uint32 // milliseconds
}

// Encode writes the 16-byte fixed part of the router advertisement with
// a zero checksum and returns 16. Write options after it and call
// SetICMPv6Checksum over the whole message.
func (a *NDPRouterAdvert) Encode(b []byte) int {
	_ = b[NDPRouterAdvertisementLen-1]
	PutICMPv6(b, ICMPv6RouterAdvertisement, 0, 0)
	b[4], b[5] = a.CurHopLimit, a.Flags
	binary.BigEndian.PutUint16(b[6:8], a.RouterLifetime)
	binary.BigEndian.PutUint32(b[8:12], a.ReachableTime)
	binary.BigEndian.PutUint32(b[12:16], a.RetransTimer)
	return NDPRouterAdvertisementLen
}

// PutNDPNeighborSolicitation writes the 24-byte fixed part of a neighbor
// solicitation for target with a zero checksum and returns 24.
func PutNDPNeighborSolicitation(b []byte, target netip.Addr) int {
	_ = b[NDPNeighborSolicitationLen-1]
	PutICMPv6(b, ICMPv6NeighborSolicitation, 0, 0)
	t := target.As16()
	copy(b[8:24], t[:])
	return NDPNeighborSolicitationLen
}

// PutNDPNeighborAdvertisement writes the 24-byte fixed part of a
// neighbor advertisement with flags (NDPNAFlagRouter ...) and target, a
// zero checksum, and returns 24.
func PutNDPNeighborAdvertisement(b []byte, flags uint8, target netip.Addr) int {
	_ = b[NDPNeighborAdvertisementLen-1]
	PutICMPv6(b, ICMPv6NeighborAdvertisement, 0, uint32(flags)<<24)
	t := target.As16()
	copy(b[8:24], t[:])
	return NDPNeighborAdvertisementLen
}

// PutNDPRedirect writes the 40-byte fixed part of a redirect with a zero
// checksum and returns 40.
func PutNDPRedirect(b []byte, target, dst netip.Addr) int {
	_ = b[NDPRedirectLen-1]
	PutICMPv6(b, ICMPv6Redirect, 0, 0)
	t, d := target.As16(), dst.As16()
	copy(b[8:24], t[:])
	copy(b[24:40], d[:])
	return NDPRedirectLen
}

// NDPOption is a view of one NDP option (RFC 4861 §4.6), obtained from
// ForEachNDPOption or a message's ForEachOption. It holds at least 8
// bytes. The typed accessors check the type and length and report false
// for another option.
type NDPOption struct {
	b []byte
}

// ForEachNDPOption calls fn (when not nil) for each NDP option in opts,
// in order, until fn returns false. An option of length 0 or one that
// runs past opts gives ErrBadLength (RFC 4861 §4.6); the options before it
// have been passed to fn already.
func ForEachNDPOption(opts []byte, fn func(o NDPOption) bool) error {
	for len(opts) > 0 {
		if len(opts) < 2 {
			return ErrBadLength
		}
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return ErrBadLength
		}
		if fn != nil && !fn(NDPOption{b: opts[:l]}) {
			return nil
		}
		opts = opts[l:]
	}
	return nil
}

// Type returns the option type (NDPOptSourceLinkAddr ...).
func (o NDPOption) Type() uint8 { return o.b[0] }

// Len returns the option length in bytes (a multiple of 8).
func (o NDPOption) Len() int { return len(o.b) }

// Data returns the option after its type and length bytes.
func (o NDPOption) Data() []byte { return o.b[2:] }

// Bytes returns the whole option.
func (o NDPOption) Bytes() []byte { return o.b }

// LinkLayerAddr returns the Ethernet address of a source or target
// link-layer address option of length 8 (RFC 4861 §4.6.1, RFC 2464 §6).
func (o NDPOption) LinkLayerAddr() (MAC, bool) {
	if (o.b[0] != NDPOptSourceLinkAddr && o.b[0] != NDPOptTargetLinkAddr) || len(o.b) != NDPLinkLayerOptionLen {
		return MAC{}, false
	}
	return MAC(o.b[2:8]), true
}

// PrefixInfo returns a view of a prefix information option of length 32
// (RFC 4861 §4.6.2).
func (o NDPOption) PrefixInfo() (NDPPrefixInfo, bool) {
	if o.b[0] != NDPOptPrefixInfo || len(o.b) != NDPPrefixInfoLen {
		return NDPPrefixInfo{}, false
	}
	return NDPPrefixInfo{b: o.b}, true
}

// MTU returns the MTU of an MTU option of length 8 (RFC 4861 §4.6.4).
func (o NDPOption) MTU() (uint32, bool) {
	if o.b[0] != NDPOptMTU || len(o.b) != NDPMTUOptionLen {
		return 0, false
	}
	return binary.BigEndian.Uint32(o.b[4:8]), true
}

// RedirectedHeader returns the quoted packet of a redirected header option
// (RFC 4861 §4.6.3), padding included.
func (o NDPOption) RedirectedHeader() ([]byte, bool) {
	if o.b[0] != NDPOptRedirectedHeader {
		return nil, false
	}
	return o.b[8:], true
}

// RDNSS returns a view of a recursive DNS server option (RFC 8106 §5.1),
// whose length must be 8 plus a multiple of 16 with at least one address.
func (o NDPOption) RDNSS() (NDPRDNSS, bool) {
	if o.b[0] != NDPOptRDNSS || len(o.b) < 24 || (len(o.b)-8)%16 != 0 {
		return NDPRDNSS{}, false
	}
	return NDPRDNSS{b: o.b}, true
}

// NDPPrefixInfo is a view of a prefix information option, obtained from
// NDPOption.PrefixInfo.
type NDPPrefixInfo struct {
	b []byte
}

// PrefixLength returns the prefix length field (valid values are 0-128).
func (p NDPPrefixInfo) PrefixLength() uint8 { return p.b[2] }

// Flags returns the flags byte (NDPPrefixFlagOnLink ...).
func (p NDPPrefixInfo) Flags() uint8 { return p.b[3] }

// OnLink reports whether the L flag is set.
func (p NDPPrefixInfo) OnLink() bool { return p.b[3]&NDPPrefixFlagOnLink != 0 }

// Autonomous reports whether the A flag is set.
func (p NDPPrefixInfo) Autonomous() bool { return p.b[3]&NDPPrefixFlagAutonomous != 0 }

// ValidLifetime returns the valid lifetime in seconds (0xffffffff:
// infinity).
func (p NDPPrefixInfo) ValidLifetime() uint32 { return binary.BigEndian.Uint32(p.b[4:8]) }

// PreferredLifetime returns the preferred lifetime in seconds
// (0xffffffff: infinity).
func (p NDPPrefixInfo) PreferredLifetime() uint32 { return binary.BigEndian.Uint32(p.b[8:12]) }

// Addr returns the prefix address field as sent (not masked).
func (p NDPPrefixInfo) Addr() netip.Addr { return netip.AddrFrom16([16]byte(p.b[16:32])) }

// Prefix returns the prefix, Addr with PrefixLength bits, not masked. It
// is invalid (IsValid false) when the prefix length is above 128.
func (p NDPPrefixInfo) Prefix() netip.Prefix { return netip.PrefixFrom(p.Addr(), int(p.b[2])) }

// NDPRDNSS is a view of a recursive DNS server option, obtained from
// NDPOption.RDNSS.
type NDPRDNSS struct {
	b []byte
}

// Lifetime returns the lifetime in seconds (0: stop using the servers;
// 0xffffffff: infinity).
func (r NDPRDNSS) Lifetime() uint32 { return binary.BigEndian.Uint32(r.b[4:8]) }

// NumServers returns the number of server addresses.
func (r NDPRDNSS) NumServers() int { return (len(r.b) - 8) / 16 }

// Server returns server address i, or the zero Addr when i is out of range.
func (r NDPRDNSS) Server(i int) netip.Addr {
	if i < 0 || i >= r.NumServers() {
		return netip.Addr{}
	}
	o := 8 + 16*i
	return netip.AddrFrom16([16]byte(r.b[o : o+16]))
}

// PutNDPLinkLayerOption writes an 8-byte source (NDPOptSourceLinkAddr) or
// target (NDPOptTargetLinkAddr) link-layer address option with the
// Ethernet address mac and returns 8.
func PutNDPLinkLayerOption(b []byte, typ uint8, mac MAC) int {
	_ = b[NDPLinkLayerOptionLen-1]
	b[0], b[1] = typ, 1
	copy(b[2:8], mac[:])
	return NDPLinkLayerOptionLen
}

// PutNDPPrefixInfo writes a 32-byte prefix information option and returns
// 32. The prefix address is written as given (mask it first with
// Prefix.Masked) and its length taken from prefix.Bits.
func PutNDPPrefixInfo(b []byte, prefix netip.Prefix, flags uint8, validLifetime, preferredLifetime uint32) int {
	_ = b[NDPPrefixInfoLen-1]
	b[0], b[1], b[2], b[3] = NDPOptPrefixInfo, 4, byte(prefix.Bits()), flags
	binary.BigEndian.PutUint32(b[4:8], validLifetime)
	binary.BigEndian.PutUint32(b[8:12], preferredLifetime)
	clear(b[12:16])
	a := prefix.Addr().As16()
	copy(b[16:32], a[:])
	return NDPPrefixInfoLen
}

// PutNDPMTUOption writes an 8-byte MTU option and returns 8.
func PutNDPMTUOption(b []byte, mtu uint32) int {
	_ = b[NDPMTUOptionLen-1]
	b[0], b[1], b[2], b[3] = NDPOptMTU, 1, 0, 0
	binary.BigEndian.PutUint32(b[4:8], mtu)
	return NDPMTUOptionLen
}

// NDPRedirectedHeaderLen returns the length of a redirected header option
// quoting n bytes: 8 plus n rounded up to a multiple of 8.
func NDPRedirectedHeaderLen(n int) int { return 8 + (n+7)&^7 }

// PutNDPRedirectedHeader writes a redirected header option quoting pkt,
// padded with zeros, and returns NDPRedirectedHeaderLen(len(pkt)). The
// caller cuts pkt so that the redirect fits in 1280 bytes (RFC 4861
// §4.6.3). It panics when the option would be longer than 2040 bytes.
func PutNDPRedirectedHeader(b []byte, pkt []byte) int {
	l := NDPRedirectedHeaderLen(len(pkt))
	if l > 255*8 {
		panic("wire: NDP redirected header option longer than 2040 bytes")
	}
	_ = b[l-1]
	b[0], b[1] = NDPOptRedirectedHeader, byte(l/8)
	clear(b[2:8])
	n := copy(b[8:l], pkt)
	clear(b[8+n : l])
	return l
}

// NDPRDNSSLen returns the length of an RDNSS option with n servers.
func NDPRDNSSLen(n int) int { return 8 + 16*n }

// PutNDPRDNSS writes a recursive DNS server option (RFC 8106 §5.1) and
// returns NDPRDNSSLen(len(servers)). It panics when servers is empty or
// holds more than 127 addresses.
func PutNDPRDNSS(b []byte, lifetime uint32, servers []netip.Addr) int {
	if len(servers) == 0 || len(servers) > 127 {
		panic("wire: RDNSS option needs 1 to 127 servers")
	}
	l := NDPRDNSSLen(len(servers))
	_ = b[l-1]
	b[0], b[1], b[2], b[3] = NDPOptRDNSS, byte(l/8), 0, 0
	binary.BigEndian.PutUint32(b[4:8], lifetime)
	for i, s := range servers {
		a := s.As16()
		copy(b[8+16*i:], a[:])
	}
	return l
}
