package stack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// IPv6 reassembly (RFC 8200 4.5). Fragments are kept per (source,
// destination, identification) in pool buffers, each prefixed with a
// 4-byte note (fragment offset, offset of the fragment data) and sorted
// by offset. Overlapping fragments abandon the datagram and every later
// fragment of it until the timeout (RFC 5722; exact duplicates are
// ignored), a first fragment without the whole header chain is dropped
// (RFC 7112), and memory is bounded like IPv4's (Config.IPv6.Reassembly).
// On timeout, ICMPv6 time exceeded code 1 goes to the source when the
// first fragment had arrived.

const fragNote = 4

type reasm6Entry struct {
	used     bool
	dead     bool // overlapping fragments seen: drop the rest (RFC 5722)
	src, dst netip.Addr
	id       uint32
	nic      NIC
	mcast    bool
	frags    *pbuf.Buf
	nfrags   int
	mem      int
	got      int
	total    int // payload bytes after the fragment header once the last arrived, else -1
	uf       int // unfragmentable length (fragment header offset) of the first fragment, else 0
	nhOff    int // offset of the byte naming the fragment header in the first fragment
	next     uint8
	deadline time.Duration
}

type reassembler6 struct {
	entries []reasm6Entry
	mem     int

	// The earliest timeout, cached as in reassembler: valid unless dirty,
	// which creating or freeing an entry sets.
	next    time.Duration
	hasNext bool
	dirty   bool
}

func (r *reassembler6) init(c *ReassemblyConfig) { r.entries = make([]reasm6Entry, c.MaxDatagrams) }

// deadline is the earliest reassembly timeout, from the cache unless an
// entry came or went since it was computed.
func (r *reassembler6) deadline() (time.Duration, bool) {
	if r.dirty {
		r.next, r.hasNext = r.scanDeadline()
		r.dirty = false
	}
	return r.next, r.hasNext
}

// scanDeadline computes the earliest reassembly timeout from the table.
func (r *reassembler6) scanDeadline() (time.Duration, bool) {
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

// frag6Info reads the note of a stored fragment: its offset and data.
func frag6Info(d []byte) (off int, data []byte) {
	return int(binary.BigEndian.Uint16(d[0:2])), d[fragNote+int(binary.BigEndian.Uint16(d[2:4])):]
}

func (s *Stack) reasm6Drop(e *reasm6Entry) {
	pbuf.FreeChain(e.frags)
	s.ip6.reasm.mem -= e.mem
	*e = reasm6Entry{}
	s.ip6.reasm.dirty = true
}

func (s *Stack) reasm6Fail(e *reasm6Entry) {
	s.stats.IPv6.ReasmFails++
	s.reasm6Drop(e)
}

// reasm6Oldest returns the used entry with the earliest deadline other
// than except; withMem skips entries holding no memory.
func (s *Stack) reasm6Oldest(except *reasm6Entry, withMem bool) *reasm6Entry {
	var o *reasm6Entry
	for i := range s.ip6.reasm.entries {
		e := &s.ip6.reasm.entries[i]
		if e.used && e != except && (!withMem || e.mem > 0) && (o == nil || e.deadline < o.deadline) {
			o = e
		}
	}
	return o
}

// upperMin is the least header length an upper-layer protocol needs in a
// first fragment (RFC 7112); 0 when unknown.
func upperMin(proto uint8) int {
	switch proto {
	case wire.ProtoTCP:
		return 20
	case wire.ProtoUDP, wire.ProtoUDPLite, wire.ProtoICMPv6:
		return 8
	}
	return 0
}

// reasm6Input adds the fragment in pkt (fragment header at fh, named by
// the byte at nhOff) to its datagram.
func (s *Stack) reasm6Input(n *nic, pkt []byte, fh, nhOff int, mcast bool) {
	st := &s.stats.IPv6
	st.ReasmReqds++
	f := pkt[fh : fh+wire.IPv6FragmentHeaderLen]
	off := int(binary.BigEndian.Uint16(f[2:4]) &^ 7)
	mf := f[3]&1 != 0
	id := binary.BigEndian.Uint32(f[4:8])
	data := pkt[fh+wire.IPv6FragmentHeaderLen:]
	plen := len(data)
	end := off + plen
	if mf && plen%8 != 0 {
		// RFC 8200 4.5: parameter problem code 0 at the payload length.
		st.InHdrErrors++
		st.ReasmFails++
		s.icmp6Error(n, pkt, mcast, wire.ICMPv6ParamProblem, wire.ICMPv6ErroneousHeader, 4)
		return
	}
	if fh-wire.IPv6HeaderLen+end > 0xffff {
		st.InHdrErrors++
		st.ReasmFails++
		s.icmp6Error(n, pkt, mcast, wire.ICMPv6ParamProblem, wire.ICMPv6ErroneousHeader, uint32(fh+2))
		return
	}
	if plen == 0 {
		st.InHdrErrors++
		st.ReasmFails++
		return
	}
	if off == 0 {
		// RFC 7112: the first fragment carries the whole header chain,
		// upper-layer header included.
		w := wire.IPv6ExtensionWalker{MaxHeaders: s.cfg.IPv6.MaxExtensionHeaders, MaxBytes: s.cfg.IPv6.MaxExtensionBytes}
		proto, uoff, err := w.Walk(f[0], data, nil)
		if err != nil || proto == wire.ProtoFragment || len(data)-uoff < upperMin(proto) {
			st.InTinyFragments++
			st.InHdrErrors++
			st.ReasmFails++
			s.icmp6Error(n, pkt, mcast, wire.ICMPv6ParamProblem, wire.ICMPv6IncompleteChain, 0)
			return
		}
	}
	src := netip.AddrFrom16([16]byte(pkt[8:24]))
	dst := netip.AddrFrom16([16]byte(pkt[24:40]))
	now := s.clock.Now()
	var e *reasm6Entry
	for i := range s.ip6.reasm.entries {
		x := &s.ip6.reasm.entries[i]
		if x.used && x.id == id && x.src == src && x.dst == dst {
			e = x
			break
		}
	}
	if e == nil {
		for i := range s.ip6.reasm.entries {
			if !s.ip6.reasm.entries[i].used {
				e = &s.ip6.reasm.entries[i]
				break
			}
		}
		if e == nil {
			e = s.reasm6Oldest(nil, false)
			st.ReasmEvictions++
			if e.dead {
				s.reasm6Drop(e)
			} else {
				s.reasm6Fail(e)
			}
		}
		*e = reasm6Entry{used: true, src: src, dst: dst, id: id, total: -1, deadline: now + s.cfg.IPv6.Reassembly.Timeout}
		s.ip6.reasm.dirty = true
	}
	if e.dead {
		st.InDiscards++
		return
	}
	e.nic, e.mcast = n.id, mcast

	var prev *pbuf.Buf
	for c := e.frags; c != nil; c = c.Next() {
		co, cd := frag6Info(c.Bytes())
		cl := len(cd)
		if co == off && cl == plen && bytes.Equal(cd, data) {
			st.ReasmDuplicates++
			return
		}
		if off < co+cl && co < end {
			// RFC 5722: drop the datagram and its fragments yet to come.
			st.ReasmOverlaps++
			s.reasm6Kill(e)
			return
		}
		if co < off {
			prev = c
		}
	}
	if !mf {
		if e.total >= 0 && e.total != end {
			s.reasm6Kill(e)
			return
		}
		for c := e.frags; c != nil; c = c.Next() {
			if co, cd := frag6Info(c.Bytes()); co+len(cd) > end {
				s.reasm6Kill(e)
				return
			}
		}
		e.total = end
	} else if e.total >= 0 && end > e.total {
		s.reasm6Kill(e)
		return
	}
	if e.nfrags >= s.cfg.IPv6.Reassembly.MaxFragments {
		s.reasm6Kill(e)
		return
	}
	b := s.pool.Get(fragNote + len(pkt))
	if b == nil {
		s.stats.Link.PoolExhausted++
		st.InDiscards++
		if e.nfrags == 0 {
			s.reasm6Fail(e)
		}
		return
	}
	cost := bufSize(b)
	for s.ip6.reasm.mem+cost > s.cfg.IPv6.Reassembly.MaxBytes {
		o := s.reasm6Oldest(e, true)
		if o == nil {
			b.Free()
			st.ReasmEvictions++
			s.reasm6Fail(e)
			return
		}
		st.ReasmEvictions++
		s.reasm6Fail(o)
	}
	bd := b.Bytes()
	binary.BigEndian.PutUint16(bd[0:2], uint16(off))
	binary.BigEndian.PutUint16(bd[2:4], uint16(fh+wire.IPv6FragmentHeaderLen))
	copy(bd[fragNote:], pkt)
	if prev == nil {
		b.SetNext(e.frags)
		e.frags = b
	} else {
		b.SetNext(prev.Next())
		prev.SetNext(b)
	}
	if off == 0 {
		e.uf, e.nhOff, e.next = fh, nhOff, f[0]
	}
	e.nfrags++
	e.mem += cost
	s.ip6.reasm.mem += cost
	e.got += plen
	if e.total >= 0 && e.got == e.total {
		s.reasm6Complete(e)
	}
}

// reasm6Kill abandons a datagram and keeps its slot, empty, to drop its
// remaining fragments until the timeout (RFC 5722).
func (s *Stack) reasm6Kill(e *reasm6Entry) {
	st := &s.stats.IPv6
	st.ReasmFails++
	pbuf.FreeChain(e.frags)
	s.ip6.reasm.mem -= e.mem
	e.frags, e.mem, e.nfrags, e.got, e.dead = nil, 0, 0, 0, true
}

// reasm6Complete joins the fragments of e and processes the packet.
func (s *Stack) reasm6Complete(e *reasm6Entry) {
	first := e.frags.Bytes()[fragNote:]
	uf := e.uf
	out := s.pool.Get(uf + e.total)
	if out == nil {
		s.stats.Link.PoolExhausted++
		s.reasm6Fail(e)
		return
	}
	od := out.Bytes()
	copy(od, first[:uf])
	od[e.nhOff] = e.next
	for c := e.frags; c != nil; c = c.Next() {
		co, cd := frag6Info(c.Bytes())
		copy(od[uf+co:], cd)
	}
	binary.BigEndian.PutUint16(od[4:6], uint16(uf-wire.IPv6HeaderLen+e.total))
	n, mcast := s.nic(e.nic), e.mcast
	s.reasm6Drop(e)
	s.stats.IPv6.ReasmOKs++
	if n != nil {
		s.ipv6Process(n, od, mcast, false, true)
	}
	out.Free()
}

// reasm6Timers abandons datagrams whose time is up, sending time exceeded
// code 1 when the first fragment had arrived (RFC 8200 4.5).
func (s *Stack) reasm6Timers(now time.Duration) {
	if t, ok := s.ip6.reasm.deadline(); !ok || t > now {
		return
	}
	for i := range s.ip6.reasm.entries {
		e := &s.ip6.reasm.entries[i]
		if !e.used || e.deadline > now {
			continue
		}
		if e.dead {
			*e = reasm6Entry{}
			s.ip6.reasm.dirty = true
			continue
		}
		s.stats.IPv6.ReasmTimeouts++
		if e.frags != nil {
			if off, _ := frag6Info(e.frags.Bytes()); off == 0 {
				if n := s.nic(e.nic); n != nil {
					s.icmp6Error(n, e.frags.Bytes()[fragNote:], e.mcast, wire.ICMPv6TimeExceeded, wire.ICMPv6ReassemblyTimedOut, 0)
				}
			}
		}
		s.reasm6Fail(e)
	}
}
