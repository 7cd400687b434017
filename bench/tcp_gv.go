package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// GvTCP is gVisor's side of the TCP figures: a GvPair whose link is
// forwarded by two goroutines (gVisor's TCP runs its own goroutines, so it
// cannot be pumped on the caller's), with gVisor's default TCP options
// except a 1 s TIME_WAIT (default 60 s) so that the setup/teardown figure
// does not pile up tens of thousands of TIME_WAIT endpoints.
type GvTCP struct{}

var _ TCPStack = GvTCP{}

// gvTCPQueue is the channel queue of the TCP figures' links: with gVisor's
// buffer auto-tuning (up to 4 MiB per direction) 8 connections can have
// tens of thousands of frames in flight, and a link that dropped them
// would measure loss recovery, not the stack.
const gvTCPQueue = 1 << 16

// gvTimeWait is the TIME_WAIT the TCP figures configure.
const gvTimeWait = time.Second

// tcpErr turns a tcpip.Error into an error.
func tcpErr(what string, e tcpip.Error) error { return fmt.Errorf("gVisor %s: %s", what, e) }

// newGvTCPPair builds and starts the pair of the TCP figures, with receive
// coalescing (GvOptions.GRO) when gro is set.
func newGvTCPPair(mtu int, gro bool) (*GvPair, error) {
	p, err := NewGvPairOpts(mtu, GvOptions{Queue: gvTCPQueue, GRO: gro})
	if err != nil {
		return nil, err
	}
	for _, h := range []*GvHost{p.A, p.B} {
		tw := tcpip.TCPTimeWaitTimeoutOption(gvTimeWait)
		if e := h.S.SetTransportProtocolOption(gtcp.ProtocolNumber, &tw); e != nil {
			return nil, tcpErr("TIME_WAIT option", e)
		}
	}
	p.Start()
	return p, nil
}

// gvEP is a TCP endpoint with its wait queue and channel entries
// registered once, the endpoint API's way to wait for events.
type gvEP struct {
	ep      tcpip.Endpoint
	wq      *waiter.Queue
	in, out chan struct{}
	ein     waiter.Entry
	eout    waiter.Entry
	w       tcpip.SliceWriter // reused by readSome: a fresh one per Read would allocate
}

func newGvEP(ep tcpip.Endpoint, wq *waiter.Queue) *gvEP {
	c := &gvEP{ep: ep, wq: wq}
	c.ein, c.in = waiter.NewChannelEntry(waiter.ReadableEvents)
	c.eout, c.out = waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&c.ein)
	wq.EventRegister(&c.eout)
	return c
}

// close unregisters the entries and closes the endpoint.
func (c *gvEP) close() {
	c.wq.EventUnregister(&c.ein)
	c.wq.EventUnregister(&c.eout)
	c.ep.Close()
}

// wait blocks on ch for at most a minute.
func wait(ch chan struct{}) error {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return errors.New("timed out")
	}
}

func gvListen(s *stack.Stack, backlog int) (*gvEP, error) {
	wq := new(waiter.Queue)
	ep, e := s.NewEndpoint(gtcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if e != nil {
		return nil, tcpErr("NewEndpoint", e)
	}
	if e := ep.Bind(tcpip.FullAddress{Port: tcpPort}); e != nil {
		return nil, tcpErr("Bind", e)
	}
	if e := ep.Listen(backlog); e != nil {
		return nil, tcpErr("Listen", e)
	}
	return newGvEP(ep, wq), nil
}

func (l *gvEP) accept() (*gvEP, error) {
	for {
		ep, wq, e := l.ep.Accept(nil)
		if _, ok := e.(*tcpip.ErrWouldBlock); ok {
			if err := wait(l.in); err != nil {
				return nil, fmt.Errorf("gVisor accept: %w", err)
			}
			continue
		}
		if e != nil {
			return nil, tcpErr("Accept", e)
		}
		return newGvEP(ep, wq), nil
	}
}

func gvDial(s *stack.Stack, to tcpip.Address) (*gvEP, error) {
	wq := new(waiter.Queue)
	ep, e := s.NewEndpoint(gtcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if e != nil {
		return nil, tcpErr("NewEndpoint", e)
	}
	c := newGvEP(ep, wq)
	e = ep.Connect(tcpip.FullAddress{Addr: to, Port: tcpPort})
	if _, ok := e.(*tcpip.ErrConnectStarted); ok {
		if err := wait(c.out); err != nil {
			c.close()
			return nil, fmt.Errorf("gVisor connect: %w", err)
		}
		e = ep.LastError()
	}
	if e != nil {
		c.close()
		return nil, tcpErr("Connect", e)
	}
	return c, nil
}

// writeAll writes b, waiting for room when the send buffer is full.
func (c *gvEP) writeAll(b []byte, r *bytes.Reader) error {
	for len(b) > 0 {
		r.Reset(b)
		n, e := c.ep.Write(r, tcpip.WriteOptions{})
		b = b[n:]
		switch e.(type) {
		case nil:
		case *tcpip.ErrWouldBlock:
			if err := wait(c.out); err != nil {
				return err
			}
		default:
			return tcpErr("Write", e)
		}
	}
	return nil
}

// readSome reads what is available into app (copying, as an application
// does), waiting while nothing is; it returns the bytes read.
func (c *gvEP) readSome(app []byte) (int, error) {
	for {
		c.w = app
		res, e := c.ep.Read(&c.w, tcpip.ReadOptions{})
		switch e.(type) {
		case nil:
			return res.Count, nil
		case *tcpip.ErrWouldBlock:
			if err := wait(c.in); err != nil {
				return 0, err
			}
		case *tcpip.ErrClosedForReceive:
			return 0, io.EOF
		default:
			return 0, tcpErr("Read", e)
		}
	}
}

// bulkConn is one side of a bulk transfer: write n bytes or read n bytes.
type bulkConn interface {
	send(chunk []byte, chunks int) error
	recv(total int) error
	close()
}

type gvBulkEP struct{ c *gvEP }

func (g gvBulkEP) send(chunk []byte, chunks int) error {
	var r bytes.Reader
	for range chunks {
		if err := g.c.writeAll(chunk, &r); err != nil {
			return err
		}
	}
	return nil
}

func (g gvBulkEP) recv(total int) error {
	app := make([]byte, bulkChunk)
	for total > 0 {
		n, err := g.c.readSome(app)
		if err != nil {
			return err
		}
		total -= n
	}
	return nil
}

func (g gvBulkEP) close() { g.c.close() }

type netBulk struct{ c net.Conn }

func (g netBulk) send(chunk []byte, chunks int) error {
	for range chunks {
		if _, err := g.c.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

func (g netBulk) recv(total int) error {
	_, err := io.CopyBuffer(io.Discard, io.LimitReader(g.c, int64(total)), make([]byte, bulkChunk))
	return err
}

func (g netBulk) close() { g.c.Close() }

// gvConnect makes n connections from A to B with the given API and returns
// the client and server sides.
func gvConnect(p *GvPair, n int, api API) (cli, srv []bulkConn, err error) {
	if api == APINetConn {
		ln, err := gonet.ListenTCP(p.B.S, tcpip.FullAddress{Port: tcpPort}, ipv4.ProtocolNumber)
		if err != nil {
			return nil, nil, err
		}
		defer ln.Close()
		for range n {
			c, err := gonet.DialTCP(p.A.S, tcpip.FullAddress{Addr: p.B.Addr, Port: tcpPort}, ipv4.ProtocolNumber)
			if err != nil {
				return nil, nil, err
			}
			s, err := ln.Accept()
			if err != nil {
				return nil, nil, err
			}
			cli, srv = append(cli, netBulk{c}), append(srv, netBulk{s})
		}
		return cli, srv, nil
	}
	ln, err := gvListen(p.B.S, 128)
	if err != nil {
		return nil, nil, err
	}
	defer ln.close()
	for range n {
		c, err := gvDial(p.A.S, p.B.Addr)
		if err != nil {
			return nil, nil, err
		}
		s, err := ln.accept()
		if err != nil {
			return nil, nil, err
		}
		cli, srv = append(cli, gvBulkEP{c}), append(srv, gvBulkEP{s})
	}
	return cli, srv, nil
}

// runBulk is the bulk benchmark body shared by both stacks' goroutine
// setups: b.N chunks spread over the connections, each sender and each
// receiver on its own goroutine; the op count stops when every byte has
// been read.
func runBulk(b *testing.B, cli, srv []bulkConn) {
	chunk := make([]byte, bulkChunk)
	b.SetBytes(bulkChunk)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(cli))
	for i := range cli {
		share := b.N / len(cli)
		if i < b.N%len(cli) {
			share++
		}
		wg.Add(2)
		go func() { defer wg.Done(); errs <- cli[i].send(chunk, share) }()
		go func() { defer wg.Done(); errs <- srv[i].recv(share * bulkChunk) }()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// Bulk implements TCPStack.
func (GvTCP) Bulk(mtu, conns int, api API) (func(*testing.B), error) {
	return func(b *testing.B) {
		p, err := newGvTCPPair(mtu, api == APINetConn)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		cli, srv, err := gvConnect(p, conns, api)
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			for i := range cli {
				cli[i].close()
				srv[i].close()
			}
		}()
		runBulk(b, cli, srv)
		reportLinkStats(b, gvLinkDrops(p), gvRetransmits(p))
	}, nil
}

// ConnSetup implements TCPStack.
func (GvTCP) ConnSetup() (func(*testing.B), error) {
	return func(b *testing.B) {
		p, err := newGvTCPPair(1500, false)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		ln, err := gvListen(p.B.S, 128)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.close()
		b.ReportAllocs()
		eps := make([]tcpip.Endpoint, 0, 2*b.N)
		buf := make([]byte, 16)
		b.ResetTimer()
		for range b.N {
			c, err := gvDial(p.A.S, p.B.Addr)
			if err != nil {
				b.Fatal(err)
			}
			s, err := ln.accept()
			if err != nil {
				b.Fatal(err)
			}
			// The server closes first; the client reads the end of the
			// stream, then closes.
			s.close()
			if _, err := c.readSome(buf); err != io.EOF {
				b.Fatalf("gVisor: client read %v, want EOF", err)
			}
			c.close()
			eps = append(eps, s.ep, c.ep)
		}
		// Teardown finishes asynchronously: wait until the FIN exchange of
		// every connection is over (the server's end, which closed first,
		// in TIME_WAIT or closed; the client's closed).
		deadline := time.Now().Add(time.Minute)
		for _, ep := range eps {
			for {
				st := gtcp.EndpointState(ep.State())
				if st == gtcp.StateTimeWait || st == gtcp.StateClose || st == gtcp.StateError {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("gVisor: a connection is still in state %v after a minute", st)
				}
				runtime.Gosched()
			}
		}
		b.StopTimer()
	}, nil
}

// IdleConns implements TCPStack.
func (GvTCP) IdleConns(n int) (float64, error) {
	p, err := newGvTCPPair(1500, false)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	ln, err := gvListen(p.B.S, 1024)
	if err != nil {
		return 0, err
	}
	defer ln.close()
	cli := make([]*gvEP, 0, n)
	srv := make([]*gvEP, 0, n)
	defer func() {
		for _, c := range append(cli, srv...) {
			c.close()
		}
	}()
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		c, err := gvDial(p.A.S, p.B.Addr)
		if err != nil {
			return 0, err
		}
		s, err := ln.accept()
		if err != nil {
			return 0, err
		}
		cli, srv = append(cli, c), append(srv, s)
	}
	// Let the last ACKs settle, then measure.
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := p.A.S.Stats().TCP.CurrentEstablished.Value(); got != uint64(n) {
		return 0, fmt.Errorf("gVisor: %d of %d connections established", got, n)
	}
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n), nil
}

// RR implements TCPStack: the server echoes on its own goroutine.
func (GvTCP) RR(api API, n int) (Latency, error) {
	p, err := newGvTCPPair(1500, false)
	if err != nil {
		return Latency{}, err
	}
	defer p.Close()
	if api == APINetConn {
		ln, err := gonet.ListenTCP(p.B.S, tcpip.FullAddress{Port: tcpPort}, ipv4.ProtocolNumber)
		if err != nil {
			return Latency{}, err
		}
		defer ln.Close()
		go func() {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			defer s.Close()
			io.Copy(s, s)
		}()
		c, err := gonet.DialTCP(p.A.S, tcpip.FullAddress{Addr: p.B.Addr, Port: tcpPort}, ipv4.ProtocolNumber)
		if err != nil {
			return Latency{}, err
		}
		defer c.Close()
		return connRR(c, n)
	}
	ln, err := gvListen(p.B.S, 16)
	if err != nil {
		return Latency{}, err
	}
	defer ln.close()
	c, err := gvDial(p.A.S, p.B.Addr)
	if err != nil {
		return Latency{}, err
	}
	defer c.close()
	s, err := ln.accept()
	if err != nil {
		return Latency{}, err
	}
	go func() {
		defer s.close()
		buf := make([]byte, 2048)
		var r bytes.Reader
		for {
			k, err := s.readSome(buf)
			if err != nil || s.writeAll(buf[:k], &r) != nil {
				return
			}
		}
	}()
	req := []byte{'x'}
	buf := make([]byte, 2048)
	var r bytes.Reader
	return timeRR(n, func(i int) error {
		if err := c.writeAll(req, &r); err != nil {
			return err
		}
		if _, err := c.readSome(buf); err != nil {
			return fmt.Errorf("exchange %d: %w", i, err)
		}
		return nil
	})
}

func gvLinkDrops(p *GvPair) uint64 {
	return p.A.S.Stats().NICs.TxPacketsDroppedNoBufferSpace.Value() + p.B.S.Stats().NICs.TxPacketsDroppedNoBufferSpace.Value()
}

func gvRetransmits(p *GvPair) uint64 {
	return p.A.S.Stats().TCP.Retransmits.Value() + p.B.S.Stats().TCP.Retransmits.Value()
}
