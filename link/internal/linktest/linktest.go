// Package linktest holds small helpers for the link drivers' tests: a
// virtual clock that tests advance by hand, and frame builders.
package linktest

import (
	"sync/atomic"
	"time"
)

// Clock is a virtual link.Clock: time stands still until Advance or Set.
// It is safe for concurrent use.
type Clock struct{ now atomic.Int64 }

// Now reports the virtual time.
func (c *Clock) Now() time.Duration { return time.Duration(c.now.Load()) }

// Advance moves the virtual time forward by d.
func (c *Clock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// Set moves the virtual time to t.
func (c *Clock) Set(t time.Duration) { c.now.Store(int64(t)) }

// Frame builds an Ethernet II frame from dst to src with the given
// EtherType and payload.
func Frame(dst, src []byte, etherType uint16, payload []byte) []byte {
	f := make([]byte, 14+len(payload))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	f[12] = byte(etherType >> 8)
	f[13] = byte(etherType)
	copy(f[14:], payload)
	return f
}
