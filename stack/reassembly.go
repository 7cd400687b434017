package stack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// IPv4 reassembly (RFC 791 section 3.2, RFC 815). Each incomplete datagram
// keeps its fragments, header included, in pool buffers linked in offset
// order; overlapping fragments abandon the whole datagram (as RFC 5722
// requires for IPv6, against overlap attacks), exact duplicates are
// ignored. Memory is bounded by MaxBytes (the size of every held buffer),
// MaxDatagrams and MaxFragments per datagram; a timeout frees the rest.

type reasmEntry struct {
	used         bool
	src, dst     netip.Addr
	id           uint16
	proto        uint8
	nic          NIC
	bcast, mcast bool
	frags        *pbuf.Buf // sorted by offset
	nfrags       int
	mem          int
	got          int // payload bytes held
	total        int // payload length once the last fragment arrived, else -1
	deadline     time.Duration
}

type reassembler struct {
	entries []reasmEntry
	mem     int

	// The earliest timeout, kept so that NextDeadline and Poll do not scan
	// the table: valid unless dirty. Creating or freeing an entry sets
	// dirty (an entry's deadline never moves while it is in use).
	next    time.Duration
	hasNext bool
	dirty   bool
}

func (r *reassembler) init(c *ReassemblyConfig) { r.entries = make([]reasmEntry, c.MaxDatagrams) }

// deadline is the earliest reassembly timeout, from the cache unless an
// entry came or went since it was computed.
func (r *reassembler) deadline() (time.Duration, bool) {
	if r.dirty {
		r.next, r.hasNext = r.scanDeadline()
		r.dirty = false
	}
	return r.next, r.hasNext
}

// scanDeadline computes the earliest reassembly timeout from the table.
func (r *reassembler) scanDeadline() (time.Duration, bool) {
	var t time.Duration
	ok := false
	for i := range r.entries {
		e := &r.entries[i]
		if e.used && (!ok || e.deadline < t) {
			t, ok = e.deadline, true
		}
	}
	return t, ok
}

// fragInfo reads offset and payload length of a stored fragment.
func fragInfo(d []byte) (off, plen int) {
	hl := int(d[0]&0xf) * 4
	return int(binary.BigEndian.Uint16(d[6:8])&0x1fff) * 8, len(d) - hl
}

func bufSize(b *pbuf.Buf) int { return b.Headroom() + b.Len() + b.Tailroom() }

// reasmDrop frees an incomplete datagram (failure counted by the caller).
func (s *Stack) reasmDrop(e *reasmEntry) {
	pbuf.FreeChain(e.frags)
	s.reasm.mem -= e.mem
	*e = reasmEntry{}
	s.reasm.dirty = true
}

func (s *Stack) reasmFail(e *reasmEntry) {
	s.stats.IP.ReasmFails++
	s.reasmDrop(e)
}

// reasmOldest returns the used entry with the earliest deadline other than except.
func (s *Stack) reasmOldest(except *reasmEntry) *reasmEntry {
	var o *reasmEntry
	for i := range s.reasm.entries {
		e := &s.reasm.entries[i]
		if e.used && e != except && (o == nil || e.deadline < o.deadline) {
			o = e
		}
	}
	return o
}

// reasmInput adds one fragment (already checked to be for us).
func (s *Stack) reasmInput(n *nic, p wire.IPv4, bcast, mcast bool) {
	s.stats.IP.ReasmReqds++
	off, payload, mf := p.FragmentOffset(), p.Payload(), p.MoreFragments()
	plen := len(payload)
	end := off + plen
	if plen == 0 || (mf && plen%8 != 0) || p.HeaderLen()+end > 0xffff {
		// Empty fragments, non-final fragments that are not a multiple of 8
		// bytes, and datagrams over 65535 bytes (ping of death) are invalid.
		s.stats.IP.InHdrErrors++
		s.stats.IP.ReasmFails++
		return
	}
	src, dst, id, proto := p.Src(), p.Dst(), p.ID(), p.Protocol()
	now := s.clock.Now()
	var e *reasmEntry
	for i := range s.reasm.entries {
		x := &s.reasm.entries[i]
		if x.used && x.id == id && x.proto == proto && x.src == src && x.dst == dst {
			e = x
			break
		}
	}
	if e == nil {
		for i := range s.reasm.entries {
			if !s.reasm.entries[i].used {
				e = &s.reasm.entries[i]
				break
			}
		}
		if e == nil {
			e = s.reasmOldest(nil)
			s.stats.IP.ReasmEvictions++
			s.reasmFail(e)
		}
		*e = reasmEntry{used: true, src: src, dst: dst, id: id, proto: proto, total: -1,
			deadline: now + s.cfg.Reassembly.Timeout}
		s.reasm.dirty = true
	}
	e.nic, e.bcast, e.mcast = n.id, bcast, mcast

	// Find the insertion point; reject overlaps, ignore exact duplicates.
	var prev *pbuf.Buf
	for c := e.frags; c != nil; c = c.Next() {
		cd := c.Bytes()
		co, cl := fragInfo(cd)
		if co == off && cl == plen && bytes.Equal(cd[len(cd)-cl:], payload) {
			s.stats.IP.ReasmDuplicates++
			return
		}
		if off < co+cl && co < end {
			s.stats.IP.ReasmOverlaps++
			s.reasmFail(e)
			return
		}
		if co < off {
			prev = c
		}
	}
	if !mf {
		if e.total >= 0 && e.total != end {
			s.reasmFail(e)
			return
		}
		for c := e.frags; c != nil; c = c.Next() {
			if co, cl := fragInfo(c.Bytes()); co+cl > end {
				s.reasmFail(e)
				return
			}
		}
		e.total = end
	} else if e.total >= 0 && end > e.total {
		s.reasmFail(e)
		return
	}
	if e.nfrags >= s.cfg.Reassembly.MaxFragments {
		s.reasmFail(e)
		return
	}
	d := p.Bytes()
	b := s.pool.Get(len(d))
	if b == nil {
		s.stats.Link.PoolExhausted++
		s.stats.IP.InDiscards++
		if e.nfrags == 0 {
			s.reasmFail(e)
		}
		return
	}
	cost := bufSize(b)
	for s.reasm.mem+cost > s.cfg.Reassembly.MaxBytes {
		o := s.reasmOldest(e)
		if o == nil {
			// This datagram alone exceeds the budget.
			b.Free()
			s.stats.IP.ReasmEvictions++
			s.reasmFail(e)
			return
		}
		s.stats.IP.ReasmEvictions++
		s.reasmFail(o)
	}
	copy(b.Bytes(), d)
	if prev == nil {
		b.SetNext(e.frags)
		e.frags = b
	} else {
		b.SetNext(prev.Next())
		prev.SetNext(b)
	}
	e.nfrags++
	e.mem += cost
	s.reasm.mem += cost
	e.got += plen
	if e.total >= 0 && e.got == e.total {
		s.reasmComplete(e)
	}
}

// reasmComplete joins the fragments of e into one buffer and delivers it.
func (s *Stack) reasmComplete(e *reasmEntry) {
	first := e.frags.Bytes()
	hl := int(first[0]&0xf) * 4
	out := s.pool.Get(hl + e.total)
	if out == nil {
		s.stats.Link.PoolExhausted++
		s.reasmFail(e)
		return
	}
	od := out.Bytes()
	copy(od, first[:hl])
	for c := e.frags; c != nil; c = c.Next() {
		cd := c.Bytes()
		co, cl := fragInfo(cd)
		copy(od[hl+co:], cd[len(cd)-cl:])
	}
	binary.BigEndian.PutUint16(od[2:4], uint16(hl+e.total))
	binary.BigEndian.PutUint16(od[6:8], binary.BigEndian.Uint16(od[6:8])&0x4000) // keep DF only
	wire.SetIPv4Checksum(od[:hl])
	n, bcast, mcast := s.nic(e.nic), e.bcast, e.mcast
	s.reasmDrop(e)
	s.stats.IP.ReasmOKs++
	if p, err := wire.ParseIPv4(od); err == nil && n != nil {
		s.deliver(n, p, bcast, mcast)
	}
	out.Free()
}

// reasmTimers abandons datagrams whose time is up, sending ICMP time
// exceeded (code 1) when the first fragment had arrived (RFC 792, RFC 1122 3.3.2).
func (s *Stack) reasmTimers(now time.Duration) {
	if t, ok := s.reasm.deadline(); !ok || t > now {
		return
	}
	for i := range s.reasm.entries {
		e := &s.reasm.entries[i]
		if !e.used || e.deadline > now {
			continue
		}
		s.stats.IP.ReasmTimeouts++
		if e.frags != nil {
			if off, _ := fragInfo(e.frags.Bytes()); off == 0 {
				if p, err := wire.ParseIPv4(e.frags.Bytes()); err == nil {
					s.sendICMPError(p.Header(), p.Payload(), e.bcast || e.mcast, wire.ICMPv4TimeExceeded, 1, 0)
				}
			}
		}
		s.reasmFail(e)
	}
}
