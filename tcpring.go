package featherip

// recvRing is a TCP conn's receive buffer: a byte ring filled by OnRecv
// under the core lock and drained by Read and WriteTo. It starts empty (no
// memory for an idle conn), grows by doubling as data arrives, never beyond
// limit, and is dropped when the conn closes.
//
// A slice returned by peek stays valid after the lock is released: write
// only fills free space, and growing copies into a new array, so a WriteTo
// can hand peeked bytes to its writer without holding the lock.
type recvRing struct {
	buf   []byte
	r, n  int // read position, bytes stored
	limit int // the most bytes the ring may hold
}

// minRingAlloc is the first allocation of a ring.
const minRingAlloc = 4 << 10

func (q *recvRing) len() int { return q.n }

// write appends as much of p as fits within limit and returns how many
// bytes it stored.
func (q *recvRing) write(p []byte) int {
	if q.n+len(p) > len(q.buf) {
		q.grow(q.n + len(p))
	}
	m := min(len(p), len(q.buf)-q.n)
	if m == 0 {
		return 0
	}
	w := (q.r + q.n) % len(q.buf)
	k := copy(q.buf[w:], p[:m])
	copy(q.buf, p[k:m])
	q.n += m
	return m
}

// grow makes room for need bytes (at most limit).
func (q *recvRing) grow(need int) {
	size := max(2*len(q.buf), minRingAlloc, need)
	size = min(size, q.limit)
	if size <= len(q.buf) {
		return
	}
	nb := make([]byte, size)
	if q.n > 0 {
		k := copy(nb, q.buf[q.r:min(q.r+q.n, len(q.buf))])
		copy(nb[k:], q.buf[:q.n-k])
	}
	q.buf, q.r = nb, 0
}

// read copies up to len(b) bytes out and consumes them.
func (q *recvRing) read(b []byte) int {
	total := 0
	for total < len(b) && q.n > 0 {
		p := q.peek()
		k := copy(b[total:], p)
		q.discard(k)
		total += k
	}
	return total
}

// peek returns the contiguous bytes at the read position (possibly fewer
// than len when they wrap).
func (q *recvRing) peek() []byte {
	if q.n == 0 {
		return nil
	}
	return q.buf[q.r:min(q.r+q.n, len(q.buf))]
}

// discard consumes n bytes (at most what is stored).
func (q *recvRing) discard(n int) {
	n = min(n, q.n)
	if n <= 0 {
		return
	}
	q.n -= n
	q.r += n
	if q.n == 0 || q.r >= len(q.buf) {
		q.r = q.r % max(len(q.buf), 1)
		if q.n == 0 {
			q.r = 0
		}
	}
}

// free drops the memory; the ring holds nothing afterwards.
func (q *recvRing) free() {
	q.buf, q.r, q.n = nil, 0, 0
}
