package wire

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Sum adds b to the one's complement accumulator initial, as the Internet
// checksum does (RFC 1071), and returns the new accumulator. The result is
// not folded to 16 bits nor complemented: pass it to Fold, or as initial to
// a further Sum. A trailing odd byte is padded with a zero byte on the
// right, so only the last piece of a message may have an odd length.
//
// The loop adds 8 bytes at a time into a 64-bit accumulator with end-around
// carry, which is equivalent to adding 16-bit words because 2^16 ≡ 1
// modulo 2^16-1. It loads the words in the machine's little-endian order
// (no byte swap per load) and swaps the folded 16-bit sum once at the end:
// the one's complement sum is independent of byte order up to that swap
// (RFC 1071 section 2(B)).
func Sum(b []byte, initial uint32) uint32 {
	var acc, c uint64
	for len(b) >= 64 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[0:8]), 0)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:32]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[32:40]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[40:48]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[48:56]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[56:64]), c)
		acc += c // cannot overflow: acc <= 2^64-2 after a carry
		b = b[64:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), 0)
		acc += c
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.LittleEndian.Uint32(b)), 0)
		acc += c
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.LittleEndian.Uint16(b)), 0)
		acc += c
		b = b[2:]
	}
	if len(b) == 1 {
		// the odd byte is the high-order byte of a big-endian word, the
		// low-order byte of a little-endian one
		acc, c = bits.Add64(acc, uint64(b[0]), 0)
		acc += c
	}
	// Fold 64 -> 16 bits with end-around carry (a nonzero sum never folds
	// to 0), swap to big-endian order and add to initial.
	return add32(initial, swap16(fold64(acc)))
}

// Fold folds the carries of a Sum accumulator into 16 bits and complements
// the result: the value to store in a checksum field, or zero when a
// message that includes its checksum field verifies.
func Fold(sum uint32) uint16 {
	sum = (sum & 0xffff) + (sum >> 16)
	sum = (sum & 0xffff) + (sum >> 16)
	return ^uint16(sum)
}

// Checksum returns Fold(Sum(b, initial)): the Internet checksum of b
// (RFC 1071) seeded with initial (for example a PseudoHeaderSum).
func Checksum(b []byte, initial uint32) uint16 {
	return Fold(Sum(b, initial))
}

// add32 adds v to the accumulator s with end-around carry.
func add32(s, v uint32) uint32 {
	r, c := bits.Add32(s, v, 0)
	return r + c
}

// PseudoHeaderSum returns the unfolded sum of the transport pseudo-header:
// for IPv4 source, destination, zero, protocol and length (RFC 768,
// RFC 9293 §3.1); when both addresses are IPv6 (and not IPv4-mapped) the
// IPv6 form of RFC 8200 §8.1 (addresses, 32-bit length, next header).
// length is the transport length (header plus data).
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	var s uint32
	if src.Is4() || src.Is4In6() {
		a, d := src.As4(), dst.As4()
		s = binary.BigEndian.Uint32(a[:])
		s = add32(s, binary.BigEndian.Uint32(d[:]))
		s = add32(s, uint32(proto))
		s = add32(s, uint32(length)&0xffff)
		return s
	}
	a, d := src.As16(), dst.As16()
	for i := 0; i < 16; i += 4 {
		s = add32(s, binary.BigEndian.Uint32(a[i:]))
		s = add32(s, binary.BigEndian.Uint32(d[i:]))
	}
	s = add32(s, uint32(length))
	s = add32(s, uint32(proto))
	return s
}

// UpdateChecksum16 returns the checksum field value after a 16-bit word
// covered by checksum check changes from old to new, using RFC 1624
// equation 3: HC' = ~(~HC + ~m + m').
func UpdateChecksum16(check, old, new uint16) uint16 {
	s := uint32(^check) + uint32(^old) + uint32(new)
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	return ^uint16(s)
}

// UpdateChecksum32 is UpdateChecksum16 for a 32-bit value (for example an
// IPv4 address in a NAT), aligned on a 16-bit boundary of the message.
func UpdateChecksum32(check uint16, old, new uint32) uint16 {
	s := uint32(^check) + uint32(^uint16(old>>16)) + uint32(^uint16(old)) +
		(new >> 16) + (new & 0xffff)
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	return ^uint16(s)
}

// fold64 folds a 64-bit end-around-carry accumulator to 16 bits (a
// nonzero sum never folds to 0).
func fold64(acc uint64) uint32 {
	s, c := bits.Add32(uint32(acc), uint32(acc>>32), 0)
	s += c
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	return s
}

// swap16 swaps the bytes of a 16-bit value.
func swap16(s uint32) uint32 { return (s>>8 | s<<8) & 0xffff }
