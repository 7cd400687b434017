package wire

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// CopySum copies src into dst as copy does and returns the number of
// bytes copied and Sum(dst[:n], initial): one pass over the data instead
// of a copy and a checksum pass, for a transport that copies payload into
// a packet it checksums (RFC 1071 section 4 suggests the combination).
// Like Sum, a trailing odd byte counts as padded with a zero on the right;
// for a piece that starts at an odd offset of a message, add its sum with
// AddSumAt.
func CopySum(dst, src []byte, initial uint32) (int, uint32) {
	n := min(len(dst), len(src))
	d, s := dst[:n], src[:n]
	var acc, c uint64
	for len(s) >= 32 && len(d) >= 32 {
		v0 := binary.LittleEndian.Uint64(s[0:8])
		v1 := binary.LittleEndian.Uint64(s[8:16])
		v2 := binary.LittleEndian.Uint64(s[16:24])
		v3 := binary.LittleEndian.Uint64(s[24:32])
		binary.LittleEndian.PutUint64(d[0:8], v0)
		binary.LittleEndian.PutUint64(d[8:16], v1)
		binary.LittleEndian.PutUint64(d[16:24], v2)
		binary.LittleEndian.PutUint64(d[24:32], v3)
		acc, c = bits.Add64(acc, v0, 0)
		acc, c = bits.Add64(acc, v1, c)
		acc, c = bits.Add64(acc, v2, c)
		acc, c = bits.Add64(acc, v3, c)
		acc += c
		s, d = s[32:], d[32:]
	}
	for len(s) >= 8 && len(d) >= 8 {
		v := binary.LittleEndian.Uint64(s)
		binary.LittleEndian.PutUint64(d, v)
		acc, c = bits.Add64(acc, v, 0)
		acc += c
		s, d = s[8:], d[8:]
	}
	copy(d, s)
	// the tail (under 8 bytes) as Sum adds it, swapped back to Sum's order
	return n, add32(initial, swap16(fold64(acc))+tailSum(s))
}

// tailSum is Sum(b, 0) for b shorter than 8 bytes, in big-endian order.
func tailSum(b []byte) uint32 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
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

// AddSumAt adds part, the Sum (from 0) of a piece of a message that starts
// at byte offset off of the message, to the message's accumulator acc. A
// piece at an odd offset has its bytes in the other halves of the 16-bit
// words, so its folded sum is byte-swapped first (RFC 1071 section 2(B)).
func AddSumAt(acc, part uint32, off int) uint32 {
	if off&1 != 0 {
		s, c := bits.Add32(part&0xffff, part>>16, 0)
		s += c
		s = (s & 0xffff) + (s >> 16)
		part = swap16(s)
	}
	return add32(acc, part)
}

// SetTCPChecksumData stores the checksum of the TCP segment seg (header
// and data) whose first hl bytes are the header and whose data's Sum is
// dataSum (from CopySum, for example), over the pseudo-header of src and
// dst (RFC 9293 section 3.1). hl must be even (TCP headers are).
func SetTCPChecksumData(seg []byte, hl int, dataSum uint32, src, dst netip.Addr) {
	seg[16], seg[17] = 0, 0
	s := Sum(seg[:hl], PseudoHeaderSum(src, dst, ProtoTCP, len(seg)))
	binary.BigEndian.PutUint16(seg[16:18], Fold(add32(s, dataSum)))
}
