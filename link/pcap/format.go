// Package pcap captures a link's traffic to a classic libpcap file (the
// format Wireshark, tshark and tcpdump read, described in
// draft-ietf-opsawg-pcap) and reads such files back.
//
// Wrap puts a capture around any link.Link: every frame sent or received
// is appended to the file with a timestamp from a link.Clock (the wall
// clock by default), as LINKTYPE_ETHERNET for Ethernet links and
// LINKTYPE_RAW for IP links. The wrapper still implements link.Poller when
// the wrapped link does, so captures work under virtual time.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Link-layer header types (the LINKTYPE_ registry).
const (
	LinkTypeEthernet uint32 = 1   // LINKTYPE_ETHERNET: IEEE 802.3 / Ethernet II
	LinkTypeRaw      uint32 = 101 // LINKTYPE_RAW: bare IPv4 or IPv6
)

// Magic numbers of the file header.
const (
	MagicMicroseconds uint32 = 0xa1b2c3d4
	MagicNanoseconds  uint32 = 0xa1b23c4d
)

// DefaultSnapLen is the snapshot length written when Options.SnapLen is 0,
// the value tcpdump uses.
const DefaultSnapLen = 262144

// MaxSnapLen bounds the snapshot length the Reader accepts, so a hostile
// file cannot make it allocate without bound.
const MaxSnapLen = 1 << 20

const (
	fileHeaderLen   = 24
	packetHeaderLen = 16
)

// Writer appends packet records to a classic pcap stream. It is not safe
// for concurrent use.
type Writer struct {
	w    io.Writer
	nano bool
	snap int
	hdr  [packetHeaderLen]byte
}

// NewWriter writes the file header (little-endian, version 2.4) to w and
// returns a Writer for packets of the given link type. snapLen 0 means
// DefaultSnapLen; nano selects nanosecond timestamps.
func NewWriter(w io.Writer, linkType uint32, snapLen int, nano bool) (*Writer, error) {
	if snapLen == 0 {
		snapLen = DefaultSnapLen
	}
	if snapLen < 0 || snapLen > MaxSnapLen {
		return nil, fmt.Errorf("pcap: snapshot length %d out of range 1..%d", snapLen, MaxSnapLen)
	}
	var h [fileHeaderLen]byte
	magic := MagicMicroseconds
	if nano {
		magic = MagicNanoseconds
	}
	binary.LittleEndian.PutUint32(h[0:], magic)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	// thiszone and sigfigs stay 0.
	binary.LittleEndian.PutUint32(h[16:], uint32(snapLen))
	binary.LittleEndian.PutUint32(h[20:], linkType)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w, nano: nano, snap: snapLen}, nil
}

// WritePacket appends one packet captured at ts (time since the Unix
// epoch). Data beyond the snapshot length is cut; the record keeps the
// original length.
func (w *Writer) WritePacket(ts time.Duration, data []byte) error {
	if ts < 0 {
		ts = 0
	}
	sec := uint32(ts / time.Second)
	frac := uint32(ts % time.Second)
	if !w.nano {
		frac /= 1000
	}
	incl := len(data)
	if incl > w.snap {
		incl = w.snap
	}
	binary.LittleEndian.PutUint32(w.hdr[0:], sec)
	binary.LittleEndian.PutUint32(w.hdr[4:], frac)
	binary.LittleEndian.PutUint32(w.hdr[8:], uint32(incl))
	binary.LittleEndian.PutUint32(w.hdr[12:], uint32(len(data)))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return err
	}
	_, err := w.w.Write(data[:incl])
	return err
}

// Errors returned by the Reader.
var (
	ErrBadMagic  = errors.New("pcap: not a classic pcap file (bad magic number)")
	ErrBadHeader = errors.New("pcap: invalid header")
)

// Packet is one record read from a capture.
type Packet struct {
	// Timestamp is the capture time since the Unix epoch.
	Timestamp time.Duration
	// OrigLen is the packet's length on the wire; len(Data) may be less.
	OrigLen int
	// Data holds the captured bytes. It is only valid until the next
	// call to Next.
	Data []byte
}

// Reader reads a classic pcap stream in either byte order and with
// microsecond or nanosecond timestamps.
type Reader struct {
	r     io.Reader
	order binary.ByteOrder
	nano  bool
	// LinkType is the file's link-layer header type.
	LinkType uint32
	// SnapLen is the file's snapshot length.
	SnapLen uint32
	// VersionMajor and VersionMinor are the file format version.
	VersionMajor, VersionMinor uint16
	hdr                        [packetHeaderLen]byte
	buf                        []byte
}

// NewReader reads and checks the file header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: file header truncated", ErrBadHeader)
		}
		return nil, err
	}
	rd := &Reader{r: r}
	switch {
	case binary.LittleEndian.Uint32(h[0:]) == MagicMicroseconds:
		rd.order = binary.LittleEndian
	case binary.LittleEndian.Uint32(h[0:]) == MagicNanoseconds:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[0:]) == MagicMicroseconds:
		rd.order = binary.BigEndian
	case binary.BigEndian.Uint32(h[0:]) == MagicNanoseconds:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, ErrBadMagic
	}
	rd.VersionMajor = rd.order.Uint16(h[4:])
	rd.VersionMinor = rd.order.Uint16(h[6:])
	rd.SnapLen = rd.order.Uint32(h[16:])
	rd.LinkType = rd.order.Uint32(h[20:]) & 0x0fffffff // high bits: FCS info
	if rd.VersionMajor != 2 {
		return nil, fmt.Errorf("%w: version %d.%d", ErrBadHeader, rd.VersionMajor, rd.VersionMinor)
	}
	return rd, nil
}

// Nanosecond reports whether the file has nanosecond timestamps.
func (r *Reader) Nanosecond() bool { return r.nano }

// Next reads the next packet. It returns io.EOF at the clean end of the
// file, and an error wrapping ErrBadHeader for a truncated or oversized
// record.
func (r *Reader) Next() (Packet, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, fmt.Errorf("%w: record header truncated", ErrBadHeader)
		}
		return Packet{}, err
	}
	sec := r.order.Uint32(r.hdr[0:])
	frac := r.order.Uint32(r.hdr[4:])
	incl := r.order.Uint32(r.hdr[8:])
	orig := r.order.Uint32(r.hdr[12:])
	if incl > MaxSnapLen {
		return Packet{}, fmt.Errorf("%w: record of %d bytes exceeds %d", ErrBadHeader, incl, MaxSnapLen)
	}
	if (r.nano && frac >= 1e9) || (!r.nano && frac >= 1e6) {
		return Packet{}, fmt.Errorf("%w: timestamp fraction %d out of range", ErrBadHeader, frac)
	}
	if cap(r.buf) < int(incl) {
		r.buf = make([]byte, incl)
	}
	data := r.buf[:incl]
	if _, err := io.ReadFull(r.r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, fmt.Errorf("%w: record data truncated", ErrBadHeader)
		}
		return Packet{}, err
	}
	ts := time.Duration(sec) * time.Second
	if r.nano {
		ts += time.Duration(frac)
	} else {
		ts += time.Duration(frac) * time.Microsecond
	}
	if orig < incl {
		orig = incl
	}
	return Packet{Timestamp: ts, OrigLen: int(orig), Data: data}, nil
}
