package tcp

// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): a is "less than"
// b when the signed 32-bit difference a-b is negative. The comparisons are
// valid for numbers less than 2^31 apart, which the windows guarantee.

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool  { return int32(a-b) > 0 }
func seqGEQ(a, b uint32) bool { return int32(a-b) >= 0 }

// seqInRange reports lo <= x < hi.
func seqInRange(x, lo, hi uint32) bool { return seqLEQ(lo, x) && seqLT(x, hi) }

// seqMax returns the later of a and b.
func seqMax(a, b uint32) uint32 {
	if seqGT(a, b) {
		return a
	}
	return b
}

// seqMin returns the earlier of a and b.
func seqMin(a, b uint32) uint32 {
	if seqLT(a, b) {
		return a
	}
	return b
}
