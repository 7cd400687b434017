package featherip

import (
	"fmt"
	"net/netip"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// vlanSlack leaves room in the receive buffer for two VLAN tags, which a
// link may deliver on top of its MTU.
const vlanSlack = 8

// AddInterface registers l with the stack, adds cfg's addresses (each with
// its connected route) and the default route through cfg.Gateway, brings the
// interface up (announcing each address with a gratuitous ARP) and starts
// the goroutine that reads from l. From then on the Host owns l and closes it
// in [Host.Close]; on error the caller still owns it.
func (h *Host) AddInterface(l link.Link, cfg InterfaceConfig) (stack.NIC, error) {
	if l == nil {
		return 0, fmt.Errorf("featherip: AddInterface: nil link")
	}
	linkMTU := l.MTU()
	if err := cfg.validate(linkMTU); err != nil {
		return 0, err
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = linkMTU
	}
	ic := stack.InterfaceConfig{Name: cfg.Name, Link: stackLink(l), MTU: mtu} // stackLink: offloads (offload.go)
	switch l.Kind() {
	case link.Ethernet:
		ic.Kind = stack.LinkEthernet
		hw := l.HardwareAddr()
		if len(hw) != len(ic.MAC) {
			return 0, fmt.Errorf("featherip: AddInterface: Ethernet link has hardware address %q, want 6 bytes", hw)
		}
		ic.MAC = wire.MAC(hw)
	case link.IP:
		ic.Kind = stack.LinkIP
	default:
		return 0, fmt.Errorf("featherip: AddInterface: unknown link kind %d", l.Kind())
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.rearmLocked()
	if h.closed {
		return 0, ErrClosed
	}
	if ic.Name == "" {
		ic.Name = fmt.Sprintf("eth%d", len(h.links))
	}
	nic, err := h.s.AddInterface(ic)
	if err != nil {
		return 0, fmt.Errorf("featherip: AddInterface %s: %w", ic.Name, err)
	}
	// The stack has no way to remove an interface: on a later failure the
	// interface stays registered but down, without addresses, so the stack
	// never sends on a link the caller still owns.
	fail := func(err error) (stack.NIC, error) {
		for _, p := range h.s.Addresses(nic) {
			_ = h.s.RemoveAddress(nic, p.Addr())
		}
		_ = h.s.SetUp(nic, false)
		return 0, fmt.Errorf("featherip: AddInterface %s: %w", ic.Name, err)
	}
	for _, p := range cfg.Addrs {
		if err := h.s.AddAddress(nic, p); err != nil {
			return fail(fmt.Errorf("address %v: %w", p, err))
		}
	}
	if cfg.Gateway.IsValid() {
		r := stack.Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: cfg.Gateway, NIC: nic}
		if err := h.s.AddRoute(r); err != nil {
			return fail(fmt.Errorf("default route via %v: %w", cfg.Gateway, err))
		}
	}
	if err := h.s.SetUp(nic, true); err != nil {
		return fail(fmt.Errorf("set up: %w", err))
	}
	h.links = append(h.links, l)
	if freeHolder(l) {
		h.holders = append(h.holders, l.(writeHolder))
	}
	h.wg.Add(1)
	bufLen := link.MaxFrameLen(l.Kind(), max(linkMTU, mtu)) + vlanSlack
	if br, ok := l.(link.BatchReceiver); ok {
		go h.batchReadLoop(br, l, nic, bufLen)
	} else {
		go h.readLoop(l, nic, bufLen)
	}
	return nic, nil
}
