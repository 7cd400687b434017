package tcp

import (
	"net/netip"

	"github.com/featherip/featherip/wire"
)

// listenInput handles a segment for listener l (RFC 9293 §3.10.7.2): a SYN
// opens a half-open connection, or, beyond the backlog, gets a SYN cookie
// (RFC 4987); an ACK may complete a SYN cookie handshake.
func (l *PCB) listenInput(seg *segment, local, remote netip.AddrPort) {
	p := l.p
	if seg.has(wire.TCPFlagRST) {
		return
	}
	if seg.has(wire.TCPFlagACK) {
		if !seg.has(wire.TCPFlagSYN) && !p.cfg.DisableSYNCookies {
			if mss, ok := p.isn.CheckCookie(local, remote, seg.seq-1, seg.ack-1, p.now); ok {
				p.stats.SynCookiesRecv++
				l.acceptCookie(seg, local, remote, int(mss))
				return
			}
			p.stats.SynCookiesFailed++
		}
		p.stats.DropNoPCB++
		p.sendResetFor(local, remote, seg)
		return
	}
	if !seg.has(wire.TCPFlagSYN) || seg.has(wire.TCPFlagFIN) {
		return
	}
	if l.ls.halfOpen >= l.ls.backlog {
		if !p.cfg.DisableSYNCookies {
			l.sendCookie(seg, local, remote)
			return
		}
		p.stats.DropListenFull++
		return
	}
	_, _, mtu, err := p.s.Route(remote.Addr())
	if err != nil {
		return
	}
	c := p.allocPCB()
	if c == nil {
		p.stats.DropTooManyPCBs++
		return
	}
	l.inherit(c)
	c.local, c.remote, c.bound = local, remote, true
	c.initConn(mtu)
	c.irs = seg.seq
	c.rcvNxt = seg.seq + 1
	c.lastAckSent = c.rcvNxt
	c.applySynOptions(seg.opts)
	c.iss = p.newISN(local, remote)
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss, c.iss
	c.recover = c.iss
	c.sndWnd = int32(seg.wnd)
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = seg.seq, c.iss
	c.listener = l
	l.ls.halfOpen++
	p.conns.put(c)
	c.inConns = true
	c.setState(SynReceived)
	p.stats.PassiveOpens++
	c.sendSYN(true)
	c.updateNext()
}

// listenState is what only a listener needs; it is allocated by Listen
// (or by OnAccept when that comes first), so connections do without it.
type listenState struct {
	onAccept func(l, c *PCB)
	backlog  int // bound on half-open (SYN_RCVD) connections
	halfOpen int
}

// inherit copies the listener's settings to a new connection.
func (l *PCB) inherit(c *PCB) {
	c.noDelay, c.autoRecved, c.lingerZero = l.noDelay, l.autoRecved, l.lingerZero
	c.keepAlive, c.keep = l.keepAlive, l.keep // keepOpts are shared, never modified
	c.sndBufSize, c.rcvBufSize = l.sndBufSize, l.rcvBufSize
	c.sndBufSet, c.rcvBufSet = l.sndBufSet, l.rcvBufSet
}

// sendCookie answers a SYN beyond the backlog statelessly: the ISN of the
// SYN-ACK encodes the peer's MSS and a timestamp (RFC 4987 §3.6); other
// options are not offered, as they could not be remembered.
func (l *PCB) sendCookie(seg *segment, local, remote netip.AddrPort) {
	p := l.p
	_, _, mtu, err := p.s.Route(remote.Addr())
	if err != nil {
		return
	}
	peer := 536
	if seg.opts.HasMSS && seg.opts.MSS > 0 {
		peer = int(seg.opts.MSS)
	}
	cookie := p.isn.Cookie(local, remote, seg.seq, uint16(min(peer, 0xffff)), p.now)
	h := wire.TCPHeader{SrcPort: local.Port(), DstPort: remote.Port(), Seq: cookie, Ack: seg.seq + 1,
		Flags: wire.TCPFlagSYN | wire.TCPFlagACK, Window: uint16(min(l.rcvBufSize, 0xffff))}
	hdrs := wire.IPv4MinHeaderLen + wire.TCPMinHeaderLen
	if remote.Addr().Is6() {
		hdrs = wire.IPv6HeaderLen + wire.TCPMinHeaderLen
	}
	o := wire.TCPOptions{HasMSS: true, MSS: uint16(min(max(mtu-hdrs, 64), 0xffff))}
	p.sendControl(local, remote, &h, &o)
	p.stats.SynCookiesSent++
}

// acceptCookie creates the connection a valid cookie ACK completes.
func (l *PCB) acceptCookie(seg *segment, local, remote netip.AddrPort, mss int) {
	p := l.p
	_, _, mtu, err := p.s.Route(remote.Addr())
	if err != nil {
		return
	}
	c := p.allocPCB()
	if c == nil {
		p.stats.DropTooManyPCBs++
		return
	}
	l.inherit(c)
	c.local, c.remote, c.bound = local, remote, true
	c.initConn(mtu)
	c.cookie = true
	c.irs = seg.seq - 1
	c.rcvNxt = seg.seq
	c.rcvAdv = c.rcvNxt + uint32(min(c.rcvBufSize, 0xffff))
	c.lastAckSent = c.rcvNxt
	c.iss = seg.ack - 1
	c.sndUna, c.sndNxt, c.sndMax = seg.ack, seg.ack, seg.ack
	c.recover = c.iss
	c.sndMSS = max(min(int32(mss), c.advMSS), 64)
	c.sndWnd = int32(seg.wnd)
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = seg.seq, seg.ack
	c.startData()
	p.conns.put(c)
	c.inConns = true
	c.setState(Established)
	p.stats.PassiveOpens++
	if l.ls.onAccept == nil {
		c.abort(nil)
		return
	}
	l.ls.onAccept(l, c)
	if c.freed {
		return
	}
	// the ACK may carry data
	c.input(seg)
}
