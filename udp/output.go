package udp

import (
	"errors"
	"net/netip"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// MaxPayload is the largest UDP payload an IPv4 datagram without options
// carries: 65535 - 20 - 8.
const MaxPayload = 65535 - wire.IPv4MinHeaderLen - wire.UDPHeaderLen

// Send sends data (copied) to c's remote; ErrNotConnected when c has none.
func (c *PCB) Send(data []byte) error {
	if c.closed {
		return ErrClosed
	}
	if !c.conn {
		return ErrNotConnected
	}
	return c.SendTo(data, c.remoteZoned())
}

// SendTo sends data (copied) to dst. An unbound PCB is bound to a random
// ephemeral port first. Errors: ErrInvalid (dst not IPv4 unicast,
// broadcast or multicast with a nonzero port), ErrMessageTooLong (more
// than MaxPayload bytes), ErrBroadcastNotAllowed, ErrBufferFull, and the
// stack's routing errors (stack.ErrNoRoute). Success means the datagram
// was handed to IP, not that it was delivered (it may wait for ARP).
func (c *PCB) SendTo(data []byte, dst netip.AddrPort) error {
	if c.closed {
		return ErrClosed
	}
	if len(data) > MaxPayload {
		return ErrMessageTooLong
	}
	b := c.p.s.NewPacket(wire.UDPHeaderLen + len(data))
	if b == nil {
		c.p.counters(c.lite).SndbufErrors++
		return ErrBufferFull
	}
	copy(b.Bytes()[wire.UDPHeaderLen:], data)
	return c.send(b, dst)
}

// NewBuf returns a buffer of n bytes for the payload of a zero-copy send,
// with headroom for the UDP, IPv4 and link headers: fill Bytes() and pass
// it to SendBufTo. It returns nil when the stack's pool is exhausted.
func (c *PCB) NewBuf(n int) *pbuf.Buf {
	if n < 0 || n > MaxPayload {
		return nil
	}
	b := c.p.s.NewPacket(wire.UDPHeaderLen + n)
	if b == nil {
		c.p.counters(c.lite).SndbufErrors++
		return nil
	}
	b.TrimFront(wire.UDPHeaderLen)
	return b
}

// SendBufTo sends the payload in b to dst without copying it when b has
// the headroom NewBuf gives (else it is copied once). It takes ownership
// of b, also on error. Errors as for SendTo.
func (c *PCB) SendBufTo(b *pbuf.Buf, dst netip.AddrPort) error {
	if b == nil {
		return ErrInvalid
	}
	if c.closed {
		pbuf.FreeChain(b)
		return ErrClosed
	}
	n := pbuf.ChainLen(b)
	if n > MaxPayload {
		pbuf.FreeChain(b)
		return ErrMessageTooLong
	}
	if b.Next() != nil || b.Headroom() < wire.UDPHeaderLen {
		// A chain or a foreign buffer: flatten into a fresh packet.
		nb := c.p.s.NewPacket(wire.UDPHeaderLen + n)
		if nb == nil {
			pbuf.FreeChain(b)
			c.p.counters(c.lite).SndbufErrors++
			return ErrBufferFull
		}
		pbuf.CopyChain(nb.Bytes()[wire.UDPHeaderLen:], b)
		pbuf.FreeChain(b)
		return c.send(nb, dst)
	}
	b.Prepend(wire.UDPHeaderLen)
	return c.send(b, dst)
}

// send fills in the header of b (8 bytes of room at the front, then the
// payload) and hands it to IP. It owns b.
func (c *PCB) send(b *pbuf.Buf, dst netip.AddrPort) error {
	p := c.p
	st := p.counters(c.lite)
	da, ok := norm4(dst.Addr())
	if !ok || da.IsUnspecified() || dst.Port() == 0 {
		b.Free()
		return ErrInvalid
	}
	if !da.Is4() {
		return c.send6(b, dst, da)
	}
	if c.port == 0 {
		port, err := p.ephemeral(c.lite)
		if err != nil {
			b.Free()
			return err
		}
		c.bindAny(port)
	}
	if !c.takesFamily(da) {
		b.Free()
		return ErrNetUnreachable // bound to the IPv6-only wildcard (as Linux's IPV6_V6ONLY)
	}
	wo := &p.wo
	*wo = stack.WriteOptions{Dst: da, TTL: c.ttl, TOS: c.tos, Protocol: wire.ProtoUDP}
	if c.lite {
		wo.Protocol = wire.ProtoUDPLite
	}
	src := c.local
	if src.IsMulticast() || src == limitedBroadcast {
		src = anyAddr // bound to a group or broadcast: send from a unicast address
	}
	switch {
	case da == limitedBroadcast:
		if !c.broadcast {
			b.Free()
			return ErrBroadcastNotAllowed
		}
		wo.NIC = c.mcastNIC
	case da.IsMulticast():
		wo.TTL = c.mcastTTL
		wo.NIC = c.mcastNIC
		wo.MulticastLoop = c.mcastLoop
	default:
		rsrc, nic, _, err := p.s.Route(da)
		if err != nil {
			b.Free()
			st.OutErrors++
			return err
		}
		if p.s.IsBroadcast(nic, da) {
			if !c.broadcast {
				b.Free()
				return ErrBroadcastNotAllowed
			}
		}
		if src.IsUnspecified() || !src.IsValid() {
			src = rsrc
		}
	}
	if wo.NIC == 0 && (da == limitedBroadcast || da.IsMulticast()) && !src.IsUnspecified() {
		// Like Linux: a limited broadcast or multicast from a PCB bound
		// to one of our addresses leaves by that address's interface.
		wo.NIC = p.nicOf(src)
	}
	if src.IsUnspecified() || !src.IsValid() {
		// Broadcast or multicast from a wildcard PCB: the interface's
		// primary address, else the route's source.
		src = p.primary(wo.NIC)
		if !src.IsValid() {
			rsrc, nic, _, err := p.s.Route(da)
			if err != nil {
				b.Free()
				st.OutErrors++
				return err
			}
			src = rsrc
			if wo.NIC == 0 {
				wo.NIC = nic
			}
		}
	}
	wo.Src = src

	seg := b.Bytes()
	if c.lite {
		cov := c.coverage
		if cov != 0 && (cov < wire.UDPHeaderLen || cov > len(seg)) {
			b.Free()
			return ErrInvalid
		}
		wire.PutUDPLite(seg, c.port, dst.Port(), cov)
		wire.SetUDPLiteChecksum(seg, src, da, cov)
	} else {
		wire.PutUDP(seg, c.port, dst.Port(), len(seg))
		if c.checksum {
			wire.SetUDPChecksum(seg, src, da)
		}
	}
	return c.write(b, wo)
}

// write hands the datagram in b to IP and counts. It owns b.
func (c *PCB) write(b *pbuf.Buf, wo *stack.WriteOptions) error {
	st := c.p.counters(c.lite)
	if err := c.p.s.WriteIP(b, wo); err != nil {
		st.OutErrors++
		switch {
		case errors.Is(err, stack.ErrMessageTooLong):
			return ErrMessageTooLong
		case errors.Is(err, stack.ErrBufferFull):
			st.SndbufErrors++
			return ErrBufferFull
		}
		return err
	}
	st.OutDatagrams++
	return nil
}

// primary returns the first IPv4 address of nic, or the zero Addr.
func (p *Protocol) primary(nic stack.NIC) netip.Addr {
	if nic == 0 {
		return netip.Addr{}
	}
	for _, pf := range p.s.Addresses(nic) {
		if a := pf.Addr(); a.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// nicOf returns the interface that holds the address a, or 0.
func (p *Protocol) nicOf(a netip.Addr) stack.NIC {
	for _, in := range p.s.Interfaces() {
		for _, pf := range in.Addrs {
			if pf.Addr() == a {
				return in.NIC
			}
		}
	}
	return 0
}

// send6 sends b (8 bytes of room, then the payload) to the IPv6
// destination dst (da is its address without zone). The source is c's
// bound address, else the one the stack selects (RFC 6724); the checksum
// is always computed (RFC 8200 8.1). It owns b.
func (c *PCB) send6(b *pbuf.Buf, dst netip.AddrPort, da netip.Addr) error {
	p := c.p
	st := p.counters(c.lite)
	if c.port == 0 {
		port, err := p.ephemeral(c.lite)
		if err != nil {
			b.Free()
			return err
		}
		c.bindAny(port)
	}
	wo := &p.wo
	*wo = stack.WriteOptions{Dst: dst.Addr(), TTL: c.ttl, TOS: c.tos, Protocol: wire.ProtoUDP}
	if c.lite {
		wo.Protocol = wire.ProtoUDPLite
	}
	if da.IsMulticast() {
		wo.TTL, wo.NIC, wo.MulticastLoop = c.mcastTTL, c.mcastNIC, c.mcastLoop
	}
	src := c.local
	if src.IsValid() && src.Is4() && !src.IsUnspecified() || !c.takesFamily(da) {
		b.Free()
		return ErrInvalid // bound to an IPv4 address or the IPv4-only wildcard
	}
	if !src.IsValid() || src.IsUnspecified() || src.IsMulticast() {
		s, err := p.s.SelectSource(dst.Addr(), wo.NIC)
		if err != nil {
			b.Free()
			st.OutErrors++
			return err
		}
		src = s
	}
	wo.Src = src
	seg := b.Bytes()
	if c.lite {
		cov := c.coverage
		if cov != 0 && (cov < wire.UDPHeaderLen || cov > len(seg)) {
			b.Free()
			return ErrInvalid
		}
		wire.PutUDPLite(seg, c.port, dst.Port(), cov)
		wire.SetUDPLiteChecksum(seg, src, da, cov)
	} else {
		wire.PutUDP(seg, c.port, dst.Port(), len(seg))
		wire.SetUDPChecksum(seg, src, da)
	}
	return c.write(b, wo)
}
