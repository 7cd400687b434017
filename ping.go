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

// Ping sends one ICMP echo request (RFC 792; ICMPv6, RFC 4443, when dst is
// an IPv6 address, with a zone for a link-local one: "fe80::1%eth0")
// carrying data to dst through a ping socket ([Host.ListenPing]) and waits
// until the matching echo reply arrives (same identifier, sequence number
// and data) or ctx is done. It
// returns the round-trip time. A reply with different data does not count:
// Ping keeps waiting, so corrupted replies show up as a timeout. It is a
// blocking helper for programs and tests; it must not be called from inside
// Do or a callback.
func (h *Host) Ping(ctx context.Context, dst netip.Addr, data []byte) (time.Duration, error) {
	if !dst.IsValid() {
		return 0, fmt.Errorf("featherip: Ping: invalid address")
	}
	dst = unmap(dst)
	v6 := dst.Is6()
	network, unspec, echo := "udp4", netip.IPv4Unspecified(), uint8(wire.ICMPv4Echo)
	if v6 {
		network, unspec, echo = "udp6", netip.IPv6Unspecified(), wire.ICMPv6EchoRequest
	}
	c, _, err := h.listenPing(network, netip.AddrPortFrom(unspec, 0), v6)
	if err != nil {
		return 0, fmt.Errorf("featherip: Ping %v: %w", dst, opError("listen", network, nil, nil, "socket", err))
	}
	defer c.Close()
	// Cancelling ctx wakes the blocked read through its deadline: no
	// goroutine waits for ctx.
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(aLongTimeAgo) })
	defer stop()

	var seq uint16
	h.Do(func(s *stack.Stack) { seq = uint16(s.Random()) })
	msg := make([]byte, wire.ICMPv4HeaderLen+len(data))
	wire.PutICMPv4(msg, echo, 0, uint32(seq)) // the socket sets the identifier and the checksum
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
		// The ICMPv4 and ICMPv6 echo layouts are the same (RFC 792, RFC
		// 4443 4.2): sequence number at 6, data from 8.
		m, err := wire.ParseICMPv4(buf[:n])
		if from.WithZone("") != dst.WithZone("") || err != nil || m.Seq() != seq || !bytes.Equal(m.Payload(), data) {
			continue
		}
		return rtt, nil
	}
}
