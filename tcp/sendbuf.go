package tcp

// sendBuf holds the bytes from SND.UNA on: sent and unacknowledged, then
// unsent. Copied bytes live in a byte ring allocated once (at the first
// Write) and reused; WriteNoCopy bytes stay in the caller's memory. A small
// ring of chunk descriptors keeps their order; consecutive copied writes
// share one chunk. Nothing here allocates after the first write.
type sendBuf struct {
	ring         []byte
	rhead, rlen  int // copied bytes: ring[rhead:] wrapping, rlen long
	chunks       []chunk
	chead, cn    int
	total, limit int
	maxChunks    int
}

// chunk is a run of buffered bytes: n bytes in the ring (ref nil) or the
// caller's ref (n == len(ref) minus what was acknowledged).
type chunk struct {
	ref []byte
	n   int
}

func (b *sendBuf) init(limit, maxChunks int) {
	if b.limit == 0 {
		b.limit = limit
	}
	if b.maxChunks == 0 {
		b.maxChunks = maxChunks
	}
}

func (b *sendBuf) setLimit(n int) {
	b.limit = n
	if b.maxChunks == 0 {
		b.maxChunks = DefaultMaxChunks
	}
}

func (b *sendBuf) len() int { return b.total }

func (b *sendBuf) free() int { return max(b.limit-b.total, 0) }

// write queues up to free() bytes of data, copied or by reference, and
// returns how many.
func (b *sendBuf) write(data []byte, copyData bool) int {
	n := min(len(data), b.free())
	if n == 0 {
		return 0
	}
	if b.chunks == nil {
		b.chunks = make([]chunk, b.maxChunks)
	}
	last := -1
	if b.cn > 0 {
		last = (b.chead + b.cn - 1) % len(b.chunks)
	}
	if copyData {
		if last < 0 || b.chunks[last].ref != nil {
			if b.cn == len(b.chunks) {
				return 0
			}
			last = (b.chead + b.cn) % len(b.chunks)
			b.chunks[last] = chunk{}
			b.cn++
		}
		if len(b.ring) < b.limit {
			b.grow(b.limit)
		}
		n = min(n, len(b.ring)-b.rlen)
		tail := (b.rhead + b.rlen) % len(b.ring)
		k := copy(b.ring[tail:], data[:n])
		copy(b.ring, data[k:n])
		b.rlen += n
		b.chunks[last].n += n
	} else {
		if b.cn == len(b.chunks) {
			return 0
		}
		last = (b.chead + b.cn) % len(b.chunks)
		b.chunks[last] = chunk{ref: data[:n:n], n: n}
		b.cn++
	}
	b.total += n
	return n
}

// grow replaces the ring by one of size n, keeping the queued bytes.
func (b *sendBuf) grow(n int) {
	r := make([]byte, n)
	if b.rlen > 0 {
		k := copy(r, b.ring[b.rhead:min(b.rhead+b.rlen, len(b.ring))])
		copy(r[k:], b.ring[:b.rlen-k])
	}
	b.ring, b.rhead = r, 0
}

// read copies the buffered bytes at offset off (from SND.UNA) into dst and
// returns how many it copied.
func (b *sendBuf) read(off int, dst []byte) int {
	done := 0
	roff := 0 // ring offset (from rhead) of the current chunk
	for i := 0; i < b.cn && done < len(dst); i++ {
		ch := &b.chunks[(b.chead+i)%len(b.chunks)]
		if off >= ch.n {
			off -= ch.n
			if ch.ref == nil {
				roff += ch.n
			}
			continue
		}
		want := min(ch.n-off, len(dst)-done)
		if ch.ref != nil {
			copy(dst[done:done+want], ch.ref[off:off+want])
		} else {
			start := (b.rhead + roff + off) % len(b.ring)
			k := copy(dst[done:done+want], b.ring[start:])
			copy(dst[done+k:done+want], b.ring)
			roff += ch.n
		}
		done += want
		off = 0
	}
	return done
}

// ack drops the first n bytes.
func (b *sendBuf) ack(n int) {
	n = min(n, b.total)
	b.total -= n
	for n > 0 && b.cn > 0 {
		ch := &b.chunks[b.chead]
		k := min(n, ch.n)
		ch.n -= k
		n -= k
		if ch.ref != nil {
			ch.ref = ch.ref[k:]
		} else {
			b.rhead = (b.rhead + k) % len(b.ring)
			b.rlen -= k
		}
		if ch.n == 0 {
			*ch = chunk{}
			b.chead = (b.chead + 1) % len(b.chunks)
			b.cn--
		}
	}
	if b.rlen == 0 {
		b.rhead = 0
	}
}

// release forgets all data and the caller's references.
func (b *sendBuf) release() {
	for i := range b.chunks {
		b.chunks[i] = chunk{}
	}
	b.chead, b.cn, b.total, b.rhead, b.rlen = 0, 0, 0, 0, 0
	b.ring = nil
}
