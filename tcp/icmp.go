package tcp

import (
	"encoding/binary"
	"net/netip"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// HandleICMPError implements stack.Transport for ICMPv4 and ICMPv6
// errors. The quoted sequence number must be in flight (RFC 5927 §4.1) or
// the error is ignored. Unreachable errors abort a connection in SYN_SENT
// (port and protocol unreachable: ErrConnRefused; network, host and
// administratively prohibited: ErrHostUnreachable); for other states they
// are soft errors (RFC 1122 §4.2.3.9, RFC 5461). Fragmentation needed
// (RFC 1191) and packet too big (RFC 8201) lower the MSS and resend.
func (p *Protocol) HandleICMPError(e *stack.ICMPError) {
	p.now = p.s.Now()
	p.stats.ICMPErrors++
	if len(e.Quoted) < 8 {
		return
	}
	sport := binary.BigEndian.Uint16(e.Quoted[0:2])
	dport := binary.BigEndian.Uint16(e.Quoted[2:4])
	seq := binary.BigEndian.Uint32(e.Quoted[4:8])
	local := netip.AddrPortFrom(e.Src.WithZone("").Unmap(), sport)
	remote := netip.AddrPortFrom(e.Dst.WithZone("").Unmap(), dport)
	c := p.conns.get(local, remote)
	if c == nil {
		return
	}
	if !seqInRange(seq, c.sndUna, c.sndMax) && !(c.state == SynSent && seq == c.iss) {
		return
	}
	switch e.Kind {
	case stack.ICMPTooBig:
		c.pathMTU(e.MTU)
	case stack.ICMPPortUnreachable, stack.ICMPProtoUnreachable:
		if c.state == SynSent {
			c.fail(ErrConnRefused)
		}
	case stack.ICMPNetUnreachable, stack.ICMPHostUnreachable, stack.ICMPAdminProhibited:
		if c.state == SynSent {
			c.fail(ErrHostUnreachable)
		}
	}
}

// pathMTU lowers the MSS to fit a smaller path MTU and resends what is in
// flight, without a congestion response (RFC 1191, RFC 8201).
func (c *PCB) pathMTU(mtu int) {
	hdrs, minMTU := wire.IPv4MinHeaderLen+wire.TCPMinHeaderLen, 68
	if c.remote.Addr().Is6() {
		hdrs, minMTU = wire.IPv6HeaderLen+wire.TCPMinHeaderLen, 1280
	}
	if mtu < minMTU {
		return
	}
	mss := max(mtu-hdrs, 64)
	if mss >= int(c.sndMSS) {
		return
	}
	c.p.stats.PMTUUpdates++
	c.sndMSS = int32(mss)
	if c.cc != nil {
		c.cc.SetMSS(mss)
	}
	if c.state.synchronized() && c.state != TimeWait {
		c.sndNxt = c.sndUna
		c.rttTiming = false
		c.sendNew(true)
		c.output()
	}
}
