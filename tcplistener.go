package featherip

import (
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/featherip/featherip/tcp"
)

// listenBacklog bounds a listener's queue of established connections not
// yet accepted (Linux's somaxconn of old); beyond it new connections are
// reset and counted in [TCPListener.Overflows].
const listenBacklog = 256

// TCPListener is a TCP listener over featherip, the counterpart of
// *net.TCPListener; it implements net.Listener. Connections complete their
// handshake in the core and wait in a bounded accept queue.
type TCPListener struct {
	sock
	network string
	laddr   netip.AddrPort

	// Guarded by h.mu.
	pcb       *tcp.PCB
	queue     []*TCPConn // established, not yet accepted
	backlog   int
	released  bool
	overflows uint64
}

var _ net.Listener = (*TCPListener)(nil)

// Listen listens on address ("host:port"; an empty host or 0.0.0.0/[::]
// is every local address, port 0 an ephemeral port) for network "tcp",
// "tcp4" or "tcp6", like net.Listen; the result is a *TCPListener.
// Accepted connections have keepalive on with a 15 s period, as package
// net's. On the wildcard, as package net on Linux: "tcp4" takes IPv4 only,
// "tcp6" IPv6 only (IPV6_V6ONLY), so a "tcp4" and a "tcp6" listener share
// a port, each accepting its own family; "tcp" takes both (also when given
// 0.0.0.0) and so conflicts with either (EADDRINUSE).
func (h *Host) Listen(network, address string) (net.Listener, error) {
	if err := checkTCPNetwork(network); err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	ap, err := parseTCPAddr(network, address, false)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	l, err := h.listenTCP(network, ap)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListenTCP is Listen with a *net.TCPAddr (nil: every address, an
// ephemeral port), like net.ListenTCP.
func (h *Host) ListenTCP(network string, laddr *net.TCPAddr) (*TCPListener, error) {
	ap, err := tcpAddrPort(laddr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: nilTCPAddr(laddr), Err: err}
	}
	return h.listenTCP(network, ap)
}

// ListenTCPAddrPort is Listen with a netip.AddrPort (an invalid address:
// every address of both families).
func (h *Host) ListenTCPAddrPort(network string, laddr netip.AddrPort) (*TCPListener, error) {
	return h.listenTCP(network, laddr)
}

func (h *Host) listenTCP(network string, laddr netip.AddrPort) (*TCPListener, error) {
	if laddr.Addr().IsValid() {
		laddr = netip.AddrPortFrom(laddr.Addr().Unmap(), laddr.Port())
	}
	fail := func(call string, err error) (*TCPListener, error) {
		return nil, tcpOpError("listen", network, netip.AddrPort{}, laddr, call, err)
	}
	if err := checkTCPNetwork(network); err != nil {
		return fail("", err)
	}
	if la := laddr.Addr(); !la.IsValid() || la.IsUnspecified() {
		// The wildcard of the network, as package net picks it on Linux:
		// "tcp4" an AF_INET socket on 0.0.0.0 (IPv4 only), "tcp6" an AF_INET6
		// one with IPV6_V6ONLY (IPv6 only, SetV6Only below), "tcp" a
		// dual-stack one, also when given 0.0.0.0.
		switch network {
		case "tcp4":
			if !la.IsValid() {
				laddr = netip.AddrPortFrom(netip.IPv4Unspecified(), laddr.Port())
			}
		case "tcp6":
			if !la.IsValid() {
				laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), laddr.Port())
			}
		default:
			laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), laddr.Port())
		}
	}
	if err := checkTCPFamily(network, laddr); err != nil {
		return fail("", err)
	}
	l := &TCPListener{network: network, backlog: listenBacklog}
	l.sock.init(h)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fail("socket", ErrClosed)
	}
	pcb, err := h.tcp.NewPCB()
	if err != nil {
		return fail("socket", err)
	}
	pcb.SetV6Only(network == "tcp6")
	if err := pcb.Bind(laddr); err != nil {
		pcb.Close()
		return fail("bind", err)
	}
	if err := pcb.Listen(laddr, 0); err != nil {
		pcb.Close()
		return fail("listen", err)
	}
	l.pcb = pcb
	l.laddr = pcb.LocalAddr()
	if laddr.Addr() == netip.IPv6Unspecified() {
		// bound to both families or IPv6 only: package net shows it as [::]
		l.laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), l.laddr.Port())
	}
	pcb.OnAccept(l.onAccept)
	_ = h.addSockLocked(l)
	return l, nil
}

// onAccept runs under the core lock for each established connection: it
// queues a TCPConn for Accept, or resets the connection when the queue is
// full.
func (l *TCPListener) onAccept(_, pc *tcp.PCB) {
	h := l.h
	if l.released || h.closed || len(l.queue) >= l.backlog {
		l.overflows++
		pc.Abort()
		return
	}
	c := h.newTCPConnLocked(l.network, pc, pc.RecvBuffer())
	c.laddr, c.raddr = pc.LocalAddr(), pc.RemoteAddr()
	pc.SetKeepAlive(true, defaultKeepAlive, defaultKeepAlive, 0)
	_ = h.addSockLocked(c)
	l.queue = append(l.queue, c)
	signal(l.readable)
}

// closeLocked closes the pcb and resets the connections nobody accepted
// (h.mu held).
func (l *TCPListener) closeLocked() {
	if l.released {
		return
	}
	l.released = true
	if l.pcb != nil {
		l.pcb.Close()
		l.pcb = nil
	}
	for _, c := range l.queue {
		c.lingerZero = true
		c.startClose()
		c.closeLocked()
		delete(l.h.socks, c)
	}
	clear(l.queue)
	l.queue = nil
	signal(l.readable)
}

func (l *TCPListener) opErr(err error) error {
	return tcpOpError("accept", l.network, netip.AddrPort{}, l.laddr, "accept", err)
}

// Accept waits for the next connection; it implements net.Listener.
func (l *TCPListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP waits for the next connection and returns it as a *TCPConn.
// After Close it fails with net.ErrClosed, after the deadline with
// os.ErrDeadlineExceeded.
func (l *TCPListener) AcceptTCP() (*TCPConn, error) {
	h := l.h
	for {
		if l.isClosing() {
			return nil, l.opErr(net.ErrClosed)
		}
		if l.rd.exceeded() {
			return nil, l.opErr(os.ErrDeadlineExceeded)
		}
		h.mu.Lock()
		if l.released {
			h.mu.Unlock()
			return nil, l.opErr(net.ErrClosed)
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			copy(l.queue, l.queue[1:])
			l.queue[len(l.queue)-1] = nil
			l.queue = l.queue[:len(l.queue)-1]
			more := len(l.queue) > 0
			h.mu.Unlock()
			if more {
				signal(l.readable) // pass the baton to another Accept
			}
			return c, nil
		}
		h.mu.Unlock()
		if err := l.wait(l.readable, &l.rd); err != nil {
			return nil, l.opErr(err)
		}
	}
}

// Close stops listening: blocked Accepts return net.ErrClosed and queued
// connections are reset. It implements net.Listener.
func (l *TCPListener) Close() error {
	if err := l.close(l); err != nil {
		return tcpOpError("close", l.network, netip.AddrPort{}, l.laddr, "close", err)
	}
	return nil
}

// Addr returns the listening address, a *net.TCPAddr. It implements
// net.Listener.
func (l *TCPListener) Addr() net.Addr { return tcpAddrOrNil(l.laddr) }

// AddrPort returns the listening address without allocating.
func (l *TCPListener) AddrPort() netip.AddrPort { return l.laddr }

// SetDeadline sets the deadline for Accept; the zero time removes it.
func (l *TCPListener) SetDeadline(t time.Time) error {
	if err := l.setDeadline(t, true, false); err != nil {
		return tcpOpError("set", l.network, netip.AddrPort{}, l.laddr, "", err)
	}
	return nil
}

// Overflows returns how many connections were reset because the accept
// queue was full (Linux's ListenOverflows).
func (l *TCPListener) Overflows() uint64 {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	return l.overflows
}
