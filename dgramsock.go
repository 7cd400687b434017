package featherip

import (
	"net"
	"net/netip"
	"os"
	"syscall"
)

// dgramSock is the receive side shared by the datagram sockets (UDP, ping,
// raw IP): a bounded queue filled by the pcb's callback under the core lock
// and drained by blocking reads, and the pending asynchronous error
// (Linux's sk_err).
type dgramSock struct {
	sock
	q     dgramQueue // guarded by sock.mu
	soErr error      // guarded by sock.mu: reported once by the next Read or Write
}

func (d *dgramSock) init(h *Host) {
	d.sock.init(h)
	d.q.maxBytes = h.sockCfg.ReadBuffer
	d.q.maxDgrams = h.sockCfg.MaxQueuedDatagrams
}

// deliver queues a datagram the pcb received; it runs in a callback under
// the core lock and never blocks. A full queue drops it (counted in
// RcvbufErrors, as Linux counts UDP's socket-queue overflows).
func (d *dgramSock) deliver(data []byte, from netip.AddrPort) bool {
	d.mu.Lock()
	ok := !d.closed && d.q.push(data, from)
	d.mu.Unlock()
	if !ok {
		d.h.stats.rcvbufErrors.Add(1)
		return false
	}
	signal(d.readable)
	return true
}

// setError records an asynchronous error (an ICMP error for a connected
// socket) for the next Read or Write; it runs under the core lock.
func (d *dgramSock) setError(err error) {
	d.mu.Lock()
	if !d.closed {
		d.soErr = err
	}
	d.mu.Unlock()
	signal(d.readable)
}

// takeError returns and clears the pending error; d.mu must be held.
func (d *dgramSock) takeErrorLocked() error {
	err := d.soErr
	d.soErr = nil
	return err
}

// recv blocks until a datagram is queued and copies it into b (truncated to
// len(b)); errors are unwrapped (net.ErrClosed, os.ErrDeadlineExceeded, the
// core's pending error) for the caller to wrap in an OpError.
func (d *dgramSock) recv(b []byte) (int, netip.AddrPort, error) {
	for {
		if d.rd.exceeded() {
			if d.isClosing() {
				return 0, netip.AddrPort{}, net.ErrClosed
			}
			return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
		}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return 0, netip.AddrPort{}, net.ErrClosed
		}
		if err := d.takeErrorLocked(); err != nil {
			d.mu.Unlock()
			return 0, netip.AddrPort{}, err
		}
		n, from, ok := d.q.pop(b)
		more := d.q.len() > 0
		d.mu.Unlock()
		if ok {
			if more {
				signal(d.readable) // pass the baton to another reader
			}
			return n, from, nil
		}
		if err := d.wait(d.readable, &d.rd); err != nil {
			return 0, netip.AddrPort{}, err
		}
	}
}

// setReadBuffer implements SetReadBuffer: bytes is clamped to
// [minReadBuffer, Config.Sockets.MaxReadBuffer].
func (d *dgramSock) setReadBuffer(bytes int) error {
	if bytes <= 0 {
		return syscall.EINVAL
	}
	bytes = min(max(bytes, minReadBuffer), d.h.sockCfg.MaxReadBuffer)
	d.mu.Lock()
	d.q.setLimits(bytes, d.q.maxDgrams)
	d.mu.Unlock()
	return nil
}

// readBuffer returns the receive queue's byte bound.
func (d *dgramSock) readBuffer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.q.maxBytes
}

// releaseLocked marks the socket closed and frees its queue. The core lock
// is held by the caller (closeLocked).
func (d *dgramSock) releaseLocked() {
	d.mu.Lock()
	d.closed = true
	d.soErr = nil
	d.q.free()
	d.mu.Unlock()
	signal(d.readable)
}
