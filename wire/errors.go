package wire

import "errors"

// Sentinel errors returned by the parsers. They are never wrapped on the
// packet path, so callers may compare with == or errors.Is.
var (
	// ErrTooShort means the buffer is shorter than the fixed part of the header.
	ErrTooShort = errors.New("wire: packet too short")
	// ErrBadVersion means an IP version field does not match the parser.
	ErrBadVersion = errors.New("wire: bad IP version")
	// ErrBadHeaderLen means a header length field (IPv4 IHL, TCP data offset)
	// is below the minimum or points past the buffer.
	ErrBadHeaderLen = errors.New("wire: bad header length")
	// ErrBadLength means a length field (total length, UDP length, option
	// length, record length) is inconsistent with the buffer or the header.
	ErrBadLength = errors.New("wire: bad length")
	// ErrBadChecksum means a checksum did not verify.
	ErrBadChecksum = errors.New("wire: bad checksum")
	// ErrUnsupported means a well-formed packet of a kind this package does
	// not handle (for example ARP for a non-Ethernet or non-IPv4 protocol).
	ErrUnsupported = errors.New("wire: unsupported")
)
