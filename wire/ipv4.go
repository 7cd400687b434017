package wire

import (
	"encoding/binary"
	"net/netip"
)

// IPv4MinHeaderLen is the length of an IPv4 header without options.
const IPv4MinHeaderLen = 20

// IPv4MaxHeaderLen is the largest IPv4 header (IHL 15).
const IPv4MaxHeaderLen = 60

// IPv4 flag bits as returned by IPv4.Flags (the top 3 bits of the
// flags/fragment-offset word, shifted down).
const (
	IPv4FlagDF = 0x2 // don't fragment
	IPv4FlagMF = 0x1 // more fragments
)

// IP protocol numbers.
const (
	ProtoICMP    = 1   // ICMP for IPv4 (RFC 792)
	ProtoIGMP    = 2   // IGMP (RFC 3376)
	ProtoTCP     = 6   // TCP (RFC 9293)
	ProtoUDP     = 17  // UDP (RFC 768)
	ProtoUDPLite = 136 // UDP-Lite (RFC 3828)
)

// IPv4 option types (RFC 791 §3.1).
const (
	IPv4OptionEOL         = 0   // end of option list
	IPv4OptionNOP         = 1   // no operation
	IPv4OptionRecordRoute = 7   // record route
	IPv4OptionTimestamp   = 68  // internet timestamp
	IPv4OptionLSRR        = 131 // loose source and record route
	IPv4OptionSSRR        = 137 // strict source and record route
	IPv4OptionRouterAlert = 148 // router alert (RFC 2113)
)

// IPv4 is a view of an IPv4 packet (RFC 791): the header and the payload,
// cut to the header's total length. Make one with ParseIPv4.
type IPv4 struct {
	b []byte
}

// ParseIPv4 checks b as an IPv4 packet and returns a view cut to its total
// length (link-layer padding after it is dropped). It returns
// ErrTooShort when b is shorter than 20 bytes, ErrBadVersion when the
// version is not 4, ErrBadHeaderLen when IHL < 5 or the header is longer
// than b, and ErrBadLength unless header length <= total length <= len(b).
// The header checksum is not verified: see ChecksumValid.
func ParseIPv4(b []byte) (IPv4, error) {
	if len(b) < IPv4MinHeaderLen {
		return IPv4{}, ErrTooShort
	}
	if b[0]>>4 != 4 {
		return IPv4{}, ErrBadVersion
	}
	hl := int(b[0]&0xf) * 4
	if hl < IPv4MinHeaderLen || hl > len(b) {
		return IPv4{}, ErrBadHeaderLen
	}
	tl := int(binary.BigEndian.Uint16(b[2:4]))
	if tl < hl || tl > len(b) {
		return IPv4{}, ErrBadLength
	}
	return IPv4{b: b[:tl]}, nil
}

// HeaderLen returns the header length in bytes (IHL*4).
func (p IPv4) HeaderLen() int { return int(p.b[0]&0xf) * 4 }

// TOS returns the type-of-service byte (DSCP and ECN).
func (p IPv4) TOS() uint8 { return p.b[1] }

// TotalLength returns the total length field (header plus payload).
func (p IPv4) TotalLength() int { return int(binary.BigEndian.Uint16(p.b[2:4])) }

// ID returns the identification field.
func (p IPv4) ID() uint16 { return binary.BigEndian.Uint16(p.b[4:6]) }

// Flags returns the 3 flag bits (IPv4FlagDF, IPv4FlagMF; bit 0x4 is reserved).
func (p IPv4) Flags() uint8 { return p.b[6] >> 5 }

// FragmentOffset returns the fragment offset in bytes.
func (p IPv4) FragmentOffset() int { return int(binary.BigEndian.Uint16(p.b[6:8])&0x1fff) * 8 }

// MoreFragments reports whether the MF flag is set.
func (p IPv4) MoreFragments() bool { return p.b[6]&0x20 != 0 }

// DontFragment reports whether the DF flag is set.
func (p IPv4) DontFragment() bool { return p.b[6]&0x40 != 0 }

// IsFragment reports whether the packet is a fragment: MF set or a
// non-zero fragment offset.
func (p IPv4) IsFragment() bool { return binary.BigEndian.Uint16(p.b[6:8])&0x3fff != 0 }

// TTL returns the time to live.
func (p IPv4) TTL() uint8 { return p.b[8] }

// Protocol returns the protocol number of the payload.
func (p IPv4) Protocol() uint8 { return p.b[9] }

// Checksum returns the header checksum field.
func (p IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(p.b[10:12]) }

// ChecksumValid reports whether the header checksum verifies (RFC 1071).
func (p IPv4) ChecksumValid() bool { return Checksum(p.b[:p.HeaderLen()], 0) == 0 }

// Src returns the source address.
func (p IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(p.b[12:16])) }

// Dst returns the destination address.
func (p IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(p.b[16:20])) }

// Options returns the option bytes of the header (possibly empty).
func (p IPv4) Options() []byte { return p.b[IPv4MinHeaderLen:p.HeaderLen()] }

// Header returns the header bytes including options.
func (p IPv4) Header() []byte { return p.b[:p.HeaderLen()] }

// Payload returns the bytes after the header, up to the total length.
func (p IPv4) Payload() []byte { return p.b[p.HeaderLen():] }

// Bytes returns the whole packet, cut to the total length.
func (p IPv4) Bytes() []byte { return p.b }

// IPv4Option is one option of an IPv4 header. Data is the option's value,
// without its type and length bytes, and aliases the packet.
type IPv4Option struct {
	Type uint8
	Data []byte
}

// Copied reports whether the option must be copied into every fragment
// (the copied flag, RFC 791 §3.1).
func (o IPv4Option) Copied() bool { return o.Type&0x80 != 0 }

// ForEachOption calls fn for each option of the header, in order, until fn
// returns false. End-of-list (type 0) ends the walk and NOP (type 1)
// options are skipped; neither is passed to fn. Every other option needs a
// length byte of at least 2 that fits in the header, else ForEachOption
// returns ErrBadLength (the options before the bad one have been passed to
// fn already).
func (p IPv4) ForEachOption(fn func(o IPv4Option) bool) error {
	return walkIPv4Options(p.Options(), fn)
}

func walkIPv4Options(opts []byte, fn func(o IPv4Option) bool) error {
	for i := 0; i < len(opts); {
		t := opts[i]
		switch t {
		case IPv4OptionEOL:
			return nil
		case IPv4OptionNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return ErrBadLength
		}
		l := int(opts[i+1])
		if l < 2 || l > len(opts)-i {
			return ErrBadLength
		}
		if !fn(IPv4Option{Type: t, Data: opts[i+2 : i+l]}) {
			return nil
		}
		i += l
	}
	return nil
}

// IPv4Header describes an IPv4 header to build with Encode.
type IPv4Header struct {
	TOS            uint8
	TotalLength    int // header plus payload
	ID             uint16
	Flags          uint8 // IPv4FlagDF, IPv4FlagMF
	FragmentOffset int   // in bytes, a multiple of 8
	TTL            uint8
	Protocol       uint8
	Src, Dst       netip.Addr // IPv4 addresses
	Options        []byte     // padded with zeros (EOL) to a multiple of 4; at most 40 bytes
}

// HeaderLen returns the length Encode writes: 20 plus the options rounded
// up to a multiple of 4.
func (h *IPv4Header) HeaderLen() int {
	return IPv4MinHeaderLen + (len(h.Options)+3)&^3
}

// Encode writes the header at the start of b, with a valid checksum, and
// returns its length. It panics when the options are longer than 40 bytes
// or b is shorter than HeaderLen.
func (h *IPv4Header) Encode(b []byte) int {
	hl := h.HeaderLen()
	if hl > IPv4MaxHeaderLen {
		panic("wire: IPv4 options longer than 40 bytes")
	}
	_ = b[hl-1]
	b[0] = 0x40 | byte(hl/4)
	b[1] = h.TOS
	binary.BigEndian.PutUint16(b[2:4], uint16(h.TotalLength))
	binary.BigEndian.PutUint16(b[4:6], h.ID)
	binary.BigEndian.PutUint16(b[6:8], uint16(h.Flags&7)<<13|uint16(h.FragmentOffset/8)&0x1fff)
	b[8] = h.TTL
	b[9] = h.Protocol
	b[10], b[11] = 0, 0
	s, d := h.Src.As4(), h.Dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	n := copy(b[20:hl], h.Options)
	clear(b[20+n : hl])
	binary.BigEndian.PutUint16(b[10:12], Checksum(b[:hl], 0))
	return hl
}

// SetIPv4TTL sets the TTL of the IPv4 header hdr and updates its checksum
// incrementally (RFC 1624), as a forwarding router does. hdr must hold at
// least 20 bytes.
func SetIPv4TTL(hdr []byte, ttl uint8) {
	_ = hdr[11]
	old := binary.BigEndian.Uint16(hdr[8:10])
	hdr[8] = ttl
	nw := binary.BigEndian.Uint16(hdr[8:10])
	binary.BigEndian.PutUint16(hdr[10:12], UpdateChecksum16(binary.BigEndian.Uint16(hdr[10:12]), old, nw))
}

// SetIPv4Checksum recomputes the header checksum of hdr, whose length is
// taken from its IHL field.
func SetIPv4Checksum(hdr []byte) {
	hl := int(hdr[0]&0xf) * 4
	hdr[10], hdr[11] = 0, 0
	binary.BigEndian.PutUint16(hdr[10:12], Checksum(hdr[:hl], 0))
}
