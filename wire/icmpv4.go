package wire

import "encoding/binary"

// ICMPv4HeaderLen is the length of the ICMPv4 header (type, code,
// checksum and the 4-byte rest-of-header).
const ICMPv4HeaderLen = 8

// ICMPv4 message types (RFC 792).
const (
	ICMPv4EchoReply       = 0
	ICMPv4DestUnreachable = 3
	ICMPv4Redirect        = 5
	ICMPv4Echo            = 8
	ICMPv4TimeExceeded    = 11
	ICMPv4ParamProblem    = 12
)

// ICMPv4 destination-unreachable codes (RFC 792, RFC 1191).
const (
	ICMPv4NetUnreachable   = 0
	ICMPv4HostUnreachable  = 1
	ICMPv4ProtoUnreachable = 2
	ICMPv4PortUnreachable  = 3
	ICMPv4FragNeeded       = 4
)

// ICMPv4 is a view of an ICMPv4 message (RFC 792). Make one with
// ParseICMPv4.
type ICMPv4 struct {
	b []byte
}

// ParseICMPv4 checks that b holds at least the 8-byte header (else
// ErrTooShort) and returns a view over all of b. The checksum is not
// verified: see ChecksumValid.
func ParseICMPv4(b []byte) (ICMPv4, error) {
	if len(b) < ICMPv4HeaderLen {
		return ICMPv4{}, ErrTooShort
	}
	return ICMPv4{b: b}, nil
}

// Type returns the message type.
func (m ICMPv4) Type() uint8 { return m.b[0] }

// Code returns the message code.
func (m ICMPv4) Code() uint8 { return m.b[1] }

// Checksum returns the checksum field.
func (m ICMPv4) Checksum() uint16 { return binary.BigEndian.Uint16(m.b[2:4]) }

// ChecksumValid reports whether the checksum over the whole message
// verifies.
func (m ICMPv4) ChecksumValid() bool { return Checksum(m.b, 0) == 0 }

// ID returns the identifier of an echo or echo reply.
func (m ICMPv4) ID() uint16 { return binary.BigEndian.Uint16(m.b[4:6]) }

// Seq returns the sequence number of an echo or echo reply.
func (m ICMPv4) Seq() uint16 { return binary.BigEndian.Uint16(m.b[6:8]) }

// NextHopMTU returns the next-hop MTU of a destination-unreachable
// fragmentation-needed message (RFC 1191 §4); 0 from old routers.
func (m ICMPv4) NextHopMTU() uint16 { return binary.BigEndian.Uint16(m.b[6:8]) }

// Pointer returns the pointer of a parameter-problem message.
func (m ICMPv4) Pointer() uint8 { return m.b[4] }

// Rest returns the 4-byte rest-of-header as a 32-bit value (for example a
// redirect's gateway address).
func (m ICMPv4) Rest() uint32 { return binary.BigEndian.Uint32(m.b[4:8]) }

// Payload returns the bytes after the 8-byte header: echo data, or the
// quoted IP header and data of an error message.
func (m ICMPv4) Payload() []byte { return m.b[ICMPv4HeaderLen:] }

// Bytes returns the whole message.
func (m ICMPv4) Bytes() []byte { return m.b }

// PutICMPv4 writes the 8-byte ICMPv4 header at b[0:8] with a zero checksum
// field; rest is the rest-of-header (ID<<16|Seq for echo, the MTU for
// fragmentation needed, Pointer<<24 for parameter problem). Write the
// payload after it, then call SetICMPv4Checksum.
func PutICMPv4(b []byte, typ, code uint8, rest uint32) {
	_ = b[ICMPv4HeaderLen-1]
	b[0], b[1], b[2], b[3] = typ, code, 0, 0
	binary.BigEndian.PutUint32(b[4:8], rest)
}

// SetICMPv4Checksum computes the checksum over the whole message msg
// (header and payload) and stores it.
func SetICMPv4Checksum(msg []byte) {
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], Checksum(msg, 0))
}
