package stack

import (
	"encoding/binary"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// fragment6 splits the IPv6 packet b into fragments of at most mtu bytes
// and sends each to mac (RFC 8200 4.5). The unfragmentable part is the
// IPv6 header and a hop-by-hop header if present (the only extension
// header the stack emits before the upper layer); each fragment carries
// it, a fragment header with a fresh identification (RFC 7739: random),
// and a multiple of 8 bytes of the rest. Takes ownership of b.
func (s *Stack) fragment6(n *nic, b *pbuf.Buf, mac wire.MAC, mtu int) error {
	defer b.Free()
	st := &s.stats.IPv6
	d := b.Bytes()
	uf := wire.IPv6HeaderLen
	nhOff := 6
	if d[6] == wire.ProtoHopByHop && len(d) >= uf+8 {
		l := (int(d[uf+1]) + 1) * 8
		if uf+l <= len(d) {
			nhOff = uf
			uf += l
		}
	}
	if mtu < minMTU6 && mtu < uf+wire.IPv6FragmentHeaderLen+8 {
		st.FragFails++
		st.OutDiscards++
		return ErrMessageTooLong
	}
	next := d[nhOff]
	rest := d[uf:]
	max := (mtu - uf - wire.IPv6FragmentHeaderLen) &^ 7
	if max <= 0 {
		st.FragFails++
		st.OutDiscards++
		return ErrMessageTooLong
	}
	id := uint32(s.rand.Uint64())
	for off := 0; off < len(rest); {
		chunk := len(rest) - off
		more := false
		if chunk > max {
			chunk, more = max, true
		}
		f := s.pool.Get(uf + wire.IPv6FragmentHeaderLen + chunk)
		if f == nil {
			s.stats.Link.PoolExhausted++
			st.FragFails++
			st.OutDiscards++
			return ErrBufferFull
		}
		fb := f.Bytes()
		copy(fb, d[:uf])
		fb[nhOff] = wire.ProtoFragment
		binary.BigEndian.PutUint16(fb[4:6], uint16(len(fb)-wire.IPv6HeaderLen))
		wire.PutIPv6Fragment(fb[uf:], next, off, more, id)
		copy(fb[uf+wire.IPv6FragmentHeaderLen:], rest[off:off+chunk])
		st.FragCreates++
		if err := s.linkSend6(n, f, mac); err != nil {
			st.FragFails++
			return err
		}
		off += chunk
	}
	st.FragOKs++
	return nil
}
