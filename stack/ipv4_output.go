package stack

import (
	"encoding/binary"
	"net/netip"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// WriteOptions describes an IPv4 datagram to send with WriteIPv4.
type WriteOptions struct {
	Src           netip.Addr // zero => chosen from the route (address of the outgoing NIC)
	Dst           netip.Addr
	Protocol      uint8
	TTL           uint8 // 0 => Config.DefaultTTL; for multicast a transport passes its multicast TTL
	TOS           uint8
	DontFragment  bool
	NIC           NIC  // 0 => by route; set for broadcast/multicast on a chosen interface
	MulticastLoop bool // also deliver a multicast copy locally if this host joined the group
	// Options are IPv4 options (RFC 791 3.1) for the header, padded with
	// zeros to a multiple of 4 bytes; at most 40 bytes (ErrInvalid). Used
	// for IGMP's Router Alert (RFC 2113). The slice is only read during
	// the call.
	Options []byte
	// FlowLabel is the IPv6 flow label (RFC 6437); ignored for IPv4.
	FlowLabel uint32
	// RouterAlert adds an IPv6 hop-by-hop header with a router alert
	// option (RFC 2711), as MLD messages need; ignored for IPv4 (use Options).
	RouterAlert bool
	// GSO, when not 0, marks a TCP segment whose checksum the transport
	// left to the stack and which may exceed the MTU: it goes out as one
	// super-frame segmented by the device into GSO-byte payloads (TSO), or
	// is cut so by the stack (offload.go).
	GSO int
}

// NewPacket returns a buffer of payloadLen bytes with headroom for the
// link and IP headers, or nil when the pool is exhausted (counted).
func (s *Stack) NewPacket(payloadLen int) *pbuf.Buf {
	b := s.pool.Get(payloadLen)
	if b == nil {
		s.stats.Link.PoolExhausted++
	}
	return b
}

func (s *Stack) nextID() uint16 {
	s.ipID++
	return s.ipID
}

// WriteIPv4 takes ownership of b (always, also on error). b holds the transport header + data.
// It prepends the IPv4 header (RFC 791), fragments by the interface MTU (unless DontFragment
// => ErrMessageTooLong), resolves the next hop with ARP (queueing b while resolving, bounded),
// and sends. Datagrams to a local address (or 127/8) loop back through the loopback queue
// (delivered on Poll). Limited and directed broadcasts go out as link broadcast; the
// transport checks the permission to send them.
func (s *Stack) WriteIPv4(b *pbuf.Buf, o *WriteOptions) error {
	if b == nil {
		return ErrInvalid
	}
	if o != nil && o.GSO > 0 {
		if done, err := s.writeGSO(b, o, false); done {
			return err
		}
	}
	s.stats.IP.OutRequests++
	if o == nil || !o.Dst.Is4() || (o.Src.IsValid() && !o.Src.Is4()) || len(o.Options) > wire.IPv4MaxHeaderLen-wire.IPv4MinHeaderLen {
		b.Free()
		s.stats.IP.OutDiscards++
		return ErrInvalid
	}
	hl := wire.IPv4MinHeaderLen + (len(o.Options)+3)&^3
	total := hl + b.Len()
	if total > 0xffff {
		b.Free()
		s.stats.IP.OutDiscards++
		return ErrMessageTooLong
	}
	var rt outRoute
	if err := s.route(o.Dst, o.NIC, &rt); err != nil {
		b.Free()
		if err == ErrNoRoute {
			s.stats.IP.OutNoRoutes++
		} else {
			s.stats.IP.OutDiscards++
		}
		return err
	}
	src := o.Src
	if !src.IsValid() {
		src = rt.src
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	hdr := b.Prepend(hl)
	if hdr == nil {
		if b = s.regrow(b, hl); b == nil {
			s.stats.IP.OutDiscards++
			return ErrBufferFull
		}
		hdr = b.Bytes()[:hl]
	}
	h := wire.IPv4Header{TOS: o.TOS, TotalLength: total, ID: s.nextID(), TTL: ttl, Protocol: o.Protocol, Src: src, Dst: o.Dst, Options: o.Options}
	if o.DontFragment {
		h.Flags = wire.IPv4FlagDF
	}
	h.Encode(hdr)
	if o.Protocol == wire.ProtoICMP {
		s.countICMPOut(b.Bytes()[hl:])
	}
	return s.output(b, &rt, o.MulticastLoop)
}

// regrow copies b into a new buffer with n more bytes in front (for a
// buffer without enough headroom); it frees b and returns nil on failure.
func (s *Stack) regrow(b *pbuf.Buf, n int) *pbuf.Buf {
	nb := s.pool.Get(n + b.Len())
	if nb == nil {
		s.stats.Link.PoolExhausted++
		b.Free()
		return nil
	}
	copy(nb.Bytes()[n:], b.Bytes())
	b.Free()
	return nb
}

// WriteIPv4Raw sends a datagram whose IPv4 header the caller built
// (header-included raw socket). Like Linux IP_HDRINCL the stack sets the
// total length and the checksum, and fills in a zero ID and a zero source
// address; it routes by the header's destination. Takes ownership of b.
func (s *Stack) WriteIPv4Raw(b *pbuf.Buf) error {
	if b == nil {
		return ErrInvalid
	}
	s.stats.IP.OutRequests++
	d := b.Bytes()
	if len(d) < wire.IPv4MinHeaderLen || d[0]>>4 != 4 || int(d[0]&0xf)*4 < wire.IPv4MinHeaderLen || int(d[0]&0xf)*4 > len(d) {
		b.Free()
		s.stats.IP.OutDiscards++
		return ErrInvalid
	}
	if len(d) > 0xffff {
		b.Free()
		s.stats.IP.OutDiscards++
		return ErrMessageTooLong
	}
	hl := int(d[0]&0xf) * 4
	dst := netip.AddrFrom4([4]byte(d[16:20]))
	var rt outRoute
	if err := s.route(dst, 0, &rt); err != nil {
		b.Free()
		if err == ErrNoRoute {
			s.stats.IP.OutNoRoutes++
		} else {
			s.stats.IP.OutDiscards++
		}
		return err
	}
	binary.BigEndian.PutUint16(d[2:4], uint16(len(d)))
	if binary.BigEndian.Uint16(d[4:6]) == 0 {
		binary.BigEndian.PutUint16(d[4:6], s.nextID())
	}
	if [4]byte(d[12:16]) == [4]byte{} {
		a := rt.src.As4()
		copy(d[12:16], a[:])
	}
	wire.SetIPv4Checksum(d[:hl])
	if d[9] == wire.ProtoICMP {
		s.countICMPOut(d[hl:])
	}
	return s.output(b, &rt, false)
}

// output sends a datagram whose IPv4 header is complete, along rt. It
// takes ownership of b.
func (s *Stack) output(b *pbuf.Buf, rt *outRoute, mcastLoop bool) error {
	n := rt.nic
	if rt.kind == dstLocal || n.kind == LinkLoopback {
		if !s.loopEnqueue(b, LoopbackNIC) {
			s.stats.IP.OutDiscards++
			return ErrBufferFull
		}
		return nil
	}
	d := b.Bytes()
	if rt.kind == dstMulticast && mcastLoop && n.inGroup(netip.AddrFrom4([4]byte(d[16:20]))) {
		if c := s.pool.Get(len(d)); c != nil {
			copy(c.Bytes(), d)
			s.loopEnqueue(c, n.id)
		} else {
			s.stats.Link.PoolExhausted++
		}
	}
	if len(d) > n.mtu && d[6]&0x40 != 0 {
		b.Free()
		s.stats.IP.FragFails++
		s.stats.IP.OutDiscards++
		return ErrMessageTooLong
	}
	if n.kind == LinkIP {
		return s.transmit(n, b, wire.MAC{})
	}
	switch rt.kind {
	case dstBroadcast:
		return s.transmit(n, b, wire.BroadcastMAC)
	case dstMulticast:
		return s.transmit(n, b, wire.IPv4MulticastMAC(netip.AddrFrom4([4]byte(d[16:20]))))
	}
	return s.arpResolve(n, b, rt.nextHop)
}

// transmit sends an IPv4 datagram to the link address mac on n,
// fragmenting it when it exceeds the MTU. Takes ownership of b.
func (s *Stack) transmit(n *nic, b *pbuf.Buf, mac wire.MAC) error {
	if b.Len() > n.mtu {
		return s.fragment(n, b, mac)
	}
	return s.linkSend(n, b, mac)
}

// linkSend adds the link header and hands the frame to the driver. Takes ownership of b.
func (s *Stack) linkSend(n *nic, b *pbuf.Buf, mac wire.MAC) error {
	defer b.Free()
	if !n.up {
		s.stats.Link.NoInterface++
		s.stats.IP.OutDiscards++
		return ErrNoRoute
	}
	if n.kind == LinkEthernet {
		h := b.Prepend(wire.EthernetHeaderLen)
		if h == nil {
			s.stats.Link.SendErrors++
			return ErrBufferFull
		}
		wire.PutEthernet(h, mac, n.mac, wire.EtherTypeIPv4)
	}
	return s.linkSendRaw(n, b.Bytes())
}

// linkSendRaw hands a complete frame to n's driver.
func (s *Stack) linkSendRaw(n *nic, f []byte) error {
	if !n.up || n.link == nil {
		s.stats.Link.NoInterface++
		return ErrNoRoute
	}
	if err := n.link.Send(f); err != nil {
		s.stats.Link.SendErrors++
		return err
	}
	s.stats.Link.FramesOut++
	s.stats.Link.BytesOut += uint64(len(f))
	return nil
}
