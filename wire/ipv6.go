package wire

import (
	"encoding/binary"
	"net/netip"
)

// IPv6HeaderLen is the length of the fixed IPv6 header (RFC 8200 §3).
const IPv6HeaderLen = 40

// IPv6 next-header values of the extension headers and of ICMPv6
// (RFC 8200 §4, IANA protocol numbers). The transports use the IPv4
// protocol numbers (ProtoTCP, ProtoUDP ...).
const (
	ProtoHopByHop = 0  // IPv6 hop-by-hop options header (RFC 8200 §4.3)
	ProtoIPv6     = 41 // IPv6 encapsulation (RFC 2473)
	ProtoRouting  = 43 // IPv6 routing header (RFC 8200 §4.4)
	ProtoFragment = 44 // IPv6 fragment header (RFC 8200 §4.5)
	ProtoESP      = 50 // encapsulating security payload (RFC 4303)
	ProtoAH       = 51 // authentication header (RFC 4302)
	ProtoICMPv6   = 58 // ICMP for IPv6 (RFC 4443)
	ProtoNoNext   = 59 // no next header (RFC 8200 §4.7)
	ProtoDestOpts = 60 // IPv6 destination options header (RFC 8200 §4.6)
)

// IPv6 is a view of an IPv6 packet (RFC 8200): the 40-byte header and the
// payload (extension headers included), cut to the payload length. Make
// one with ParseIPv6.
type IPv6 struct {
	b []byte
}

// ParseIPv6 checks b as an IPv6 packet and returns a view cut to 40 bytes
// plus the payload length (link-layer padding after it is dropped). It
// returns ErrTooShort when b is shorter than 40 bytes, ErrBadVersion when
// the version is not 6 and ErrBadLength when the payload length points
// past b. Jumbograms (RFC 2675) are not supported: a payload length of 0
// gives an empty payload.
func ParseIPv6(b []byte) (IPv6, error) {
	if len(b) < IPv6HeaderLen {
		return IPv6{}, ErrTooShort
	}
	if b[0]>>4 != 6 {
		return IPv6{}, ErrBadVersion
	}
	n := IPv6HeaderLen + int(binary.BigEndian.Uint16(b[4:6]))
	if n > len(b) {
		return IPv6{}, ErrBadLength
	}
	return IPv6{b: b[:n]}, nil
}

// TrafficClass returns the traffic class byte (DSCP and ECN).
func (p IPv6) TrafficClass() uint8 { return uint8(binary.BigEndian.Uint16(p.b[0:2]) >> 4) }

// FlowLabel returns the 20-bit flow label (RFC 6437).
func (p IPv6) FlowLabel() uint32 { return binary.BigEndian.Uint32(p.b[0:4]) & 0xfffff }

// PayloadLength returns the payload length field: the bytes after the
// 40-byte header, extension headers included.
func (p IPv6) PayloadLength() int { return int(binary.BigEndian.Uint16(p.b[4:6])) }

// NextHeader returns the type of the header after the fixed header: an
// extension header (ProtoHopByHop ...) or an upper-layer protocol.
func (p IPv6) NextHeader() uint8 { return p.b[6] }

// HopLimit returns the hop limit.
func (p IPv6) HopLimit() uint8 { return p.b[7] }

// Src returns the source address.
func (p IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(p.b[8:24])) }

// Dst returns the destination address.
func (p IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(p.b[24:40])) }

// Header returns the 40-byte fixed header.
func (p IPv6) Header() []byte { return p.b[:IPv6HeaderLen] }

// Payload returns the bytes after the fixed header, up to the payload
// length: the extension headers, if any, then the upper-layer data.
func (p IPv6) Payload() []byte { return p.b[IPv6HeaderLen:] }

// Bytes returns the whole packet, cut to 40 plus the payload length.
func (p IPv6) Bytes() []byte { return p.b }

// ForEachExtension walks the extension headers of the packet with the
// default limits of IPv6ExtensionWalker; see IPv6ExtensionWalker.Walk.
// The offset returned is relative to Payload.
func (p IPv6) ForEachExtension(fn func(e IPv6Extension) bool) (proto uint8, offset int, err error) {
	return IPv6ExtensionWalker{}.Walk(p.NextHeader(), p.Payload(), fn)
}

// UpperLayer skips the extension headers with the default limits and
// returns the upper-layer protocol and its bytes (see
// IPv6ExtensionWalker.Walk for the protocol returned at a non-first
// fragment, ESP or no-next-header).
func (p IPv6) UpperLayer() (proto uint8, data []byte, err error) {
	proto, off, err := IPv6ExtensionWalker{}.Walk(p.NextHeader(), p.Payload(), nil)
	if err != nil {
		return 0, nil, err
	}
	return proto, p.Payload()[off:], nil
}

// IPv6Header describes an IPv6 header to build with Encode.
type IPv6Header struct {
	TrafficClass  uint8
	FlowLabel     uint32 // low 20 bits used
	PayloadLength int    // bytes after the 40-byte header
	NextHeader    uint8
	HopLimit      uint8
	Src, Dst      netip.Addr // IPv6 addresses
}

// Encode writes the 40-byte header at the start of b and returns 40. It
// panics when b is shorter.
func (h *IPv6Header) Encode(b []byte) int {
	_ = b[IPv6HeaderLen-1]
	binary.BigEndian.PutUint32(b[0:4], 6<<28|uint32(h.TrafficClass)<<20|h.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[4:6], uint16(h.PayloadLength))
	b[6] = h.NextHeader
	b[7] = h.HopLimit
	s, d := h.Src.As16(), h.Dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return IPv6HeaderLen
}

// SetIPv6HopLimit sets the hop limit of the IPv6 header hdr, as a
// forwarding router does (IPv6 has no header checksum to update). hdr must
// hold at least 8 bytes.
func SetIPv6HopLimit(hdr []byte, hopLimit uint8) { hdr[7] = hopLimit }

// Well-known IPv6 multicast groups (RFC 4291 §2.7.1, RFC 3810 §11).
var (
	IPv6AllNodes        = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x01}) // ff02::1
	IPv6AllRouters      = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x02}) // ff02::2
	IPv6AllMLDv2Routers = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x16}) // ff02::16
)

// SolicitedNodeMulticast returns the solicited-node multicast address of
// the IPv6 address a: ff02::1:ff00:0/104 followed by the low 24 bits of a
// (RFC 4291 §2.7.1).
func SolicitedNodeMulticast(a netip.Addr) netip.Addr {
	s := a.As16()
	return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: s[13], 14: s[14], 15: s[15]})
}

// IPv6MulticastMAC returns the Ethernet address for the IPv6 multicast
// group: 33:33 followed by the low 32 bits of the group (RFC 2464 §7).
func IPv6MulticastMAC(group netip.Addr) MAC {
	a := group.As16()
	return MAC{0x33, 0x33, a[12], a[13], a[14], a[15]}
}

// EUI64 returns the modified EUI-64 interface identifier of mac: ff:fe
// inserted in the middle and the universal/local bit inverted (RFC 4291
// appendix A, RFC 2464 §4).
func EUI64(mac MAC) [8]byte {
	return [8]byte{mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}
}

// LinkLocalFromMAC returns the link-local address fe80::/64 with the
// EUI64 interface identifier of mac (RFC 4862 §5.3, RFC 2464 §5).
func LinkLocalFromMAC(mac MAC) netip.Addr {
	id := EUI64(mac)
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], id[:])
	return netip.AddrFrom16(a)
}
