package featherip

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The wake-up mechanism, shared by every blocking socket of the shell.
//
// The core runs under the Host's lock (h.mu) and calls back into the
// transports' OnRecv/OnError/OnSent; those callbacks run on the Host's link
// reader or timer goroutine, or inside another socket's send, and must never
// block. So a callback only
//
//  1. takes the socket's own small lock (sock.mu; the lock order is always
//     h.mu, then sock.mu, never the other way), queues what it has into the
//     socket's bounded queue (datagrams, bytes, or a pending error),
//  2. releases it and calls signal on the socket's readable (or writable)
//     channel, a one-token channel: a non-blocking send that coalesces.
//     A TCP conn's callbacks use Host.wakeLocked instead, which holds the
//     token back while a link reader hands a batch of frames to the stack
//     and sends it once the reader has released the core lock.
//
// A goroutine blocked in Read (Write for TCP) loops: under sock.mu it checks
// closed, the deadline, a pending error and the queue; when there is nothing
// it releases sock.mu and calls sock.wait with the channel and its deadline.
// wait selects on the channel, the socket's closing channel, the Host's done
// channel and the deadline's channel: no goroutine per socket exists beyond
// the caller's own, and an AfterFunc timer closes the deadline channel.
// Because the token is sent after the queue changed, a reader that found
// the queue empty cannot miss it; a reader that takes a datagram and leaves
// more behind passes the token on, so several blocked readers all drain the
// queue. Stale tokens only cause one extra loop.
//
// Close (and Host.Close) closes the closing channel (every waiter wakes and
// returns net.ErrClosed), then, under h.mu, closes the pcb and frees the
// queue.
//
// A TCP conn reuses this as is: embed sock, have OnRecv append to a bounded
// byte queue and signal readable, OnSent signal writable, OnError store the
// error and signal both; Read waits on readable with rd, Write on writable
// with wd; register it with Host.addSock so Host.Close ends it.
type sock struct {
	h         *Host
	closing   chan struct{} // closed by Close
	isClosed  atomic.Bool   // set just before closing is closed: a cheap check
	closeOnce sync.Once
	rd, wd    deadline
	readable  chan struct{} // one token: data or an error arrived
	writable  chan struct{} // one token: room to write (TCP)

	mu     sync.Mutex // guards closed and the embedding type's queue
	closed bool       // the pcb is closed (by Close or Host.Close)
}

// sockCloser is what Host.Close ends: closeLocked releases the socket's pcb
// and queue, with h.mu held.
type sockCloser interface {
	closeLocked()
}

func (s *sock) init(h *Host) {
	s.h = h
	s.closing = make(chan struct{})
	s.rd = newDeadline()
	s.wd = newDeadline()
	s.readable = make(chan struct{}, 1)
	s.writable = make(chan struct{}, 1)
}

// signal hands c's token over without blocking; callable under any lock.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// wait blocks until c has a token, the deadline passes, or the socket or the
// host closes.
func (s *sock) wait(c chan struct{}, d *deadline) error {
	select {
	case <-c:
		return nil
	case <-s.closing:
		return net.ErrClosed
	case <-s.h.done:
		return net.ErrClosed
	case <-d.wait():
		return os.ErrDeadlineExceeded
	}
}

// isClosing reports whether Close was called or the host closed. Every
// Read and Write asks, so it reads two atomic flags rather than selecting
// on the two channels.
func (s *sock) isClosing() bool {
	return s.isClosed.Load() || s.h.isDone.Load()
}

// startClose closes the closing channel once and stops the deadline timers;
// it reports whether this call did it.
func (s *sock) startClose() bool {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.isClosed.Store(true)
		close(s.closing)
		s.rd.stop()
		s.wd.stop()
	})
	return first
}

// close ends the socket: waiters wake with net.ErrClosed, then c's pcb is
// released under the core lock. A second call returns net.ErrClosed.
func (s *sock) close(c sockCloser) error {
	if !s.startClose() {
		return net.ErrClosed
	}
	h := s.h
	h.mu.Lock()
	c.closeLocked()
	delete(h.socks, c)
	h.rearmLocked()
	h.mu.Unlock()
	return nil
}

// setDeadline implements SetDeadline, SetReadDeadline and SetWriteDeadline.
func (s *sock) setDeadline(t time.Time, read, write bool) error {
	if s.isClosing() {
		return net.ErrClosed
	}
	if read {
		s.rd.set(t)
	}
	if write {
		s.wd.set(t)
	}
	return nil
}

// checkWrite returns the error a write fails with before it starts: closed,
// or a write deadline that has passed (as package net does even when the
// write would not block).
func (s *sock) checkWrite() error {
	if s.isClosing() {
		return net.ErrClosed
	}
	if s.wd.exceeded() {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// addSockLocked registers c so Host.Close ends it; it fails when the host
// is closed. h.mu must be held.
func (h *Host) addSockLocked(c sockCloser) error {
	if h.closed {
		return ErrClosed
	}
	if h.socks == nil {
		h.socks = make(map[sockCloser]struct{})
	}
	h.socks[c] = struct{}{}
	return nil
}

// closeSocksLocked ends every socket (Host.Close). h.mu must be held.
func (h *Host) closeSocksLocked() {
	for c := range h.socks {
		c.closeLocked()
	}
	clear(h.socks)
}
