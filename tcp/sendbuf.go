package tcp

// sendBuf holds the bytes from SND.UNA on: sent and unacknowledged, then
// unsent. Copied bytes live in a byte ring allocated once (at the first
// Write) and reused; WriteNoCopy bytes stay in the caller's memory. A small
// ring of chunk descriptors keeps their order; consecutive copied writes
// share one chunk. Nothing here allocates after the first write.
//
// Only a pointer lives in the PCB; the rings, their positions and the
// byte count (sendData) are allocated with the first write, so a
// connection that never sent data carries 8 bytes of send buffer. The
// limits (the PCB's send buffer size, Config.MaxChunks) are the caller's.
type sendBuf struct {
	d *sendData // nil until the first write
}

// sendData is the storage of a sendBuf that has been written to.
type sendData struct {
	ring        []byte
	rhead, rlen int // copied bytes: ring[rhead:] wrapping, rlen long
	chunks      []chunk
	chead, cn   int
	total       int // bytes queued
}

// chunk is a run of buffered bytes: n bytes in the ring (ref nil) or the
// caller's ref (n == len(ref) minus what was acknowledged).
type chunk struct {
	ref []byte
	n   int
}

func (b *sendBuf) len() int {
	if b.d == nil {
		return 0
	}
	return b.d.total
}

// free returns how many more bytes a buffer of limit bytes takes.
func (b *sendBuf) free(limit int) int { return max(limit-b.len(), 0) }

// write queues up to free(limit) bytes of data, copied or by reference, in
// at most maxChunks runs, and returns how many.
func (b *sendBuf) write(data []byte, copyData bool, limit, maxChunks int) int {
	n := min(len(data), b.free(limit))
	if n == 0 {
		return 0
	}
	if b.d == nil {
		b.d = &sendData{chunks: make([]chunk, maxChunks)}
	}
	d := b.d
	last := -1
	if d.cn > 0 {
		last = (d.chead + d.cn - 1) % len(d.chunks)
	}
	if copyData {
		if last < 0 || d.chunks[last].ref != nil {
			if d.cn == len(d.chunks) {
				return 0
			}
			last = (d.chead + d.cn) % len(d.chunks)
			d.chunks[last] = chunk{}
			d.cn++
		}
		if len(d.ring) < limit {
			d.grow(limit)
		}
		n = min(n, len(d.ring)-d.rlen)
		tail := (d.rhead + d.rlen) % len(d.ring)
		k := copy(d.ring[tail:], data[:n])
		copy(d.ring, data[k:n])
		d.rlen += n
		d.chunks[last].n += n
	} else {
		if d.cn == len(d.chunks) {
			return 0
		}
		last = (d.chead + d.cn) % len(d.chunks)
		d.chunks[last] = chunk{ref: data[:n:n], n: n}
		d.cn++
	}
	d.total += n
	return n
}

// grow replaces the ring by one of size n, keeping the queued bytes.
func (d *sendData) grow(n int) {
	r := make([]byte, n)
	if d.rlen > 0 {
		k := copy(r, d.ring[d.rhead:min(d.rhead+d.rlen, len(d.ring))])
		copy(r[k:], d.ring[:d.rlen-k])
	}
	d.ring, d.rhead = r, 0
}

// read copies the buffered bytes at offset off (from SND.UNA) into dst and
// returns how many it copied.
func (b *sendBuf) read(off int, dst []byte) int {
	d := b.d
	if d == nil {
		return 0
	}
	done := 0
	roff := 0 // ring offset (from rhead) of the current chunk
	for i := 0; i < d.cn && done < len(dst); i++ {
		ch := &d.chunks[(d.chead+i)%len(d.chunks)]
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
			start := (d.rhead + roff + off) % len(d.ring)
			k := copy(dst[done:done+want], d.ring[start:])
			copy(dst[done+k:done+want], d.ring)
			roff += ch.n
		}
		done += want
		off = 0
	}
	return done
}

// ack drops the first n bytes.
func (b *sendBuf) ack(n int) {
	n = min(n, b.len())
	if n <= 0 {
		return
	}
	d := b.d
	d.total -= n
	for n > 0 && d.cn > 0 {
		ch := &d.chunks[d.chead]
		k := min(n, ch.n)
		ch.n -= k
		n -= k
		if ch.ref != nil {
			ch.ref = ch.ref[k:]
		} else {
			d.rhead = (d.rhead + k) % len(d.ring)
			d.rlen -= k
		}
		if ch.n == 0 {
			*ch = chunk{}
			d.chead = (d.chead + 1) % len(d.chunks)
			d.cn--
		}
	}
	if d.rlen == 0 {
		d.rhead = 0
	}
}

// release forgets all data and the caller's references.
func (b *sendBuf) release() { b.d = nil }
