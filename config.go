package featherip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
	"github.com/featherip/featherip/udp"
)

// Config configures a [Host]. The zero value is valid: every field has the
// defaults documented by the package it belongs to.
type Config struct {
	// Stack holds the core's options (ARP cache, reassembly limits, default
	// TTL, ICMP rate limit, buffer pool) with the defaults documented in
	// [stack.Config]. Stack.Clock must be nil: the Host supplies the
	// machine's monotonic clock (use package sim for virtual time).
	// Stack.Rand may be nil, and then the Host uses a ChaCha8 generator
	// seeded from crypto/rand; set it only for reproducible runs.
	Stack stack.Config
	// UDP configures the UDP protocol (pcb limit, ephemeral port range);
	// defaults as in [udp.Config].
	UDP udp.Config
	// Raw configures raw IP pcbs; defaults as in [raw.Config].
	Raw raw.Config
	// TCP configures the TCP protocol (pcb limit, buffers, timers,
	// congestion control); defaults as in [tcp.Config].
	TCP tcp.Config
	// Sockets bounds the blocking sockets' receive queues (UDPConn,
	// PingConn, IPConn).
	Sockets SocketConfig
}

// SocketConfig bounds the receive queue of each blocking datagram socket.
// The zero value selects the defaults.
type SocketConfig struct {
	// ReadBuffer is a new socket's receive queue bound in bytes of
	// payload (SO_RCVBUF); SetReadBuffer changes it per socket. Default
	// 65536, enough for one largest UDP datagram.
	ReadBuffer int
	// MaxReadBuffer caps what SetReadBuffer accepts (Linux's
	// net.core.rmem_max). Default 4 MiB.
	MaxReadBuffer int
	// MaxQueuedDatagrams bounds a receive queue in datagrams, whatever
	// their size. Default 256.
	MaxQueuedDatagrams int
}

// Socket defaults and limits.
const (
	DefaultReadBuffer         = 64 << 10
	DefaultMaxReadBuffer      = 4 << 20
	DefaultMaxQueuedDatagrams = 256
	// minReadBuffer is the smallest receive queue SetReadBuffer sets.
	minReadBuffer = 2048
)

func (c *SocketConfig) withDefaults() (SocketConfig, error) {
	r := *c
	if r.ReadBuffer < 0 || r.MaxReadBuffer < 0 || r.MaxQueuedDatagrams < 0 {
		return r, errors.New("featherip: Config.Sockets: negative bound: use 0 for the default")
	}
	if r.MaxReadBuffer == 0 {
		r.MaxReadBuffer = max(DefaultMaxReadBuffer, r.ReadBuffer)
	}
	if r.ReadBuffer == 0 {
		r.ReadBuffer = min(DefaultReadBuffer, r.MaxReadBuffer)
	}
	if r.MaxQueuedDatagrams == 0 {
		r.MaxQueuedDatagrams = DefaultMaxQueuedDatagrams
	}
	if r.ReadBuffer < minReadBuffer || r.ReadBuffer > r.MaxReadBuffer {
		return r, fmt.Errorf("featherip: Config.Sockets.ReadBuffer %d out of range: use 0 for the default or a value from %d to MaxReadBuffer (%d)", r.ReadBuffer, minReadBuffer, r.MaxReadBuffer)
	}
	return r, nil
}

// InterfaceConfig describes how [Host.AddInterface] sets up a link.
type InterfaceConfig struct {
	// Name is the interface name in the stack; "" means "eth0", "eth1", ...
	// in the order interfaces are added.
	Name string
	// Addrs are the addresses with their prefix lengths, e.g.
	// 192.168.7.2/24 or fd00:7::2/64. Each adds the connected route. An
	// IPv6 one is usable once duplicate address detection passed, a
	// second or two after the interface comes up (stack.AddAddress;
	// Config.Stack.SLAAC.DupAddrDetectTransmits -1 turns DAD off). May be
	// empty.
	Addrs []netip.Prefix
	// Gateway, when valid, becomes the next hop of the default route
	// 0.0.0.0/0 through this interface.
	Gateway netip.Addr
	// MTU is the IP MTU; 0 means the link's MTU. It must be at least 68
	// (RFC 791) and at most the link's MTU.
	MTU int
}

// minMTU is the smallest IPv4 MTU every host must accept (RFC 791).
const minMTU = 68

// ErrClosed is returned by [Host.AddInterface] and the socket constructors
// after [Host.Close]. It matches net.ErrClosed with errors.Is.
var ErrClosed = fmt.Errorf("featherip: host closed: %w", net.ErrClosed)

func (c *Config) validate() error {
	if c.Stack.Clock != nil {
		return errors.New("featherip: Config.Stack.Clock must be nil: the Host uses the machine's monotonic clock (use package sim for virtual time)")
	}
	return nil
}

func (c *InterfaceConfig) validate(linkMTU int) error {
	if c.MTU != 0 && (c.MTU < minMTU || c.MTU > linkMTU) {
		return fmt.Errorf("featherip: InterfaceConfig.MTU %d out of range: use 0 for the link's MTU or a value from %d to %d", c.MTU, minMTU, linkMTU)
	}
	for _, p := range c.Addrs {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("featherip: InterfaceConfig.Addrs: %v is not an IPv4 prefix such as 192.168.7.2/24", p)
		}
		if p.Addr().IsUnspecified() || p.Addr().IsMulticast() {
			return fmt.Errorf("featherip: InterfaceConfig.Addrs: %v is not a unicast address", p)
		}
	}
	if c.Gateway.IsValid() && (!c.Gateway.Is4() || c.Gateway.IsUnspecified() || c.Gateway.IsMulticast()) {
		return fmt.Errorf("featherip: InterfaceConfig.Gateway: %v is not an IPv4 unicast address", c.Gateway)
	}
	return nil
}
