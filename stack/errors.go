package stack

import "errors"

// Errors returned by the stack's API. They are sentinels: compare them with
// errors.Is. Configuration errors wrap ErrConfig and name the field.
var (
	// ErrNoRoute means no route (via an interface that is up) leads to the destination.
	ErrNoRoute = errors.New("stack: no route to host")
	// ErrBufferFull means a bounded table or queue is full, or the buffer pool is exhausted.
	ErrBufferFull = errors.New("stack: buffer or table full")
	// ErrMessageTooLong means a datagram exceeds the path MTU and DontFragment is set,
	// or exceeds the IPv4 maximum of 65535 bytes.
	ErrMessageTooLong = errors.New("stack: message too long")
	// ErrInvalid means an argument is malformed (wrong address family, nil buffer, ...).
	ErrInvalid = errors.New("stack: invalid argument")
	// ErrNoSuchInterface means the NIC number names no interface.
	ErrNoSuchInterface = errors.New("stack: no such interface")
	// ErrExists means the address, route, group or registration already exists.
	ErrExists = errors.New("stack: already exists")
	// ErrNotFound means the address, route, group or neighbor does not exist.
	ErrNotFound = errors.New("stack: not found")
	// ErrConfig is wrapped by the errors New returns for a bad Config.
	ErrConfig = errors.New("stack: bad config")
)
