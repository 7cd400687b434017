package sack

// byteModel is the obvious scoreboard: one bool per octet of a window
// starting at base. It has no bound on ranges and is checked against the
// real Scoreboard by the tests and FuzzScoreboard.
type byteModel struct {
	base   uint32 // sequence number of sacked[0]
	una    uint32
	sacked []bool
}

func newModel(base uint32, size int) *byteModel {
	return &byteModel{base: base, una: base, sacked: make([]bool, size)}
}

func (m *byteModel) idx(seq uint32) int { return int(seq - m.base) }

func (m *byteModel) advance(una uint32) {
	if int32(una-m.una) <= 0 {
		return
	}
	for s := m.una; s != una; s++ {
		m.sacked[m.idx(s)] = false
	}
	m.una = una
}

// update applies blocks bounded by nxt and returns the newly sacked count.
func (m *byteModel) update(una, nxt uint32, blocks []Block) int {
	m.advance(una)
	n := 0
	for _, b := range blocks {
		if int32(b.Right-b.Left) <= 0 || int32(b.Right-m.una) <= 0 || int32(b.Right-nxt) > 0 {
			continue
		}
		for s := b.Left; s != b.Right; s++ {
			if int32(s-m.una) < 0 {
				continue
			}
			if !m.sacked[m.idx(s)] {
				m.sacked[m.idx(s)] = true
				n++
			}
		}
	}
	return n
}

func (m *byteModel) isSacked(seq uint32) bool {
	i := m.idx(seq)
	if int32(seq-m.una) < 0 || i < 0 || i >= len(m.sacked) {
		return false
	}
	return m.sacked[i]
}

func (m *byteModel) total() int {
	n := 0
	for _, v := range m.sacked {
		if v {
			n++
		}
	}
	return n
}

// highest returns one past the highest sacked octet, or una.
func (m *byteModel) highest() uint32 {
	for i := len(m.sacked) - 1; i >= 0; i-- {
		if m.sacked[i] {
			return m.base + uint32(i) + 1
		}
	}
	return m.una
}

// lostTable returns, for each window index i, RFC 6675 IsLost(base+i)
// computed literally: runs and octets of SACKed data strictly above.
func (m *byteModel) lostTable(mss, dupThresh int) []bool {
	out := make([]bool, len(m.sacked))
	runs, bytes := 0, 0
	for i := len(m.sacked) - 1; i >= 0; i-- {
		out[i] = runs >= dupThresh || bytes > (dupThresh-1)*mss
		if m.sacked[i] {
			bytes++
			if i == len(m.sacked)-1 || !m.sacked[i+1] {
				runs++
			}
		}
	}
	return out
}

func (m *byteModel) pipe(nxt, highRxt uint32, mss, dupThresh int) int {
	lost := m.lostTable(mss, dupThresh)
	p := 0
	for s := m.una; int32(s-nxt) < 0; s++ {
		if m.sacked[m.idx(s)] {
			continue
		}
		if !lost[m.idx(s)] {
			p++
		}
		if int32(s-highRxt) < 0 {
			p++
		}
	}
	return p
}

// run returns the number of consecutive unSACKed octets from s below nxt,
// capped at mss.
func (m *byteModel) run(s, nxt uint32, mss int) int {
	n := 0
	for n < mss && int32(s-nxt) < 0 && !m.sacked[m.idx(s)] {
		n++
		s++
	}
	return n
}

func (m *byteModel) nextSeg(nxt, highRxt uint32, mss, dupThresh int) (uint32, int, int, bool) {
	if int32(nxt-m.una) <= 0 || mss <= 0 {
		return 0, 0, 0, false
	}
	lost := m.lostTable(mss, dupThresh)
	hs := m.highest()
	start := m.una
	if int32(highRxt-start) > 0 {
		start = highRxt
	}
	// Rule 1.
	for s := start; int32(s-hs) < 0 && int32(s-nxt) < 0; s++ {
		if !m.sacked[m.idx(s)] && lost[m.idx(s)] {
			return s, m.run(s, nxt, mss), RuleLost, true
		}
	}
	// Rule 3.
	for s := start; int32(s-hs) < 0 && int32(s-nxt) < 0; s++ {
		if !m.sacked[m.idx(s)] {
			return s, m.run(s, nxt, mss), RuleUnsent, true
		}
	}
	// Rule 4.
	for s := nxt - 1; int32(s-m.una) >= 0; s-- {
		if !m.sacked[m.idx(s)] {
			lo := s
			for int32(lo-m.una) > 0 && !m.sacked[m.idx(lo-1)] && int(s-lo+1) < mss {
				lo--
			}
			return lo, int(s - lo + 1), RuleRescue, true
		}
	}
	return 0, 0, 0, false
}
