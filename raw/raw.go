// Package raw implements raw IPv4 protocol control blocks, like lwIP's raw
// API and Linux's SOCK_RAW sockets.
//
// A PCB opened for an IP protocol number receives every datagram of that
// protocol the stack receives (also those a transport or ICMP handles:
// raw PCBs watch, they do not consume), as the whole IPv4 datagram with
// its header, as Linux delivers to IPv4 raw sockets. Binding to a local
// address keeps only datagrams to it; connecting to a remote keeps only
// datagrams from it. Protocol 255 (stack's "any") receives every datagram.
//
// SendTo builds the IPv4 header itself (stack.WriteIPv4), or, with
// SetHeaderIncluded(true) (Linux IP_HDRINCL), sends data that already
// starts with an IPv4 header (stack.WriteIPv4Raw: the stack fills a zero
// ID, checksum and total length). The payload is sent as given: for ICMP
// the caller computes the ICMP checksum, as on Linux.
//
// Nothing here is safe for concurrent use; like the stack, raw PCBs run
// under one lock or on one goroutine.
package raw

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/featherip/featherip/stack"
)

// Errors returned by PCB methods.
var (
	// ErrTooManyPCBs: Config.MaxPCBs PCBs exist already.
	ErrTooManyPCBs = errors.New("raw: too many pcbs")
	// ErrClosed: the PCB was closed.
	ErrClosed = errors.New("raw: pcb closed")
	// ErrAddrNotAvailable: Bind to an address that is not the stack's.
	ErrAddrNotAvailable = errors.New("raw: address not available")
	// ErrInvalid: a bad argument: a non-IPv4 or unspecified destination,
	// or header-included data that is not an IPv4 header.
	ErrInvalid = errors.New("raw: invalid argument")
	// ErrMessageTooLong: the datagram exceeds 65535 bytes or the path MTU
	// with DF set.
	ErrMessageTooLong = errors.New("raw: message too long")
	// ErrBufferFull: the stack's buffer pool is exhausted.
	ErrBufferFull = errors.New("raw: no buffer space")
)

// Config configures a Protocol. The zero value selects the defaults.
type Config struct {
	// MaxPCBs bounds the number of open PCBs. Default 16.
	MaxPCBs int
}

// DefaultMaxPCBs is the MaxPCBs used when Config.MaxPCBs is zero.
const DefaultMaxPCBs = 16

// Stats counts raw PCB activity.
type Stats struct {
	// InDelivers counts datagrams handed to a PCB's callback (once per PCB).
	InDelivers uint64
	// InDrops counts datagrams a matching PCB dropped for want of a
	// callback.
	InDrops uint64
	// OutRequests counts datagrams handed to IP; OutErrors sends IP or
	// the argument checks refused.
	OutRequests, OutErrors uint64
	// PCBs is the number of open PCBs.
	PCBs int
}

// Protocol holds the raw PCBs of one stack.
type Protocol struct {
	s        *stack.Stack
	cfg      Config
	pcbs     []*PCB
	handlers [256]*handler // one registered raw handler per protocol in use
	stats    Stats
	info     RecvInfo
	wo       stack.WriteOptions
	copyBuf  []byte // assembles header and payload when not contiguous
	scratch  []*PCB
	inDeliv  bool
}

// handler is the stack.RawHandler of one protocol number.
type handler struct {
	p          *Protocol
	proto      uint8
	refs       int  // open PCBs of proto
	registered bool // added to the stack
}

// New creates the raw PCB layer of s.
func New(s *stack.Stack, cfg Config) (*Protocol, error) {
	if s == nil {
		return nil, fmt.Errorf("raw: New needs a stack, got nil")
	}
	if cfg.MaxPCBs == 0 {
		cfg.MaxPCBs = DefaultMaxPCBs
	}
	if cfg.MaxPCBs < 0 {
		return nil, fmt.Errorf("raw: Config.MaxPCBs %d is negative; use 0 for the default %d", cfg.MaxPCBs, DefaultMaxPCBs)
	}
	return &Protocol{s: s, cfg: cfg, pcbs: make([]*PCB, 0, cfg.MaxPCBs), scratch: make([]*PCB, 0, cfg.MaxPCBs)}, nil
}

// Stats returns a snapshot of the counters.
func (p *Protocol) Stats() Stats {
	st := p.stats
	st.PCBs = len(p.pcbs)
	return st
}

// NewPCB opens a PCB for IP protocol proto (for example wire.ProtoICMP),
// or fails with ErrTooManyPCBs. A PCB for stack.ProtoAny (255) receives
// every protocol and, like Linux's IPPROTO_RAW, starts header-included.
func (p *Protocol) NewPCB(proto uint8) (*PCB, error) {
	if len(p.pcbs) >= p.cfg.MaxPCBs {
		return nil, ErrTooManyPCBs
	}
	h := p.handlers[proto]
	if h == nil {
		h = &handler{p: p, proto: proto}
		p.handlers[proto] = h
	}
	if !h.registered {
		p.s.AddRawHandler(proto, h)
		h.registered = true
	}
	h.refs++
	// Like Linux IPPROTO_RAW, protocol 255 sends header-included.
	c := &PCB{p: p, proto: proto, hdrIncl: proto == stack.ProtoAny}
	p.pcbs = append(p.pcbs, c)
	return c, nil
}

// RecvInfo describes a received datagram; valid only during OnRecv.
type RecvInfo struct {
	// Src and Dst are the IP header's addresses.
	Src, Dst netip.Addr
	// NIC is the interface the datagram arrived on.
	NIC stack.NIC
	// TTL is the IPv4 header's TTL or the IPv6 hop limit.
	TTL uint8
	// IPv6 is set for IPv6 packets: the datagram passed to OnRecv is then
	// the payload after the IPv6 header and its extension headers, as
	// Linux delivers to IPv6 raw sockets.
	IPv6 bool
}

// PCB is a raw IPv4 protocol control block for one protocol number.
type PCB struct {
	p       *Protocol
	proto   uint8
	local   netip.Addr // zero: any
	remote  netip.Addr // zero: any
	hdrIncl bool
	ttl     uint8
	closed  bool
	onRecv  func(c *PCB, datagram []byte, info *RecvInfo)
}

// Protocol returns the IP protocol number c was opened for.
func (c *PCB) Protocol() uint8 { return c.proto }

// Bind restricts c to datagrams addressed to local and makes local the
// source of datagrams c sends. An unspecified address undoes it. The
// address must be one of the stack's (ErrAddrNotAvailable).
func (c *PCB) Bind(local netip.Addr) error {
	if c.closed {
		return ErrClosed
	}
	if !local.IsValid() || local.IsUnspecified() {
		c.local = netip.Addr{}
		return nil
	}
	local = local.Unmap().WithZone("")
	if !c.p.s.IsLocal(local) {
		return ErrAddrNotAvailable
	}
	c.local = local
	return nil
}

// Connect restricts c to datagrams from remote. An unspecified address
// undoes it.
func (c *PCB) Connect(remote netip.Addr) error {
	if c.closed {
		return ErrClosed
	}
	if !remote.IsValid() || remote.IsUnspecified() {
		c.remote = netip.Addr{}
		return nil
	}
	c.remote = remote.Unmap().WithZone("")
	return nil
}

// SetHeaderIncluded sets whether data given to SendTo starts with the
// IPv4 header (Linux IP_HDRINCL).
func (c *PCB) SetHeaderIncluded(on bool) { c.hdrIncl = on }

// SetTTL sets the TTL of datagrams whose header the stack builds (0: the
// stack's default).
func (c *PCB) SetTTL(ttl uint8) { c.ttl = ttl }

// OnRecv sets the receive callback. datagram is the whole IPv4 datagram,
// header included, or for IPv6 the payload without the IPv6 header (see
// RecvInfo.IPv6); it and info are valid only during the call.
func (c *PCB) OnRecv(fn func(c *PCB, datagram []byte, info *RecvInfo)) { c.onRecv = fn }

// Close releases c. It may be called from within OnRecv and more than once.
func (c *PCB) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.onRecv = nil
	p := c.p
	for i, x := range p.pcbs {
		if x == c {
			copy(p.pcbs[i:], p.pcbs[i+1:])
			p.pcbs[len(p.pcbs)-1] = nil
			p.pcbs = p.pcbs[:len(p.pcbs)-1]
			break
		}
	}
	if h := p.handlers[c.proto]; h != nil {
		h.refs--
		if !p.inDeliv {
			p.unregisterIdle()
		} // else DeliverRaw does it when the stack is no longer iterating
	}
}

// unregisterIdle removes the stack handlers of protocols without PCBs.
func (p *Protocol) unregisterIdle() {
	for _, h := range p.handlers {
		if h != nil && h.registered && h.refs == 0 {
			p.s.RemoveRawHandler(h.proto, h)
			h.registered = false
		}
	}
}
