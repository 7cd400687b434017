package tcp

import (
	"net/netip"
	"time"

	"github.com/featherip/featherip/wire"
)

// PCB is a TCP protocol control block: one listener or one connection,
// with lwIP's callback ("raw") API. All calls and callbacks happen on the
// goroutine that drives the stack; callbacks may call any PCB method,
// including Close and Abort on the PCB they are called for.
type PCB struct {
	// Fields are grouped by concern; within a group word-sized fields come
	// first and the flags of every group sit together at the end, so the
	// struct has no padding (an idle connection is mostly this struct).
	p *Protocol

	local, remote netip.AddrPort

	// callbacks (OnAccept's is in ls)
	onConnected func(c *PCB, err error)
	onRecv      func(c *PCB, data []byte)
	onSent      func(c *PCB, n int)
	onError     func(c *PCB, err error)

	// listening
	listener *PCB         // the listener a passive connection came from, until accepted
	ls       *listenState // a listener's own state (and OnAccept's callback before Listen)

	// options set by the application
	keep *keepOpts // keepalive settings, nil for the protocol's defaults (keepalive.go)

	// send sequence space (RFC 9293 §3.3.1)
	sb     sendBuf
	iss    uint32
	sndUna uint32
	sndNxt uint32
	sndMax uint32 // highest sequence number sent + 1
	sndWl1 uint32
	sndWl2 uint32
	finSeq uint32

	// receive sequence space
	irs         uint32
	rcvNxt      uint32
	rcvAdv      uint32 // right edge of the window we announced
	lastAckSent uint32
	rttSeq      uint32    // the sequence number being timed (RTT, below)
	ooo         *oooQueue // nil while nothing is out of order (active.go)

	// negotiated options
	tsRecent uint32
	tsOffset uint32

	// timers: absolute deadlines, 0 when not armed; next is their minimum.
	// closeAt ends FIN_WAIT_2 and TIME_WAIT; before those it checks for
	// idleness while congestion state is held (active.go).
	rtoAt, persistAt, delackAt, keepAt, closeAt time.Duration
	next                                        time.Duration
	twPrev, twNext                              *PCB // the TIME_WAIT list, while in TIME_WAIT
	lastRecv                                    time.Duration
	lastSend                                    time.Duration

	// RTT (RFC 6298) and congestion control
	rtt      rttEstimator
	rttStart time.Duration
	minRTT   time.Duration
	cc       ccAlgorithm // nil while a built-in algorithm's state is released (active.go)

	// loss recovery (RFC 5681, 6582, 6675)
	recover uint32
	highRxt uint32
	sack    *scoreboard // nil while nothing is in flight (active.go)

	cnt pcbCounters

	// 32-bit fields of the groups above, in pairs
	gsoMax       int32 // largest segment (IP length) the route's interface segments (TSO), 0 none, -1 not yet asked (gso.go)
	sndBufSize   int32
	rcvBufSize   int32
	unackedSeg   int32 // full-sized segments received since the last ACK (ACK generation)
	index        int32 // position in Protocol.pcbs, -1 when freed
	hidx         int32 // position + 1 in Protocol.theap, 0 when not queued (timers)
	retries      int32 // consecutive timeouts (RTO or SYN)
	persistShift int32
	keepProbes   int32 // unanswered keepalive probes
	sndWnd       int32 // send sequence space: window (at most 1 GiB scaled)
	maxSndWnd    int32
	sndMSS       int32 // payload bytes per segment, options excluded
	advMSS       int32 // the MSS we announced
	unrecved     int32 // received bytes the application has not passed to Recved
	dupAcks      int32 // loss recovery
	inflate      int32 // NewReno window inflation
	idleCwnd     int32 // cwnd and ssthresh kept while cc is released, 0 before the first use (active.go)
	idleSSThresh int32

	// small fields of the groups above
	tsRecentHour       uint16 // when tsRecent was last set, in hours of the stack clock (RFC 7323 §5.5, input.go)
	state              State
	sndScale, rcvScale uint8 // negotiated window scales
	bound              bool  // Bind or Listen chose the local address
	dual               bool  // bound to the wildcard of both families
	v6only             bool  // IPV6_V6ONLY: a bind to :: takes IPv6 only
	inConns            bool
	isListener         bool
	orphan             bool // the application closed it; it finishes on its own
	freed              bool
	noDelay            bool // application options
	autoRecved         bool
	keepAlive          bool
	lingerZero         bool
	finQueued          bool // send side
	finRcvd            bool // receive side
	wsOK, tsOK, sackOK bool // negotiated options
	cookie             bool // connection made from a SYN cookie
	rttTiming          bool // an RTT sample is being timed (rttSeq, rttStart)
	inRecovery         bool
	rescueUsed         bool
	ackNow             bool // ACK generation
	ackDeferred        bool // in Protocol.deferredACKs (batch.go)
	sndBufSet          bool // SetSendBuffer chose the size (initConn)
	rcvBufSet          bool // SetRecvBuffer chose the size
	inInput            bool
}

// OnAccept sets the callback a listener calls with each new established
// connection c. Set c's callbacks inside it; data that came with the
// handshake is delivered after it returns. A listener without OnAccept
// resets the connections it would accept.
func (c *PCB) OnAccept(f func(l, c *PCB)) {
	if c.ls == nil {
		c.ls = new(listenState)
	}
	c.ls.onAccept = f
}

// OnConnected sets the callback Connect reports to: err is nil once the
// connection is established, else ErrConnRefused, ErrTimeout,
// ErrHostUnreachable... (the PCB is then closed).
func (c *PCB) OnConnected(f func(c *PCB, err error)) { c.onConnected = f }

// OnRecv sets the receive callback. data holds the next in-order bytes and
// is valid only during the call; nil data means the peer sent FIN (end of
// stream, like io.EOF). Received bytes occupy the receive window until the
// application passes them to Recved (or SetAutoRecved is on). Without
// OnRecv, received data is discarded and its window reopened at once.
func (c *PCB) OnRecv(f func(c *PCB, data []byte)) { c.onRecv = f }

// OnSent sets the callback that reports n more bytes acknowledged by the
// peer (and so freed from the send buffer; WriteNoCopy memory is released
// in order).
func (c *PCB) OnSent(f func(c *PCB, n int)) { c.onSent = f }

// OnError sets the callback for fatal errors: ErrConnReset, ErrTimeout,
// ErrConnAborted... The PCB is already closed and freed when it is called.
// It is not called for Abort or Close by the application.
func (c *PCB) OnError(f func(c *PCB, err error)) { c.onError = f }

// State returns the connection state.
func (c *PCB) State() State { return c.state }

// LocalAddr returns the local address and port (invalid before Bind,
// Listen or Connect).
func (c *PCB) LocalAddr() netip.AddrPort { return c.local }

// RemoteAddr returns the peer's address and port (invalid for listeners).
func (c *PCB) RemoteAddr() netip.AddrPort { return c.remote }

// SetNoDelay turns off Nagle's algorithm (RFC 896) when on: small segments
// are sent even while data is unacknowledged (TCP_NODELAY).
func (c *PCB) SetNoDelay(on bool) { c.noDelay = on }

// SetAutoRecved makes received data count as consumed as soon as OnRecv
// returns, so the application never calls Recved.
func (c *PCB) SetAutoRecved(on bool) { c.autoRecved = on }

// SetKeepAlive turns keepalive probes on or off (RFC 1122 §4.2.3.6):
// after idle without traffic, a probe every interval; count unanswered
// probes fail the connection with ErrTimeout. Zero values keep the
// protocol defaults.
func (c *PCB) SetKeepAlive(on bool, idle, interval time.Duration, count int) {
	c.keepAlive = on
	c.setKeepOpts(idle, interval, count)
	if c.state.synchronized() {
		c.armKeepalive()
	}
}

// SetLinger with on and a zero timeout makes Close abortive (it sends RST
// and frees the PCB at once, SO_LINGER 0). Other settings keep the
// graceful close. (Blocking lingering belongs to the concurrent shell.)
func (c *PCB) SetLinger(on bool, timeout time.Duration) { c.lingerZero = on && timeout == 0 }

// SetSendBuffer sets the send buffer size in bytes (bytes queued and not yet
// acknowledged). Shrinking below what is queued takes effect as data is
// acknowledged.
func (c *PCB) SetSendBuffer(n int) {
	if n > 0 && n <= 1<<30 {
		c.sndBufSize = int32(n)
		c.sndBufSet = true
	}
}

// SendBuffer returns the send buffer size in bytes.
func (c *PCB) SendBuffer() int { return int(c.sndBufSize) }

// SetRecvBuffer sets the receive buffer (window) size in bytes. Call it
// before Listen or Connect for the window scale to cover it (RFC 7323).
func (c *PCB) SetRecvBuffer(n int) {
	if n > 0 && n <= 1<<30 {
		c.rcvBufSize = int32(n)
		c.rcvBufSet = true
	}
}

// RecvBuffer returns the receive buffer (window) size in bytes: once
// Connect or a listener set the connection up, that includes the raise
// of a default buffer to four segments (Config.RecvBuffer).
func (c *PCB) RecvBuffer() int { return int(c.rcvBufSize) }

// SendBufferFree returns how many bytes Write would accept now.
func (c *PCB) SendBufferFree() int { return c.sb.free(int(c.sndBufSize)) }

// Bind sets the local address and port. The address may be unspecified
// (any) and the port 0 (an ephemeral port is chosen). 0.0.0.0 is the IPv4
// wildcard (an AF_INET socket: IPv4 only); :: and the zero Addr are the
// wildcard of both families (an AF_INET6 socket without IPV6_V6ONLY), or
// of IPv6 only after SetV6Only(true). The port rules are in the package
// comment (ErrAddrInUse).
func (c *PCB) Bind(local netip.AddrPort) error {
	if c.freed || c.state != Closed || c.bound {
		return ErrInvalidState
	}
	a := local.Addr().WithZone("")
	dual := !a.IsValid() || a == netip.IPv6Unspecified()
	switch {
	case dual && c.v6only:
		a, dual = netip.IPv6Unspecified(), false
	case !a.IsValid():
		a = netip.IPv4Unspecified()
	}
	a = a.Unmap()
	if !a.IsUnspecified() && (a.IsMulticast() || !c.p.s.IsLocal(a)) {
		return ErrInvalidAddr
	}
	port := local.Port()
	if port == 0 {
		var err error
		if port, err = c.p.ephemeralPort(a, dual, netip.AddrPort{}); err != nil {
			return err
		}
	} else if c.p.portInUse(netip.AddrPortFrom(a, port), dual, netip.AddrPort{}) {
		return ErrAddrInUse
	}
	c.local = netip.AddrPortFrom(a, port)
	c.bound = true
	c.dual = dual
	return nil
}

// SetV6Only makes a later bind to the IPv6 wildcard (:: or the zero Addr)
// take IPv6 only, as IPV6_V6ONLY does: a listener then neither accepts
// IPv4 nor clashes with IPv4 binds of its port (so an IPv4 and an IPv6
// wildcard listener can share a port, as package net's "tcp4" and "tcp6"
// ones do). Set it before Bind or Listen; other addresses ignore it.
func (c *PCB) SetV6Only(on bool) { c.v6only = on }

// Listen makes c a listener on local (address may be unspecified; port 0
// picks an ephemeral one). backlog bounds the half-open (SYN_RCVD)
// connections; beyond it SYN cookies answer (RFC 4987) unless disabled.
// Established connections are handed to OnAccept.
func (c *PCB) Listen(local netip.AddrPort, backlog int) error {
	if c.freed || c.state != Closed {
		return ErrInvalidState
	}
	if !c.bound {
		if err := c.Bind(local); err != nil {
			return err
		}
	}
	if backlog <= 0 {
		backlog = 128
	}
	if c.ls == nil {
		c.ls = new(listenState)
	}
	c.ls.backlog = backlog
	c.isListener = true
	c.p.listeners = append(c.p.listeners, c)
	c.state = Listen
	return nil
}

// Connect starts an active open to remote (RFC 9293 §3.5): it chooses the
// local address by route and a random ephemeral port (RFC 6056) unless
// Bind set them, and sends SYN. OnConnected reports the outcome.
func (c *PCB) Connect(remote netip.AddrPort) error {
	if c.freed || c.state != Closed {
		return ErrInvalidState
	}
	ra := remote.Addr().Unmap()
	if !ra.IsValid() || ra.IsUnspecified() || ra.IsMulticast() || remote.Port() == 0 || ra == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return ErrInvalidAddr
	}
	remote = netip.AddrPortFrom(ra, remote.Port())
	p := c.p
	p.now = p.s.Now()
	src, _, mtu, err := p.s.Route(ra)
	if err != nil {
		return err
	}
	la := c.local.Addr()
	if la.IsValid() && !c.dual && la.Is4() != ra.Is4() {
		return ErrInvalidAddr // bound to an address or a one-family wildcard of the other family
	}
	if !la.IsValid() || la.IsUnspecified() {
		la = src
	}
	port := c.local.Port()
	if port == 0 {
		if port, err = p.ephemeralPort(la, false, remote); err != nil {
			return err
		}
	} else if p.portInUse(netip.AddrPortFrom(la, port), false, remote) {
		if p.conns.get(netip.AddrPortFrom(la, port), remote) != nil {
			return ErrAddrInUse
		}
	}
	c.local = netip.AddrPortFrom(la, port)
	c.remote = remote
	c.bound = true
	c.initConn(mtu)
	c.iss = p.newISN(c.local, c.remote)
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss, c.iss
	c.recover = c.iss
	c.rcvScale = c.chooseRcvScale()
	p.conns.put(c)
	c.inConns = true
	c.setState(SynSent)
	p.stats.ActiveOpens++
	c.sendSYN(false)
	return nil
}

// Write queues a copy of data for sending and sends what the windows
// allow. It returns how many bytes fit in the send buffer (possibly fewer
// than len(data)) and ErrBufferFull when none did; OnSent reports when
// buffer space frees up.
func (c *PCB) Write(data []byte) (int, error) {
	if err := c.writable(); err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, nil
	}
	n := c.sb.write(data, true, int(c.sndBufSize), c.p.cfg.MaxChunks)
	if n == 0 {
		return 0, ErrBufferFull
	}
	c.afterWrite()
	return n, nil
}

// WriteNoCopy queues data by reference, without copying: the caller must
// not modify data until OnSent has reported all of its bytes acknowledged
// (or the connection is closed or failed). Like Write it may accept only a
// prefix, and it counts against the send buffer size.
func (c *PCB) WriteNoCopy(data []byte) (int, error) {
	if err := c.writable(); err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, nil
	}
	n := c.sb.write(data, false, int(c.sndBufSize), c.p.cfg.MaxChunks)
	if n == 0 {
		return 0, ErrBufferFull
	}
	c.afterWrite()
	return n, nil
}

func (c *PCB) writable() error {
	if c.freed || c.orphan || c.finQueued {
		return ErrClosed
	}
	if !c.state.canSend() {
		return ErrNotConnected
	}
	return nil
}

func (c *PCB) afterWrite() {
	if !c.inInput && c.state.synchronized() {
		c.p.now = c.p.s.Now()
		c.output()
	}
}

// Output sends what the windows allow now. Write, Recved and the callbacks
// already send promptly; Output is for applications that want lwIP's
// explicit tcp_output.
func (c *PCB) Output() {
	if !c.freed && !c.inInput && c.state.synchronized() {
		c.p.now = c.p.s.Now()
		c.output()
	}
}

// Recved tells the connection that the application consumed n received
// bytes, reopening the receive window (lwIP's tcp_recved). A window update
// is sent when the window grew enough to matter (RFC 1122 §4.2.3.3).
func (c *PCB) Recved(n int) {
	if c.freed || n <= 0 {
		return
	}
	c.unrecved = max(c.unrecved-int32(n), 0)
	if !c.inInput && c.state.synchronized() && c.state != TimeWait {
		c.p.now = c.p.s.Now()
		if c.windowUpdateDue() {
			c.ackNow = true
			c.output()
		}
	}
}

// Shutdown closes the sending side (half-close): a FIN follows the queued
// data, and receiving goes on until the peer's FIN.
func (c *PCB) Shutdown() error {
	if c.freed {
		return ErrClosed
	}
	switch c.state {
	case SynSent, SynReceived, Established, CloseWait:
	case Closed, Listen:
		return ErrNotConnected
	default:
		return nil // FIN already queued
	}
	if c.finQueued {
		return nil
	}
	c.finQueued = true
	c.finSeq = c.sndUna + uint32(c.sb.len())
	if c.state == SynSent && c.sndNxt == c.iss+1 && c.sb.len() == 0 {
		// nothing to say yet: RFC 9293 lets us just give up the connection
	}
	if c.state.synchronized() && c.state != SynReceived {
		if c.state == Established {
			c.setState(FinWait1)
		} else if c.state == CloseWait {
			c.setState(LastAck)
		}
		if !c.inInput {
			c.p.now = c.p.s.Now()
			c.output()
		}
	}
	return nil
}

// Close closes the connection gracefully: queued data is sent, then FIN;
// the PCB finishes the close on its own (the application must not use it
// afterwards; no callbacks are called any more). Listeners and
// unconnected PCBs are freed at once; so are connections with SetLinger(true, 0),
// which are reset. Data that arrives after Close is answered with RST.
func (c *PCB) Close() error {
	if c.freed {
		return ErrClosed
	}
	c.onConnected, c.onRecv, c.onSent, c.onError = nil, nil, nil, nil
	if c.ls != nil {
		c.ls.onAccept = nil
	}
	c.p.now = c.p.s.Now()
	switch c.state {
	case Closed, SynSent:
		c.free()
		return nil
	case Listen:
		for i := len(c.p.pcbs) - 1; i >= 0; i-- {
			if i < len(c.p.pcbs) && c.p.pcbs[i].listener == c {
				c.p.pcbs[i].abort(nil)
			}
		}
		c.free()
		return nil
	}
	if c.lingerZero {
		c.abort(nil)
		return nil
	}
	c.orphan = true
	if err := c.Shutdown(); err != nil {
		return err
	}
	if c.state == FinWait2 {
		c.setTimer(&c.closeAt, c.p.now+c.p.cfg.FinWait2Timeout)
	}
	return nil
}

// Abort resets the connection at once: a RST goes to the peer (when
// synchronized) and the PCB is freed. OnError is not called.
func (c *PCB) Abort() {
	if c.freed {
		return
	}
	c.p.now = c.p.s.Now()
	c.abort(nil)
}

// Stats returns a snapshot of the connection's state and counters.
func (c *PCB) Stats() PCBStats {
	st := PCBStats{
		State:            c.state,
		SRTT:             c.rtt.SRTT(),
		RTTVar:           c.rtt.RTTVar(),
		RTO:              c.rto(),
		MinRTT:           c.minRTT,
		SndWnd:           int(c.sndWnd),
		RcvWnd:           int(c.rcvAdv - c.rcvNxt),
		SndMSS:           int(c.sndMSS),
		RcvMSS:           int(c.advMSS),
		SndScale:         c.sndScale,
		RcvScale:         c.rcvScale,
		SACK:             c.sackOK,
		Timestamps:       c.tsOK,
		Unsent:           c.unsent(),
		Unrecved:         int(c.unrecved),
		SegsIn:           uint64(c.cnt.segsIn),
		SegsOut:          uint64(c.cnt.segsOut),
		BytesSent:        c.cnt.bytesSent,
		BytesAcked:       c.cnt.bytesAcked,
		BytesReceived:    c.cnt.bytesReceived,
		Retransmits:      uint64(c.cnt.retrans),
		FastRetrans:      uint64(c.cnt.fastRetrans),
		Timeouts:         uint64(c.cnt.timeouts),
		DupACKsIn:        uint64(c.cnt.dupAcks),
		OOOQueued:        c.ooo.queued(),
		Recoveries:       uint64(c.cnt.recoveries),
		ZeroWindowProbes: uint64(c.cnt.probes),
	}
	if c.state.synchronized() || c.state == SynSent {
		st.InFlight = int(c.sndMax - c.sndUna)
	}
	st.Cwnd, st.Ssthresh = c.congestionWindows()
	return st
}

// minBufSegments is how many full-sized segments a default buffer holds
// at least (Config.SendBuffer): enough for fast retransmit's three
// duplicate ACKs behind a lost segment.
const minBufSegments = 4

// initConn sets up a connection's per-connection state once its
// addresses are known; mtu is the route's.
func (c *PCB) initConn(mtu int) {
	p := c.p
	hdrs := wire.IPv4MinHeaderLen + wire.TCPMinHeaderLen
	if c.remote.Addr().Is6() {
		hdrs = wire.IPv6HeaderLen + wire.TCPMinHeaderLen
	}
	c.advMSS = int32(max(mtu-hdrs, 64))
	// default buffers hold at least minBufSegments full-sized segments
	floor := minBufSegments * min(c.advMSS, 1<<20)
	if p.defaultRcvBuf && !c.rcvBufSet {
		c.rcvBufSize = max(c.rcvBufSize, floor)
	}
	if p.defaultSndBuf && !c.sndBufSet {
		c.sndBufSize = max(c.sndBufSize, floor)
	}
	c.sndMSS = min(536, c.advMSS) // until the peer's MSS option says more (RFC 9293 §3.7.1)
	c.gsoMax = -1
	c.rtt = rttEstimator{}
	if f := p.cfg.CongestionFactory; f != nil {
		// the connection's own algorithm; built-in ones come and go (active.go)
		if c.cc = f(); c.cc == nil {
			c.cc, _ = newCC(p.cfg.CongestionControl)
		}
	}
	c.tsOffset = uint32(p.s.Random())
	c.lastRecv = p.now
	c.lastSend = p.now
}

// chooseRcvScale returns the smallest window scale that lets the receive
// buffer be announced (RFC 7323 §2.2), or 0 without window scaling.
func (c *PCB) chooseRcvScale() uint8 {
	if c.p.cfg.DisableWindowScale {
		return 0
	}
	var s uint8
	for s < 14 && c.rcvBufSize>>s > 0xffff {
		s++
	}
	return s
}

// newISN returns the initial sequence number for a connection (RFC 6528).
func (p *Protocol) newISN(local, remote netip.AddrPort) uint32 {
	if p.isnHook != nil {
		return p.isnHook()
	}
	return p.isn.ISN(local, remote, p.now)
}

// unsent returns the bytes queued and not yet sent.
func (c *PCB) unsent() int {
	if !c.state.synchronized() {
		return c.sb.len()
	}
	off := int(c.sndNxt - c.sndUna)
	if c.finQueued && seqGT(c.sndNxt, c.finSeq) {
		off--
	}
	return max(c.sb.len()-off, 0)
}

// free releases c: out of every table, its buffers returned.
func (c *PCB) free() {
	if c.freed {
		return
	}
	if c.listener != nil && c.state == SynReceived {
		c.listener.ls.halfOpen--
	}
	c.listener = nil
	c.setState(Closed)
	c.freed = true
	c.p.removePCB(c)
	c.sb.release()
	c.releaseOOO()
	c.releaseSack()
	c.releaseCC()
	c.rtoAt, c.persistAt, c.delackAt, c.keepAt, c.closeAt = 0, 0, 0, 0, 0
	c.updateNext()
}

// abort frees c, sending RST when synchronized, and reports err to OnError
// (nil: no callback).
func (c *PCB) abort(err error) {
	if c.freed {
		return
	}
	switch c.state {
	case SynReceived, Established, FinWait1, FinWait2, CloseWait, Closing, LastAck:
		c.sendRST()
	}
	c.fail(err)
}

// fail frees c without sending anything and reports err.
func (c *PCB) fail(err error) {
	if c.freed {
		return
	}
	st := c.state
	if st == SynSent || st == SynReceived {
		c.p.stats.AttemptFails++
	} else if (st == Established || st == CloseWait) && (err == ErrConnReset || err == nil) {
		c.p.stats.EstabResets++
	}
	onErr, onConn := c.onError, c.onConnected
	c.free()
	if err == nil {
		return
	}
	if st == SynSent && onConn != nil {
		onConn(c, err)
		return
	}
	if onErr != nil {
		onErr(c, err)
	}
}
