// Package sack is the TCP sender's SACK scoreboard for the conservative
// loss recovery of RFC 6675, fed by the SACK option of RFC 2018.
//
// A Scoreboard records which sequence ranges above SND.UNA the receiver has
// selectively acknowledged. It is bounded: at most MaxRanges disjoint ranges
// are kept in a fixed array inside the struct, so after construction (the
// zero value is ready to use) nothing allocates. When a new range arrives and
// the array is full, the highest range is dropped (or the new one, if it is
// the highest) and the loss is counted in Dropped. Forgetting SACK
// information is safe: those bytes are merely treated as not yet SACKed,
// which can cause an unnecessary retransmission but never a stall.
//
// All sequence comparisons are modulo 2^32, so the scoreboard works across
// the sequence-number wrap.
//
// Conventions for the RFC 6675 variables as passed by the caller:
//   - sndUna is HighACK+1 (the first unacknowledged octet, SND.UNA).
//   - sndNxt is HighData+1 (SND.NXT, one past the highest octet sent).
//   - highRxt is one past the highest octet retransmitted during the current
//     recovery (so an octet S was retransmitted iff S < highRxt; pass sndUna
//     when nothing has been retransmitted yet).
package sack

// MaxRanges is the number of disjoint SACKed ranges a Scoreboard holds.
const MaxRanges = 32

// Block is one SACK block: the octets [Left, Right) in sequence space.
type Block struct{ Left, Right uint32 }

// maxSpan bounds the distance of any SACK edge above SND.UNA; blocks that
// reach further (2^30, the largest window RFC 7323 allows) are invalid.
const maxSpan = 1 << 30

// Scoreboard is an RFC 6675 scoreboard. The zero value is an empty
// scoreboard with SND.UNA 0; call Reset with the real SND.UNA first.
type Scoreboard struct {
	r      [MaxRanges]Block // disjoint, non-adjacent, ascending from una
	n      int              // ranges in use
	una    uint32
	sacked int    // total SACKed octets in r
	drop   uint64 // ranges lost to the bound
	inval  uint64 // blocks ignored as invalid (beyond maxSpan, empty, reversed)
	old    uint64 // blocks entirely below SND.UNA (D-SACK or stale)
}

// New returns an empty Scoreboard with SND.UNA = sndUna.
func New(sndUna uint32) Scoreboard {
	var s Scoreboard
	s.Reset(sndUna)
	return s
}

// Reset empties the scoreboard and sets SND.UNA (for a new connection or
// after an RTO, RFC 6675 section 5.1 lets the sender discard SACK state).
// The counters are kept.
func (s *Scoreboard) Reset(sndUna uint32) {
	s.n = 0
	s.sacked = 0
	s.una = sndUna
}

// Update advances SND.UNA to sndUna (discarding what it covers) and merges
// the SACK blocks of one incoming segment. Blocks may come in any order and
// may overlap each other or existing ranges. A block that lies entirely at
// or below SND.UNA (a D-SACK per RFC 2883, or a stale block) is ignored and
// counted; one that straddles SND.UNA is trimmed to start at it. Empty,
// reversed or absurdly distant blocks (more than 2^30 above SND.UNA) are
// ignored and counted. Update does not know SND.NXT: the caller should drop
// blocks above SND.NXT (RFC 2018 section 5 receivers never send them) or use
// UpdateBounded. It returns the number of octets newly marked SACKed.
func (s *Scoreboard) Update(sndUna uint32, blocks []Block) (newlySacked int) {
	return s.UpdateBounded(sndUna, sndUna+maxSpan, blocks)
}

// UpdateBounded is Update with SND.NXT known: block edges beyond sndNxt are
// invalid (counted in Invalid) and the block is ignored.
func (s *Scoreboard) UpdateBounded(sndUna, sndNxt uint32, blocks []Block) (newlySacked int) {
	s.advance(sndUna)
	limit := sndNxt - s.una
	if limit > maxSpan {
		limit = maxSpan
	}
	for _, b := range blocks {
		l, r := b.Left-s.una, b.Right-s.una // offsets above SND.UNA
		switch {
		case int32(b.Right-b.Left) <= 0:
			s.inval++
			continue
		case seqLEQ(b.Right, s.una):
			s.old++ // D-SACK below SND.UNA, or stale
			continue
		case r > limit:
			s.inval++
			continue
		}
		if seqLT(b.Left, s.una) {
			l = 0
		}
		newlySacked += s.insert(l, r)
	}
	return newlySacked
}

// advance moves SND.UNA forward, dropping and trimming ranges below it. A
// sndUna that is not ahead of the current one is ignored.
func (s *Scoreboard) advance(sndUna uint32) {
	if !seqGT(sndUna, s.una) {
		return
	}
	s.una = sndUna
	k := 0
	for i := 0; i < s.n; i++ {
		b := s.r[i]
		if seqLEQ(b.Right, sndUna) {
			s.sacked -= int(b.Right - b.Left)
			continue
		}
		if seqLT(b.Left, sndUna) {
			s.sacked -= int(sndUna - b.Left)
			b.Left = sndUna
		}
		s.r[k] = b
		k++
	}
	s.n = k
}

// insert merges the range [una+l, una+r) (offsets, l < r) and returns how
// many octets were not SACKed before.
func (s *Scoreboard) insert(l, r uint32) int {
	// Find the first range whose right offset >= l (it may touch or overlap).
	i := 0
	for i < s.n && s.r[i].Right-s.una < l {
		i++
	}
	// Ranges i..j-1 touch or overlap [l, r).
	j := i
	covered := 0
	nl, nr := l, r
	for j < s.n && s.r[j].Left-s.una <= r {
		bl, br := s.r[j].Left-s.una, s.r[j].Right-s.una
		if ov := int(min(br, r)) - int(max(bl, l)); ov > 0 {
			covered += ov // adjacency alone covers nothing
		}
		nl = min(nl, bl)
		nr = max(nr, br)
		s.sacked -= int(br - bl)
		j++
	}
	if i == j && s.n == MaxRanges {
		// A new disjoint range and no room: drop the highest range.
		s.drop++
		if i == s.n {
			return 0 // the new range is the highest: drop it
		}
		s.n--
		s.sacked -= int(s.r[s.n].Right - s.r[s.n].Left)
	}
	// Replace r[i:j] with the merged range.
	merged := Block{s.una + nl, s.una + nr}
	switch d := 1 - (j - i); {
	case d > 0: // insert one slot at i
		copy(s.r[i+1:s.n+1], s.r[i:s.n])
	case d < 0: // remove j-i-1 slots
		copy(s.r[i+1:], s.r[j:s.n])
	}
	s.r[i] = merged
	s.n += 1 - (j - i)
	s.sacked += int(nr - nl)
	return int(r-l) - covered
}
