package bench

import (
	"context"
	"fmt"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// MACs of the gVisor pair, the same as the featherip pipe's defaults.
const (
	gvMACA = tcpip.LinkAddress("\x02\x00\x00\x00\x00\x01")
	gvMACB = tcpip.LinkAddress("\x02\x00\x00\x00\x00\x02")
)

// gvNIC is the NIC id of the one interface of each gVisor stack.
const gvNIC tcpip.NICID = 1

// GvHost is one gVisor host of a pair.
type GvHost struct {
	S    *stack.Stack      // the stack
	Ch   *channel.Endpoint // the link endpoint under the Ethernet wrapper
	Addr tcpip.Address     // the host's address
	GRO  *gro.GRO          // receive coalescing (GvOptions.GRO), nil without
}

// GvPair is two gVisor stacks, each on a channel link endpoint wrapped in
// gVisor's Ethernet endpoint (so frames carry Ethernet headers, as on the
// featherip pipe), with ipv4, arp, udp, tcp and icmp. Frames move either by
// Pump on the caller's goroutine (for the UDP and ICMP figures, like the
// featherip pair) or by two forwarding goroutines started with Start (TCP,
// whose gVisor implementation runs its own goroutines anyway).
type GvPair struct {
	A, B *GvHost // 10.0.0.1 and 10.0.0.2

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// GvOptions chooses the protocols of a gVisor stack.
type GvOptions struct {
	// Minimal leaves out the ICMP transport (gVisor's ping endpoints), for
	// the minimal stack of the heap figure: ipv4 (which answers echo
	// requests itself), arp, udp and tcp, as featherip's minimal stack has
	// no raw or ping sockets.
	Minimal bool
	// Queue is the channel endpoint's outbound queue length (default 1024).
	Queue int
	// GRO puts gVisor's software receive coalescing (package gro, what its
	// fdbased endpoint runs with its GRO option) between the Ethernet
	// endpoint and the NIC: the forwarding goroutine of Start feeds it and
	// flushes it whenever the link's queue is empty. The net.Conn rows use
	// it, as featherip's shell coalesces received segments too.
	GRO bool
}

// gvGRODispatcher hands what gVisor's Ethernet endpoint delivers to a GRO
// instance, which passes it on to the NIC as it flushes.
type gvGRODispatcher struct{ g *gro.GRO }

func (d gvGRODispatcher) DeliverNetworkPacket(proto tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	pkt.NetworkProtocolNumber = proto
	d.g.Enqueue(pkt)
}

func (d gvGRODispatcher) DeliverLinkPacket(proto tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	d.g.Dispatcher.DeliverLinkPacket(proto, pkt)
}

// gvGROLink is gVisor's Ethernet endpoint with a GRO instance between it
// and the NIC it is attached to.
type gvGROLink struct {
	*ethernet.Endpoint
	g *gro.GRO
}

func (l gvGROLink) Attach(d stack.NetworkDispatcher) {
	if d == nil {
		l.Endpoint.Attach(nil)
		return
	}
	l.g.Dispatcher = d
	l.Endpoint.Attach(gvGRODispatcher{l.g})
}

func gvStackOptions(o GvOptions) stack.Options {
	tp := []stack.TransportProtocolFactory{udp.NewProtocol, tcp.NewProtocol}
	if !o.Minimal {
		tp = append(tp, icmp.NewProtocol4)
	}
	return stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: tp,
	}
}

// NewGvHost builds one gVisor host at the given IP MTU.
func NewGvHost(mtu int, mac tcpip.LinkAddress, addr [4]byte, o GvOptions) (*GvHost, error) {
	if o.Queue == 0 {
		o.Queue = 1024
	}
	return newGvHostOn(channel.New(o.Queue, uint32(mtu+14), mac), addr, o)
}

// newGvHostOn builds one gVisor host on the channel endpoint ch (o.Queue
// is not used).
func newGvHostOn(ch *channel.Endpoint, addr [4]byte, o GvOptions) (*GvHost, error) {
	s := stack.New(gvStackOptions(o))
	var link stack.LinkEndpoint = ethernet.New(ch)
	var g *gro.GRO
	if o.GRO {
		g = new(gro.GRO)
		g.Init(true)
		link = gvGROLink{link.(*ethernet.Endpoint), g}
	}
	if err := s.CreateNIC(gvNIC, link); err != nil {
		return nil, fmt.Errorf("gVisor CreateNIC: %s", err)
	}
	a := tcpip.AddrFrom4(addr)
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: a, PrefixLen: prefixLen}}
	if err := s.AddProtocolAddress(gvNIC, pa, stack.AddressProperties{}); err != nil {
		return nil, fmt.Errorf("gVisor AddProtocolAddress: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: pa.AddressWithPrefix.Subnet(), NIC: gvNIC}})
	return &GvHost{S: s, Ch: ch, Addr: a, GRO: g}, nil
}

// NewGvPair builds a gVisor pair at the given IP MTU with static neighbor
// entries.
func NewGvPair(mtu int) (*GvPair, error) { return NewGvPairOpts(mtu, GvOptions{}) }

// NewGvPairOpts is NewGvPair with options.
func NewGvPairOpts(mtu int, o GvOptions) (*GvPair, error) {
	a, err := NewGvHost(mtu, gvMACA, AddrA.As4(), o)
	if err != nil {
		return nil, err
	}
	b, err := NewGvHost(mtu, gvMACB, AddrB.As4(), o)
	if err != nil {
		return nil, err
	}
	if err := a.S.AddStaticNeighbor(gvNIC, ipv4.ProtocolNumber, b.Addr, gvMACB); err != nil {
		return nil, fmt.Errorf("gVisor AddStaticNeighbor: %s", err)
	}
	if err := b.S.AddStaticNeighbor(gvNIC, ipv4.ProtocolNumber, a.Addr, gvMACA); err != nil {
		return nil, fmt.Errorf("gVisor AddStaticNeighbor: %s", err)
	}
	return &GvPair{A: a, B: b}, nil
}

// gvForward hands one outbound frame of a channel endpoint to the peer as
// an inbound frame (the Ethernet endpoint parses the link header), like a
// cable. The frame's bytes are shared, not copied, as the Buffer is
// reference counted.
func gvForward(pkt *stack.PacketBuffer, to *channel.Endpoint) {
	buf := pkt.ToBuffer()
	pkt.DecRef()
	np := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buf})
	to.InjectInbound(0, np)
	np.DecRef()
}

// Pump moves queued frames in both directions until both queues are empty,
// and returns how many it moved. Use it only when Start was not called.
func (p *GvPair) Pump() int {
	moved := 0
	for {
		progress := false
		for pkt := p.A.Ch.Read(); pkt != nil; pkt = p.A.Ch.Read() {
			gvForward(pkt, p.B.Ch)
			moved++
			progress = true
		}
		for pkt := p.B.Ch.Read(); pkt != nil; pkt = p.B.Ch.Read() {
			gvForward(pkt, p.A.Ch)
			moved++
			progress = true
		}
		if !progress {
			return moved
		}
	}
}

// Start runs one forwarding goroutine per direction until Close.
func (p *GvPair) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	fwd := func(from, to *GvHost) {
		defer p.wg.Done()
		for {
			pkt := from.Ch.ReadContext(ctx)
			if pkt == nil {
				return
			}
			gvForward(pkt, to.Ch)
			if to.GRO != nil && from.Ch.NumQueued() == 0 {
				to.GRO.Flush() // the end of a burst, as a NAPI poll ends
			}
		}
	}
	p.wg.Add(2)
	go fwd(p.A, p.B)
	go fwd(p.B, p.A)
}

// Close stops the forwarders and destroys both stacks.
func (p *GvPair) Close() {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
	}
	for _, h := range []*GvHost{p.A, p.B} {
		h.S.Close()
		h.S.Wait()
		h.Ch.Close()
	}
}
