package wire

import "encoding/binary"

// TCP option kinds (RFC 9293, RFC 7323, RFC 2018).
const (
	TCPOptionEOL           = 0
	TCPOptionNOP           = 1
	TCPOptionMSS           = 2 // maximum segment size, length 4
	TCPOptionWScale        = 3 // window scale, length 3 (RFC 7323)
	TCPOptionSACKPermitted = 4 // length 2 (RFC 2018)
	TCPOptionSACK          = 5 // length 2+8n (RFC 2018)
	TCPOptionTimestamps    = 8 // length 10 (RFC 7323)
)

// TCPMaxWScale is the largest window scale shift (RFC 7323 §2.3).
const TCPMaxWScale = 14

// TCPMaxSACKBlocks is the number of SACK blocks TCPOptions holds; 4 is
// the most that fits in 40 option bytes.
const TCPMaxSACKBlocks = 4

// SACKBlock is one block of a SACK option (RFC 2018): the sequence
// numbers of the first byte of the block and of the byte just after it.
type SACKBlock struct{ Left, Right uint32 }

// TCPOptions holds the TCP options featherip uses. It is a plain value:
// ParseTCPOptions fills one, Encode writes one.
type TCPOptions struct {
	MSS           uint16
	HasMSS        bool
	WScale        uint8 // shift count, at most 14
	HasWScale     bool
	SACKPermitted bool
	TSVal, TSEcr  uint32
	HasTimestamps bool
	SACK          [TCPMaxSACKBlocks]SACKBlock
	NumSACK       int // blocks used in SACK
}

// ParseTCPOptions parses the option bytes opts (TCP.Options) into o, which
// it resets first. EOL ends the list, NOP is skipped. Every other option
// must have a length byte of at least 2 that fits in opts, else
// ParseTCPOptions returns ErrBadLength (RFC 9293 §3.1: a zero length would
// loop forever, an overlong one reads past the header). Options of an
// unknown kind, and known options with a wrong length, are skipped, as
// Linux does. A window scale above 14 is taken as 14 (RFC 7323 §2.3); a
// SACK option with more than 4 blocks keeps the first 4. A repeated option
// overrides the earlier one.
func ParseTCPOptions(opts []byte, o *TCPOptions) error {
	*o = TCPOptions{}
	for i := 0; i < len(opts); {
		kind := opts[i]
		switch kind {
		case TCPOptionEOL:
			return nil
		case TCPOptionNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return ErrBadLength
		}
		l := int(opts[i+1])
		if l < 2 || l > len(opts)-i {
			return ErrBadLength
		}
		v := opts[i+2 : i+l]
		switch kind {
		case TCPOptionMSS:
			if l == 4 {
				o.MSS = binary.BigEndian.Uint16(v)
				o.HasMSS = true
			}
		case TCPOptionWScale:
			if l == 3 {
				o.WScale = min(v[0], TCPMaxWScale)
				o.HasWScale = true
			}
		case TCPOptionSACKPermitted:
			if l == 2 {
				o.SACKPermitted = true
			}
		case TCPOptionSACK:
			if l >= 10 && (l-2)%8 == 0 {
				n := min((l-2)/8, TCPMaxSACKBlocks)
				for j := 0; j < n; j++ {
					o.SACK[j] = SACKBlock{
						Left:  binary.BigEndian.Uint32(v[j*8:]),
						Right: binary.BigEndian.Uint32(v[j*8+4:]),
					}
				}
				o.NumSACK = n
			}
		case TCPOptionTimestamps:
			if l == 10 {
				o.TSVal = binary.BigEndian.Uint32(v[0:4])
				o.TSEcr = binary.BigEndian.Uint32(v[4:8])
				o.HasTimestamps = true
			}
		}
		i += l
	}
	return nil
}

// Option sizes in the layout Encode writes (each a multiple of 4).
const (
	tcpOptLenMSS     = 4  // MSS
	tcpOptLenWScale  = 4  // NOP, WS
	tcpOptLenSACKOK  = 4  // NOP, NOP, SACK-permitted (alone)
	tcpOptLenTS      = 12 // NOP, NOP, TS  or  SACK-permitted, TS
	tcpOptLenSACKHdr = 4  // NOP, NOP, kind, len
	tcpOptSpace      = 40
)

// sackBlocks returns how many SACK blocks Encode writes: NumSACK clamped
// to 0..4 and to what fits in 40 bytes after the other options.
func (o *TCPOptions) sackBlocks(used int) int {
	n := min(max(o.NumSACK, 0), TCPMaxSACKBlocks)
	if n == 0 {
		return 0
	}
	room := (tcpOptSpace - used - tcpOptLenSACKHdr) / 8
	return max(min(n, room), 0)
}

func (o *TCPOptions) fixedLen() int {
	n := 0
	if o.HasMSS {
		n += tcpOptLenMSS
	}
	if o.HasTimestamps {
		n += tcpOptLenTS
	} else if o.SACKPermitted {
		n += tcpOptLenSACKOK
	}
	if o.HasWScale {
		n += tcpOptLenWScale
	}
	return n
}

// EncodedLen returns the number of bytes Encode writes, a multiple of 4
// and at most 40.
func (o *TCPOptions) EncodedLen() int {
	n := o.fixedLen()
	if k := o.sackBlocks(n); k > 0 {
		n += tcpOptLenSACKHdr + 8*k
	}
	return n
}

// Encode writes the options at the start of b in the layout Linux uses
// (MSS; SACK-permitted and timestamps together, or each after NOPs; NOP
// and window scale; NOP, NOP and SACK blocks), 32-bit aligned, and returns
// EncodedLen. SACK blocks that do not fit in 40 bytes beside the other
// options are left out, the first ones kept (RFC 2018 §4: the first block
// reports the most recent data). A WScale above 14 is written as 14.
func (o *TCPOptions) Encode(b []byte) int {
	n := o.EncodedLen()
	_ = b[:n]
	i := 0
	if o.HasMSS {
		b[0], b[1] = TCPOptionMSS, 4
		binary.BigEndian.PutUint16(b[2:4], o.MSS)
		i = 4
	}
	if o.HasTimestamps {
		if o.SACKPermitted {
			b[i], b[i+1] = TCPOptionSACKPermitted, 2
		} else {
			b[i], b[i+1] = TCPOptionNOP, TCPOptionNOP
		}
		b[i+2], b[i+3] = TCPOptionTimestamps, 10
		binary.BigEndian.PutUint32(b[i+4:], o.TSVal)
		binary.BigEndian.PutUint32(b[i+8:], o.TSEcr)
		i += tcpOptLenTS
	} else if o.SACKPermitted {
		b[i], b[i+1], b[i+2], b[i+3] = TCPOptionNOP, TCPOptionNOP, TCPOptionSACKPermitted, 2
		i += tcpOptLenSACKOK
	}
	if o.HasWScale {
		b[i], b[i+1], b[i+2], b[i+3] = TCPOptionNOP, TCPOptionWScale, 3, min(o.WScale, TCPMaxWScale)
		i += tcpOptLenWScale
	}
	if k := o.sackBlocks(i); k > 0 {
		b[i], b[i+1], b[i+2], b[i+3] = TCPOptionNOP, TCPOptionNOP, TCPOptionSACK, byte(2+8*k)
		i += tcpOptLenSACKHdr
		for j := 0; j < k; j++ {
			binary.BigEndian.PutUint32(b[i:], o.SACK[j].Left)
			binary.BigEndian.PutUint32(b[i+4:], o.SACK[j].Right)
			i += 8
		}
	}
	return i
}
