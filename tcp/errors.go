package tcp

import "errors"

// Errors reported by the API and to OnError and OnConnected callbacks. The
// concurrent shell maps them to the standard library's errors
// (syscall.ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...).
var (
	// ErrConnRefused: the peer answered our SYN with a RST, or an ICMP
	// port/protocol unreachable arrived while connecting.
	ErrConnRefused = errors.New("tcp: connection refused")
	// ErrConnReset: the peer reset an established connection.
	ErrConnReset = errors.New("tcp: connection reset by peer")
	// ErrTimeout: retransmissions, SYN retries or keepalive probes ran out.
	ErrTimeout = errors.New("tcp: connection timed out")
	// ErrConnAborted: the connection was aborted locally (reclaimed to make
	// room for a new one, or the stack refused a segment it needed).
	ErrConnAborted = errors.New("tcp: connection aborted")
	// ErrHostUnreachable: an ICMP host or network unreachable arrived while
	// connecting.
	ErrHostUnreachable = errors.New("tcp: host unreachable")
	// ErrBufferFull: Write found no room in the send buffer.
	ErrBufferFull = errors.New("tcp: send buffer full")
	// ErrNotConnected: the operation needs a connection.
	ErrNotConnected = errors.New("tcp: not connected")
	// ErrClosed: the PCB was closed or the sending side shut down.
	ErrClosed = errors.New("tcp: use of closed connection")
	// ErrInvalidState: the call does not fit the PCB's state (e.g. Listen
	// on a connected PCB).
	ErrInvalidState = errors.New("tcp: invalid state for operation")
	// ErrAddrInUse: the local address and port are taken.
	ErrAddrInUse = errors.New("tcp: address already in use")
	// ErrNoPorts: no ephemeral port is free for this destination.
	ErrNoPorts = errors.New("tcp: no free ephemeral port")
	// ErrTooManyPCBs: Config.MaxPCBs is reached and nothing could be
	// reclaimed.
	ErrTooManyPCBs = errors.New("tcp: too many connections")
	// ErrInvalidAddr: the address is not a valid IPv4 address and port.
	ErrInvalidAddr = errors.New("tcp: invalid address")
)
