package sack

// IsSacked reports whether octet seq has been selectively acknowledged.
func (s *Scoreboard) IsSacked(seq uint32) bool {
	if seqLT(seq, s.una) {
		return false
	}
	off := seq - s.una
	for i := 0; i < s.n; i++ {
		if off < s.r[i].Right-s.una {
			return off >= s.r[i].Left-s.una
		}
	}
	return false
}

// SackedBytes returns the number of octets above SND.UNA marked SACKed.
func (s *Scoreboard) SackedBytes() int { return s.sacked }

// HighestSacked returns one past the highest SACKed octet (the Right edge
// of the highest range), or SND.UNA when nothing is SACKed.
func (s *Scoreboard) HighestSacked() uint32 {
	if s.n == 0 {
		return s.una
	}
	return s.r[s.n-1].Right
}

// Empty reports whether no octet is marked SACKed.
func (s *Scoreboard) Empty() bool { return s.n == 0 }

// SndUna returns the SND.UNA the scoreboard was last updated with.
func (s *Scoreboard) SndUna() uint32 { return s.una }

// Ranges returns the number of disjoint SACKed ranges.
func (s *Scoreboard) Ranges() int { return s.n }

// Range returns the i-th SACKed range in ascending sequence order,
// 0 <= i < Ranges().
func (s *Scoreboard) Range(i int) Block { return s.r[i] }

// Dropped counts SACKed ranges forgotten because the scoreboard was full.
func (s *Scoreboard) Dropped() uint64 { return s.drop }

// Invalid counts SACK blocks ignored as malformed (empty, reversed, or
// beyond SND.NXT / 2^30 above SND.UNA).
func (s *Scoreboard) Invalid() uint64 { return s.inval }

// Old counts SACK blocks ignored because they lie entirely at or below
// SND.UNA (RFC 2883 D-SACKs or stale blocks).
func (s *Scoreboard) Old() uint64 { return s.old }

// lostHole reports the RFC 6675 IsLost verdict for any octet of a hole that
// lies just below range i (so ranges i..n-1 are above it): DupThresh or more
// discontiguous SACKed ranges above, or more than (DupThresh-1)*SMSS SACKed
// octets above. above is the number of SACKed octets in ranges i..n-1.
func lostHole(rangesAbove, above, mss, dupThresh int) bool {
	return rangesAbove >= dupThresh || above > (dupThresh-1)*mss
}

// IsLost implements RFC 6675 section 4 IsLost(SeqNum): true when either
// dupThresh discontiguous SACKed sequences (ranges) lie above seq, or more
// than (dupThresh-1)*mss SACKed octets have sequence numbers greater than
// seq. An octet below SND.UNA is never lost.
func (s *Scoreboard) IsLost(seq uint32, mss int, dupThresh int) bool {
	dupThresh = max(dupThresh, 1)
	if seqLT(seq, s.una) {
		return false
	}
	off := seq - s.una
	count, bytes := 0, 0
	for i := s.n - 1; i >= 0; i-- {
		l, r := s.r[i].Left-s.una, s.r[i].Right-s.una
		if r-1 <= off {
			break // this range and all below hold no octet > seq
		}
		count++
		if l > off {
			bytes += int(r - l)
		} else {
			bytes += int(r - off - 1)
		}
		if lostHole(count, bytes, mss, dupThresh) {
			return true
		}
	}
	return false
}
