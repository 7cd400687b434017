package raw

import (
	"errors"
	"net/netip"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// SendTo sends data (copied) to dst. Without header-included, data is the
// payload and the stack builds the header with c's protocol, its bound
// address as source (else the route's) and its TTL. With header-included,
// data must start with a valid IPv4 header (version 4, a header length
// that fits); the stack routes by the header's destination, and dst is
// only checked to be IPv4.
func (c *PCB) SendTo(data []byte, dst netip.Addr) error {
	if c.closed {
		return ErrClosed
	}
	p := c.p
	dst = dst.Unmap()
	if !dst.IsValid() || dst.IsUnspecified() {
		p.stats.OutErrors++
		return ErrInvalid
	}
	if dst.Is6() {
		return c.sendTo6(data, dst)
	}
	if c.hdrIncl {
		if len(data) < wire.IPv4MinHeaderLen || data[0]>>4 != 4 ||
			int(data[0]&0x0f)*4 < wire.IPv4MinHeaderLen || int(data[0]&0x0f)*4 > len(data) {
			p.stats.OutErrors++
			return ErrInvalid
		}
		if len(data) > 65535 {
			p.stats.OutErrors++
			return ErrMessageTooLong
		}
	} else if len(data) > 65535-wire.IPv4MinHeaderLen {
		p.stats.OutErrors++
		return ErrMessageTooLong
	}
	b := p.s.NewPacket(len(data))
	if b == nil {
		p.stats.OutErrors++
		return ErrBufferFull
	}
	copy(b.Bytes(), data)
	var err error
	if c.hdrIncl {
		err = p.s.WriteIPv4Raw(b)
	} else {
		p.wo = stack.WriteOptions{Src: c.local, Dst: dst, Protocol: c.proto, TTL: c.ttl}
		err = p.s.WriteIPv4(b, &p.wo)
	}
	if err != nil {
		p.stats.OutErrors++
		switch {
		case errors.Is(err, stack.ErrMessageTooLong):
			return ErrMessageTooLong
		case errors.Is(err, stack.ErrBufferFull):
			return ErrBufferFull
		}
		return err
	}
	p.stats.OutRequests++
	return nil
}

// sendTo6 sends data to the IPv6 destination dst. Without header-included
// the stack builds the IPv6 header; for ICMPv6 the checksum is computed
// here, as Linux does for ICMPv6 raw sockets (RFC 3542 3.1). With
// header-included, data starts with an IPv6 header (stack.WriteIPv6Raw).
func (c *PCB) sendTo6(data []byte, dst netip.Addr) error {
	p := c.p
	if c.hdrIncl && (len(data) < wire.IPv6HeaderLen || data[0]>>4 != 6) {
		p.stats.OutErrors++
		return ErrInvalid
	}
	if len(data) > 65535 {
		p.stats.OutErrors++
		return ErrMessageTooLong
	}
	src := c.local
	if !c.hdrIncl && c.proto == wire.ProtoICMPv6 && len(data) >= wire.ICMPv6HeaderLen {
		if !src.IsValid() || !src.Is6() {
			s, err := p.s.SelectSource(dst, 0)
			if err != nil {
				p.stats.OutErrors++
				return err
			}
			src = s
		}
	}
	b := p.s.NewPacket(len(data))
	if b == nil {
		p.stats.OutErrors++
		return ErrBufferFull
	}
	copy(b.Bytes(), data)
	var err error
	if c.hdrIncl {
		err = p.s.WriteIPv6Raw(b)
	} else {
		if c.proto == wire.ProtoICMPv6 && len(data) >= wire.ICMPv6HeaderLen {
			wire.SetICMPv6Checksum(b.Bytes(), src.WithZone(""), dst.WithZone(""))
		}
		if src.IsValid() && !src.Is6() {
			src = netip.Addr{}
		}
		p.wo = stack.WriteOptions{Src: src, Dst: dst, Protocol: c.proto, TTL: c.ttl}
		err = p.s.WriteIPv6(b, &p.wo)
	}
	if err != nil {
		p.stats.OutErrors++
		switch {
		case errors.Is(err, stack.ErrMessageTooLong):
			return ErrMessageTooLong
		case errors.Is(err, stack.ErrBufferFull):
			return ErrBufferFull
		}
		return err
	}
	p.stats.OutRequests++
	return nil
}
