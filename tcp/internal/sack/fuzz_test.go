package sack

import (
	"encoding/binary"
	"testing"
)

// FuzzScoreboard drives a Scoreboard and the byte-map model with the same
// SND.UNA advances and SACK blocks (out of order, overlapping, below
// SND.UNA, reversed, beyond SND.NXT, around 2^32) and checks that every
// query agrees. When the bound forced ranges to be dropped, the scoreboard
// may only know less than the model, never more.
//
// Input: 4 bytes base sequence, 1 byte mss, 1 byte dupThresh, then 5-byte
// ops: kind, a (uint16), b (uint16).
func FuzzScoreboard(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xfc, 0x00, 50, 3,
		1, 0x01, 0x00, 0x00, 0x80,
		1, 0x02, 0x00, 0x00, 0x40,
		1, 0x00, 0x50, 0x01, 0x00,
		0, 0x00, 0x60, 0, 0,
		2, 0x00, 0x10, 0x00, 0x20})
	f.Add([]byte{0, 0, 0, 0, 10, 1, 1, 0, 100, 0, 10, 1, 0, 200, 0, 10, 3, 0, 150, 1, 0})
	f.Add([]byte{0x7f, 0xff, 0xff, 0x00, 1, 4, 1, 0, 0, 0, 255, 0, 0, 128, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 6 {
			return
		}
		base := binary.BigEndian.Uint32(data)
		mss := int(data[4]%64) + 1
		dt := int(data[5]%4) + 1
		data = data[6:]
		const window = 2048
		nxt := base + window
		s := New(base)
		m := newModel(base-1024, window+2048)
		m.una = base
		una := base
		var bl [4]Block
		for step := 0; len(data) >= 5 && step < 32; step++ {
			kind := data[0]
			a := binary.BigEndian.Uint16(data[1:])
			b := binary.BigEndian.Uint16(data[3:])
			data = data[5:]
			nb := 0
			switch kind % 4 {
			case 0: // advance SND.UNA
				adv := uint32(a % 512)
				if int32(una+adv-nxt) <= 0 {
					una += adv
				}
			default: // up to 3 blocks
				for k := 0; k < int(kind%4); k++ {
					l := una - 200 + uint32(a%1200)
					r := l + uint32(b%400) - 20
					bl[nb] = Block{l, r}
					nb++
					a = a*31 + 7
					b = b*17 + 3
				}
			}
			got := s.UpdateBounded(una, nxt, bl[:nb])
			want := m.update(una, nxt, bl[:nb])
			hrx := una + uint32(b%700)
			exact := s.Dropped() == 0
			if exact && got != want {
				t.Fatalf("step %d: newly %d, model %d", step, got, want)
			}
			for q := una - 50; q != nxt+50; q++ {
				ss, ms := s.IsSacked(q), m.isSacked(q)
				if ss != ms && (exact || ss) {
					t.Fatalf("step %d: IsSacked(%d) %v model %v", step, q-base, ss, ms)
				}
			}
			if !exact {
				continue
			}
			if s.SackedBytes() != m.total() || s.HighestSacked() != m.highest() {
				t.Fatalf("step %d: totals %d/%d highest %d/%d", step,
					s.SackedBytes(), m.total(), s.HighestSacked()-base, m.highest()-base)
			}
			lost := m.lostTable(mss, dt)
			for q := una; seqLT(q, nxt); q += 7 {
				if s.IsLost(q, mss, dt) != lost[m.idx(q)] {
					t.Fatalf("step %d: IsLost(%d) %v", step, q-base, !lost[m.idx(q)])
				}
			}
			if p, w := s.Pipe(una, nxt, hrx, mss, dt), m.pipe(nxt, hrx, mss, dt); p != w {
				t.Fatalf("step %d: Pipe %d model %d (hrx %d)", step, p, w, hrx-una)
			}
			gs, gn, gr, gok := s.NextSegRule(una, nxt, hrx, mss, dt)
			ws, wn, wr, wok := m.nextSeg(nxt, hrx, mss, dt)
			if gs != ws || gn != wn || gr != wr || gok != wok {
				t.Fatalf("step %d: NextSeg (%d,%d,r%d,%v) model (%d,%d,r%d,%v)", step,
					gs-una, gn, gr, gok, ws-una, wn, wr, wok)
			}
		}
	})
}
