package wire

import (
	"encoding/binary"
	"errors"
)

// Errors of the IPv6 extension header walker.
var (
	// ErrExtensionOrder means a hop-by-hop options header that is not the
	// first header after the IPv6 header (RFC 8200 §4.1).
	ErrExtensionOrder = errors.New("wire: IPv6 hop-by-hop header not first")
	// ErrExtensionLimit means an extension header chain with more headers
	// or more bytes than the walker's limits.
	ErrExtensionLimit = errors.New("wire: IPv6 extension header chain too long")
)

// Default limits of IPv6ExtensionWalker.
const (
	IPv6DefaultMaxExtensions     = 8    // headers in one chain
	IPv6DefaultMaxExtensionBytes = 2048 // bytes of headers in one chain (one largest options header)
)

// IPv6FragmentHeaderLen is the length of the IPv6 fragment header.
const IPv6FragmentHeaderLen = 8

// ipv6ExtMinLen is the length of the smallest extension header.
const ipv6ExtMinLen = 8

// IPv6 routing types (IANA).
const (
	IPv6RoutingType0   = 0 // deprecated source route (RFC 5095)
	IPv6RoutingType2   = 2 // Mobile IPv6 (RFC 6275)
	IPv6RoutingSegment = 4 // segment routing header (RFC 8754)
)

// IPv6 hop-by-hop and destination option types (RFC 8200 §4.2, IANA).
const (
	IPv6OptPad1             = 0x00 // one byte of padding
	IPv6OptPadN             = 0x01 // N bytes of padding
	IPv6OptTunnelEncapLimit = 0x04 // tunnel encapsulation limit (RFC 2473)
	IPv6OptRouterAlert      = 0x05 // router alert (RFC 2711)
	IPv6OptJumboPayload     = 0xc2 // jumbo payload (RFC 2675)
)

// IPv6 router alert values (RFC 2711).
const (
	IPv6RouterAlertMLD  = 0 // datagram contains an MLD message
	IPv6RouterAlertRSVP = 1 // datagram contains an RSVP message
)

// Actions for an unrecognized IPv6 option, from the two high bits of its
// type (RFC 8200 §4.2); see IPv6Option.Action.
const (
	IPv6OptActionSkip               = 0 // skip the option
	IPv6OptActionDiscard            = 1 // discard the packet silently
	IPv6OptActionDiscardICMP        = 2 // discard, send ICMPv6 parameter problem code 2
	IPv6OptActionDiscardICMPUnicast = 3 // as 2, but only when the destination is not multicast
)

// IPv6Extension is one extension header met by IPv6ExtensionWalker.Walk.
// Data is the whole header (next header and length bytes included) and
// aliases the packet; it holds at least 8 bytes. Pass it to
// ParseIPv6Options, ParseIPv6Routing or ParseIPv6Fragment, which then
// succeed.
type IPv6Extension struct {
	Type   uint8 // the next-header value that named this header (ProtoHopByHop ...)
	Offset int   // offset of the header in the walked bytes
	Data   []byte
}

// NextHeader returns the type of the header that follows.
func (e IPv6Extension) NextHeader() uint8 { return e.Data[0] }

// IPv6ExtensionWalker walks an IPv6 extension header chain with bounds on
// the number of headers and on their total length. The zero value uses
// the default limits.
type IPv6ExtensionWalker struct {
	MaxHeaders int // 0 means IPv6DefaultMaxExtensions
	MaxBytes   int // 0 means IPv6DefaultMaxExtensionBytes
}

// isIPv6Extension reports whether next names an extension header that
// the walker skips: those of RFC 8200 and the ones in the uniform format
// of RFC 6564 (mobility 135, HIP 139, shim6 140, experiments 253, 254).
func isIPv6Extension(next uint8) bool {
	switch next {
	case ProtoHopByHop, ProtoRouting, ProtoFragment, ProtoAH, ProtoDestOpts, 135, 139, 140, 253, 254:
		return true
	}
	return false
}

// Walk walks the extension headers in b (an IPv6 payload), the first of
// type next, calling fn (when not nil) for each, until fn returns false
// or a header that is not an extension header is met. It returns that
// header's type (an upper-layer protocol, ProtoESP, ProtoNoNext or an
// unknown value) and its offset in b. When fn returns false, Walk returns
// the next header of the header passed to fn and the offset after it.
//
// A fragment header with a non-zero offset ends the walk: the bytes after
// it are the middle of the original packet, so Walk returns ProtoFragment
// and the fragment header's offset (the caller reassembles).
//
// A header that does not fit in b gives ErrBadLength, a hop-by-hop
// header after the first position ErrExtensionOrder (RFC 8200 §4.1), and
// more headers or header bytes than the limits ErrExtensionLimit.
func (w IPv6ExtensionWalker) Walk(next uint8, b []byte, fn func(e IPv6Extension) bool) (proto uint8, offset int, err error) {
	maxH, maxB := w.MaxHeaders, w.MaxBytes
	if maxH <= 0 {
		maxH = IPv6DefaultMaxExtensions
	}
	if maxB <= 0 {
		maxB = IPv6DefaultMaxExtensionBytes
	}
	off := 0
	for n := 0; isIPv6Extension(next); n++ {
		if next == ProtoHopByHop && n > 0 {
			return 0, 0, ErrExtensionOrder
		}
		if n >= maxH {
			return 0, 0, ErrExtensionLimit
		}
		if len(b)-off < ipv6ExtMinLen {
			return 0, 0, ErrBadLength
		}
		var l int
		switch next {
		case ProtoFragment:
			l = IPv6FragmentHeaderLen
		case ProtoAH:
			l = (int(b[off+1]) + 2) * 4 // RFC 4302 §2.2
		default:
			l = (int(b[off+1]) + 1) * 8
		}
		if l > len(b)-off {
			return 0, 0, ErrBadLength
		}
		if off+l > maxB {
			return 0, 0, ErrExtensionLimit
		}
		h := b[off : off+l]
		if fn != nil && !fn(IPv6Extension{Type: next, Offset: off, Data: h}) {
			return h[0], off + l, nil
		}
		if next == ProtoFragment && binary.BigEndian.Uint16(h[2:4])&^7 != 0 {
			return ProtoFragment, off, nil
		}
		next = h[0]
		off += l
	}
	return next, off, nil
}

// IPv6Option is one option of a hop-by-hop or destination options header
// (RFC 8200 §4.2). Data is the option's value, without its type and
// length bytes, and aliases the packet.
type IPv6Option struct {
	Type uint8
	Data []byte
}

// Action returns what a node that does not recognize the option must do:
// the two high bits of the type (IPv6OptActionSkip ...).
func (o IPv6Option) Action() uint8 { return o.Type >> 6 }

// MayChange reports whether the option data may change en route (the
// third high bit of the type).
func (o IPv6Option) MayChange() bool { return o.Type&0x20 != 0 }

// RouterAlert returns the value of a router alert option (RFC 2711) and
// whether o is one with a 2-byte value.
func (o IPv6Option) RouterAlert() (uint16, bool) {
	if o.Type != IPv6OptRouterAlert || len(o.Data) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(o.Data), true
}

// IPv6Options is a view of a hop-by-hop or destination options header
// (RFC 8200 §4.3, §4.6). Make one with ParseIPv6Options.
type IPv6Options struct {
	b []byte
}

// ParseIPv6Options checks b as a hop-by-hop or destination options header
// and returns a view cut to its length. It returns ErrTooShort when b is
// shorter than 8 bytes and ErrBadLength when the length field points past
// b. The options are checked as ForEachOption walks them.
func ParseIPv6Options(b []byte) (IPv6Options, error) {
	if len(b) < ipv6ExtMinLen {
		return IPv6Options{}, ErrTooShort
	}
	l := (int(b[1]) + 1) * 8
	if l > len(b) {
		return IPv6Options{}, ErrBadLength
	}
	return IPv6Options{b: b[:l]}, nil
}

// NextHeader returns the type of the header that follows.
func (h IPv6Options) NextHeader() uint8 { return h.b[0] }

// HeaderLen returns the header length in bytes.
func (h IPv6Options) HeaderLen() int { return len(h.b) }

// Options returns the option bytes (after the next header and length bytes).
func (h IPv6Options) Options() []byte { return h.b[2:] }

// Bytes returns the whole header.
func (h IPv6Options) Bytes() []byte { return h.b }

// ForEachOption calls fn for each option of the header, in order, until
// fn returns false. Pad1 and PadN options are skipped and not passed to
// fn. An option whose length runs past the header gives ErrBadLength (the
// options before it have been passed to fn already).
func (h IPv6Options) ForEachOption(fn func(o IPv6Option) bool) error {
	return walkIPv6Options(h.b[2:], fn)
}

func walkIPv6Options(opts []byte, fn func(o IPv6Option) bool) error {
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == IPv6OptPad1 {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return ErrBadLength
		}
		l := int(opts[i+1])
		if l > len(opts)-i-2 {
			return ErrBadLength
		}
		if t != IPv6OptPadN && !fn(IPv6Option{Type: t, Data: opts[i+2 : i+2+l]}) {
			return nil
		}
		i += 2 + l
	}
	return nil
}

// IPv6OptionsHeaderLen returns the length PutIPv6OptionsHeader writes for
// opts: 2 bytes, each option's type, length and data (one byte for a
// Pad1), rounded up to a multiple of 8.
func IPv6OptionsHeaderLen(opts []IPv6Option) int {
	n := 2
	for _, o := range opts {
		if o.Type == IPv6OptPad1 {
			n++
		} else {
			n += 2 + len(o.Data)
		}
	}
	return (n + 7) &^ 7
}

// PutIPv6OptionsHeader writes a hop-by-hop or destination options header
// with next header next and the options opts, in order, without padding
// between them, then Pad1 or PadN padding to a multiple of 8 bytes. It
// returns IPv6OptionsHeaderLen(opts). Callers order the options to meet
// their alignment (a router alert first is 2n-aligned). It panics when
// an option's data is longer than 255 bytes, the header longer than 2048
// bytes or b too short.
func PutIPv6OptionsHeader(b []byte, next uint8, opts []IPv6Option) int {
	l := IPv6OptionsHeaderLen(opts)
	if l > 2048 {
		panic("wire: IPv6 options header longer than 2048 bytes")
	}
	_ = b[l-1]
	b[0], b[1] = next, byte(l/8-1)
	i := 2
	for _, o := range opts {
		if o.Type == IPv6OptPad1 {
			b[i] = 0
			i++
			continue
		}
		if len(o.Data) > 255 {
			panic("wire: IPv6 option longer than 255 bytes")
		}
		b[i], b[i+1] = o.Type, byte(len(o.Data))
		i += 2 + copy(b[i+2:], o.Data)
	}
	switch r := l - i; {
	case r == 1:
		b[i] = IPv6OptPad1
	case r >= 2:
		b[i], b[i+1] = IPv6OptPadN, byte(r-2)
		clear(b[i+2 : l])
	}
	return l
}

// IPv6Routing is a view of an IPv6 routing header (RFC 8200 §4.4). Make
// one with ParseIPv6Routing.
type IPv6Routing struct {
	b []byte
}

// ParseIPv6Routing checks b as a routing header and returns a view cut to
// its length. It returns ErrTooShort when b is shorter than 8 bytes and
// ErrBadLength when the length field points past b.
func ParseIPv6Routing(b []byte) (IPv6Routing, error) {
	if len(b) < ipv6ExtMinLen {
		return IPv6Routing{}, ErrTooShort
	}
	l := (int(b[1]) + 1) * 8
	if l > len(b) {
		return IPv6Routing{}, ErrBadLength
	}
	return IPv6Routing{b: b[:l]}, nil
}

// NextHeader returns the type of the header that follows.
func (r IPv6Routing) NextHeader() uint8 { return r.b[0] }

// HeaderLen returns the header length in bytes.
func (r IPv6Routing) HeaderLen() int { return len(r.b) }

// RoutingType returns the routing type (IPv6RoutingType0 ...).
func (r IPv6Routing) RoutingType() uint8 { return r.b[2] }

// SegmentsLeft returns the number of route segments still to visit.
func (r IPv6Routing) SegmentsLeft() uint8 { return r.b[3] }

// Data returns the type-specific data (after the first 4 bytes).
func (r IPv6Routing) Data() []byte { return r.b[4:] }

// Bytes returns the whole header.
func (r IPv6Routing) Bytes() []byte { return r.b }

// PutIPv6Routing writes a routing header with the type-specific data
// data, padded with zeros to a multiple of 8 bytes, and returns its
// length. It panics when the header would be longer than 2048 bytes or b
// is too short.
func PutIPv6Routing(b []byte, next, routingType, segmentsLeft uint8, data []byte) int {
	l := (4 + len(data) + 7) &^ 7
	if l > 2048 {
		panic("wire: IPv6 routing header longer than 2048 bytes")
	}
	_ = b[l-1]
	b[0], b[1], b[2], b[3] = next, byte(l/8-1), routingType, segmentsLeft
	n := copy(b[4:l], data)
	clear(b[4+n : l])
	return l
}

// IPv6Fragment is a view of an IPv6 fragment header (RFC 8200 §4.5).
// Make one with ParseIPv6Fragment.
type IPv6Fragment struct {
	b []byte
}

// ParseIPv6Fragment checks that b holds the 8-byte fragment header (else
// ErrTooShort) and returns a view of those 8 bytes.
func ParseIPv6Fragment(b []byte) (IPv6Fragment, error) {
	if len(b) < IPv6FragmentHeaderLen {
		return IPv6Fragment{}, ErrTooShort
	}
	return IPv6Fragment{b: b[:IPv6FragmentHeaderLen]}, nil
}

// NextHeader returns the type of the first header of the fragmentable
// part of the original packet.
func (f IPv6Fragment) NextHeader() uint8 { return f.b[0] }

// FragmentOffset returns the fragment offset in bytes.
func (f IPv6Fragment) FragmentOffset() int { return int(binary.BigEndian.Uint16(f.b[2:4]) &^ 7) }

// MoreFragments reports whether the M flag is set.
func (f IPv6Fragment) MoreFragments() bool { return f.b[3]&1 != 0 }

// ID returns the identification.
func (f IPv6Fragment) ID() uint32 { return binary.BigEndian.Uint32(f.b[4:8]) }

// IsAtomic reports whether the header is an atomic fragment: offset 0 and
// M clear (RFC 6946: process it as a whole packet).
func (f IPv6Fragment) IsAtomic() bool { return binary.BigEndian.Uint16(f.b[2:4])&^6 == 0 }

// Bytes returns the 8-byte header.
func (f IPv6Fragment) Bytes() []byte { return f.b }

// PutIPv6Fragment writes an 8-byte fragment header at b[0:8] and returns
// 8. offset is in bytes, a multiple of 8 below 65536.
func PutIPv6Fragment(b []byte, next uint8, offset int, more bool, id uint32) int {
	_ = b[IPv6FragmentHeaderLen-1]
	b[0], b[1] = next, 0
	v := uint16(offset) &^ 7
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(b[2:4], v)
	binary.BigEndian.PutUint32(b[4:8], id)
	return IPv6FragmentHeaderLen
}
