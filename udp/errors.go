package udp

import "errors"

// Errors returned by PCB methods and passed to OnError callbacks. The
// concurrent shell maps them onto the standard library's errors.
var (
	// ErrAddrInUse: the local address and port are taken (EADDRINUSE).
	ErrAddrInUse = errors.New("udp: address already in use")
	// ErrTooManyPCBs: Config.MaxPCBs PCBs exist already.
	ErrTooManyPCBs = errors.New("udp: too many pcbs")
	// ErrNotConnected: Send on a PCB without a remote (ENOTCONN).
	ErrNotConnected = errors.New("udp: not connected")
	// ErrBroadcastNotAllowed: sending to a broadcast address without
	// SetBroadcast(true) (EACCES, like Linux without SO_BROADCAST).
	ErrBroadcastNotAllowed = errors.New("udp: broadcast not allowed")
	// ErrConnRefused: ICMP port (or protocol) unreachable for a connected
	// PCB (ECONNREFUSED).
	ErrConnRefused = errors.New("udp: connection refused")
	// ErrClosed: the PCB was closed.
	ErrClosed = errors.New("udp: pcb closed")
	// ErrMessageTooLong: the datagram does not fit in an IPv4 datagram,
	// or the path MTU is too small (ICMP fragmentation needed) (EMSGSIZE).
	ErrMessageTooLong = errors.New("udp: message too long")
	// ErrHostUnreachable: ICMP host unreachable or time exceeded for a
	// connected PCB (EHOSTUNREACH).
	ErrHostUnreachable = errors.New("udp: host unreachable")
	// ErrNetUnreachable: ICMP network unreachable for a connected PCB
	// (ENETUNREACH).
	ErrNetUnreachable = errors.New("udp: network unreachable")
	// ErrProtocol: ICMP parameter problem for a connected PCB (EPROTO).
	ErrProtocol = errors.New("udp: protocol error")
	// ErrAddrNotAvailable: Bind to an address that is not one of the
	// stack's (EADDRNOTAVAIL).
	ErrAddrNotAvailable = errors.New("udp: address not available")
	// ErrInvalid: a bad argument: an IPv6 or zero remote address, remote
	// port 0, or a UDP-Lite coverage outside 8..length (EINVAL).
	ErrInvalid = errors.New("udp: invalid argument")
	// ErrBufferFull: the stack's buffer pool is exhausted (ENOBUFS).
	ErrBufferFull = errors.New("udp: no buffer space")
)
