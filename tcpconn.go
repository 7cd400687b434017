package featherip

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/featherip/featherip/tcp"
)

// TCPConn is a blocking, goroutine-safe TCP connection over featherip, the
// counterpart of *net.TCPConn: it implements net.Conn, io.ReaderFrom and
// io.WriterTo, so net/http, crypto/tls and any code written for package
// net run over it unchanged. Get one from [Host.DialContext], [Dialer],
// [Host.DialTCP] or a [TCPListener].
//
// The shell around the tcp pcb (see sock.go for the wake-up scheme):
// OnRecv copies received bytes into a bounded per-connection receive
// buffer under the core lock and never blocks; the TCP receive window is
// reopened (tcp.PCB.Recved) only as Read or WriteTo consume the bytes, so
// a slow reader throttles the peer end to end. Write copies as much as
// fits into the pcb's send buffer under the core lock, then blocks until
// OnSent reports acknowledged bytes (or the write deadline passes, or the
// connection closes). Close closes gracefully (the queued data, then FIN;
// the pcb finishes the close on its own) unless received data was left
// unread, which resets the connection as Linux does (RFC 1122
// §4.2.2.13), or SetLinger(0) was called. [Host.Close] resets every
// connection.
//
// Errors are *net.OpError values like package net's: errors.Is(err,
// syscall.ECONNRESET), ETIMEDOUT, ECONNREFUSED...; os.ErrDeadlineExceeded
// for deadlines; net.ErrClosed after Close; io.EOF after the peer's FIN.
// As with package net, TCP_NODELAY is on by default (SetNoDelay).
type TCPConn struct {
	sock
	network      string
	laddr, raddr netip.AddrPort // fixed once connected

	readMu  sync.Mutex // one reader at a time (Read, WriteTo), as package net
	writeMu sync.Mutex // one writer at a time: each Write is contiguous

	// Guarded by h.mu, the core lock, which every pcb callback holds.
	pcb        *tcp.PCB // nil once closed or failed
	rb         recvRing
	rcvBuf     int   // the pcb's receive buffer (window) size
	unreported int   // bytes read out of rb, not yet passed to pcb.Recved
	eof        bool  // the peer's FIN arrived after everything in rb
	err        error // the connection failed; the pcb is gone
	rdShut     bool  // CloseRead
	wrShut     bool  // CloseWrite
	connecting bool  // dialing: OnConnected has not reported yet
	released   bool  // closeLocked ran
	lingerZero bool  // SetLinger(0): Close resets
}

// Compile-time checks: TCPConn is what code written for package net
// expects.
var (
	_ net.Conn      = (*TCPConn)(nil)
	_ io.ReaderFrom = (*TCPConn)(nil)
	_ io.WriterTo   = (*TCPConn)(nil)
)

// ringSlack is how far the receive buffer may exceed the pcb's receive
// buffer size: the announced window is rounded up to the window scale
// (RFC 7323 §2.3) and never shrinks (RFC 9293 §3.8.6.2.2), so a little
// more than the buffer size may legitimately arrive.
const ringSlack = 64 << 10

// newTCPConn returns a conn for pcb (connecting or established) with its
// callbacks set. h.mu must be held.
func (h *Host) newTCPConnLocked(network string, pcb *tcp.PCB, rcvBuf int) *TCPConn {
	c := &TCPConn{network: network, pcb: pcb, rcvBuf: rcvBuf}
	c.sock.init(h)
	c.rb.limit = rcvBuf + ringSlack
	pcb.SetNoDelay(true)
	pcb.OnRecv(c.onRecv)
	pcb.OnSent(c.onSent)
	pcb.OnError(c.onError)
	return c
}

// onRecv runs under the core lock: it queues data (nil: the peer's FIN)
// and wakes the reader. It never blocks.
func (c *TCPConn) onRecv(pc *tcp.PCB, data []byte) {
	if data == nil {
		c.eof = true
		c.h.wakeLocked(c.readable)
		return
	}
	if c.rdShut || c.released {
		pc.Recved(len(data)) // nobody will read it: discard, keep the window open
		return
	}
	if n := c.rb.write(data); n < len(data) {
		// More than the window we announced: a broken peer. Nothing can
		// be dropped from a byte stream, so the connection ends.
		c.h.stats.rcvbufErrors.Add(1)
		pc.Abort()
		c.pcb = nil
		c.err = tcp.ErrConnAborted
		c.h.wakeLocked(c.writable)
	}
	c.h.wakeLocked(c.readable)
}

// onSent runs under the core lock: acknowledged bytes freed send buffer
// space, so a blocked writer may go on.
func (c *TCPConn) onSent(*tcp.PCB, int) { c.h.wakeLocked(c.writable) }

// onError runs under the core lock: the pcb failed and is already freed.
func (c *TCPConn) onError(_ *tcp.PCB, err error) {
	c.pcb = nil
	c.err = err
	c.h.wakeLocked(c.readable)
	c.h.wakeLocked(c.writable)
}

// closeLocked releases the pcb and the receive buffer (h.mu held): a
// graceful close, a reset when unread data is left, SetLinger(0) was set
// or the host is closing.
func (c *TCPConn) closeLocked() {
	if c.released {
		return
	}
	c.released = true
	if pc := c.pcb; pc != nil {
		c.pcb = nil
		if c.h.closed || c.lingerZero || c.rb.len() > 0 || c.connecting {
			pc.Abort()
		} else if pc.Close() != nil {
			pc.Abort()
		}
	}
	c.rb.free()
	signal(c.readable)
	signal(c.writable)
}

// opErr wraps err for op ("read", "write", "close", "set").
func (c *TCPConn) opErr(op, call string, err error) error {
	if err == io.EOF {
		return err
	}
	return tcpOpError(op, c.network, c.laddr, c.raddr, call, err)
}

// recvedLocked reopens the window by n consumed bytes (h.mu held).
func (c *TCPConn) recvedLocked(n int) {
	if c.pcb != nil && n > 0 {
		c.pcb.Recved(n)
		c.h.rearmLocked()
	}
}

// consumedLocked reports n bytes the application took out of the receive
// buffer (h.mu held). Like Linux (tcp_cleanup_rbuf), it does not announce
// every small read: the consumed bytes are handed to the pcb, which may
// send a window update, when the buffer is empty (the reader caught up
// and may block), once they add up to a quarter of the buffer, or when
// the window the peer last heard of is less than half the buffer. In
// between, the reader is still busy with buffered data, and a stream
// read in small pieces costs fewer window-update segments. (Without the
// empty-buffer rule a reader blocked on an empty buffer could leave up
// to a quarter of the window unannounced: at MTU 65535, where a segment
// is as big as the window, that stalled the stream until a timer fired.)
func (c *TCPConn) consumedLocked(n int) {
	c.unreported += n
	if c.rb.len() == 0 || c.unreported >= c.rcvBuf/4 || c.rcvBuf-c.rb.len()-c.unreported < c.rcvBuf/2 {
		c.recvedLocked(c.unreported)
		c.unreported = 0
	}
}

// readErrLocked returns what a read finds when the buffer is empty: io.EOF
// after the peer's FIN or CloseRead, the connection's error, or nil (wait).
func (c *TCPConn) readErrLocked() error {
	switch {
	case c.released:
		return net.ErrClosed
	case c.rdShut, c.eof:
		return io.EOF
	case c.err != nil:
		return c.err
	}
	return nil
}

// checkRead returns the error a read fails with before it starts.
func (c *TCPConn) checkRead() error {
	if c.isClosing() {
		return net.ErrClosed
	}
	if c.rd.exceeded() {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Read reads received bytes into b, blocking until some are there. It
// returns io.EOF once the peer has closed its side and everything before
// its FIN has been read. It implements net.Conn.
func (c *TCPConn) Read(b []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	h := c.h
	for {
		if err := c.checkRead(); err != nil {
			return 0, c.opErr("read", "read", err)
		}
		if len(b) == 0 {
			return 0, nil
		}
		h.mu.Lock()
		if c.rb.len() > 0 {
			n := c.rb.read(b)
			c.consumedLocked(n)
			h.mu.Unlock()
			return n, nil
		}
		err := c.readErrLocked()
		h.mu.Unlock()
		if err != nil {
			return 0, c.opErr("read", "read", err)
		}
		if err := c.wait(c.readable, &c.rd); err != nil {
			return 0, c.opErr("read", "read", err)
		}
	}
}

// writeErrLocked returns why nothing can be written any more, or nil.
func (c *TCPConn) writeErrLocked() error {
	switch {
	case c.released:
		return net.ErrClosed
	case c.wrShut:
		return errWriteShut
	case c.err != nil:
		return c.err
	case c.pcb == nil:
		return net.ErrClosed
	}
	return nil
}

// Write writes b, blocking until all of it is in the send buffer (or the
// write deadline passes, or the connection fails or closes; then it
// returns how much was queued). It implements net.Conn.
func (c *TCPConn) Write(b []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.write(b)
}

// write is Write with writeMu held.
func (c *TCPConn) write(b []byte) (int, error) {
	h := c.h
	n := 0
	for {
		if err := c.checkWrite(); err != nil {
			return n, c.opErr("write", "write", err)
		}
		h.mu.Lock()
		err := c.writeErrLocked()
		if err == nil && n < len(b) {
			h.holdWritesLocked()
			m, werr := c.pcb.Write(b[n:])
			h.flushWritesLocked()
			n += m
			if werr != nil && werr != tcp.ErrBufferFull {
				err = werr
			}
			h.rearmLocked()
		}
		h.mu.Unlock()
		if err != nil {
			return n, c.opErr("write", "write", err)
		}
		if n == len(b) {
			return n, nil
		}
		if err := c.wait(c.writable, &c.wd); err != nil {
			return n, c.opErr("write", "write", err)
		}
	}
}

// Close closes the connection: blocked reads and writes return
// net.ErrClosed, queued data and FIN still go out (see [TCPConn]), and
// later calls return net.ErrClosed. It implements net.Conn.
func (c *TCPConn) Close() error {
	if err := c.close(c); err != nil {
		return c.opErr("close", "close", err)
	}
	return nil
}

// CloseRead shuts down the reading side: buffered and later data are
// discarded (the window stays open) and Read returns io.EOF. Nothing is
// sent, as with Linux's shutdown(SHUT_RD).
func (c *TCPConn) CloseRead() error {
	return c.shutdown(true)
}

// CloseWrite shuts down the writing side (half-close): FIN follows the
// queued data and later writes fail with EPIPE; reading goes on until the
// peer's FIN.
func (c *TCPConn) CloseWrite() error {
	return c.shutdown(false)
}

func (c *TCPConn) shutdown(read bool) error {
	if c.isClosing() {
		return c.opErr("close", "shutdown", net.ErrClosed)
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.rearmLocked()
	if c.released {
		return c.opErr("close", "shutdown", net.ErrClosed)
	}
	if c.pcb == nil {
		if c.err != nil {
			return c.opErr("close", "shutdown", tcp.ErrNotConnected)
		}
		return c.opErr("close", "shutdown", net.ErrClosed)
	}
	if read {
		c.rdShut = true
		n := c.rb.len() + c.unreported
		c.rb.free()
		c.unreported = 0
		c.recvedLocked(n)
		signal(c.readable)
		return nil
	}
	c.wrShut = true
	signal(c.writable)
	if err := c.pcb.Shutdown(); err != nil {
		return c.opErr("close", "shutdown", err)
	}
	return nil
}

// LocalAddr returns the local address, a *net.TCPAddr. It implements
// net.Conn.
func (c *TCPConn) LocalAddr() net.Addr { return tcpAddrOrNil(c.laddr) }

// RemoteAddr returns the peer's address, a *net.TCPAddr. It implements
// net.Conn.
func (c *TCPConn) RemoteAddr() net.Addr { return tcpAddrOrNil(c.raddr) }

// LocalAddrPort and RemoteAddrPort return the addresses without
// allocating.
func (c *TCPConn) LocalAddrPort() netip.AddrPort { return c.laddr }

// RemoteAddrPort returns the peer's address and port.
func (c *TCPConn) RemoteAddrPort() netip.AddrPort { return c.raddr }

// SetDeadline sets the read and write deadlines. It implements net.Conn.
func (c *TCPConn) SetDeadline(t time.Time) error {
	return c.setDL(t, true, true)
}

// SetReadDeadline sets the deadline for Read and WriteTo. It implements
// net.Conn.
func (c *TCPConn) SetReadDeadline(t time.Time) error { return c.setDL(t, true, false) }

// SetWriteDeadline sets the deadline for Write and ReadFrom. It implements
// net.Conn.
func (c *TCPConn) SetWriteDeadline(t time.Time) error { return c.setDL(t, false, true) }

func (c *TCPConn) setDL(t time.Time, r, w bool) error {
	if err := c.setDeadline(t, r, w); err != nil {
		return c.opErr("set", "", err)
	}
	return nil
}

// withPCB runs f on the pcb under the core lock; it fails after Close
// and does nothing once the connection has failed.
func (c *TCPConn) withPCB(call string, f func(p *tcp.PCB)) error {
	if c.isClosing() {
		return c.opErr("set", call, net.ErrClosed)
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.rearmLocked()
	if c.released {
		return c.opErr("set", call, net.ErrClosed)
	}
	if c.pcb == nil {
		return nil // the connection failed: as on Linux, options still "succeed"
	}
	f(c.pcb)
	return nil
}

// SetNoDelay turns Nagle's algorithm (RFC 896) off when on (the default,
// as in package net) or on when off.
func (c *TCPConn) SetNoDelay(on bool) error {
	return c.withPCB("setsockopt", func(p *tcp.PCB) { p.SetNoDelay(on) })
}

// SetKeepAlive turns keepalive probes (RFC 1122 §4.2.3.6) on or off.
func (c *TCPConn) SetKeepAlive(on bool) error {
	return c.withPCB("setsockopt", func(p *tcp.PCB) { p.SetKeepAlive(on, 0, 0, 0) })
}

// SetKeepAlivePeriod sets the idle time before the first probe and the
// interval between probes, as package net does (d is rounded up to a
// second, like Linux's TCP_KEEPIDLE).
func (c *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		return c.opErr("set", "setsockopt", syscall.EINVAL)
	}
	d = (d + time.Second - 1).Truncate(time.Second)
	return c.withPCB("setsockopt", func(p *tcp.PCB) { p.SetKeepAlive(true, d, d, 0) })
}

// SetKeepAliveConfig applies a net.KeepAliveConfig: Enable, Idle, Interval
// and Count (zero keeps the current value; negative the protocol default).
func (c *TCPConn) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	pcfg := c.h.tcp.Config()
	idle, intvl, count := cfg.Idle, cfg.Interval, cfg.Count
	if idle < 0 {
		idle = pcfg.KeepIdle
	}
	if intvl < 0 {
		intvl = pcfg.KeepInterval
	}
	if count < 0 {
		count = pcfg.KeepCount
	}
	return c.withPCB("setsockopt", func(p *tcp.PCB) { p.SetKeepAlive(cfg.Enable, idle, intvl, count) })
}

// SetLinger sets what Close does with data not yet sent: sec < 0 (the
// default) and sec > 0 close gracefully in the background (featherip's
// Close does not block for lingering); sec == 0 makes Close reset the
// connection and discard the data (SO_LINGER 0).
func (c *TCPConn) SetLinger(sec int) error {
	return c.withPCB("setsockopt", func(p *tcp.PCB) {
		c.lingerZero = sec == 0
		p.SetLinger(sec >= 0, time.Duration(max(sec, 0))*time.Second)
	})
}

// SetReadBuffer sets the receive buffer, which is the receive window,
// to bytes (SO_RCVBUF). It counts fully only when set before the
// connection is established (window scaling, RFC 7323); later it can
// still shrink the window as data is consumed.
func (c *TCPConn) SetReadBuffer(bytes int) error {
	if bytes <= 0 {
		return c.opErr("set", "setsockopt", syscall.EINVAL)
	}
	bytes = min(max(bytes, minReadBuffer), c.h.sockCfg.MaxReadBuffer)
	return c.withPCB("setsockopt", func(p *tcp.PCB) {
		p.SetRecvBuffer(bytes)
		c.setRecvBufferLocked(bytes)
	})
}

// setRecvBufferLocked follows the pcb's receive buffer size: the window
// the ring must hold (h.mu held).
func (c *TCPConn) setRecvBufferLocked(bytes int) {
	c.rcvBuf = bytes
	c.rb.limit = max(c.rb.limit, bytes+ringSlack)
}

// SetWriteBuffer sets the send buffer size (SO_SNDBUF): how many bytes
// Write may queue before it blocks for acknowledgements.
func (c *TCPConn) SetWriteBuffer(bytes int) error {
	if bytes <= 0 {
		return c.opErr("set", "setsockopt", syscall.EINVAL)
	}
	bytes = min(max(bytes, minReadBuffer), c.h.sockCfg.MaxReadBuffer)
	return c.withPCB("setsockopt", func(p *tcp.PCB) { p.SetSendBuffer(bytes) })
}

// Stats returns the connection's TCP state and counters (like Linux's
// TCP_INFO); ok is false once the pcb is gone.
func (c *TCPConn) Stats() (st tcp.PCBStats, ok bool) {
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.pcb == nil {
		return st, false
	}
	return c.pcb.Stats(), true
}
