package stack

import (
	"encoding/binary"
	"net/netip"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// Offloads (virtio-net's model, as Linux TAP devices with IFF_VNET_HDR
// offer it).
//
// Receive: InputMeta takes a frame with the driver's metadata. A TCP
// segment to one of our unicast addresses whose checksum the device
// verified (RxMeta.CsumValid) or that came from the local kernel with a
// partial checksum (RxMeta.CsumPartial) reaches TCP with
// Packet.ChecksumOK set, and TCP skips its check. Every other partial
// checksum is completed in place first (so UDP, raw handlers and
// forwarding see a valid one). A coalesced TCP super-frame (RxMeta.GSO,
// the kernel's TSO seen from our side) is delivered whole when it is for
// us: IP takes packets longer than the MTU, TCP a segment longer than the
// MSS. One that would be forwarded is cut back into segments of
// RxMeta.GSOSize first.
//
// Transmit: a transport that sets WriteOptions.GSO hands over a TCP
// segment (header + data) of any length up to 64 KiB whose checksum it
// left to the stack. When the outgoing interface's Link implements
// GSOLink and the next hop's link address is known, the stack sends it as
// one frame with a partial checksum, a super-frame when it exceeds the
// MTU (the device segments it into WriteOptions.GSO-byte payloads, TSO).
// Otherwise the stack cuts it into segments itself, each with a complete
// checksum, so the result on the wire is the same. GSOMaxSize tells a
// transport how large a segment the route's interface takes.

// RxMeta is a received frame's offload metadata (see InputMeta).
type RxMeta struct {
	// CsumValid: the device verified the transport checksum.
	CsumValid bool
	// CsumPartial: the transport checksum field at CsumStart+CsumOffset
	// (from the frame's start) holds the pseudo-header sum only; the sum
	// of the bytes from CsumStart on completes it.
	CsumPartial           bool
	CsumStart, CsumOffset int
	// GSO marks a coalesced TCP super-frame whose segments carried
	// GSOSize bytes of payload each.
	GSO     bool
	GSOSize int
}

// GSOFrame describes a frame handed to GSOLink.SendGSO.
type GSOFrame struct {
	// IPv6 says the frame carries TCP over IPv6, else IPv4.
	IPv6 bool
	// Segment: the frame is a super-frame to cut into segments of Size
	// payload bytes (TSO); else an ordinary frame with a partial checksum.
	Segment bool
	// HdrLen is the length of the link, IP and TCP headers.
	HdrLen int
	// Size is the payload bytes per segment.
	Size int
	// CsumStart is the offset of the TCP header, CsumOffset that of its
	// checksum field (16); the field holds the folded pseudo-header sum
	// over the super-frame's TCP length.
	CsumStart, CsumOffset int
}

// GSOLink is an optional interface of a Link whose device completes
// checksums and segments TCP super-frames (TSO).
type GSOLink interface {
	Link
	// GSOMaxSize is the largest IP packet SendGSO takes; 0 turns GSO off.
	GSOMaxSize() int
	// SendGSO sends one frame as g describes; frame is only valid during
	// the call.
	SendGSO(frame []byte, g GSOFrame) error
}

// OffloadStats counts the offload paths.
type OffloadStats struct {
	InCsumOffloaded uint64 // TCP segments delivered without a software checksum check
	InCsumCompleted uint64 // partial checksums completed in software
	InGRO           uint64 // coalesced super-frames received
	InGROSplit      uint64 // coalesced super-frames cut into segments (not for us)
	InBadMeta       uint64 // frames dropped for inconsistent metadata
	OutGSO          uint64 // super-frames handed to a GSOLink (TSO)
	OutCsumPartial  uint64 // frames sent with a partial checksum (no TSO)
	OutSoftSegments uint64 // segments cut by the stack for lack of TSO
}

// offloadState is the Stack's offload scratch state.
type offloadState struct {
	rxCsumOK  bool // the packet Input is delivering has a verified checksum
	rxGSOSize int  // ... and was coalesced from segments of this size (GRO)
}

// GSOMaxSize reports the largest TCP segment (IP packet length) a
// transport should hand the stack with WriteOptions.GSO for interface nic:
// the link's GSO limit, or 0 when the interface has no GSOLink. IPv6
// reports 0 for now (the stack would cut such segments in software).
func (s *Stack) GSOMaxSize(id NIC, ipv6 bool) int {
	n := s.nic(id)
	if n == nil || n.kind != LinkEthernet || ipv6 {
		return 0
	}
	if g, ok := n.link.(GSOLink); ok {
		return min(g.GSOMaxSize(), 0xffff)
	}
	return 0
}

// InputMeta is Input for a frame with offload metadata (see the
// comment at the top of offload.go). It may complete a partial checksum
// in frame, which must be writable; it is valid only during the call.
func (s *Stack) InputMeta(id NIC, frame []byte, m RxMeta) {
	if !m.CsumValid && !m.CsumPartial && !m.GSO {
		s.Input(id, frame)
		return
	}
	n := s.nic(id)
	if n == nil || !n.up || n.kind == LinkLoopback {
		s.Input(id, frame)
		return
	}
	off := 0
	if n.kind == LinkEthernet {
		off = wire.EthernetHeaderLen
		if len(frame) < off {
			s.Input(id, frame)
			return
		}
		switch binary.BigEndian.Uint16(frame[12:14]) {
		case wire.EtherTypeIPv4, wire.EtherTypeIPv6:
		default:
			s.completeCsum(frame, m)
			s.Input(id, frame)
			return
		}
	}
	tcp, local, ok := s.classify(frame[off:])
	if m.CsumPartial && m.CsumStart+m.CsumOffset+2 > len(frame) {
		s.stats.Offload.InBadMeta++
		return
	}
	if m.GSO {
		s.stats.Offload.InGRO++
		if !tcp || !ok || m.GSOSize <= 0 {
			s.stats.Offload.InBadMeta++
			return
		}
		if !local {
			s.completeCsum(frame, m)
			s.groSplit(id, frame, off, m.GSOSize)
			return
		}
	}
	if tcp && local {
		s.off.rxCsumOK = true
		s.stats.Offload.InCsumOffloaded++
		if m.GSO {
			s.off.rxGSOSize = m.GSOSize
		}
	} else {
		s.completeCsum(frame, m)
	}
	s.Input(id, frame)
	s.off.rxCsumOK, s.off.rxGSOSize = false, 0
}

// completeCsum completes a partial checksum in place (virtio 1.x §5.1.6.2).
func (s *Stack) completeCsum(f []byte, m RxMeta) {
	if !m.CsumPartial || m.CsumStart+m.CsumOffset+2 > len(f) {
		return
	}
	s.stats.Offload.InCsumCompleted++
	binary.BigEndian.PutUint16(f[m.CsumStart+m.CsumOffset:], wire.Checksum(f[m.CsumStart:], 0))
}

// classify looks at an IP packet: whether it is an unfragmented TCP
// segment, whether its destination is one of our unicast addresses, and
// whether the headers parse.
func (s *Stack) classify(p []byte) (tcp, local, ok bool) {
	if len(p) < 1 {
		return false, false, false
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) < wire.IPv4MinHeaderLen {
			return false, false, false
		}
		frag := binary.BigEndian.Uint16(p[6:8])&0x3fff != 0
		dst := netip.AddrFrom4([4]byte(p[16:20]))
		return p[9] == wire.ProtoTCP && !frag, s.IsLocal(dst) && !dst.IsMulticast(), true
	case 6:
		if len(p) < wire.IPv6HeaderLen {
			return false, false, false
		}
		dst := netip.AddrFrom16([16]byte(p[24:40]))
		// Only a TCP header right after the fixed header counts.
		return p[6] == wire.ProtoTCP, s.IsLocal(dst) && !dst.IsMulticast(), true
	}
	return false, false, false
}

// groSplit cuts a coalesced TCP super-frame (checksum complete) that is not
// for us into segments of size payload bytes and inputs each.
func (s *Stack) groSplit(id NIC, frame []byte, off, size int) {
	ip := frame[off:]
	v6 := ip[0]>>4 == 6
	var ihl, plen int
	if v6 {
		ihl = wire.IPv6HeaderLen
		plen = ihl + int(binary.BigEndian.Uint16(ip[4:6]))
	} else {
		ihl = int(ip[0]&0xf) * 4
		plen = int(binary.BigEndian.Uint16(ip[2:4]))
	}
	if ihl < 20 || plen > len(ip) || plen < ihl+wire.TCPMinHeaderLen {
		s.stats.Offload.InBadMeta++
		return
	}
	ip = ip[:plen]
	thl := int(ip[ihl+12]>>4) * 4
	if thl < wire.TCPMinHeaderLen || ihl+thl > plen {
		s.stats.Offload.InBadMeta++
		return
	}
	s.stats.Offload.InGROSplit++
	hdr := off + ihl + thl
	data := frame[hdr : off+plen]
	seq := binary.BigEndian.Uint32(ip[ihl+4:])
	flags := ip[ihl+13]
	var id4 uint16
	if !v6 {
		id4 = binary.BigEndian.Uint16(ip[4:6])
	}
	seg := s.pool.Get(hdr + min(size, len(data)))
	if seg == nil {
		s.stats.Link.PoolExhausted++
		return
	}
	defer seg.Free()
	for i := 0; i < len(data); i += size {
		chunk := data[i:min(i+size, len(data))]
		f := seg.Bytes()[:hdr+len(chunk)]
		copy(f, frame[:hdr])
		copy(f[hdr:], chunk)
		fillSegment(f[off:], ihl, v6, seq+uint32(i), flags, i == 0, i+size >= len(data), id4+uint16(i/size))
		s.Input(id, f)
	}
}

// fillSegment fixes one segment cut from a super-packet p (IP header of
// ihl bytes, TCP header, data): lengths, IPv4 ID and checksum, sequence
// number, flags (CWR only on the first, PSH and FIN only on the last, as
// Linux's tcp_gso_segment) and a complete TCP checksum.
func fillSegment(p []byte, ihl int, v6 bool, seq uint32, flags uint8, first, last bool, id uint16) {
	if !first {
		flags &^= wire.TCPFlagCWR
	}
	if !last {
		flags &^= wire.TCPFlagPSH | wire.TCPFlagFIN
	}
	var src, dst netip.Addr
	if v6 {
		binary.BigEndian.PutUint16(p[4:6], uint16(len(p)-ihl))
		src, dst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
	} else {
		binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
		binary.BigEndian.PutUint16(p[4:6], id)
		wire.SetIPv4Checksum(p[:ihl])
		src, dst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
	}
	t := p[ihl:]
	binary.BigEndian.PutUint32(t[4:8], seq)
	t[13] = flags
	wire.SetTCPChecksum(t, src, dst)
}

// writeGSO sends a TCP segment the transport handed over with
// WriteOptions.GSO (checksum not filled in). It reports false when the
// segment should take the ordinary path, after completing its checksum.
// IPv6 segments are cut in software for now (GSOMaxSize reports 0 for
// IPv6, so TCP does not build them large).
func (s *Stack) writeGSO(b *pbuf.Buf, o *WriteOptions, v6 bool) (bool, error) {
	seg := b.Bytes()
	if len(seg) < wire.TCPMinHeaderLen || o.Protocol != wire.ProtoTCP {
		return false, nil
	}
	var rt outRoute
	var err error
	if v6 {
		err = s.route6(o.Dst, o.NIC, &rt)
	} else {
		err = s.route(o.Dst, o.NIC, &rt)
	}
	if err != nil {
		return false, nil // the ordinary path reports the error
	}
	src := o.Src
	if !src.IsValid() {
		if v6 {
			if a, _, _, err := s.Route(o.Dst); err == nil {
				src = a
			}
		} else {
			src = rt.src
		}
	}
	n := rt.nic
	ihl := wire.IPv4MinHeaderLen
	if v6 {
		ihl = wire.IPv6HeaderLen
	}
	fits := ihl+len(seg) <= n.mtu
	var gl GSOLink
	var mac wire.MAC
	resolved := false
	if !v6 && rt.kind == dstUnicast && n.kind == LinkEthernet && n.up && src.IsValid() {
		if gl, _ = n.link.(GSOLink); gl != nil && (fits || ihl+len(seg) <= gl.GSOMaxSize()) {
			if e := s.arp.find(n.id, rt.nextHop); e != nil && (e.state == arpReachable || e.state == arpStatic) {
				s.arp.touch(e)
				mac, resolved = e.mac, true
			}
		}
	}
	if !resolved {
		wire.SetTCPChecksum(seg, src, o.Dst)
		if fits || rt.kind == dstLocal || n.kind == LinkLoopback {
			return false, nil
		}
		o.Src = src
		return s.softSegment(b, o, n.mtu-ihl)
	}
	// One frame with a partial checksum: the device completes it, and
	// segments a super-frame.
	binary.BigEndian.PutUint16(seg[16:18], 0)
	binary.BigEndian.PutUint16(seg[16:18], ^wire.Fold(wire.PseudoHeaderSum(src, o.Dst, wire.ProtoTCP, len(seg))))
	thl := int(seg[12]>>4) * 4
	hl := wire.EthernetHeaderLen + ihl
	h := b.Prepend(hl)
	if h == nil {
		if b = s.regrow(b, hl); b == nil {
			s.stats.IP.OutDiscards++
			return true, ErrBufferFull
		}
		h = b.Bytes()[:hl]
	}
	defer b.Free()
	ttl := o.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	s.stats.IP.OutRequests++
	ih := wire.IPv4Header{TOS: o.TOS, TotalLength: ihl + len(seg), ID: s.nextID(), TTL: ttl, Protocol: wire.ProtoTCP, Src: src, Dst: o.Dst, Flags: wire.IPv4FlagDF}
	ih.Encode(h[wire.EthernetHeaderLen:])
	wire.PutEthernet(h, mac, n.mac, wire.EtherTypeIPv4)
	g := GSOFrame{Segment: !fits, HdrLen: hl + thl, Size: o.GSO, CsumStart: hl, CsumOffset: 16}
	f := b.Bytes()
	if err := gl.SendGSO(f, g); err != nil {
		s.stats.Link.SendErrors++
		return true, err
	}
	if g.Segment {
		s.stats.Offload.OutGSO++
	} else {
		s.stats.Offload.OutCsumPartial++
	}
	s.stats.Link.FramesOut++
	s.stats.Link.BytesOut += uint64(len(f))
	return true, nil
}

// softSegment cuts the TCP segment in b (checksum complete, o.Src set)
// into segments of at most o.GSO payload bytes (and at most maxSeg bytes
// of TCP segment) and sends each through the ordinary path.
func (s *Stack) softSegment(b *pbuf.Buf, o *WriteOptions, maxSeg int) (bool, error) {
	seg := b.Bytes()
	thl := int(seg[12]>>4) * 4
	size := o.GSO
	if maxSeg-thl > 0 {
		size = min(size, maxSeg-thl)
	}
	if size <= 0 || thl < wire.TCPMinHeaderLen || thl > len(seg) || len(seg)-thl <= size {
		return false, nil
	}
	defer b.Free()
	data := seg[thl:]
	seq := binary.BigEndian.Uint32(seg[4:8])
	flags := seg[13]
	c := *o
	c.GSO = 0
	var first error
	for i := 0; i < len(data); i += size {
		chunk := data[i:min(i+size, len(data))]
		nb := s.NewPacket(thl + len(chunk))
		if nb == nil {
			if first == nil {
				first = ErrBufferFull
			}
			break
		}
		t := nb.Bytes()
		copy(t, seg[:thl])
		copy(t[thl:], chunk)
		binary.BigEndian.PutUint32(t[4:8], seq+uint32(i))
		f := flags
		if i != 0 {
			f &^= wire.TCPFlagCWR
		}
		if i+size < len(data) {
			f &^= wire.TCPFlagPSH | wire.TCPFlagFIN
		}
		t[13] = f
		wire.SetTCPChecksum(t, c.Src, c.Dst)
		s.stats.Offload.OutSoftSegments++
		var err error
		if is6(c.Dst) {
			err = s.WriteIPv6(nb, &c)
		} else {
			err = s.WriteIPv4(nb, &c)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return true, first
}
