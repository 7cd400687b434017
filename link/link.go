// Package link defines the one small interface every featherip network
// driver implements, and holds the drivers: in-memory pipe and switch,
// Linux TAP, and wrappers for packet capture and fault injection.
//
// A driver moves whole link-layer frames. For an Ethernet link a frame
// starts with the Ethernet header; for an IP link (TUN, PPP) it starts with
// the IP header. The driver never interprets the frames beyond what its job
// needs (a switch reads MAC addresses, a capture writes bytes).
package link

import (
	"errors"
	"net"
	"time"
)

// Kind says what a link's frames start with.
type Kind int

const (
	// Ethernet links carry Ethernet II frames (TAP, in-memory pipe, switch).
	Ethernet Kind = iota
	// IP links carry bare IPv4 or IPv6 packets (TUN, PPP).
	IP
)

// ErrClosed is returned by a link's methods after Close.
var ErrClosed = errors.New("link: closed")

// ErrFrameTooLong is returned by Send for a frame longer than the link's
// MTU plus its link header.
var ErrFrameTooLong = errors.New("link: frame too long")

// Link is a network driver.
//
// Send and Receive may be called from different goroutines at once; Close
// may be called from any goroutine and makes a blocked Receive return
// ErrClosed.
type Link interface {
	// Kind tells whether frames carry an Ethernet header.
	Kind() Kind
	// MTU is the largest IP packet the link carries, without link header.
	MTU() int
	// HardwareAddr is the link's MAC address; nil for IP links.
	HardwareAddr() net.HardwareAddr
	// Send transmits one frame. The link does not keep frame after Send
	// returns: it copies what it needs.
	Send(frame []byte) error
	// Receive blocks until a frame arrives, copies it into buf and returns
	// its length. A frame longer than buf is truncated to len(buf).
	Receive(buf []byte) (int, error)
	// Close releases the link. Receive returns ErrClosed afterwards.
	Close() error
}

// Poller is implemented by in-memory links that can run under virtual time
// without goroutines: the simulation calls TryReceive instead of Receive.
type Poller interface {
	// TryReceive copies the next frame that is due into buf and returns its
	// length and true, or 0 and false when no frame is due now.
	TryReceive(buf []byte) (int, bool)
	// NextDue reports when the next queued frame becomes due, if any.
	NextDue() (time.Duration, bool)
}

// Clock gives the current time as a monotonic duration since an arbitrary
// origin. In-memory links and wrappers use it for delay; the simulation
// passes its virtual clock, the concurrent shell a real one.
type Clock interface {
	Now() time.Duration
}
