package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/featherip/featherip/app/iperf"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// TCP service ports.
const (
	portEcho    = 7    // RFC 862
	portDiscard = 9    // RFC 863
	portChargen = 19   // RFC 864
	portIperf   = 5001 // iperf 2
)

// tcpServices counts what the TCP services did. All of it runs under the
// host's core lock.
type tcpServices struct {
	EchoConns, EchoBytes       uint64
	DiscardConns, DiscardBytes uint64
	ChargenConns, ChargenBytes uint64 // bytes acknowledged by the clients
	IperfTests, IperfBytes     uint64
	Errors                     uint64 // connections ended by an error (reset, timeout)

	chargen []byte // two cycles of the RFC 864 pattern, never modified
	iperf   *iperf.Server
	report  io.Writer // iperf reports, one line each
}

// chargenLine and chargenCycle give the RFC 864 pattern: 72 printable
// characters and CR LF per line, each line starting one character later in
// the 95 printable ASCII characters, repeating after 95 lines.
const (
	chargenLine  = 72
	chargenCycle = 95 * (chargenLine + 2)
)

// chargenPattern returns n bytes of the chargen stream from its start.
func chargenPattern(n int) []byte {
	b := make([]byte, 0, n+chargenLine+2)
	for line := 0; len(b) < n; line++ {
		for j := 0; j < chargenLine; j++ {
			b = append(b, byte(' '+(line+j)%95))
		}
		b = append(b, '\r', '\n')
	}
	return b[:n]
}

// startTCPServices listens for TCP echo (RFC 862) on port 7, discard (RFC
// 863) on 9, character generator (RFC 864) on 19 and an iperf 2 server on
// 5001. It runs under the core lock.
func startTCPServices(s *stack.Stack, p *tcp.Protocol, svc *tcpServices) error {
	svc.chargen = chargenPattern(2 * chargenCycle)
	for _, l := range []struct {
		port   uint16
		name   string
		accept func(l, c *tcp.PCB)
	}{
		{portEcho, "echo", svc.acceptEcho},
		{portDiscard, "discard", svc.acceptDiscard},
		{portChargen, "chargen", svc.acceptChargen},
	} {
		pcb, err := p.NewPCB()
		if err != nil {
			return fmt.Errorf("tcp %s: %w", l.name, err)
		}
		if err := pcb.Listen(netip.AddrPortFrom(netip.Addr{}, l.port), 128); err != nil {
			return fmt.Errorf("tcp %s port %d: %w", l.name, l.port, err)
		}
		pcb.OnAccept(l.accept)
	}
	srv, err := iperf.NewServer(s, p, iperf.ServerConfig{Port: portIperf, OnReport: func(r iperf.Report) {
		svc.IperfTests++
		svc.IperfBytes += r.Bytes
		if r.Err != nil {
			svc.Errors++
		}
		if svc.report != nil {
			fmt.Fprintf(svc.report, "iperf %v\n", r)
		}
	}})
	if err != nil {
		return fmt.Errorf("tcp iperf: %w", err)
	}
	svc.iperf = srv
	return nil
}

func (svc *tcpServices) onError(*tcp.PCB, error) { svc.Errors++ }

// echoConn is one echo connection. Bytes the send buffer did not take
// wait in pending and stay un-Recved, so the client's window closes until
// they are sent: the echo never holds more than one receive window.
type echoConn struct {
	svc     *tcpServices
	pending []byte
	fin     bool
}

func (svc *tcpServices) acceptEcho(_, c *tcp.PCB) {
	svc.EchoConns++
	e := &echoConn{svc: svc}
	c.OnRecv(e.recv)
	c.OnSent(e.sent)
	c.OnError(svc.onError)
}

func (e *echoConn) recv(c *tcp.PCB, data []byte) {
	if data == nil {
		e.fin = true
		if len(e.pending) == 0 {
			c.Close() // our FIN follows the echoed data
		}
		return
	}
	e.svc.EchoBytes += uint64(len(data))
	if len(e.pending) > 0 {
		e.pending = append(e.pending, data...)
		return
	}
	n, err := c.Write(data)
	if err != nil && !errors.Is(err, tcp.ErrBufferFull) {
		e.svc.Errors++
		c.Abort()
		return
	}
	c.Recved(n)
	if n < len(data) {
		e.pending = append(e.pending, data[n:]...)
	}
}

func (e *echoConn) sent(c *tcp.PCB, _ int) {
	if len(e.pending) == 0 {
		return
	}
	n, err := c.Write(e.pending)
	if err != nil && !errors.Is(err, tcp.ErrBufferFull) {
		e.svc.Errors++
		c.Abort()
		return
	}
	e.pending = e.pending[:copy(e.pending, e.pending[n:])]
	c.Recved(n)
	if len(e.pending) == 0 && e.fin {
		c.Close()
	}
}

func (svc *tcpServices) acceptDiscard(_, c *tcp.PCB) {
	svc.DiscardConns++
	c.SetAutoRecved(true)
	c.OnRecv(func(c *tcp.PCB, data []byte) {
		if data == nil {
			c.Close()
			return
		}
		svc.DiscardBytes += uint64(len(data))
	})
	c.OnError(svc.onError)
}

// chargenConn is one chargen connection: it sends the pattern from the
// shared buffer by reference (WriteNoCopy) as fast as the windows allow,
// until the client resets or the connection fails; what the client sends
// is discarded.
type chargenConn struct {
	svc *tcpServices
	off int // stream offset modulo chargenCycle
}

func (svc *tcpServices) acceptChargen(_, c *tcp.PCB) {
	svc.ChargenConns++
	g := &chargenConn{svc: svc}
	c.SetAutoRecved(true)
	c.OnRecv(func(c *tcp.PCB, data []byte) {}) // input and FIN ignored (RFC 864)
	c.OnSent(func(c *tcp.PCB, n int) {
		svc.ChargenBytes += uint64(n)
		g.fill(c)
	})
	// no OnError: a client ends chargen by closing, which resets it
	g.fill(c)
}

func (g *chargenConn) fill(c *tcp.PCB) {
	for {
		n, err := c.WriteNoCopy(g.svc.chargen[g.off : g.off+chargenCycle])
		if err != nil {
			if !errors.Is(err, tcp.ErrBufferFull) {
				c.Abort()
			}
			return
		}
		g.off = (g.off + n) % chargenCycle
	}
}
