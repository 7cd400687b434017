package stack

import "github.com/featherip/featherip/pbuf"

// loopItem is one datagram on the loopback queue with the interface it
// will appear to arrive on.
type loopItem struct {
	b   *pbuf.Buf
	nic NIC
}

// loopQueue is a bounded ring of datagrams sent to ourselves. Output puts
// them here instead of calling input, so output never re-enters input;
// Poll delivers them.
type loopQueue struct {
	items   []loopItem
	head, n int
}

func (q *loopQueue) init(size int) { q.items = make([]loopItem, size) }

// enqueue takes ownership of b; it reports false (and frees b) when full.
func (s *Stack) loopEnqueue(b *pbuf.Buf, id NIC) bool {
	q := &s.lo
	if q.n == len(q.items) {
		b.Free()
		s.stats.Link.LoopbackDrops++
		return false
	}
	q.items[(q.head+q.n)%len(q.items)] = loopItem{b: b, nic: id}
	q.n++
	s.stats.Link.LoopbackQueued++
	return true
}

// drainLoopback delivers the datagrams queued before the call.
func (s *Stack) drainLoopback() {
	q := &s.lo
	for k := q.n; k > 0 && q.n > 0; k-- {
		it := q.items[q.head]
		q.items[q.head] = loopItem{}
		q.head = (q.head + 1) % len(q.items)
		q.n--
		n := s.nic(it.nic)
		if n == nil {
			n = s.nic(LoopbackNIC)
		}
		if d := it.b.Bytes(); len(d) > 0 && d[0]>>4 == 6 {
			s.ipv6Input(n, d, false, true)
		} else {
			s.ipv4Input(n, d, false, true)
		}
		it.b.Free()
	}
}
