package bench

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	gudp "gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// The minimal stack of the heap figure (the issue's "heap of a minimal
// stack (IPv4, ARP, UDP, TCP, 4 connections with 4 KiB windows) from New to
// serving"), built the same way on both sides:
//
//   - Two hosts, 10.0.0.1 and 10.0.0.2, each a stack made with New that has
//     IPv4 (answering echo requests), ARP, UDP and TCP and nothing else,
//     one Ethernet interface with its address, and a UDP endpoint bound to
//     port 7.
//   - Every TCP send and receive buffer is 4 KiB, so every window is at
//     most 4 KiB (featherip: tcp.Config SendBuffer and RecvBuffer; gVisor:
//     the TCP send and receive buffer size range options, 4 KiB minimum,
//     default and maximum, so no auto-tuning either).
//   - The second host listens on tcpPort; the first opens minConns
//     connections to it. ARP is dynamic (no static neighbor entries), so
//     both neighbor caches are filled by a real exchange.
//   - The hosts are joined by an in-memory Ethernet link pumped on the
//     caller's goroutine until both sides have every connection
//     established (and accepted) and no frame is in flight: "serving".
//
// The heap counts everything made from the first New on: stacks,
// interfaces, protocols, the UDP endpoints, the listener and both ends of
// every connection, and the harness's own small per-connection state
// (featherip's callbacks, gVisor's waiter queues). It does not count the
// links: they are made, and their frame buffers filled once, before the
// measurement starts, so that neither side pays for its link harness. The
// figure is per stack: one pair divided by two, so each stack stands for
// four connection ends (the client's four, or the listener and the
// server's four).

// minConns is the number of TCP connections of the minimal stack.
const minConns = 4

// minBuffer is the send and receive buffer (and so the window) of every
// connection of the minimal stack.
const minBuffer = 4 << 10

// minQueue is the frame queue of each direction of the minimal stack's
// links: more than the frames one pump round can leave queued.
const minQueue = 16

// HeapResult is what building stacks cost: heap bytes (HeapAlloc after a
// forced GC, after minus before, divided by the count) and goroutines
// started, per stack.
type HeapResult struct {
	BytesPerStack      float64
	GoroutinesPerStack float64
}

// measureHeap prepares units things with prepare (not measured), then
// builds one from each with build, keeping them alive, and reports the
// heap and goroutines the builds cost per stack, a unit holding
// stacksPerUnit stacks.
func measureHeap[P any](units, stacksPerUnit int, prepare func() (P, error), build func(P) (any, error)) (HeapResult, error) {
	preps := make([]P, units)
	for i := range preps {
		p, err := prepare()
		if err != nil {
			return HeapResult{}, err
		}
		preps[i] = p
	}
	keep := make([]any, units)
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	for i := range keep {
		x, err := build(preps[i])
		if err != nil {
			return HeapResult{}, err
		}
		keep[i] = x
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	runtime.KeepAlive(keep)
	runtime.KeepAlive(preps)
	n := float64(units * stacksPerUnit)
	return HeapResult{
		BytesPerStack:      float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n,
		GoroutinesPerStack: float64(g1-g0) / n,
	}, nil
}

// fipMinLink is the featherip pair's link, made before the measurement:
// a pipe whose queue slots have all carried a frame (frameq allocates a
// slot's buffer on its first use), and the pump's buffer.
type fipMinLink struct {
	a, b *pipe.End
	buf  []byte
}

func newFipMinLink() (fipMinLink, error) {
	a, b := pipe.New(pipe.Config{MTU: 1500, Clock: zeroClock{}, QueueLen: minQueue})
	l := fipMinLink{a: a, b: b, buf: make([]byte, link.MaxFrameLen(link.Ethernet, 1500))}
	for _, e := range []*pipe.End{a, b} {
		for range minQueue {
			if err := e.Send(l.buf[:60]); err != nil {
				return l, err
			}
		}
	}
	for _, e := range []*pipe.End{a, b} {
		for {
			if _, ok := e.TryReceive(l.buf); !ok {
				break
			}
		}
	}
	return l, nil
}

// newFipMinHost builds one featherip host of the minimal stack on end.
func newFipMinHost(clock link.Clock, end *pipe.End, addr netip.Addr, seed uint64) (*FipHost, *tcp.Protocol, *udp.PCB, error) {
	s, err := stack.New(fipStackConfig(clock, seed))
	if err != nil {
		return nil, nil, nil, err
	}
	nic, err := s.AddInterface(stack.InterfaceConfig{Name: "eth0", Link: end, Kind: stack.LinkEthernet, MTU: end.MTU(), MAC: wire.MAC(end.HardwareAddr())})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.SetUp(nic, true); err != nil {
		return nil, nil, nil, err
	}
	if err := s.AddAddress(nic, netip.PrefixFrom(addr, prefixLen)); err != nil {
		return nil, nil, nil, err
	}
	u, err := udp.New(s, udp.Config{})
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := tcp.New(s, tcp.Config{SendBuffer: minBuffer, RecvBuffer: minBuffer})
	if err != nil {
		return nil, nil, nil, err
	}
	pcb, err := u.NewPCB()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := pcb.Bind(netip.AddrPortFrom(netip.Addr{}, 7)); err != nil {
		return nil, nil, nil, err
	}
	pcb.OnRecv(func(c *udp.PCB, d []byte, info *udp.RecvInfo) { c.SendTo(d, info.Src) })
	return &FipHost{S: s, UDP: u, NIC: nic, End: end}, t, pcb, nil
}

// FipMinimalStack builds n/2 pairs of minimal featherip stacks (see the
// comment above minConns) with the core API (stack.New, tcp and udp PCBs
// with callbacks), pumped on the caller's goroutine, and reports the heap
// and goroutines per stack.
func FipMinimalStack(n int) (HeapResult, error) {
	clock := link.MonotonicClock()
	return measureHeap(pairsFor(n), 2, newFipMinLink, func(l fipMinLink) (any, error) {
		a, ta, ua, err := newFipMinHost(clock, l.a, AddrA, 1)
		if err != nil {
			return nil, err
		}
		b, tb, ub, err := newFipMinHost(clock, l.b, AddrB, 2)
		if err != nil {
			return nil, err
		}
		p := &FipPair{A: a, B: b, buf: l.buf}
		srv := make([]*tcp.PCB, 0, minConns)
		ln, err := tb.NewPCB()
		if err != nil {
			return nil, err
		}
		ln.OnAccept(func(_, c *tcp.PCB) { srv = append(srv, c) })
		if err := ln.Listen(netip.AddrPortFrom(netip.Addr{}, tcpPort), minConns); err != nil {
			return nil, err
		}
		cli := make([]*tcp.PCB, minConns)
		connected, failed := 0, error(nil)
		onConnected := func(_ *tcp.PCB, err error) {
			connected++
			if err != nil && failed == nil {
				failed = err
			}
		}
		for i := range cli {
			c, err := ta.NewPCB()
			if err != nil {
				return nil, err
			}
			c.OnConnected(onConnected)
			if err := c.Connect(netip.AddrPortFrom(AddrB, tcpPort)); err != nil {
				return nil, err
			}
			cli[i] = c
		}
		if err := p.pumpUntil(func() bool { return connected == minConns && len(srv) == minConns }); err != nil {
			return nil, err
		}
		p.Pump()
		if failed != nil {
			return nil, fmt.Errorf("featherip connect: %w", failed)
		}
		if a, b := ta.Stats().CurrEstab, tb.Stats().CurrEstab; a != minConns || b != minConns {
			return nil, fmt.Errorf("featherip: %d and %d of %d connections established", a, b, minConns)
		}
		for _, c := range append(cli, srv...) {
			if f := c.SendBufferFree(); f != minBuffer {
				return nil, fmt.Errorf("featherip: a connection has a %d-byte send buffer, want %d", f, minBuffer)
			}
		}
		return []any{p, ta, tb, ua, ub, ln, cli, srv}, nil
	})
}

// pairsFor is the number of pairs that make n stacks (at least one).
func pairsFor(n int) int { return max(1, n/2) }

// gvMinHost is one gVisor host of the minimal stack with what the
// harness holds of it.
type gvMinHost struct {
	h   *GvHost
	udp tcpip.Endpoint
	wq  *waiter.Queue
}

// newGvMinHost builds one gVisor host of the minimal stack on ch.
func newGvMinHost(ch *channel.Endpoint, addr [4]byte) (*gvMinHost, error) {
	h, err := newGvHostOn(ch, addr, GvOptions{Minimal: true})
	if err != nil {
		return nil, err
	}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: minBuffer, Default: minBuffer, Max: minBuffer}
	if e := h.S.SetTransportProtocolOption(gtcp.ProtocolNumber, &snd); e != nil {
		return nil, tcpErr("send buffer option", e)
	}
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: minBuffer, Default: minBuffer, Max: minBuffer}
	if e := h.S.SetTransportProtocolOption(gtcp.ProtocolNumber, &rcv); e != nil {
		return nil, tcpErr("receive buffer option", e)
	}
	wq := new(waiter.Queue)
	ep, e := h.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if e != nil {
		return nil, errors.New(e.String())
	}
	if e := ep.Bind(tcpip.FullAddress{Port: 7}); e != nil {
		return nil, errors.New(e.String())
	}
	return &gvMinHost{h: h, udp: ep, wq: wq}, nil
}

// gvMinLink is the gVisor pair's link, made before the measurement: two
// channel endpoints (their queues are Go channels of packet pointers, made
// whole by channel.New).
type gvMinLink struct{ a, b *channel.Endpoint }

// GvMinimalStack is FipMinimalStack for gVisor: stack.New with ipv4, arp,
// udp and tcp, gVisor's Ethernet endpoint over a channel endpoint, its
// endpoint API (gVisor's lowest socket API), the link pumped on the
// caller's goroutine while gVisor's TCP processor goroutines do their
// part.
func GvMinimalStack(n int) (HeapResult, error) {
	cleanup := make([]func(), 0, pairsFor(n))
	defer func() {
		for _, f := range cleanup {
			f()
		}
	}()
	prepare := func() (gvMinLink, error) {
		return gvMinLink{channel.New(minQueue, 1514, gvMACA), channel.New(minQueue, 1514, gvMACB)}, nil
	}
	return measureHeap(pairsFor(n), 2, prepare, func(l gvMinLink) (any, error) {
		a, err := newGvMinHost(l.a, AddrA.As4())
		if err != nil {
			return nil, err
		}
		b, err := newGvMinHost(l.b, AddrB.As4())
		if err != nil {
			return nil, err
		}
		var eps []tcpip.Endpoint
		cleanup = append(cleanup, func() {
			for _, ep := range eps {
				ep.Close()
			}
			for _, h := range []*gvMinHost{a, b} {
				h.udp.Close()
				h.h.S.Close()
				h.h.S.Wait()
			}
		})
		p := &GvPair{A: a.h, B: b.h}
		lwq := new(waiter.Queue)
		ln, e := b.h.S.NewEndpoint(gtcp.ProtocolNumber, ipv4.ProtocolNumber, lwq)
		if e != nil {
			return nil, tcpErr("NewEndpoint", e)
		}
		eps = append(eps, ln)
		if e := ln.Bind(tcpip.FullAddress{Port: tcpPort}); e != nil {
			return nil, tcpErr("Bind", e)
		}
		if e := ln.Listen(minConns); e != nil {
			return nil, tcpErr("Listen", e)
		}
		cli := make([]tcpip.Endpoint, minConns)
		wqs := make([]*waiter.Queue, 0, 2*minConns)
		for i := range cli {
			wq := new(waiter.Queue)
			ep, e := a.h.S.NewEndpoint(gtcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
			if e != nil {
				return nil, tcpErr("NewEndpoint", e)
			}
			eps = append(eps, ep)
			if e := ep.Connect(tcpip.FullAddress{Addr: b.h.Addr, Port: tcpPort}); e != nil {
				if _, ok := e.(*tcpip.ErrConnectStarted); !ok {
					return nil, tcpErr("Connect", e)
				}
			}
			cli[i], wqs = ep, append(wqs, wq)
		}
		srv := make([]tcpip.Endpoint, 0, minConns)
		established := func() bool {
			for _, c := range cli {
				if gtcp.EndpointState(c.State()) != gtcp.StateEstablished {
					return false
				}
			}
			return true
		}
		deadline := time.Now().Add(time.Minute)
		for len(srv) < minConns || !established() {
			moved := p.Pump()
			for len(srv) < minConns {
				ep, wq, e := ln.Accept(nil)
				if e != nil {
					break
				}
				eps = append(eps, ep)
				srv, wqs = append(srv, ep), append(wqs, wq)
			}
			if moved == 0 {
				if time.Now().After(deadline) {
					return nil, fmt.Errorf("gVisor: %d of %d connections accepted within a minute", len(srv), minConns)
				}
				runtime.Gosched()
			}
		}
		// gVisor's processors finish their work asynchronously: pump
		// until nothing moves for a moment.
		for quiet := 0; quiet < 100; quiet++ {
			if p.Pump() > 0 {
				quiet = 0
			}
			runtime.Gosched()
		}
		for _, s := range []*GvHost{a.h, b.h} {
			if got := s.S.Stats().TCP.CurrentEstablished.Value(); got != minConns {
				return nil, fmt.Errorf("gVisor: %d of %d connections established", got, minConns)
			}
		}
		for _, ep := range eps {
			o := ep.SocketOptions()
			if s, r := o.GetSendBufferSize(), o.GetReceiveBufferSize(); s != minBuffer || r != minBuffer {
				return nil, fmt.Errorf("gVisor: an endpoint has %d-byte send and %d-byte receive buffers, want %d", s, r, minBuffer)
			}
		}
		return []any{a, b, ln, lwq, cli, srv, wqs}, nil
	})
}
