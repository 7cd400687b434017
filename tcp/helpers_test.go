package tcp

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

var (
	ourMAC  = wire.MAC{2, 0, 0, 0, 0, 1}
	peerMAC = wire.MAC{2, 0, 0, 0, 0, 2}
	ourIP   = netip.MustParseAddr("10.0.0.1")
	peerIP  = netip.MustParseAddr("10.0.0.2")
	ourIP6  = netip.MustParseAddr("fd00::1")
	peerIP6 = netip.MustParseAddr("fd00::2")
)

// recLink records every frame the stack sends.
type recLink struct{ frames [][]byte }

func (l *recLink) Send(f []byte) error {
	l.frames = append(l.frames, append([]byte(nil), f...))
	return nil
}

// env is one stack with TCP on a recording link, driven by hand-built
// segments from a fake peer at 10.0.0.2.
type env struct {
	t    testing.TB
	clk  *vclock
	s    *stack.Stack
	p    *Protocol
	link *recLink
	nic  stack.NIC
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	return newEnvWith(t, cfg, envOpts{})
}

// envOpts varies the env's interface.
type envOpts struct {
	mtu int  // 0: 1500
	v6  bool // also give the interface fd00::1/64 with the peer at fd00::2
}

// newEnvWith is newEnv with the interface described by o.
func newEnvWith(t testing.TB, cfg Config, o envOpts) *env {
	t.Helper()
	if o.mtu == 0 {
		o.mtu = 1500
	}
	clk := &vclock{t: time.Hour}
	s, err := stack.New(stack.Config{Clock: clk, Rand: rand.NewPCG(7, 8)})
	if err != nil {
		t.Fatal(err)
	}
	l := &recLink{}
	nic, err := s.AddInterface(stack.InterfaceConfig{Name: "eth0", Link: l, Kind: stack.LinkEthernet, MTU: o.mtu, MAC: ourMAC})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddAddress(nic, netip.MustParsePrefix("10.0.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddStaticNeighbor(nic, peerIP, peerMAC); err != nil {
		t.Fatal(err)
	}
	if o.v6 {
		if err := s.AddAddress(nic, netip.MustParsePrefix("fd00::1/64")); err != nil {
			t.Fatal(err)
		}
		if err := s.AddStaticNeighbor(nic, peerIP6, peerMAC); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetUp(nic, true); err != nil {
		t.Fatal(err)
	}
	p, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clk: clk, s: s, p: p, link: l, nic: nic}
	e.advance(5 * time.Second) // gratuitous ARP, IPv6 duplicate address detection
	l.frames = nil
	return e
}

// advance moves time by d, firing due timers on the way in order.
func (e *env) advance(d time.Duration) {
	end := e.clk.t + d
	for {
		n, ok := e.s.NextDeadline() // includes TCP's (AddPoller)
		if !ok || n > end {
			break
		}
		if n > e.clk.t {
			e.clk.t = n
		}
		e.s.Poll()
	}
	e.clk.t = end
	e.s.Poll()
}

// tseg is a segment from or to the fake peer.
type tseg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	wnd          uint16
	urgent       uint16
	opts         wire.TCPOptions
	data         []byte
	rawOpts      []byte     // overrides opts when set
	src, dst     netip.Addr // set by env.out
}

func (s tseg) has(f uint8) bool { return s.flags&f != 0 }

// buildTCP returns the IP packet of s from src to dst: IPv4 or IPv6 as
// the addresses are.
func buildTCP(s tseg, src, dst netip.Addr) []byte {
	ol := s.opts.EncodedLen()
	if s.rawOpts != nil {
		ol = len(s.rawOpts)
	}
	h := wire.TCPHeader{SrcPort: s.sport, DstPort: s.dport, Seq: s.seq, Ack: s.ack, Flags: s.flags, Window: s.wnd, Urgent: s.urgent, OptionsLen: ol}
	seg := make([]byte, 20+ol+len(s.data))
	h.Encode(seg)
	if s.rawOpts != nil {
		copy(seg[20:], s.rawOpts)
	} else {
		s.opts.Encode(seg[20:])
	}
	copy(seg[20+ol:], s.data)
	wire.SetTCPChecksum(seg, src, dst)
	if src.Is6() {
		pkt := make([]byte, wire.IPv6HeaderLen+len(seg))
		h6 := wire.IPv6Header{PayloadLength: len(seg), NextHeader: wire.ProtoTCP, HopLimit: 64, Src: src, Dst: dst}
		h6.Encode(pkt)
		copy(pkt[wire.IPv6HeaderLen:], seg)
		return pkt
	}
	ih := wire.IPv4Header{TTL: 64, Protocol: wire.ProtoTCP, Src: src, Dst: dst}
	ih.TotalLength = ih.HeaderLen() + len(seg)
	pkt := make([]byte, ih.TotalLength)
	n := ih.Encode(pkt)
	copy(pkt[n:], seg)
	return pkt
}

// ethFrame wraps the IP packet pkt (IPv4 or IPv6, by its version) in an
// Ethernet frame.
func ethFrame(dst, src wire.MAC, pkt []byte) []byte {
	f := make([]byte, wire.EthernetHeaderLen+len(pkt))
	et := uint16(wire.EtherTypeIPv4)
	if len(pkt) > 0 && pkt[0]>>4 == 6 {
		et = wire.EtherTypeIPv6
	}
	wire.PutEthernet(f, dst, src, et)
	copy(f[wire.EthernetHeaderLen:], pkt)
	return f
}

// inject delivers s from the peer.
func (e *env) inject(s tseg) {
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, buildTCP(s, peerIP, ourIP)))
}

// inject6 delivers s from the peer's IPv6 address.
func (e *env) inject6(s tseg) {
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, buildTCP(s, peerIP6, ourIP6)))
}

// out returns and forgets the TCP segments the stack sent, over IPv4 and
// IPv6.
func (e *env) out() []tseg {
	e.t.Helper()
	var r []tseg
	for _, f := range e.link.frames {
		eth, err := wire.ParseEthernet(f)
		if err != nil {
			continue
		}
		var src, dst netip.Addr
		var payload []byte
		switch eth.EtherType() {
		case wire.EtherTypeIPv4:
			ip, err := wire.ParseIPv4(eth.Payload())
			if err != nil || ip.Protocol() != wire.ProtoTCP {
				continue
			}
			src, dst, payload = ip.Src(), ip.Dst(), ip.Payload()
		case wire.EtherTypeIPv6:
			ip, err := wire.ParseIPv6(eth.Payload())
			if err != nil || ip.NextHeader() != wire.ProtoTCP {
				continue
			}
			src, dst, payload = ip.Src(), ip.Dst(), ip.Payload()
		default:
			continue
		}
		t, err := wire.ParseTCP(payload)
		if err != nil {
			e.t.Fatalf("stack sent a bad TCP segment: %v", err)
		}
		if !t.ChecksumValid(src, dst) {
			e.t.Fatalf("stack sent a segment with a bad checksum")
		}
		s := tseg{sport: t.SrcPort(), dport: t.DstPort(), seq: t.Seq(), ack: t.Ack(), flags: t.Flags(), wnd: t.Window(),
			data: append([]byte(nil), t.Payload()...), src: src, dst: dst}
		if err := wire.ParseTCPOptions(t.Options(), &s.opts); err != nil {
			e.t.Fatalf("stack sent bad options: %v", err)
		}
		r = append(r, s)
	}
	e.link.frames = nil
	return r
}

// one expects exactly one segment out and returns it.
func (e *env) one() tseg {
	e.t.Helper()
	o := e.out()
	if len(o) != 1 {
		e.t.Fatalf("want 1 segment out, got %d: %v", len(o), fmtSegs(o))
	}
	return o[0]
}

// none expects no segment out.
func (e *env) none() {
	e.t.Helper()
	if o := e.out(); len(o) != 0 {
		e.t.Fatalf("want no segment out, got %v", fmtSegs(o))
	}
}

func fmtSegs(o []tseg) string {
	s := ""
	for _, x := range o {
		s += x.String() + "; "
	}
	return s
}

func (s tseg) String() string {
	f := ""
	for i, n := range []string{"F", "S", "R", "P", "A", "U", "E", "C"} {
		if s.flags&(1<<i) != 0 {
			f += n
		}
	}
	return f + " seq=" + itoa(s.seq) + " ack=" + itoa(s.ack) + " win=" + itoa(uint32(s.wnd)) + " len=" + itoa(uint32(len(s.data)))
}

func itoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b [12]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

const (
	fSYN = wire.TCPFlagSYN
	fACK = wire.TCPFlagACK
	fFIN = wire.TCPFlagFIN
	fRST = wire.TCPFlagRST
	fPSH = wire.TCPFlagPSH
)

// conn is an established connection between the env's stack and the fake
// peer, with the peer's sequence state.
type conn struct {
	e          *env
	c          *PCB
	lport      uint16
	pport      uint16
	peerSeq    uint32 // next sequence number the peer sends
	ourSeq     uint32 // next sequence number we expect from the stack
	recv       []byte
	eof        bool
	err        error
	sent       int
	peerTS     bool
	peerTSVal  uint32
	lastTSVal  uint32
	acceptedBy *PCB
	v6         bool // the peer talks from peerIP6 to ourIP6
}

// seg builds a segment from the peer on c with the current numbers.
func (k *conn) seg(flags uint8, data []byte) tseg {
	s := tseg{sport: k.pport, dport: k.lport, seq: k.peerSeq, ack: k.ourSeq, flags: flags, wnd: 65535, data: data}
	if k.peerTS {
		k.peerTSVal++
		s.opts.HasTimestamps, s.opts.TSVal, s.opts.TSEcr = true, k.peerTSVal, k.lastTSVal
	}
	return s
}

// send injects data from the peer and advances its sequence number.
func (k *conn) send(flags uint8, data []byte) {
	s := k.seg(flags, data)
	k.inject(s)
	k.peerSeq += uint32(len(data))
	if flags&(fSYN|fFIN) != 0 {
		k.peerSeq++
	}
}

// inject delivers s from the peer over the connection's address family.
func (k *conn) inject(s tseg) {
	if k.v6 {
		k.e.inject6(s)
	} else {
		k.e.inject(s)
	}
}

func (k *conn) hook(c *PCB) {
	k.c = c
	c.OnRecv(func(c *PCB, d []byte) {
		if d == nil {
			k.eof = true
			return
		}
		k.recv = append(k.recv, d...)
	})
	c.OnSent(func(c *PCB, n int) { k.sent += n })
	c.OnError(func(c *PCB, err error) { k.err = err })
	c.SetAutoRecved(true)
}

// accept sets up a listener on port 80 and completes a handshake from the
// fake peer with the given SYN options; it returns the connection.
func (e *env) accept(opts wire.TCPOptions, peerISN uint32) *conn {
	e.t.Helper()
	return e.acceptOn(nil, opts, peerISN, false)
}

// acceptOn completes a handshake from the fake peer (over IPv6 when v6)
// to the listener l on port 80, a new one when l is nil.
func (e *env) acceptOn(l *PCB, opts wire.TCPOptions, peerISN uint32, v6 bool) *conn {
	e.t.Helper()
	if l == nil {
		var err error
		if l, err = e.p.NewPCB(); err != nil {
			e.t.Fatal(err)
		}
		if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 8); err != nil {
			e.t.Fatal(err)
		}
	}
	k := &conn{e: e, lport: 80, pport: 40000, peerSeq: peerISN, v6: v6}
	l.OnAccept(func(l, c *PCB) { k.hook(c); k.acceptedBy = l })
	syn := tseg{sport: k.pport, dport: 80, seq: peerISN, flags: fSYN, wnd: 65535, opts: opts}
	k.inject(syn)
	sa := e.one()
	if sa.flags != fSYN|fACK || sa.ack != peerISN+1 {
		e.t.Fatalf("want SYN-ACK acking %d, got %v", peerISN+1, sa)
	}
	k.peerSeq = peerISN + 1
	k.ourSeq = sa.seq + 1
	k.peerTS = opts.HasTimestamps && sa.opts.HasTimestamps
	k.lastTSVal = sa.opts.TSVal
	k.peerTSVal = opts.TSVal
	k.send(fACK, nil)
	if k.c == nil || k.c.State() != Established {
		e.t.Fatalf("connection not accepted")
	}
	e.none()
	return k
}

// dial connects from the stack to the fake peer and completes the
// handshake; the peer answers with opts.
func (e *env) dial(opts wire.TCPOptions, peerISN uint32) *conn {
	e.t.Helper()
	return e.dialWnd(opts, peerISN, 65535)
}

// dialWnd is dial with the window wnd in the peer's SYN-ACK.
func (e *env) dialWnd(opts wire.TCPOptions, peerISN uint32, wnd uint16) *conn {
	e.t.Helper()
	c, err := e.p.NewPCB()
	if err != nil {
		e.t.Fatal(err)
	}
	k := &conn{e: e, pport: 80, peerSeq: peerISN}
	connected := false
	c.OnConnected(func(c *PCB, err error) { connected = err == nil; k.err = err })
	k.hook(c)
	if err := c.Connect(netip.AddrPortFrom(peerIP, 80)); err != nil {
		e.t.Fatal(err)
	}
	syn := e.one()
	if syn.flags != fSYN {
		e.t.Fatalf("want SYN, got %v", syn)
	}
	k.lport = syn.sport
	k.ourSeq = syn.seq + 1
	k.peerTS = opts.HasTimestamps && syn.opts.HasTimestamps
	k.lastTSVal = syn.opts.TSVal
	k.peerTSVal = opts.TSVal
	sa := k.seg(fSYN|fACK, nil)
	sa.opts, sa.wnd = opts, wnd
	if k.peerTS {
		sa.opts.TSEcr = syn.opts.TSVal
	}
	e.inject(sa)
	k.peerSeq++
	if !connected {
		e.t.Fatalf("not connected: %v", k.err)
	}
	a := e.one()
	if a.flags != fACK || a.ack != peerISN+1 || a.seq != k.ourSeq {
		e.t.Fatalf("want ACK of SYN-ACK, got %v", a)
	}
	return k
}

// synOpts are typical Linux SYN options.
func synOpts() wire.TCPOptions {
	return wire.TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7, SACKPermitted: true, HasTimestamps: true, TSVal: 1000}
}
