package wire

import (
	"encoding/binary"
	"net/netip"
)

// ICMPv6HeaderLen is the length of the ICMPv6 header as this package
// checks it: type, code, checksum and the 4 bytes that follow (every
// message of RFC 4443, RFC 4861 and RFC 2710 has them).
const ICMPv6HeaderLen = 8

// ICMPv6 message types (RFC 4443 §2.1, RFC 4861 §4, RFC 2710 §3,
// RFC 3810 §5).
const (
	ICMPv6DestUnreachable       = 1
	ICMPv6PacketTooBig          = 2
	ICMPv6TimeExceeded          = 3
	ICMPv6ParamProblem          = 4
	ICMPv6EchoRequest           = 128
	ICMPv6EchoReply             = 129
	ICMPv6MLDQuery              = 130 // MLDv1 and MLDv2 query
	ICMPv6MLDv1Report           = 131
	ICMPv6MLDv1Done             = 132
	ICMPv6RouterSolicitation    = 133
	ICMPv6RouterAdvertisement   = 134
	ICMPv6NeighborSolicitation  = 135
	ICMPv6NeighborAdvertisement = 136
	ICMPv6Redirect              = 137
	ICMPv6MLDv2Report           = 143
)

// ICMPv6 destination-unreachable codes (RFC 4443 §3.1).
const (
	ICMPv6NoRoute            = 0
	ICMPv6AdminProhibited    = 1
	ICMPv6BeyondScope        = 2
	ICMPv6AddressUnreachable = 3
	ICMPv6PortUnreachable    = 4
	ICMPv6SrcPolicyFailed    = 5
	ICMPv6RejectRoute        = 6
)

// ICMPv6 time-exceeded codes (RFC 4443 §3.3).
const (
	ICMPv6HopLimitExceeded   = 0
	ICMPv6ReassemblyTimedOut = 1
)

// ICMPv6 parameter-problem codes (RFC 4443 §3.4, RFC 7112).
const (
	ICMPv6ErroneousHeader        = 0
	ICMPv6UnrecognizedNextHeader = 1
	ICMPv6UnrecognizedOption     = 2
	ICMPv6IncompleteChain        = 3
)

// ICMPv6 is a view of an ICMPv6 message (RFC 4443). Make one with
// ParseICMPv6.
type ICMPv6 struct {
	b []byte
}

// ParseICMPv6 checks that b holds at least the 8-byte header (else
// ErrTooShort) and returns a view over all of b. The checksum is not
// verified: see ChecksumValid.
func ParseICMPv6(b []byte) (ICMPv6, error) {
	if len(b) < ICMPv6HeaderLen {
		return ICMPv6{}, ErrTooShort
	}
	return ICMPv6{b: b}, nil
}

// Type returns the message type.
func (m ICMPv6) Type() uint8 { return m.b[0] }

// Code returns the message code.
func (m ICMPv6) Code() uint8 { return m.b[1] }

// IsError reports whether the message is an error message (type below
// 128, RFC 4443 §2.1).
func (m ICMPv6) IsError() bool { return m.b[0] < 128 }

// Checksum returns the checksum field.
func (m ICMPv6) Checksum() uint16 { return binary.BigEndian.Uint16(m.b[2:4]) }

// ChecksumValid reports whether the checksum over the IPv6 pseudo-header
// (RFC 8200 §8.1) of src and dst and the whole message verifies.
func (m ICMPv6) ChecksumValid(src, dst netip.Addr) bool {
	return Checksum(m.b, PseudoHeaderSum(src, dst, ProtoICMPv6, len(m.b))) == 0
}

// ID returns the identifier of an echo request or reply.
func (m ICMPv6) ID() uint16 { return binary.BigEndian.Uint16(m.b[4:6]) }

// Seq returns the sequence number of an echo request or reply.
func (m ICMPv6) Seq() uint16 { return binary.BigEndian.Uint16(m.b[6:8]) }

// MTU returns the MTU of a packet-too-big message (RFC 4443 §3.2).
func (m ICMPv6) MTU() uint32 { return binary.BigEndian.Uint32(m.b[4:8]) }

// Pointer returns the pointer of a parameter-problem message: the offset
// of the error in the invoking packet (RFC 4443 §3.4).
func (m ICMPv6) Pointer() uint32 { return binary.BigEndian.Uint32(m.b[4:8]) }

// Rest returns the 4 bytes after the checksum as a 32-bit value.
func (m ICMPv6) Rest() uint32 { return binary.BigEndian.Uint32(m.b[4:8]) }

// Payload returns the bytes after the 8-byte header: echo data, or as
// much of the invoking packet as an error message quotes.
func (m ICMPv6) Payload() []byte { return m.b[ICMPv6HeaderLen:] }

// Bytes returns the whole message.
func (m ICMPv6) Bytes() []byte { return m.b }

// PutICMPv6 writes the 8-byte ICMPv6 header at b[0:8] with a zero
// checksum field; rest is the 4 bytes after the checksum (ID<<16|Seq for
// echo, the MTU for packet too big, the pointer for parameter problem, 0
// for the other errors). Write the payload after it, then call
// SetICMPv6Checksum.
func PutICMPv6(b []byte, typ, code uint8, rest uint32) {
	_ = b[ICMPv6HeaderLen-1]
	b[0], b[1], b[2], b[3] = typ, code, 0, 0
	binary.BigEndian.PutUint32(b[4:8], rest)
}

// SetICMPv6Checksum computes the checksum over the IPv6 pseudo-header of
// src and dst (RFC 8200 §8.1, RFC 4443 §2.3) and the whole message msg,
// and stores it. src and dst must be IPv6 addresses that are not
// IPv4-mapped.
func SetICMPv6Checksum(msg []byte, src, dst netip.Addr) {
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], Checksum(msg, PseudoHeaderSum(src, dst, ProtoICMPv6, len(msg))))
}
