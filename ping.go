package featherip

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// aLongTimeAgo is a deadline in the past, used to wake a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// Ping sends one ICMP echo request (RFC 792) carrying data to dst through a
// ping socket ([Host.ListenPing]) and waits until the matching echo reply
// arrives (same identifier, sequence number and data) or ctx is done. It
// returns the round-trip time. A reply with different data does not count:
// Ping keeps waiting, so corrupted replies show up as a timeout. It is a
// blocking helper for programs and tests; it must not be called from inside
// Do or a callback.
func (h *Host) Ping(ctx context.Context, dst netip.Addr, data []byte) (time.Duration, error) {
	if !dst.Is4() {
		return 0, fmt.Errorf("featherip: Ping: %v is not an IPv4 address", dst)
	}
	c, _, err := h.listenPing("udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		return 0, fmt.Errorf("featherip: Ping %v: %w", dst, opError("listen", "udp4", nil, nil, "socket", err))
	}
	defer c.Close()
	// Cancelling ctx wakes the blocked read through its deadline: no
	// goroutine waits for ctx.
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(aLongTimeAgo) })
	defer stop()

	var seq uint16
	h.Do(func(s *stack.Stack) { seq = uint16(s.Random()) })
	msg := make([]byte, wire.ICMPv4HeaderLen+len(data))
	wire.PutICMPv4(msg, wire.ICMPv4Echo, 0, uint32(seq)) // the socket sets the identifier
	copy(msg[wire.ICMPv4HeaderLen:], data)
	start := h.Now()
	if _, err := c.WriteToAddr(msg, dst); err != nil {
		return 0, fmt.Errorf("featherip: Ping %v: %w", dst, err)
	}
	buf := make([]byte, len(msg)+1) // one more byte: a longer reply does not match
	for {
		n, from, err := c.ReadFromAddr(buf)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return 0, fmt.Errorf("featherip: Ping %v: no reply: %w", dst, cerr)
			}
			return 0, fmt.Errorf("featherip: Ping %v: %w", dst, err)
		}
		rtt := h.Now() - start
		m, err := wire.ParseICMPv4(buf[:n])
		if from != dst || err != nil || m.Seq() != seq || !bytes.Equal(m.Payload(), data) {
			continue
		}
		return rtt, nil
	}
}
