package wire

import (
	"encoding/binary"
	"net/netip"
)

// ARPLen is the length of an ARP packet for Ethernet and IPv4.
const ARPLen = 28

// ARP operation codes (RFC 826).
const (
	ARPRequest = 1
	ARPReply   = 2
)

const (
	arpHTypeEthernet = 1
)

// ARP is a view of an ARP packet for Ethernet hardware and IPv4 protocol
// addresses (RFC 826). Make one with ParseARP.
type ARP struct {
	b []byte
}

// ParseARP checks b as an Ethernet/IPv4 ARP packet. Fewer than 28 bytes
// give ErrTooShort; a hardware type other than 1, a protocol type other
// than 0x0800 or address lengths other than 6 and 4 give ErrUnsupported.
// Trailing bytes (Ethernet padding) are ignored.
func ParseARP(b []byte) (ARP, error) {
	if len(b) < ARPLen {
		return ARP{}, ErrTooShort
	}
	if binary.BigEndian.Uint16(b[0:2]) != arpHTypeEthernet ||
		binary.BigEndian.Uint16(b[2:4]) != EtherTypeIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return ARP{}, ErrUnsupported
	}
	return ARP{b: b[:ARPLen]}, nil
}

// Op returns the operation (ARPRequest, ARPReply or another value).
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a.b[6:8]) }

// SenderMAC returns the sender hardware address.
func (a ARP) SenderMAC() MAC { return MAC(a.b[8:14]) }

// SenderIP returns the sender protocol address.
func (a ARP) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(a.b[14:18])) }

// TargetMAC returns the target hardware address.
func (a ARP) TargetMAC() MAC { return MAC(a.b[18:24]) }

// TargetIP returns the target protocol address.
func (a ARP) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(a.b[24:28])) }

// Bytes returns the 28 bytes of the packet.
func (a ARP) Bytes() []byte { return a.b }

// PutARP writes a 28-byte Ethernet/IPv4 ARP packet at b[0:28]. spa and tpa
// must be IPv4 addresses.
func PutARP(b []byte, op uint16, sha MAC, spa netip.Addr, tha MAC, tpa netip.Addr) {
	_ = b[ARPLen-1]
	binary.BigEndian.PutUint16(b[0:2], arpHTypeEthernet)
	binary.BigEndian.PutUint16(b[2:4], EtherTypeIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], op)
	copy(b[8:14], sha[:])
	s := spa.As4()
	copy(b[14:18], s[:])
	copy(b[18:24], tha[:])
	t := tpa.As4()
	copy(b[24:28], t[:])
}
