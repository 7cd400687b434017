package tcp

import "github.com/featherip/featherip/pbuf"

// oooQueue is a connection's bounded out-of-order queue: segments that
// arrived beyond RCV.NXT, copied into packet buffers from the stack's pool,
// sorted by sequence number and never overlapping. A connection holds one
// only while something is queued (active.go); the nil queue is empty.
type oooQueue struct {
	segs  []oooSeg
	bytes int32  // queued bytes, at most Config.MaxOOOBytes (or the receive buffer)
	last  uint32 // sequence number of the most recently queued segment (first SACK block, RFC 2018 §4)
}

type oooSeg struct {
	buf *pbuf.Buf // nil for a bare FIN
	n   int
	seq uint32
	fin bool
}

func (s *oooSeg) end() uint32 { return s.seq + uint32(s.n) }

func (q *oooQueue) empty() bool { return q == nil || len(q.segs) == 0 }

// queued returns the bytes the queue holds.
func (q *oooQueue) queued() int {
	if q == nil {
		return 0
	}
	return int(q.bytes)
}

// insert queues data at seq (and a FIN after it), trimming the parts that
// other segments hold, within maxSegs segments and maxBytes bytes. It
// reports false when the bounds or the pool made it drop the segment.
func (q *oooQueue) insert(pool *pbuf.Pool, seq uint32, data []byte, fin bool, maxSegs, maxBytes int) bool {
	end := seq + uint32(len(data))
	i := 0
	for i < len(q.segs) && seqLT(q.segs[i].seq, seq) {
		i++
	}
	q.last = seq
	// trim the front against the predecessor
	if i > 0 {
		pe := q.segs[i-1].end()
		if seqGEQ(pe, end) && !(fin && pe == end && !q.segs[i-1].fin) {
			return true // fully duplicate
		}
		if seqGT(pe, seq) {
			data = data[pe-seq:]
			seq = pe
		}
	}
	// drop successors the new segment covers
	j := i
	for j < len(q.segs) && seqLEQ(q.segs[j].end(), end) && !(q.segs[j].fin && q.segs[j].end() == end && !fin) {
		j++
	}
	if j > i {
		for k := i; k < j; k++ {
			q.drop(k)
		}
		q.segs = append(q.segs[:i], q.segs[j:]...)
	}
	// trim the end against the successor
	if i < len(q.segs) && seqGT(end, q.segs[i].seq) {
		data = data[:q.segs[i].seq-seq]
		end = q.segs[i].seq
		fin = false
	}
	if len(data) == 0 && !fin {
		return true
	}
	if len(q.segs) >= maxSegs || int(q.bytes)+len(data) > maxBytes {
		return false
	}
	var b *pbuf.Buf
	if len(data) > 0 {
		if b = pool.Get(len(data)); b == nil {
			return false
		}
		copy(b.Bytes(), data)
	}
	q.segs = append(q.segs, oooSeg{})
	copy(q.segs[i+1:], q.segs[i:])
	q.segs[i] = oooSeg{seq: seq, buf: b, n: len(data), fin: fin}
	q.bytes += int32(len(data))
	return true
}

func (q *oooQueue) drop(i int) {
	if q.segs[i].buf != nil {
		q.segs[i].buf.Free()
	}
	q.bytes -= int32(q.segs[i].n)
	q.segs[i] = oooSeg{}
}

// popFront removes the first segment after the caller used it.
func (q *oooQueue) popFront() {
	q.drop(0)
	copy(q.segs, q.segs[1:])
	q.segs[len(q.segs)-1] = oooSeg{}
	q.segs = q.segs[:len(q.segs)-1]
}

// sackBlocks fills blocks with the queue's contiguous ranges for the SACK
// option (RFC 2018 §4): the one holding the most recent segment first,
// then the others from the highest down. It returns how many it filled.
func (q *oooQueue) sackBlocks(blocks []sackBlock) int {
	if q.empty() || len(blocks) == 0 {
		return 0
	}
	// find the ranges from the top down
	n := 0
	first := -1
	var tmp [8]sackBlock
	k := 0
	for i := len(q.segs) - 1; i >= 0 && k < len(tmp); {
		if q.segs[i].n == 0 { // a bare FIN: nothing to SACK
			i--
			continue
		}
		r := q.segs[i].end()
		l := q.segs[i].seq
		j := i - 1
		for j >= 0 && q.segs[j].end() == l {
			l = q.segs[j].seq
			j--
		}
		tmp[k] = sackBlock{Left: l, Right: r}
		if seqLEQ(l, q.last) && seqLT(q.last, r) {
			first = k
		}
		k++
		i = j
	}
	if first >= 0 {
		blocks[n] = tmp[first]
		n++
	}
	for i := 0; i < k && n < len(blocks); i++ {
		if i != first {
			blocks[n] = tmp[i]
			n++
		}
	}
	return n
}

// release frees every queued buffer.
func (q *oooQueue) release() {
	for i := range q.segs {
		q.drop(i)
	}
	q.segs = q.segs[:0]
	q.bytes = 0
}
