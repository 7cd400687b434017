package featherip

import "net/netip"

// dgramQueue is a socket's bounded receive queue: datagrams stored back to
// back in a circular byte buffer (a datagram may wrap around its end), and
// a circular list of their lengths and sources. It is bounded in bytes
// (maxBytes, SO_RCVBUF) and in datagrams (maxDgrams). The buffers grow by
// doubling up to those bounds as datagrams arrive, so an idle socket holds
// little memory and a busy one allocates nothing in steady state; free
// returns everything.
type dgramQueue struct {
	buf  []byte // circular; len(buf) is the capacity in use
	head int    // offset of the oldest datagram's first byte
	used int    // bytes queued

	ents   []dgramEnt // circular
	eh, en int        // first entry, number of entries

	maxBytes, maxDgrams int
}

type dgramEnt struct {
	n    int
	from netip.AddrPort
}

// minQueueBuf is the first buffer size a queue allocates.
const minQueueBuf = 2048

// len returns the number of queued datagrams.
func (q *dgramQueue) len() int { return q.en }

// push copies data into the queue; it reports false (and changes nothing)
// when the datagram does not fit the bounds.
func (q *dgramQueue) push(data []byte, from netip.AddrPort) bool {
	n := len(data)
	if q.en >= q.maxDgrams || q.used+n > q.maxBytes {
		return false
	}
	if q.en == len(q.ents) {
		q.growEnts(min(max(2*len(q.ents), 8), q.maxDgrams))
	}
	if len(q.buf)-q.used < n {
		q.growBuf(min(max(2*len(q.buf), q.used+n, minQueueBuf), max(q.maxBytes, q.used+n)))
	}
	if n > 0 {
		tail := (q.head + q.used) % len(q.buf)
		c := copy(q.buf[tail:], data)
		copy(q.buf, data[c:])
		q.used += n
	}
	q.ents[(q.eh+q.en)%len(q.ents)] = dgramEnt{n: n, from: from}
	q.en++
	return true
}

// pop copies the oldest datagram into dst (truncating it, as a datagram
// socket does, when dst is short), removes it and returns the bytes copied
// and its source.
func (q *dgramQueue) pop(dst []byte) (n int, from netip.AddrPort, ok bool) {
	if q.en == 0 {
		return 0, netip.AddrPort{}, false
	}
	e := q.ents[q.eh]
	q.ents[q.eh] = dgramEnt{}
	q.eh = (q.eh + 1) % len(q.ents)
	q.en--
	if e.n > 0 {
		n = min(len(dst), e.n)
		end := q.head + n
		if end <= len(q.buf) {
			copy(dst, q.buf[q.head:end])
		} else {
			c := copy(dst, q.buf[q.head:])
			copy(dst[c:n], q.buf)
		}
		q.head = (q.head + e.n) % len(q.buf)
		q.used -= e.n
	}
	if q.en == 0 {
		q.head, q.eh = 0, 0
	}
	return n, e.from, true
}

// peekLen returns the length of the oldest datagram (0 when empty).
func (q *dgramQueue) peekLen() int {
	if q.en == 0 {
		return 0
	}
	return q.ents[q.eh].n
}

// growBuf moves the queued bytes to the front of a new buffer of size c.
func (q *dgramQueue) growBuf(c int) {
	nb := make([]byte, c)
	if q.used > 0 {
		k := copy(nb, q.buf[q.head:min(q.head+q.used, len(q.buf))])
		copy(nb[k:q.used], q.buf)
	}
	q.buf, q.head = nb, 0
}

// growEnts moves the entries to the front of a new list of size c.
func (q *dgramQueue) growEnts(c int) {
	ne := make([]dgramEnt, c)
	for i := range q.en {
		ne[i] = q.ents[(q.eh+i)%len(q.ents)]
	}
	q.ents, q.eh = ne, 0
}

// setLimits changes the bounds. Queued datagrams stay even when they exceed
// the new bounds (as on Linux); an empty queue drops its buffers so they are
// re-sized to the new bounds.
func (q *dgramQueue) setLimits(maxBytes, maxDgrams int) {
	q.maxBytes, q.maxDgrams = maxBytes, maxDgrams
	if q.en == 0 {
		q.buf, q.ents, q.head, q.eh, q.used = nil, nil, 0, 0, 0
	}
}

// free drops every queued datagram and the buffers.
func (q *dgramQueue) free() {
	q.buf, q.ents = nil, nil
	q.head, q.used, q.eh, q.en = 0, 0, 0, 0
}
