package wire

import (
	"encoding/binary"
	"net/netip"
)

// UDPHeaderLen is the length of the UDP and UDP-Lite headers.
const UDPHeaderLen = 8

// UDP is a view of a UDP datagram (RFC 768), cut to its length field.
// Make one with ParseUDP.
type UDP struct {
	b []byte
}

// ParseUDP checks b as a UDP datagram: fewer than 8 bytes give
// ErrTooShort, a length field below 8 or above len(b) gives ErrBadLength.
// The view is cut to the length field. The checksum is not verified: see
// ChecksumValid.
func ParseUDP(b []byte) (UDP, error) {
	if len(b) < UDPHeaderLen {
		return UDP{}, ErrTooShort
	}
	l := int(binary.BigEndian.Uint16(b[4:6]))
	if l < UDPHeaderLen || l > len(b) {
		return UDP{}, ErrBadLength
	}
	return UDP{b: b[:l]}, nil
}

// SrcPort returns the source port.
func (u UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(u.b[0:2]) }

// DstPort returns the destination port.
func (u UDP) DstPort() uint16 { return binary.BigEndian.Uint16(u.b[2:4]) }

// Length returns the length field (header plus data).
func (u UDP) Length() int { return len(u.b) }

// Checksum returns the checksum field.
func (u UDP) Checksum() uint16 { return binary.BigEndian.Uint16(u.b[6:8]) }

// Payload returns the data after the header.
func (u UDP) Payload() []byte { return u.b[UDPHeaderLen:] }

// Bytes returns the datagram, header and data.
func (u UDP) Bytes() []byte { return u.b }

// ChecksumValid verifies the checksum with the pseudo-header of src and
// dst. Over IPv4 a zero checksum field means the sender computed none, and
// ChecksumValid returns true (RFC 768); over IPv6 a zero checksum is
// invalid (RFC 8200 §8.1).
func (u UDP) ChecksumValid(src, dst netip.Addr) bool {
	if u.Checksum() == 0 {
		return src.Is4() || src.Is4In6()
	}
	return Checksum(u.b, PseudoHeaderSum(src, dst, ProtoUDP, len(u.b))) == 0
}

// PutUDP writes an 8-byte UDP header at b[0:8] with a zero checksum.
// length is the datagram length, header included.
func PutUDP(b []byte, srcPort, dstPort uint16, length int) {
	_ = b[UDPHeaderLen-1]
	binary.BigEndian.PutUint16(b[0:2], srcPort)
	binary.BigEndian.PutUint16(b[2:4], dstPort)
	binary.BigEndian.PutUint16(b[4:6], uint16(length))
	b[6], b[7] = 0, 0
}

// SetUDPChecksum computes the checksum of the whole datagram seg (header
// and data) with the pseudo-header of src and dst, and stores it. A
// computed 0 is sent as 0xffff (RFC 768).
func SetUDPChecksum(seg []byte, src, dst netip.Addr) {
	seg[6], seg[7] = 0, 0
	c := Checksum(seg, PseudoHeaderSum(src, dst, ProtoUDP, len(seg)))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[6:8], c)
}

// UDPLite is a view of a UDP-Lite datagram (RFC 3828). UDP-Lite has no
// length field: the datagram is the whole IP payload, and the third header
// field is the checksum coverage. Make one with ParseUDPLite.
type UDPLite struct {
	b []byte
}

// ParseUDPLite checks b, the whole IP payload, as a UDP-Lite datagram.
// Fewer than 8 bytes give ErrTooShort; a checksum coverage other than 0
// (whole datagram) or between 8 and len(b) gives ErrBadLength, as RFC 3828
// §3.1 requires such packets to be discarded.
func ParseUDPLite(b []byte) (UDPLite, error) {
	if len(b) < UDPHeaderLen {
		return UDPLite{}, ErrTooShort
	}
	c := int(binary.BigEndian.Uint16(b[4:6]))
	if c != 0 && (c < UDPHeaderLen || c > len(b)) {
		return UDPLite{}, ErrBadLength
	}
	return UDPLite{b: b}, nil
}

// SrcPort returns the source port.
func (u UDPLite) SrcPort() uint16 { return binary.BigEndian.Uint16(u.b[0:2]) }

// DstPort returns the destination port.
func (u UDPLite) DstPort() uint16 { return binary.BigEndian.Uint16(u.b[2:4]) }

// CoverageField returns the raw checksum coverage field (0 means the
// whole datagram).
func (u UDPLite) CoverageField() int { return int(binary.BigEndian.Uint16(u.b[4:6])) }

// Coverage returns the number of bytes covered by the checksum, header
// included: the coverage field, or the whole datagram when it is 0.
func (u UDPLite) Coverage() int {
	if c := u.CoverageField(); c != 0 {
		return c
	}
	return len(u.b)
}

// Checksum returns the checksum field.
func (u UDPLite) Checksum() uint16 { return binary.BigEndian.Uint16(u.b[6:8]) }

// Length returns the datagram length (the IP payload length).
func (u UDPLite) Length() int { return len(u.b) }

// Payload returns the data after the header.
func (u UDPLite) Payload() []byte { return u.b[UDPHeaderLen:] }

// Bytes returns the whole datagram.
func (u UDPLite) Bytes() []byte { return u.b }

// ChecksumValid verifies the checksum over the covered bytes with the
// pseudo-header of src and dst, whose length is the whole datagram length
// (RFC 3828 §3.1). The checksum is mandatory: a zero field is invalid.
func (u UDPLite) ChecksumValid(src, dst netip.Addr) bool {
	if u.Checksum() == 0 {
		return false
	}
	return Checksum(u.b[:u.Coverage()], PseudoHeaderSum(src, dst, ProtoUDPLite, len(u.b))) == 0
}

// PutUDPLite writes an 8-byte UDP-Lite header at b[0:8] with a zero
// checksum. coverage is the checksum coverage field (0: whole datagram).
func PutUDPLite(b []byte, srcPort, dstPort uint16, coverage int) {
	_ = b[UDPHeaderLen-1]
	binary.BigEndian.PutUint16(b[0:2], srcPort)
	binary.BigEndian.PutUint16(b[2:4], dstPort)
	binary.BigEndian.PutUint16(b[4:6], uint16(coverage))
	b[6], b[7] = 0, 0
}

// SetUDPLiteChecksum writes the coverage field and the checksum of the
// UDP-Lite datagram seg (the whole IP payload). coverage is the number of
// bytes covered, header included, or 0 for the whole datagram; it must be
// 0 or between 8 and len(seg), else SetUDPLiteChecksum panics. A computed
// 0 is sent as 0xffff (RFC 3828 §3.1).
func SetUDPLiteChecksum(seg []byte, src, dst netip.Addr, coverage int) {
	n := coverage
	if n == 0 {
		n = len(seg)
	}
	if n < UDPHeaderLen || n > len(seg) {
		panic("wire: UDP-Lite coverage out of range")
	}
	binary.BigEndian.PutUint16(seg[4:6], uint16(coverage))
	seg[6], seg[7] = 0, 0
	c := Checksum(seg[:n], PseudoHeaderSum(src, dst, ProtoUDPLite, len(seg)))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[6:8], c)
}
