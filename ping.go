package featherip

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// Ping sends one ICMP echo request (RFC 792) carrying data to dst through a
// raw ICMP pcb and waits until the matching echo reply arrives (same
// identifier, sequence number and data) or ctx is done. It returns the
// round-trip time. A reply with different data does not count: Ping keeps
// waiting, so corrupted replies show up as a timeout. It is a blocking helper for programs and tests; it must
// not be called from inside Do or a callback.
func (h *Host) Ping(ctx context.Context, dst netip.Addr, data []byte) (time.Duration, error) {
	if !dst.Is4() {
		return 0, fmt.Errorf("featherip: Ping: %v is not an IPv4 address", dst)
	}
	msg := make([]byte, wire.ICMPv4HeaderLen+len(data))
	copy(msg[wire.ICMPv4HeaderLen:], data)
	replied := make(chan time.Duration, 1)
	var (
		pcb   *raw.PCB
		err   error
		start time.Duration
	)
	h.Do(func(s *stack.Stack) {
		pcb, err = h.raw.NewPCB(wire.ProtoICMP)
		if err != nil {
			return
		}
		r := s.Random()
		id, seq := uint16(r), uint16(r>>16)
		wire.PutICMPv4(msg, wire.ICMPv4Echo, 0, uint32(id)<<16|uint32(seq))
		wire.SetICMPv4Checksum(msg)
		pcb.OnRecv(func(_ *raw.PCB, datagram []byte, info *raw.RecvInfo) {
			if info.Src != dst {
				return
			}
			ip, err := wire.ParseIPv4(datagram)
			if err != nil {
				return
			}
			m, err := wire.ParseICMPv4(ip.Payload())
			if err != nil || m.Type() != wire.ICMPv4EchoReply || m.Code() != 0 ||
				m.ID() != id || m.Seq() != seq || !m.ChecksumValid() ||
				!bytes.Equal(m.Payload(), data) {
				return
			}
			select {
			case replied <- s.Now() - start:
			default:
			}
		})
		start = s.Now()
		err = pcb.SendTo(msg, dst)
	})
	if pcb != nil {
		defer h.Do(func(*stack.Stack) { pcb.Close() })
	}
	if err != nil {
		return 0, fmt.Errorf("featherip: Ping %v: %w", dst, err)
	}
	select {
	case rtt := <-replied:
		return rtt, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("featherip: Ping %v: no reply: %w", dst, ctx.Err())
	}
}
