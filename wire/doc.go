// Package wire holds zero-copy views and builders for the packet formats
// featherip speaks: Ethernet II with 802.1Q/802.1ad tags, ARP (RFC 826),
// IPv4 with options (RFC 791), ICMPv4 (RFC 792, RFC 1191), IGMP v1/v2/v3
// (RFC 1112, RFC 2236, RFC 3376), UDP (RFC 768), UDP-Lite (RFC 3828), TCP
// with its options (RFC 9293, RFC 7323, RFC 2018), IPv6 and its extension
// headers (RFC 8200), ICMPv6 (RFC 4443), Neighbor Discovery (RFC 4861,
// RFC 8106), MLDv1/v2 (RFC 2710, RFC 3810) and the Internet checksum
// (RFC 1071, RFC 1624).
//
// A view (Ethernet, ARP, IPv4, ICMPv4, IGMP, UDP, UDPLite, TCP) is a small
// struct over the caller's bytes. Its Parse function checks the lengths once;
// after a successful Parse no accessor of the view panics, whatever the
// bytes. Parse functions do not verify checksums: the views offer
// ChecksumValid so the caller decides and counts. Bad input gives one of the
// sentinel errors of this package (ErrTooShort, ErrBadVersion,
// ErrBadHeaderLen, ErrBadLength, ErrBadChecksum, ErrUnsupported).
//
// Builders (PutXxx functions and the Encode methods of the XxxHeader types)
// write into a caller-provided buffer, which must be long enough: a short
// buffer is a programming error and panics like any out-of-range slice
// index. Builders never read the wire, so they never see hostile input.
//
// Decisions where the RFCs leave room:
//   - ParseTCPOptions rejects a zero, one-byte or overlong option length
//     (ErrBadLength) but skips unknown options and known options with a
//     wrong length, as Linux does; a window scale above 14 reads as 14
//     (RFC 7323 §2.3). TCPOptions.Encode uses Linux's 32-bit aligned layout
//     and drops SACK blocks that do not fit in 40 bytes (the first kept).
//   - IPv4.ForEachOption hides EOL and NOP; IPv4Header.Encode pads options
//     with zeros to a multiple of 4.
//   - UDP over IPv4 with a zero checksum is accepted (no checksum); over
//     IPv6, and for UDP-Lite always, a zero checksum is invalid. Computed
//     zero checksums are sent as 0xffff.
//   - IGMP query versions are told apart as RFC 3376 §7.1 says (length 8
//     and Max Resp Code 0: v1; length 8: v2; length >= 12: v3; else
//     ErrBadLength). Unknown IGMP types give ErrUnsupported.
//   - Ethernet frames are not required to be 60 bytes; up to two VLAN
//     tags are skipped.
//   - IPv6ExtensionWalker stops at a fragment header with a non-zero
//     offset, at ESP, at no-next-header and at unknown values, as Linux's
//     ipv6_skip_exthdr does; it limits the number of headers and bytes.
//     Options iterators hide Pad1 and PadN.
//   - NDP parsers check every option up front (a zero length is
//     ErrBadLength, RFC 4861 §4.6); code and hop-limit checks are the
//     caller's. MLD query versions are told apart by length (RFC 3810 §8.1).
//     NDP and MLD builders leave the checksum zero: SetICMPv6Checksum needs
//     the addresses. Jumbograms are not supported.
//
// Nothing in this package allocates on the packet path, and it holds no
// global mutable state. Addresses are net/netip.Addr values made with
// netip.AddrFrom4 / AddrFrom16, which do not allocate.
package wire
