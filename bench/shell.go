package bench

import (
	"net"
	"net/netip"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
	"github.com/featherip/featherip/wire"
)

// FipShellPair is two featherip Hosts (the concurrent shell of the root
// package: one reader goroutine per link, one timer goroutine, the core
// under one lock) on a real-time pipe, with static neighbor entries. It is
// featherip's counterpart of a started GvPair, for the net.Conn and
// net.PacketConn figures.
type FipShellPair struct {
	A, B   *featherip.Host
	ea, eb *pipe.End // the link's ends, for its drop counters
}

// NewFipShellPair builds the pair at the given IP MTU.
func NewFipShellPair(mtu int) (*FipShellPair, error) {
	return newFipShellPair(mtu, tcp.Config{})
}

// newFipShellPair builds the pair with the given TCP configuration.
func newFipShellPair(mtu int, tcfg tcp.Config) (*FipShellPair, error) {
	ea, eb := pipe.New(pipe.Config{MTU: mtu, QueueLen: 1024})
	mk := func(end *pipe.End, addr, peer netip.Addr, peerMAC net.HardwareAddr) (*featherip.Host, error) {
		h, err := featherip.New(featherip.Config{Stack: stack.Config{ARP: stack.ARPConfig{Announcements: -1}}, TCP: tcfg})
		if err != nil {
			return nil, err
		}
		nic, err := h.AddInterface(end, featherip.InterfaceConfig{Addrs: []netip.Prefix{netip.PrefixFrom(addr, prefixLen)}})
		if err != nil {
			h.Close()
			return nil, err
		}
		h.Do(func(s *stack.Stack) { err = s.AddStaticNeighbor(nic, peer, wire.MAC(peerMAC)) })
		if err != nil {
			h.Close()
			return nil, err
		}
		return h, nil
	}
	a, err := mk(ea, AddrA, AddrB, eb.HardwareAddr())
	if err != nil {
		return nil, err
	}
	b, err := mk(eb, AddrB, AddrA, ea.HardwareAddr())
	if err != nil {
		a.Close()
		return nil, err
	}
	return &FipShellPair{A: a, B: b, ea: ea, eb: eb}, nil
}

// Close closes both hosts and their links.
func (p *FipShellPair) Close() {
	p.A.Close()
	p.B.Close()
}

// FipUDPRRConn times n request/response exchanges of 1-byte UDP datagrams
// over featherip's UDPConn (the net.PacketConn API of the concurrent
// shell): a client goroutine and a server goroutine with blocking calls,
// the Hosts' own goroutines moving the frames.
func FipUDPRRConn(n int) (Latency, error) {
	p, err := NewFipShellPair(1500)
	if err != nil {
		return Latency{}, err
	}
	defer p.Close()
	srv, err := p.B.ListenUDP("udp4", &net.UDPAddr{Port: udpPort})
	if err != nil {
		return Latency{}, err
	}
	defer srv.Close()
	cli, err := p.A.DialUDP("udp4", nil, &net.UDPAddr{IP: AddrB.AsSlice(), Port: udpPort})
	if err != nil {
		return Latency{}, err
	}
	defer cli.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if _, err := srv.WriteToUDPAddrPort(buf[:k], from); err != nil {
				return
			}
		}
	}()
	return connRR(cli, n)
}
