package sack

// Sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4): a < b when
// the signed distance b-a is positive. All comparisons in this package go
// through these helpers, so the scoreboard works across the wrap at 2^32.

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool  { return int32(a-b) > 0 }
func seqGEQ(a, b uint32) bool { return int32(a-b) >= 0 }

func seqMax(a, b uint32) uint32 {
	if seqGT(a, b) {
		return a
	}
	return b
}

func seqMin(a, b uint32) uint32 {
	if seqLT(a, b) {
		return a
	}
	return b
}
