package bench

import (
	"errors"
	"net/netip"
	"runtime"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gudp "gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// HeapResult is what building stacks cost: heap bytes (HeapAlloc after a
// forced GC, after minus before, divided by the count) and goroutines
// started, per stack.
type HeapResult struct {
	BytesPerStack      float64
	GoroutinesPerStack float64
}

// measureHeap builds n things with build, keeping them alive, and reports
// the heap and goroutines they cost each.
func measureHeap(n int, build func() (any, error)) (HeapResult, error) {
	keep := make([]any, n)
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	for i := range keep {
		x, err := build()
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
	return HeapResult{
		BytesPerStack:      float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n),
		GoroutinesPerStack: float64(g1-g0) / float64(n),
	}, nil
}

// nullLink discards frames: the heap figure measures the stack, not a link.
type nullLink struct{}

func (nullLink) Send([]byte) error { return nil }

// FipMinimalStack builds n minimal featherip hosts ready to serve: a core
// stack with its default configuration, one Ethernet interface (on a link
// that discards frames) with an address, the UDP and raw protocols, and a
// UDP PCB bound to port 7 with a receive callback. ICMP echo is built in.
func FipMinimalStack(n int) (HeapResult, error) {
	clock := link.MonotonicClock()
	return measureHeap(n, func() (any, error) {
		s, err := stack.New(fipStackConfig(clock, 1))
		if err != nil {
			return nil, err
		}
		nic, err := s.AddInterface(stack.InterfaceConfig{Name: "eth0", Link: nullLink{}, Kind: stack.LinkEthernet, MTU: 1500, MAC: wire.MAC{2, 0, 0, 0, 0, 1}})
		if err != nil {
			return nil, err
		}
		if err := s.SetUp(nic, true); err != nil {
			return nil, err
		}
		if err := s.AddAddress(nic, netip.PrefixFrom(AddrA, prefixLen)); err != nil {
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
		pcb, err := u.NewPCB()
		if err != nil {
			return nil, err
		}
		if err := pcb.Bind(netip.AddrPortFrom(netip.Addr{}, 7)); err != nil {
			return nil, err
		}
		pcb.OnRecv(func(c *udp.PCB, d []byte, info *udp.RecvInfo) { c.SendTo(d, info.Src) })
		return []any{s, u, r, pcb}, nil
	})
}

// GvMinimalStack builds n minimal gVisor hosts ready to serve: a stack with
// ipv4, arp, udp and icmp (no tcp, as featherip's minimal host has none),
// one NIC (gVisor's Ethernet endpoint over a channel endpoint with a
// one-frame queue) with an address and its route, and a UDP endpoint bound
// to port 7.
func GvMinimalStack(n int) (HeapResult, error) {
	var hosts []*GvHost
	defer func() {
		for _, h := range hosts {
			h.S.Close()
			h.S.Wait()
		}
	}()
	return measureHeap(n, func() (any, error) {
		h, err := NewGvHost(1500, gvMACA, AddrA.As4(), GvOptions{NoTCP: true, Queue: 1})
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
		var wq waiter.Queue
		ep, terr := h.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
		if terr != nil {
			return nil, errors.New(terr.String())
		}
		if terr := ep.Bind(tcpip.FullAddress{Port: 7}); terr != nil {
			return nil, errors.New(terr.String())
		}
		return []any{h, ep, &wq}, nil
	})
}
