package udp

import (
	"fmt"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// Config configures a Protocol. The zero value selects the defaults.
type Config struct {
	// MaxPCBs bounds the number of open PCBs, UDP and UDP-Lite together.
	// Default 64.
	MaxPCBs int
	// EphemeralLow and EphemeralHigh give the range random ephemeral ports
	// are drawn from, inclusive. Default 49152..65535 (IANA, RFC 6335).
	EphemeralLow, EphemeralHigh uint16
}

// Default configuration values.
const (
	DefaultMaxPCBs       = 64
	DefaultEphemeralLow  = 49152
	DefaultEphemeralHigh = 65535
)

// Counters are the MIB-2 UDP group counters (RFC 4113) plus Linux's
// extensions, for one of UDP and UDP-Lite.
type Counters struct {
	// InDatagrams counts datagrams delivered to a PCB's callback
	// (udpInDatagrams; a multicast datagram counts once per PCB).
	InDatagrams uint64
	// NoPorts counts unicast datagrams for a port nobody is bound to
	// (udpNoPorts).
	NoPorts uint64
	// InErrors counts datagrams dropped for other reasons: malformed,
	// bad checksum, or no receive callback (udpInErrors).
	InErrors uint64
	// OutDatagrams counts datagrams handed to IP (udpOutDatagrams).
	OutDatagrams uint64
	// RcvbufErrors counts datagrams dropped because the PCB had no
	// receive callback (our receive "buffer"); also counted in InErrors.
	RcvbufErrors uint64
	// SndbufErrors counts sends that failed for want of a packet buffer.
	SndbufErrors uint64
	// InCsumErrors counts datagrams dropped for a bad checksum; also
	// counted in InErrors.
	InCsumErrors uint64
	// IgnoredMulti counts broadcast and multicast datagrams no PCB wanted
	// (they are not NoPorts and get no ICMP error).
	IgnoredMulti uint64
	// OutErrors counts sends IP refused (no route, too long, ...).
	OutErrors uint64
}

// Stats is a snapshot of a Protocol's counters. The embedded Counters are
// those of UDP; Lite holds UDP-Lite's.
type Stats struct {
	// Counters count UDP (IP protocol 17).
	Counters
	// Lite counts UDP-Lite (IP protocol 136).
	Lite Counters
	// PCBs is the number of open PCBs.
	PCBs int
}

// Protocol is the UDP and UDP-Lite layer of one stack: it owns the PCBs,
// the port tables and the counters.
type Protocol struct {
	s   *stack.Stack
	cfg Config

	pcbs  []*PCB // open PCBs, in creation order (cap MaxPCBs)
	open  int
	stats [2]Counters // 0: UDP, 1: UDP-Lite

	info    RecvInfo           // reused for every callback
	wo      stack.WriteOptions // reused for every send
	scratch []*PCB             // multicast delivery list (cap MaxPCBs)
	inMulti bool               // scratch in use (reentrancy guard)
}

// New creates the UDP layer of s and registers it for wire.ProtoUDP and
// wire.ProtoUDPLite.
func New(s *stack.Stack, cfg Config) (*Protocol, error) {
	if s == nil {
		return nil, fmt.Errorf("udp: New needs a stack, got nil")
	}
	if cfg.MaxPCBs == 0 {
		cfg.MaxPCBs = DefaultMaxPCBs
	}
	if cfg.MaxPCBs < 0 {
		return nil, fmt.Errorf("udp: Config.MaxPCBs %d is negative; use 0 for the default %d", cfg.MaxPCBs, DefaultMaxPCBs)
	}
	if cfg.EphemeralLow == 0 && cfg.EphemeralHigh == 0 {
		cfg.EphemeralLow, cfg.EphemeralHigh = DefaultEphemeralLow, DefaultEphemeralHigh
	}
	if cfg.EphemeralLow == 0 || cfg.EphemeralHigh < cfg.EphemeralLow {
		return nil, fmt.Errorf("udp: Config.EphemeralLow..EphemeralHigh %d..%d is not a range of nonzero ports; set both (or neither for %d..%d)",
			cfg.EphemeralLow, cfg.EphemeralHigh, DefaultEphemeralLow, DefaultEphemeralHigh)
	}
	p := &Protocol{
		s:       s,
		cfg:     cfg,
		pcbs:    make([]*PCB, 0, cfg.MaxPCBs),
		scratch: make([]*PCB, 0, cfg.MaxPCBs),
	}
	if err := s.RegisterTransport(wire.ProtoUDP, p); err != nil {
		return nil, fmt.Errorf("udp: registering protocol %d: %w", wire.ProtoUDP, err)
	}
	if err := s.RegisterTransport(wire.ProtoUDPLite, p); err != nil {
		return nil, fmt.Errorf("udp: registering protocol %d: %w", wire.ProtoUDPLite, err)
	}
	return p, nil
}

// Stats returns a snapshot of the counters.
func (p *Protocol) Stats() Stats {
	return Stats{Counters: p.stats[0], Lite: p.stats[1], PCBs: p.open}
}

// NewPCB creates an unbound UDP PCB, or fails with ErrTooManyPCBs.
func (p *Protocol) NewPCB() (*PCB, error) { return p.newPCB(false) }

// NewLitePCB creates an unbound UDP-Lite PCB (RFC 3828), or fails with
// ErrTooManyPCBs. Its checksum covers the whole datagram until
// SetChecksumCoverage says otherwise.
func (p *Protocol) NewLitePCB() (*PCB, error) { return p.newPCB(true) }

func (p *Protocol) newPCB(lite bool) (*PCB, error) {
	if p.open >= p.cfg.MaxPCBs {
		return nil, ErrTooManyPCBs
	}
	c := &PCB{p: p, lite: lite, mcastTTL: 1, mcastLoop: true, checksum: true}
	p.pcbs = append(p.pcbs, c)
	p.open++
	return c, nil
}

// remove takes c out of the table.
func (p *Protocol) remove(c *PCB) {
	for i, x := range p.pcbs {
		if x == c {
			copy(p.pcbs[i:], p.pcbs[i+1:])
			p.pcbs[len(p.pcbs)-1] = nil
			p.pcbs = p.pcbs[:len(p.pcbs)-1]
			p.open--
			return
		}
	}
}

// counters returns the counters of UDP or UDP-Lite.
func (p *Protocol) counters(lite bool) *Counters {
	if lite {
		return &p.stats[1]
	}
	return &p.stats[0]
}
