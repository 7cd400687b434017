package wire

import (
	"encoding/binary"
	"net/netip"
)

// MAC is an IEEE 802 48-bit MAC address.
type MAC [6]byte

// BroadcastMAC is the Ethernet broadcast address ff:ff:ff:ff:ff:ff.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

const hexDigits = "0123456789abcdef"

// String formats m as six colon-separated lowercase hex bytes.
func (m MAC) String() string {
	var buf [17]byte
	for i, b := range m {
		if i > 0 {
			buf[i*3-1] = ':'
		}
		buf[i*3] = hexDigits[b>>4]
		buf[i*3+1] = hexDigits[b&0xf]
	}
	return string(buf[:])
}

// IsMulticast reports whether m is a group address (I/G bit set); the
// broadcast address is a multicast address too.
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == BroadcastMAC }

// EthernetHeaderLen is the length of an untagged Ethernet II header.
const EthernetHeaderLen = 14

// EtherType values.
const (
	EtherTypeIPv4 = 0x0800 // Internet Protocol version 4
	EtherTypeARP  = 0x0806 // Address Resolution Protocol (RFC 826)
	EtherTypeIPv6 = 0x86DD // Internet Protocol version 6
	EtherTypeVLAN = 0x8100 // IEEE 802.1Q customer VLAN tag
	EtherTypeQinQ = 0x88A8 // IEEE 802.1ad service VLAN tag
)

// vlanTagLen is the length of one 802.1Q/802.1ad tag (TPID + TCI).
const vlanTagLen = 4

// Ethernet is a view of an Ethernet II frame, possibly with one or two
// VLAN tags. Make one with ParseEthernet.
type Ethernet struct {
	b      []byte
	hdrLen int
}

func isVLANType(t uint16) bool { return t == EtherTypeVLAN || t == EtherTypeQinQ }

// ParseEthernet checks b as an Ethernet II frame (without FCS) and returns
// a view. Up to two VLAN tags (802.1Q 0x8100 or 802.1ad 0x88A8) are
// skipped; EtherType then returns the type after them. A frame shorter than
// its header gives ErrTooShort. The 60-byte minimum frame size is not
// enforced (frames from TAP devices and in-memory links are not padded).
// A third tag is not skipped: EtherType then returns the tag's TPID, which
// callers drop as an unknown type.
func ParseEthernet(b []byte) (Ethernet, error) {
	if len(b) < EthernetHeaderLen {
		return Ethernet{}, ErrTooShort
	}
	n := EthernetHeaderLen
	for i := 0; i < 2 && isVLANType(binary.BigEndian.Uint16(b[n-2:])); i++ {
		if len(b) < n+vlanTagLen {
			return Ethernet{}, ErrTooShort
		}
		n += vlanTagLen
	}
	return Ethernet{b: b, hdrLen: n}, nil
}

// Dst returns the destination MAC address.
func (e Ethernet) Dst() MAC { return MAC(e.b[0:6]) }

// Src returns the source MAC address.
func (e Ethernet) Src() MAC { return MAC(e.b[6:12]) }

// EtherType returns the EtherType after any VLAN tags.
func (e Ethernet) EtherType() uint16 { return binary.BigEndian.Uint16(e.b[e.hdrLen-2:]) }

// VLAN returns the VLAN ID (low 12 bits of the TCI) of the outermost tag,
// and ok=false for an untagged frame.
func (e Ethernet) VLAN() (id uint16, ok bool) {
	if e.hdrLen == EthernetHeaderLen {
		return 0, false
	}
	return binary.BigEndian.Uint16(e.b[14:16]) & 0x0fff, true
}

// HeaderLen returns the header length including VLAN tags (14, 18 or 22).
func (e Ethernet) HeaderLen() int { return e.hdrLen }

// Payload returns the bytes after the header.
func (e Ethernet) Payload() []byte { return e.b[e.hdrLen:] }

// PutEthernet writes an untagged Ethernet II header at b[0:14].
func PutEthernet(b []byte, dst, src MAC, etherType uint16) {
	_ = b[13]
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etherType)
}

// IPv4MulticastMAC returns the Ethernet address for IPv4 multicast group:
// 01:00:5e followed by the low 23 bits of the group (RFC 1112 §6.4).
func IPv4MulticastMAC(group netip.Addr) MAC {
	a := group.As4()
	return MAC{0x01, 0x00, 0x5e, a[1] & 0x7f, a[2], a[3]}
}
