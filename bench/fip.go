package bench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// Addresses of the two hosts of every pair (test addresses on an in-memory
// link; nothing here touches a real interface).
var (
	AddrA = netip.MustParseAddr("10.0.0.1")
	AddrB = netip.MustParseAddr("10.0.0.2")
)

const prefixLen = 24

// FipHost is one featherip host of a pair: the core stack with its UDP and
// raw protocols on one end of a pipe.
type FipHost struct {
	S   *stack.Stack  // the core
	UDP *udp.Protocol // its UDP layer
	Raw *raw.Protocol // its raw IP layer
	NIC stack.NIC     // the pipe interface
	End *pipe.End     // this host's end of the pipe
}

// FipPair is two featherip stacks joined by an in-memory Ethernet pipe and
// pumped by the caller's goroutine: Pump moves every queued frame into the
// other stack's Input until both directions are idle, then runs Poll.
type FipPair struct {
	A, B *FipHost // 10.0.0.1 and 10.0.0.2
	buf  []byte
}

// NewFipPair builds a pair at the given IP MTU (e.g. 1500 or 65535). Each
// stack has a static neighbor entry for the other, and gratuitous ARP is
// off, so only the measured traffic crosses the pipe.
func NewFipPair(mtu int) (*FipPair, error) {
	clock := link.MonotonicClock()
	// The pipe has no delay, so its frames are due at once: it gets a
	// clock that always reads 0 and so costs nothing to read (gVisor's
	// channel endpoint reads no clock either). The stacks read the real
	// monotonic clock, as gVisor's do.
	ea, eb := pipe.New(pipe.Config{MTU: mtu, Clock: zeroClock{}, QueueLen: 1024})
	a, err := newFipHost(clock, ea, AddrA, 1)
	if err != nil {
		return nil, err
	}
	b, err := newFipHost(clock, eb, AddrB, 2)
	if err != nil {
		return nil, err
	}
	if err := a.S.AddStaticNeighbor(a.NIC, AddrB, wire.MAC(eb.HardwareAddr())); err != nil {
		return nil, err
	}
	if err := b.S.AddStaticNeighbor(b.NIC, AddrA, wire.MAC(ea.HardwareAddr())); err != nil {
		return nil, err
	}
	p := &FipPair{A: a, B: b, buf: make([]byte, link.MaxFrameLen(link.Ethernet, mtu))}
	p.Pump()
	return p, nil
}

// fipStackConfig is the configuration both the pair and the heap figure use.
func fipStackConfig(clock stack.Clock, seed uint64) stack.Config {
	return stack.Config{
		Clock: clock,
		Rand:  rand.NewPCG(seed, seed+1),
		ARP:   stack.ARPConfig{Announcements: -1},
	}
}

func newFipHost(clock link.Clock, end *pipe.End, addr netip.Addr, seed uint64) (*FipHost, error) {
	s, err := stack.New(fipStackConfig(clock, seed))
	if err != nil {
		return nil, err
	}
	nic, err := s.AddInterface(stack.InterfaceConfig{
		Name: "eth0", Link: end, Kind: stack.LinkEthernet, MTU: end.MTU(), MAC: wire.MAC(end.HardwareAddr()),
	})
	if err != nil {
		return nil, fmt.Errorf("featherip AddInterface: %w", err)
	}
	if err := s.SetUp(nic, true); err != nil {
		return nil, err
	}
	if err := s.AddAddress(nic, netip.PrefixFrom(addr, prefixLen)); err != nil {
		return nil, err
	}
	u, err := udp.New(s, udp.Config{})
	if err != nil {
		return nil, err
	}
	r, err := raw.New(s, raw.Config{})
	if err != nil {
		return nil, err
	}
	return &FipHost{S: s, UDP: u, Raw: r, NIC: nic, End: end}, nil
}

// zeroClock always reads 0.
type zeroClock struct{}

func (zeroClock) Now() time.Duration { return 0 }

// Pump delivers queued frames in both directions, in input batches as a
// link reader does (drain), until neither pipe end has a frame due, then, like an event loop driven by NextDeadline (the root
// package's shell does the same), runs Poll on a stack whose deadline has
// come, and repeats while that produced frames. It returns the number of
// frames delivered.
func (p *FipPair) Pump() int {
	moved := 0
	for {
		progress := false
		for _, h := range []*FipHost{p.B, p.A} {
			n := p.drain(h)
			moved += n
			progress = progress || n > 0
		}
		if !progress {
			for _, h := range []*FipHost{p.A, p.B} {
				if d, ok := h.S.NextDeadline(); ok && d <= h.S.Now() {
					h.S.Poll()
				}
			}
			if _, ok := p.A.End.NextDue(); ok {
				continue
			}
			if _, ok := p.B.End.NextDue(); ok {
				continue
			}
			return moved
		}
	}
}

// pumpBatch is how many frames the pump hands a stack in one input batch,
// as the root package's link reader does (its rxBatch).
const pumpBatch = 16

// drain moves every frame queued for h into its stack, in input batches of
// up to pumpBatch frames (stack.BeginBatch), and returns how many.
func (p *FipPair) drain(h *FipHost) int {
	moved := 0
	for {
		h.S.BeginBatch()
		k := 0
		for ; k < pumpBatch; k++ {
			n, ok := h.End.TryReceive(p.buf)
			if !ok {
				break
			}
			h.S.Input(h.NIC, p.buf[:n])
		}
		h.S.EndBatch()
		moved += k
		if k < pumpBatch {
			return moved
		}
	}
}

// Close releases the pipe.
func (p *FipPair) Close() {
	p.A.End.Close()
	p.B.End.Close()
}
