package raw

import (
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// DeliverRaw gets every datagram of h's protocol from the stack
// (stack.RawHandler) and hands it to each matching PCB.
func (h *handler) DeliverRaw(pk *stack.Packet) {
	p := h.p
	// Collect first: callbacks may open or close PCBs.
	nested := p.inDeliv
	var list []*PCB
	if nested {
		list = make([]*PCB, 0, 4)
	} else {
		list = p.scratch[:0]
		p.inDeliv = true
	}
	for _, c := range p.pcbs {
		if c.proto != h.proto {
			continue
		}
		if c.local.IsValid() && c.local != pk.Dst {
			continue
		}
		if c.remote.IsValid() && c.remote != pk.Src {
			continue
		}
		list = append(list, c)
	}
	if len(list) > 0 {
		var dg []byte
		if pk.IPv6 {
			dg = pk.Payload // like Linux IPv6 raw sockets: no IPv6 header
		} else {
			dg = p.datagram(pk)
		}
		for _, c := range list {
			if c.closed {
				continue
			}
			if c.onRecv == nil {
				p.stats.InDrops++
				continue
			}
			p.info = RecvInfo{Src: pk.Src, Dst: pk.Dst, NIC: pk.NIC, TTL: pk.TTL, IPv6: pk.IPv6}
			p.stats.InDelivers++
			c.onRecv(c, dg, &p.info)
		}
	}
	if !nested {
		clear(list)
		p.inDeliv = false
		// Unregistering from within the stack's loop over its handlers
		// would disturb it; handlers closed meanwhile stay registered
		// (and idle) until the next Close outside delivery.
	}
}

// datagram returns the whole IPv4 datagram of pk: header and payload in
// place when they are contiguous (a datagram that arrived in one frame),
// else copied into a reused buffer (a reassembled datagram), with the
// total length and fragment fields made to describe the whole datagram.
func (p *Protocol) datagram(pk *stack.Packet) []byte {
	hl, pl := len(pk.IPHeader), len(pk.Payload)
	if pl == 0 {
		return pk.IPHeader
	}
	if hl > 0 && cap(pk.IPHeader) >= hl+pl {
		ext := pk.IPHeader[:hl+pl]
		if &ext[hl] == &pk.Payload[0] {
			return ext
		}
	}
	n := hl + pl
	if cap(p.copyBuf) < n {
		p.copyBuf = make([]byte, n, max(n, 2048))
	}
	b := p.copyBuf[:n]
	copy(b, pk.IPHeader)
	copy(b[hl:], pk.Payload)
	if hl >= wire.IPv4MinHeaderLen && n <= 65535 {
		b[2], b[3] = byte(n>>8), byte(n)
		b[6], b[7] = b[6]&0x40, 0 // keep DF, clear MF and the offset
		b[10], b[11] = 0, 0
		cs := wire.Checksum(b[:hl], 0)
		b[10], b[11] = byte(cs>>8), byte(cs)
	}
	return b
}
