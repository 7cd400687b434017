package sack

// Pipe implements RFC 6675 SetPipe: the estimate of octets in flight. For
// each octet S in [sndUna, sndNxt) that is not SACKed, it counts one if
// IsLost(S) is false (the original may still be in the network) and one more
// if S < highRxt (it was retransmitted). The walk is per hole, not per
// octet: IsLost is constant within a hole, so the cost is O(Ranges).
func (s *Scoreboard) Pipe(sndUna, sndNxt, highRxt uint32, mss, dupThresh int) int {
	dupThresh = max(dupThresh, 1)
	s.advance(sndUna)
	una := s.una
	if !seqGT(sndNxt, una) {
		return 0
	}
	end := sndNxt - una // offset of HighData+1
	rx := uint32(0)     // offset of highRxt, clamped to [0, end]
	if seqGT(highRxt, una) {
		rx = min(highRxt-una, end)
	}
	// above[i] = SACKed octets in ranges i..n-1; walk holes from the top.
	pipe := 0
	above := 0
	hi := end // top of the current hole
	for i := s.n; i >= 0; i-- {
		lo := uint32(0)
		if i > 0 {
			lo = min(s.r[i-1].Right-una, end)
		}
		if lo < hi { // hole [lo, hi)
			if !lostHole(s.n-i, above, mss, dupThresh) {
				pipe += int(hi - lo)
			}
			if rx > lo {
				pipe += int(min(rx, hi) - lo)
			}
		}
		if i > 0 {
			l, r := s.r[i-1].Left-una, s.r[i-1].Right-una
			above += int(r - l)
			hi = min(l, end)
		}
	}
	return pipe
}

// Rule numbers returned by NextSegRule (RFC 6675 section 4 NextSeg()).
const (
	RuleLost   = 1 // rule 1: the first lost, not yet retransmitted, unSACKed segment
	RuleUnsent = 3 // rule 3: the first unSACKed, not yet retransmitted segment below the highest SACK
	RuleRescue = 4 // rule 4: rescue retransmission of the highest unSACKed segment
)

// NextSeg implements RFC 6675 NextSeg rules 1, 3 and 4; rule 2 (send new
// data) is the caller's. It returns the segment [seq, seq+length) to
// (re)transmit, at most mss octets and never crossing into SACKed data;
// rescue is true for a rule 4 segment (send it at most once per recovery,
// when HighACK > RescueRxt, and do not advance HighRxt for it). ok is false
// when no rule applies.
//
// Because rule 2 ranks between rules 1 and 3, a caller that has new data to
// send should use NextSegRule and send new data before a RuleUnsent segment.
func (s *Scoreboard) NextSeg(sndUna, sndNxt, highRxt uint32, mss, dupThresh int) (seq uint32, length int, rescue bool, ok bool) {
	seq, length, rule, ok := s.NextSegRule(sndUna, sndNxt, highRxt, mss, dupThresh)
	return seq, length, rule == RuleRescue, ok
}

// NextSegRule is NextSeg that also says which rule (RuleLost, RuleUnsent or
// RuleRescue) chose the segment.
func (s *Scoreboard) NextSegRule(sndUna, sndNxt, highRxt uint32, mss, dupThresh int) (seq uint32, length int, rule int, ok bool) {
	dupThresh = max(dupThresh, 1)
	s.advance(sndUna)
	una := s.una
	if !seqGT(sndNxt, una) || mss <= 0 {
		return 0, 0, 0, false
	}
	end := sndNxt - una
	rx := uint32(0)
	if seqGT(highRxt, una) {
		rx = min(highRxt-una, end)
	}
	// Rules 1 and 3 look at holes below HighestSACKed, lowest first, at
	// octets >= highRxt. Compute the SACKed total above each hole on the way
	// up: above(hole below range i) = sacked - (octets in ranges 0..i-1).
	below := 0
	lo := uint32(0)
	firstUnsent, firstLen, haveUnsent := uint32(0), 0, false
	for i := 0; i < s.n; i++ {
		l, r := s.r[i].Left-una, s.r[i].Right-una
		hl, hh := max(lo, rx), min(l, end)
		if hl < hh {
			n := min(int(hh-hl), mss)
			if lostHole(s.n-i, s.sacked-below, mss, dupThresh) {
				return una + hl, n, RuleLost, true
			}
			if !haveUnsent {
				firstUnsent, firstLen, haveUnsent = una+hl, n, true
			}
		}
		below += int(r - l)
		lo = r
	}
	if haveUnsent {
		return firstUnsent, firstLen, RuleUnsent, true
	}
	// Rule 4: the highest outstanding unSACKed octet, if any.
	top, hole := end, uint32(0) // hole [hole, top)
	if s.n > 0 && s.r[s.n-1].Right-una >= end {
		// Data up to SND.NXT is SACKed: find the highest hole.
		top = 0
		for i := s.n - 1; i >= 0; i-- {
			l := s.r[i].Left - una
			if l > 0 && l <= end {
				top = l
				if i > 0 {
					hole = s.r[i-1].Right - una
				}
				break
			}
		}
		if top == 0 {
			return 0, 0, 0, false // everything outstanding is SACKed
		}
	} else if s.n > 0 {
		hole = s.r[s.n-1].Right - una
	}
	start := hole
	if top-start > uint32(mss) {
		start = top - uint32(mss)
	}
	return una + start, int(top - start), RuleRescue, true
}
