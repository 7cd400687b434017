package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/ethswitch"
	"github.com/featherip/featherip/link/fault"
	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// Config configures a Network.
type Config struct {
	// Seed seeds every host's random source and every fault wrapper, so
	// runs with the same seed are identical.
	Seed uint64
	// Switch configures the network's switch (MTU, delay, queue lengths,
	// table size). Switch.Clock must be nil: the switch uses the network's
	// virtual clock.
	Switch ethswitch.Config
}

// HostConfig describes a host added to a Network.
type HostConfig struct {
	// Name names the host (and its interface "eth0"); "" means "h1", "h2"...
	Name string
	// Addrs are the IPv4 addresses of the host's switch interface.
	Addrs []netip.Prefix
	// Gateway, when valid, is the next hop of a default route.
	Gateway netip.Addr
	// MTU is the interface's IP MTU; 0 means the switch's MTU.
	MTU int
	// MAC is the interface's address; nil means one derived from the port
	// number (02:00:00:00:00:NN).
	MAC net.HardwareAddr
	// Stack configures the core. Stack.Clock must be nil (the network's
	// clock is used); Stack.Rand nil means a PCG seeded from Config.Seed and
	// the host's number.
	Stack stack.Config
	// UDP and Raw configure the host's protocols.
	UDP udp.Config
	Raw raw.Config
	// Fault, when set, puts a link/fault wrapper between the switch port
	// and the stack: loss, duplication, reordering, corruption and delay of
	// the frames the host receives. Its Clock must be nil (the network's
	// clock is used); a zero Seed is replaced by one derived from
	// Config.Seed and the host's number.
	Fault *fault.Config
	// Wrap, when set, wraps the host's link (the port, or the fault wrapper
	// around it) before the stack uses it, e.g. with a packet capture. seed
	// is derived from Config.Seed and the host's number. The wrapper is what
	// the network pumps: if it does not implement link.Poller itself, the
	// inner link is polled and only the wrapper's Send side is used.
	Wrap func(l link.Link, seed uint64) (link.Link, error)
}

// Host is one stack in a Network with its protocols. Use its fields freely
// between runs: the network is single-threaded.
type Host struct {
	// Name is the host's name.
	Name string
	// Stack is the host's core.
	Stack *stack.Stack
	// UDP and Raw are the host's protocols.
	UDP *udp.Protocol
	Raw *raw.Protocol
	// NIC is the interface on the network's switch.
	NIC stack.NIC
	// Port is the host's port on the switch.
	Port *ethswitch.Port
	// Fault is the fault injector on the host's receive side, nil without
	// HostConfig.Fault.
	Fault *fault.Link
	// Link is what the stack uses: Port, or its wrappers.
	Link link.Link

	net    *Network
	ifaces []*iface
}

// iface is one interface the network pumps frames from.
type iface struct {
	nic  stack.NIC
	poll link.Poller
	buf  []byte
}

// InterfaceConfig describes an extra interface added with Host.AddInterface.
type InterfaceConfig struct {
	// Name is the interface's name in the stack.
	Name string
	// Addrs are its IPv4 addresses.
	Addrs []netip.Prefix
	// Gateway, when valid, is the next hop of a default route through it.
	Gateway netip.Addr
	// MTU is the IP MTU; 0 means the link's MTU.
	MTU int
}

// Network is a set of stacks on a switch under one virtual clock. It is not
// safe for concurrent use.
type Network struct {
	cfg   Config
	clock *Clock
	sw    *ethswitch.Switch
	hosts []*Host
	links []link.Link // every link to close
}

// maxFramesPerInstant bounds the frames delivered without the clock moving,
// so a forwarding loop between stacks cannot hang a test.
const maxFramesPerInstant = 1 << 20

// maxStuck is how many times in a row a deadline may stay in the past after
// Poll before the network reports the stack as broken.
const maxStuck = 1000

// ErrStuck is returned (wrapped) by RunErr when a stack or link keeps
// reporting work due in the past that Poll does not do, or frames keep
// flowing without time passing (a forwarding loop).
var ErrStuck = errors.New("sim: no progress")

// New returns an empty network whose clock reads 0.
func New(cfg Config) (*Network, error) {
	if cfg.Switch.Clock != nil {
		return nil, errors.New("sim: Config.Switch.Clock must be nil: the switch uses the network's virtual clock")
	}
	if err := cfg.Switch.Validate(); err != nil {
		return nil, fmt.Errorf("sim: Config.Switch: %w", err)
	}
	n := &Network{cfg: cfg, clock: NewClock()}
	sc := cfg.Switch
	sc.Clock = n.clock
	n.sw = ethswitch.New(sc)
	return n, nil
}

// Clock returns the network's virtual clock.
func (n *Network) Clock() *Clock { return n.clock }

// Now reports the virtual time.
func (n *Network) Now() time.Duration { return n.clock.Now() }

// Switch returns the network's switch.
func (n *Network) Switch() *ethswitch.Switch { return n.sw }

// Hosts returns the hosts in the order they were added.
func (n *Network) Hosts() []*Host { return n.hosts }

// AddHost creates a stack with UDP and raw protocols, plugs it into the
// switch (through cfg.Wrap when set), adds its addresses and routes and
// brings the interface up.
func (n *Network) AddHost(cfg HostConfig) (*Host, error) {
	idx := len(n.hosts) + 1
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("h%d", idx)
	}
	if cfg.Stack.Clock != nil {
		return nil, fmt.Errorf("sim: host %s: HostConfig.Stack.Clock must be nil: the network's virtual clock is used", cfg.Name)
	}
	if cfg.Fault != nil {
		if cfg.Fault.Clock != nil {
			return nil, fmt.Errorf("sim: host %s: HostConfig.Fault.Clock must be nil: the network's virtual clock is used", cfg.Name)
		}
		if err := cfg.Fault.Validate(); err != nil {
			return nil, fmt.Errorf("sim: host %s: HostConfig.Fault: %w", cfg.Name, err)
		}
	}
	if cfg.MAC != nil && len(cfg.MAC) != 6 {
		return nil, fmt.Errorf("sim: host %s: HostConfig.MAC %v is not a 6-byte Ethernet address", cfg.Name, cfg.MAC)
	}
	sc := cfg.Stack
	sc.Clock = n.clock
	if sc.Rand == nil {
		sc.Rand = rand.NewPCG(n.cfg.Seed, uint64(idx))
	}
	s, err := stack.New(sc)
	if err != nil {
		return nil, fmt.Errorf("sim: host %s: HostConfig.Stack: %w", cfg.Name, err)
	}
	u, err := udp.New(s, cfg.UDP)
	if err != nil {
		return nil, fmt.Errorf("sim: host %s: HostConfig.UDP: %w", cfg.Name, err)
	}
	r, err := raw.New(s, cfg.Raw)
	if err != nil {
		return nil, fmt.Errorf("sim: host %s: HostConfig.Raw: %w", cfg.Name, err)
	}
	h := &Host{Name: cfg.Name, Stack: s, UDP: u, Raw: r, net: n}

	var port *ethswitch.Port
	if cfg.MAC != nil {
		port = n.sw.NewPortMAC(cfg.MAC)
	} else {
		port = n.sw.NewPort()
	}
	h.Port = port
	var l link.Link = port
	var inner link.Poller = port
	// Seeds per host for the wrappers, apart from the stack's stream.
	seed := n.cfg.Seed ^ (uint64(idx)<<32 | 0x5eed)
	if cfg.Fault != nil {
		fc := *cfg.Fault
		fc.Clock = n.clock
		if fc.Seed == 0 {
			fc.Seed = seed
		}
		h.Fault = fault.Wrap(port, fc)
		l, inner = h.Fault, h.Fault
	}
	if cfg.Wrap != nil {
		w, err := cfg.Wrap(l, seed+1)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("sim: host %s: Wrap: %w", cfg.Name, err)
		}
		l = w
	}
	h.Link = l
	nic, err := h.addInterface(l, inner, InterfaceConfig{Name: "eth0", Addrs: cfg.Addrs, Gateway: cfg.Gateway, MTU: cfg.MTU})
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("sim: host %s: %w", cfg.Name, err)
	}
	h.NIC = nic
	n.hosts = append(n.hosts, h)
	n.links = append(n.links, l)
	return h, nil
}

// AddInterface attaches another link to the host, e.g. one end of a
// link/pipe made with the network's clock, for router topologies. The link
// must implement link.Poller. The network closes it in Close.
func (h *Host) AddInterface(l link.Link, cfg InterfaceConfig) (stack.NIC, error) {
	nic, err := h.addInterface(l, nil, cfg)
	if err != nil {
		return 0, fmt.Errorf("sim: host %s: %w", h.Name, err)
	}
	h.net.links = append(h.net.links, l)
	return nic, nil
}

// addInterface registers l with the stack and the pump. Frames are taken
// from l if it is a Poller, else from fallback.
func (h *Host) addInterface(l link.Link, fallback link.Poller, cfg InterfaceConfig) (stack.NIC, error) {
	p, ok := l.(link.Poller)
	if !ok {
		if fallback == nil {
			return 0, fmt.Errorf("AddInterface: link %T does not implement link.Poller, so it cannot run under virtual time", l)
		}
		p = fallback
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = l.MTU()
	}
	if mtu > l.MTU() {
		return 0, fmt.Errorf("InterfaceConfig.MTU %d exceeds the link's MTU %d", mtu, l.MTU())
	}
	ic := stack.InterfaceConfig{Name: cfg.Name, Link: l, MTU: mtu}
	switch l.Kind() {
	case link.Ethernet:
		ic.Kind = stack.LinkEthernet
		hw := l.HardwareAddr()
		if len(hw) != 6 {
			return 0, fmt.Errorf("AddInterface: Ethernet link has hardware address %q, want 6 bytes", hw)
		}
		ic.MAC = wire.MAC(hw)
	default:
		ic.Kind = stack.LinkIP
	}
	if ic.Name == "" {
		ic.Name = fmt.Sprintf("eth%d", len(h.ifaces))
	}
	nic, err := h.Stack.AddInterface(ic)
	if err != nil {
		return 0, err
	}
	for _, a := range cfg.Addrs {
		if err := h.Stack.AddAddress(nic, a); err != nil {
			return 0, fmt.Errorf("address %v: %w", a, err)
		}
	}
	if cfg.Gateway.IsValid() {
		r := stack.Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: cfg.Gateway, NIC: nic}
		if err := h.Stack.AddRoute(r); err != nil {
			return 0, fmt.Errorf("default route via %v: %w", cfg.Gateway, err)
		}
	}
	if err := h.Stack.SetUp(nic, true); err != nil {
		return 0, fmt.Errorf("set up: %w", err)
	}
	h.ifaces = append(h.ifaces, &iface{
		nic:  nic,
		poll: p,
		buf:  make([]byte, link.MaxFrameLen(l.Kind(), max(mtu, l.MTU()))+8),
	})
	return nic, nil
}

// Close closes every link of the network.
func (n *Network) Close() error {
	var errs []error
	for _, l := range n.links {
		if err := l.Close(); err != nil && !errors.Is(err, link.ErrClosed) {
			errs = append(errs, err)
		}
	}
	n.links = nil
	return errors.Join(errs...)
}
