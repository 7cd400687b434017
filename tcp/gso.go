package tcp

import (
	"math"

	"github.com/featherip/featherip/wire"
)

// Segmentation offload (TSO). When the interface that carries a
// connection segments TCP super-frames (stack.GSOMaxSize > 0, a Linux TAP
// with a virtio-net header), sendNew builds segments of up to that size,
// whole multiples of the payload per segment, with one header. Sequence
// numbers, the window and the options are those of the first segment; the
// device (or the stack, stack/offload.go) cuts the super-segment into
// segments with PSH and FIN only on the last, as separate segments would
// have been sent. Congestion control, the windows, Nagle and sender SWS
// avoidance see the same bytes as without offload; only retransmissions
// after loss recovery go out one segment at a time. The checksum of a data
// segment is left to the stack (stack.WriteOptions.GSO).

// gsoLimit returns the most data bytes sendNew may put in one segment:
// mp without segmentation offload, else as many whole mp-byte payloads as
// fit the interface's limit.
func (c *PCB) gsoLimit(mp int) int {
	if c.gsoMax < 0 {
		c.gsoMax = 0
		p := c.p
		if _, nic, _, err := p.s.Route(c.remote.Addr()); err == nil {
			c.gsoMax = int32(min(p.s.GSOMaxSize(nic, c.remote.Addr().Is6() && !c.remote.Addr().Is4In6()), math.MaxInt32))
		}
	}
	if c.gsoMax == 0 {
		return mp
	}
	hdrs := wire.IPv4MinHeaderLen + wire.TCPMaxHeaderLen
	if c.remote.Addr().Is6() {
		hdrs = wire.IPv6HeaderLen + wire.TCPMaxHeaderLen
	}
	return max(mp, (int(c.gsoMax)-hdrs)/mp*mp)
}
