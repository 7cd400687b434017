package featherip

import (
	"io"
	"sync"
)

// WriteTo writes received data to w until the peer's FIN (then it returns
// nil, as io.Copy expects) or an error. It hands w the bytes straight from
// the receive buffer that OnRecv filled, without the intermediate buffer
// io.Copy would use, and reopens the window as w takes them. It
// implements io.WriterTo; the read deadline applies.
func (c *TCPConn) WriteTo(w io.Writer) (int64, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	h := c.h
	var total int64
	for {
		if err := c.checkRead(); err != nil {
			return total, c.opErr("read", "read", err)
		}
		h.mu.Lock()
		p := c.rb.peek()
		if len(p) == 0 {
			err := c.readErrLocked()
			h.mu.Unlock()
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, c.opErr("read", "read", err)
			}
			if err := c.wait(c.readable, &c.rd); err != nil {
				return total, c.opErr("read", "read", err)
			}
			continue
		}
		h.mu.Unlock()
		// p stays valid without the lock (see recvRing); nobody else
		// consumes it while readMu is held.
		m, werr := w.Write(p)
		if m < 0 || m > len(p) {
			m = 0
			if werr == nil {
				werr = io.ErrShortWrite
			}
		}
		h.mu.Lock()
		if !c.released && !c.rdShut {
			c.rb.discard(m)
			c.consumedLocked(m)
		}
		h.mu.Unlock()
		total += int64(m)
		if werr != nil {
			return total, werr
		}
		if m < len(p) {
			return total, io.ErrShortWrite
		}
	}
}

// copyBufPool holds the buffers ReadFrom reads into.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom writes what r reads until io.EOF. From another TCPConn it moves
// the bytes straight out of that conn's receive buffer into this conn's
// send buffer (one copy, as a splice); from other readers it reads into a
// pooled buffer. It implements io.ReaderFrom; the write deadline applies.
func (c *TCPConn) ReadFrom(r io.Reader) (int64, error) {
	src := r
	var limit int64 = -1
	if lr, ok := r.(*io.LimitedReader); ok {
		src, limit = lr.R, lr.N
	}
	if sc, ok := src.(*TCPConn); ok && sc != c && limit < 0 {
		c.writeMu.Lock()
		defer c.writeMu.Unlock()
		return sc.WriteTo(writerFunc(c.write))
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			m, werr := c.write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// writerFunc adapts a write function to io.Writer (no ReaderFrom, so
// nothing recurses).
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
