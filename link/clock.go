package link

import "time"

// MonotonicClock returns a Clock that reads the machine's monotonic clock,
// counting from the moment MonotonicClock was called. Drivers use it when
// their configuration names no clock.
func MonotonicClock() Clock { return monoClock{start: time.Now()} }

type monoClock struct{ start time.Time }

// Now reports the time elapsed since the clock was created.
func (c monoClock) Now() time.Duration { return time.Since(c.start) }

// EthernetHeaderLen is the length of an Ethernet II header (destination,
// source, EtherType), the link header that Ethernet links add to the MTU.
const EthernetHeaderLen = 14

// MaxFrameLen is the longest frame a link of the given kind and MTU accepts:
// the MTU plus the Ethernet header for Ethernet links, the MTU for IP links.
func MaxFrameLen(k Kind, mtu int) int {
	if k == Ethernet {
		return mtu + EthernetHeaderLen
	}
	return mtu
}
