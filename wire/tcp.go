package wire

import (
	"encoding/binary"
	"net/netip"
)

// TCPMinHeaderLen is the length of a TCP header without options.
const TCPMinHeaderLen = 20

// TCPMaxHeaderLen is the largest TCP header (data offset 15).
const TCPMaxHeaderLen = 60

// TCP flag bits as returned by TCP.Flags (RFC 9293 §3.1, RFC 3168).
const (
	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
	TCPFlagURG = 0x20
	TCPFlagECE = 0x40
	TCPFlagCWR = 0x80
)

// TCP is a view of a TCP segment (RFC 9293): header, options and data.
// Make one with ParseTCP.
type TCP struct {
	b []byte
}

// ParseTCP checks b, the whole IP payload, as a TCP segment: fewer than 20
// bytes give ErrTooShort, a data offset below 5 or a header longer than b
// gives ErrBadHeaderLen. Options are not parsed (see ParseTCPOptions) and
// the checksum is not verified (see ChecksumValid).
func ParseTCP(b []byte) (TCP, error) {
	if len(b) < TCPMinHeaderLen {
		return TCP{}, ErrTooShort
	}
	hl := int(b[12]>>4) * 4
	if hl < TCPMinHeaderLen || hl > len(b) {
		return TCP{}, ErrBadHeaderLen
	}
	return TCP{b: b}, nil
}

// SrcPort returns the source port.
func (t TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(t.b[0:2]) }

// DstPort returns the destination port.
func (t TCP) DstPort() uint16 { return binary.BigEndian.Uint16(t.b[2:4]) }

// Seq returns the sequence number.
func (t TCP) Seq() uint32 { return binary.BigEndian.Uint32(t.b[4:8]) }

// Ack returns the acknowledgment number.
func (t TCP) Ack() uint32 { return binary.BigEndian.Uint32(t.b[8:12]) }

// HeaderLen returns the header length in bytes (data offset * 4).
func (t TCP) HeaderLen() int { return int(t.b[12]>>4) * 4 }

// Flags returns the 8 flag bits (TCPFlagFIN ... TCPFlagCWR).
func (t TCP) Flags() uint8 { return t.b[13] }

// Window returns the window field, not scaled.
func (t TCP) Window() uint16 { return binary.BigEndian.Uint16(t.b[14:16]) }

// Checksum returns the checksum field.
func (t TCP) Checksum() uint16 { return binary.BigEndian.Uint16(t.b[16:18]) }

// Urgent returns the urgent pointer.
func (t TCP) Urgent() uint16 { return binary.BigEndian.Uint16(t.b[18:20]) }

// Options returns the option bytes (possibly empty); parse them with
// ParseTCPOptions.
func (t TCP) Options() []byte { return t.b[TCPMinHeaderLen:t.HeaderLen()] }

// Header returns the header including options.
func (t TCP) Header() []byte { return t.b[:t.HeaderLen()] }

// Payload returns the segment data.
func (t TCP) Payload() []byte { return t.b[t.HeaderLen():] }

// Bytes returns the whole segment.
func (t TCP) Bytes() []byte { return t.b }

// ChecksumValid verifies the checksum over the whole segment with the
// pseudo-header of src and dst (RFC 9293 §3.1).
func (t TCP) ChecksumValid(src, dst netip.Addr) bool {
	return Checksum(t.b, PseudoHeaderSum(src, dst, ProtoTCP, len(t.b))) == 0
}

// TCPHeader describes a TCP header to build with Encode.
type TCPHeader struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window, Urgent   uint16
	OptionsLen       int // bytes of options that follow, a multiple of 4, at most 40
}

// Encode writes the 20-byte fixed header at the start of b with a data
// offset covering OptionsLen option bytes, and a zero checksum, and returns
// 20+OptionsLen. The options themselves are not written: write them at
// b[20:] (for example with TCPOptions.Encode), then the data, then call
// SetTCPChecksum. It panics when OptionsLen is not a multiple of 4 in
// 0..40.
func (h *TCPHeader) Encode(b []byte) int {
	if h.OptionsLen < 0 || h.OptionsLen > TCPMaxHeaderLen-TCPMinHeaderLen || h.OptionsLen%4 != 0 {
		panic("wire: TCP OptionsLen must be a multiple of 4 in 0..40")
	}
	_ = b[TCPMinHeaderLen-1]
	binary.BigEndian.PutUint16(b[0:2], h.SrcPort)
	binary.BigEndian.PutUint16(b[2:4], h.DstPort)
	binary.BigEndian.PutUint32(b[4:8], h.Seq)
	binary.BigEndian.PutUint32(b[8:12], h.Ack)
	hl := TCPMinHeaderLen + h.OptionsLen
	b[12] = byte(hl/4) << 4
	b[13] = h.Flags
	binary.BigEndian.PutUint16(b[14:16], h.Window)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:20], h.Urgent)
	return hl
}

// SetTCPChecksum computes the checksum of the whole segment seg (header,
// options and data) with the pseudo-header of src and dst, and stores it.
func SetTCPChecksum(seg []byte, src, dst netip.Addr) {
	seg[16], seg[17] = 0, 0
	binary.BigEndian.PutUint16(seg[16:18], Checksum(seg, PseudoHeaderSum(src, dst, ProtoTCP, len(seg))))
}
