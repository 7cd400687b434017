package iperf

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// DefaultPort is iperf 2's TCP port.
const DefaultPort = 5001

// Server defaults.
const (
	DefaultMaxConns = 64
	DefaultBacklog  = 16
)

// ServerConfig configures a Server. The zero value listens on port 5001 of
// every address.
type ServerConfig struct {
	// Addr is the local address to listen on; invalid or unspecified means
	// every address.
	Addr netip.Addr
	// Port is the TCP port; 0 means DefaultPort (5001).
	Port uint16
	// Backlog bounds half-open connections (see tcp.PCB.Listen); 0 means
	// DefaultBacklog.
	Backlog int
	// MaxConns bounds the tests running at once; further connections are
	// reset. 0 means DefaultMaxConns.
	MaxConns int
	// RecvBuffer, when positive, sets each connection's receive buffer
	// (window) in bytes; 0 keeps the TCP default.
	RecvBuffer int
	// OnReport, when set, is called once per connection when its test ends:
	// at the client's FIN, or when the connection fails (Report.Err).
	OnReport func(Report)
}

// Report is the result of one TCP test, on either side.
type Report struct {
	// Local and Remote are the connection's addresses.
	Local, Remote netip.AddrPort
	// Bytes counts the payload bytes of the test, the client header
	// included (as iperf counts them): received by the server, or sent and
	// acknowledged by the client.
	Bytes uint64
	// Duration is the test's length: from the connection's establishment
	// to the client's FIN (server) or to the acknowledgement of the last
	// byte (client).
	Duration time.Duration
	// Header is the client header the server read; HasHeader reports
	// whether there was one (an iperf 2.0 client without -d/-r sends none).
	Header    Header
	HasHeader bool
	// Err is nil for a test that ended normally, else why it failed
	// (tcp.ErrConnReset, tcp.ErrTimeout, ...).
	Err error
}

// BitsPerSecond returns the test's throughput, 0 for a zero duration.
func (r Report) BitsPerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Bytes) * 8 / r.Duration.Seconds()
}

// String formats the report like iperf's summary line.
func (r Report) String() string {
	s := fmt.Sprintf("%v <- %v: %d bytes in %.3f s = %.2f Mbit/s", r.Local, r.Remote, r.Bytes, r.Duration.Seconds(), r.BitsPerSecond()/1e6)
	if r.Err != nil {
		s += " (" + r.Err.Error() + ")"
	}
	return s
}

// ServerStats counts what a Server did.
type ServerStats struct {
	// Accepted counts connections accepted; Refused those reset because
	// MaxConns tests were running.
	Accepted, Refused uint64
	// Completed counts tests that ended with the client's FIN; Failed those
	// that ended with an error.
	Completed, Failed uint64
	// Active is the number of tests running.
	Active int
	// Bytes counts payload bytes received over all tests.
	Bytes uint64
	// Headers counts tests that began with a client header; ModesIgnored
	// those whose header asked for a mode in which the server sends (dual,
	// tradeoff, reverse), which this server does not run.
	Headers, ModesIgnored uint64
}

// Server is an iperf 2 TCP server: it accepts clients and counts the bytes
// each sends until FIN. Use it from the goroutine that drives the stack.
type Server struct {
	s      *stack.Stack
	l      *tcp.PCB
	cfg    ServerConfig
	conns  map[*tcp.PCB]*serverConn
	stats  ServerStats
	closed bool
}

// serverConn is one running test.
type serverConn struct {
	srv    *Server
	pcb    *tcp.PCB
	start  time.Duration
	bytes  uint64
	hdr    [HeaderExtLen]byte
	hdrN   int
	hdrEnd bool // the header was parsed, or the stream turned out to have none
	rep    Report
}

// NewServer starts an iperf server on p, the TCP protocol of s.
func NewServer(s *stack.Stack, p *tcp.Protocol, cfg ServerConfig) (*Server, error) {
	if s == nil || p == nil {
		return nil, errors.New("iperf: NewServer needs a stack and its TCP protocol")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = DefaultBacklog
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.RecvBuffer < 0 {
		return nil, fmt.Errorf("iperf: ServerConfig.RecvBuffer %d: must be positive (0 keeps the TCP default)", cfg.RecvBuffer)
	}
	l, err := p.NewPCB()
	if err != nil {
		return nil, err
	}
	if err := l.Listen(netip.AddrPortFrom(cfg.Addr, cfg.Port), cfg.Backlog); err != nil {
		l.Close()
		return nil, fmt.Errorf("iperf: listening on port %d: %w", cfg.Port, err)
	}
	srv := &Server{s: s, l: l, cfg: cfg, conns: make(map[*tcp.PCB]*serverConn)}
	l.OnAccept(srv.accept)
	return srv, nil
}

// Addr returns the address the server listens on.
func (srv *Server) Addr() netip.AddrPort { return srv.l.LocalAddr() }

// Stats returns the server's counters.
func (srv *Server) Stats() ServerStats {
	st := srv.stats
	st.Active = len(srv.conns)
	return st
}

// Close stops listening and aborts the running tests (their reports are
// not delivered).
func (srv *Server) Close() {
	if srv.closed {
		return
	}
	srv.closed = true
	srv.l.Close()
	for pcb := range srv.conns {
		pcb.Abort()
	}
	clear(srv.conns)
}

func (srv *Server) accept(_, c *tcp.PCB) {
	if len(srv.conns) >= srv.cfg.MaxConns {
		srv.stats.Refused++
		c.Abort()
		return
	}
	srv.stats.Accepted++
	sc := &serverConn{srv: srv, pcb: c, start: srv.s.Now()}
	sc.rep.Local, sc.rep.Remote = c.LocalAddr(), c.RemoteAddr()
	srv.conns[c] = sc
	if srv.cfg.RecvBuffer > 0 {
		c.SetRecvBuffer(srv.cfg.RecvBuffer)
	}
	c.SetAutoRecved(true)
	c.OnRecv(sc.recv)
	c.OnError(sc.fail)
}

func (sc *serverConn) recv(c *tcp.PCB, data []byte) {
	if data == nil {
		sc.finish(nil)
		c.Close()
		return
	}
	sc.bytes += uint64(len(data))
	sc.srv.stats.Bytes += uint64(len(data))
	if !sc.hdrEnd {
		sc.header(data)
	}
}

// header collects the first bytes of the stream until the client header
// can be parsed (or is known to be absent).
func (sc *serverConn) header(data []byte) {
	n := copy(sc.hdr[sc.hdrN:], data)
	sc.hdrN += n
	if sc.hdrN < 4 {
		return
	}
	if !HasHeader(sc.hdr[:sc.hdrN]) {
		sc.hdrEnd = true
		return
	}
	h, err := ParseHeader(sc.hdr[:sc.hdrN])
	if err != nil {
		if sc.hdrN == len(sc.hdr) { // cannot happen: the buffer holds the longest header
			sc.hdrEnd = true
		}
		return
	}
	sc.hdrEnd = true
	sc.rep.Header, sc.rep.HasHeader = h, true
	sc.srv.stats.Headers++
	if h.NeedsServerSend() {
		sc.srv.stats.ModesIgnored++
	}
}

func (sc *serverConn) fail(c *tcp.PCB, err error) { sc.finish(err) }

// finish ends the test and reports it.
func (sc *serverConn) finish(err error) {
	srv := sc.srv
	if _, ok := srv.conns[sc.pcb]; !ok {
		return
	}
	delete(srv.conns, sc.pcb)
	if err == nil {
		srv.stats.Completed++
	} else {
		srv.stats.Failed++
	}
	sc.rep.Bytes = sc.bytes
	sc.rep.Duration = srv.s.Now() - sc.start
	sc.rep.Err = err
	if srv.cfg.OnReport != nil {
		srv.cfg.OnReport(sc.rep)
	}
}
