package featherip

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
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
}

// InterfaceConfig describes how [Host.AddInterface] sets up a link.
type InterfaceConfig struct {
	// Name is the interface name in the stack; "" means "eth0", "eth1", ...
	// in the order interfaces are added.
	Name string
	// Addrs are the IPv4 addresses with their prefix lengths, e.g.
	// 192.168.7.2/24. Each adds the connected route. May be empty.
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

// ErrClosed is returned by [Host.AddInterface] after [Host.Close].
var ErrClosed = errors.New("featherip: host closed")

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
