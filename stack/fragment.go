package stack

import (
	"encoding/binary"

	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/wire"
)

// fragment splits the IPv4 datagram b into fragments that fit n's MTU and
// sends each to mac (RFC 791 section 3.2, "An Example Fragmentation
// Procedure"). Every fragment carries a copy of the header; the first keeps
// all options, later ones only the options whose copied bit is set. Offsets
// are in 8-byte units; MF is set on all but the last fragment (and on the
// last too when b itself was a non-final fragment). Takes ownership of b.
func (s *Stack) fragment(n *nic, b *pbuf.Buf, mac wire.MAC) error {
	defer b.Free()
	d := b.Bytes()
	hl := int(d[0]&0xf) * 4
	if d[6]&0x40 != 0 {
		s.stats.IP.FragFails++
		s.stats.IP.OutDiscards++
		return ErrMessageTooLong
	}
	payload := d[hl:]
	baseOff := int(binary.BigEndian.Uint16(d[6:8])&0x1fff) * 8
	origMF := d[6]&0x20 != 0

	// Header for the second and later fragments: the fixed part plus the
	// options with the copied bit.
	var rest [wire.IPv4MaxHeaderLen]byte
	copy(rest[:], d[:wire.IPv4MinHeaderLen])
	rl := wire.IPv4MinHeaderLen
	opts := d[wire.IPv4MinHeaderLen:hl]
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == 0 { // end of options
			break
		}
		if t == 1 { // NOP
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			break
		}
		l := int(opts[i+1])
		if t&0x80 != 0 {
			rl += copy(rest[rl:], opts[i:i+l])
		}
		i += l
	}
	for rl%4 != 0 {
		rest[rl] = 0
		rl++
	}
	rest[0] = 0x40 | byte(rl/4)

	for off, first := 0, true; off < len(payload); first = false {
		h := d[:hl]
		if !first {
			h = rest[:rl]
		}
		max := (n.mtu - len(h)) &^ 7
		if max <= 0 {
			s.stats.IP.FragFails++
			s.stats.IP.OutDiscards++
			return ErrMessageTooLong
		}
		chunk := len(payload) - off
		last := true
		if chunk > max {
			chunk, last = max, false
		}
		f := s.pool.Get(len(h) + chunk)
		if f == nil {
			s.stats.Link.PoolExhausted++
			s.stats.IP.FragFails++
			s.stats.IP.OutDiscards++
			return ErrBufferFull
		}
		fb := f.Bytes()
		copy(fb, h)
		copy(fb[len(h):], payload[off:off+chunk])
		binary.BigEndian.PutUint16(fb[2:4], uint16(len(h)+chunk))
		fo := uint16((baseOff+off)/8) | uint16(d[6]&0x80)<<8 // keep the reserved bit as sent
		if !last || origMF {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(fb[6:8], fo)
		wire.SetIPv4Checksum(fb[:len(h)])
		s.stats.IP.FragCreates++
		if err := s.linkSend(n, f, mac); err != nil {
			s.stats.IP.FragFails++
			return err
		}
		off += chunk
	}
	s.stats.IP.FragOKs++
	return nil
}
