package raw_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// recorder collects what a raw PCB receives.
type recorder struct {
	dgs   [][]byte
	infos []raw.RecvInfo
}

func (r *recorder) fn(c *raw.PCB, dg []byte, info *raw.RecvInfo) {
	r.dgs = append(r.dgs, bytes.Clone(dg))
	r.infos = append(r.infos, *info)
}

func open(t testing.TB, p *raw.Protocol, proto uint8) (*raw.PCB, *recorder) {
	t.Helper()
	c, err := p.NewPCB(proto)
	if err != nil {
		t.Fatalf("NewPCB(%d): %v", proto, err)
	}
	r := &recorder{}
	c.OnRecv(r.fn)
	return c, r
}

func echoRequest(id, seq uint16, data []byte) []byte {
	m := make([]byte, wire.ICMPv4HeaderLen+len(data))
	wire.PutICMPv4(m, wire.ICMPv4Echo, 0, uint32(id)<<16|uint32(seq))
	copy(m[wire.ICMPv4HeaderLen:], data)
	wire.SetICMPv4Checksum(m)
	return m
}

func TestICMPEchoThroughRaw(t *testing.T) {
	n := newNet(t)
	c, r := open(t, n.a.r, wire.ProtoICMP)
	_, rb := open(t, n.b.r, wire.ProtoICMP) // b watches the requests
	payload := []byte("featherip raw ping payload")
	if err := c.SendTo(echoRequest(0x1234, 7, payload), n.b.Addr); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(r.dgs) != 1 {
		t.Fatalf("raw ICMP pcb got %d datagrams, want the echo reply", len(r.dgs))
	}
	ip, err := wire.ParseIPv4(r.dgs[0])
	if err != nil {
		t.Fatalf("delivered datagram does not start with an IPv4 header: %v", err)
	}
	if ip.Src() != n.b.Addr || ip.Dst() != n.a.Addr || ip.Protocol() != wire.ProtoICMP ||
		ip.TotalLength() != len(r.dgs[0]) || !ip.ChecksumValid() {
		t.Fatalf("reply header: src %v dst %v proto %d len %d/%d", ip.Src(), ip.Dst(), ip.Protocol(), ip.TotalLength(), len(r.dgs[0]))
	}
	m, err := wire.ParseICMPv4(ip.Payload())
	if err != nil || m.Type() != wire.ICMPv4EchoReply || m.ID() != 0x1234 || m.Seq() != 7 ||
		!bytes.Equal(m.Payload(), payload) || !m.ChecksumValid() {
		t.Fatalf("echo reply: %v type %d id %x seq %d payload %q", err, m.Type(), m.ID(), m.Seq(), m.Payload())
	}
	if info := r.infos[0]; info.Src != n.b.Addr || info.Dst != n.a.Addr || info.NIC != n.a.NIC || info.TTL != ip.TTL() {
		t.Errorf("RecvInfo %+v", info)
	}
	// b's raw pcb saw the request (raw pcbs watch, the stack still answers).
	if len(rb.dgs) != 1 {
		t.Fatalf("b's raw pcb got %d datagrams, want the request", len(rb.dgs))
	}
	req, _ := wire.ParseIPv4(rb.dgs[0])
	if rm, _ := wire.ParseICMPv4(req.Payload()); rm.Type() != wire.ICMPv4Echo {
		t.Errorf("b saw ICMP type %d", rm.Type())
	}
	if st := n.a.r.Stats(); st.OutRequests != 1 || st.InDelivers != 1 {
		t.Errorf("a stats %+v", st)
	}
}

func TestFilters(t *testing.T) {
	n := newNet(t)
	const proto = 253 // RFC 3692 experimentation
	_, rall := open(t, n.b.r, proto)
	bound, rbound := open(t, n.b.r, proto)
	if err := bound.Bind(n.b.Addr); err != nil {
		t.Fatal(err)
	}
	wrongBind, rwb := open(t, n.b.r, proto)
	if err := wrongBind.Bind(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	conn, rconn := open(t, n.b.r, proto)
	if err := conn.Connect(n.a.Addr); err != nil {
		t.Fatal(err)
	}
	other, rother := open(t, n.b.r, proto)
	if err := other.Connect(netip.MustParseAddr("10.0.0.9")); err != nil {
		t.Fatal(err)
	}
	_, ricmp := open(t, n.b.r, wire.ProtoICMP)
	if err := bound.Bind(netip.MustParseAddr("10.0.0.77")); !errors.Is(err, raw.ErrAddrNotAvailable) {
		t.Errorf("Bind to a foreign address: %v", err)
	}

	s, _ := open(t, n.a.r, proto)
	s.SetTTL(9)
	if err := s.SendTo([]byte("experiment"), n.b.Addr); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	for name, r := range map[string]*recorder{"unfiltered": rall, "bound": rbound, "connected": rconn} {
		if len(r.dgs) != 1 {
			t.Fatalf("%s pcb got %d datagrams", name, len(r.dgs))
		}
		ip, err := wire.ParseIPv4(r.dgs[0])
		if err != nil || ip.TTL() != 9 || ip.Protocol() != proto || string(ip.Payload()) != "experiment" {
			t.Fatalf("%s pcb: %v ttl %d proto %d payload %q", name, err, ip.TTL(), ip.Protocol(), ip.Payload())
		}
	}
	for name, r := range map[string]*recorder{"bound elsewhere": rwb, "connected elsewhere": rother, "icmp": ricmp} {
		if len(r.dgs) != 0 {
			t.Errorf("%s pcb got %d datagrams", name, len(r.dgs))
		}
	}
	// Closing every pcb of the protocol stops delivery.
	bound.Close()
	bound.Close()
	if err := bound.SendTo([]byte("x"), n.a.Addr); !errors.Is(err, raw.ErrClosed) {
		t.Errorf("SendTo after Close: %v", err)
	}
	if err := s.SendTo([]byte("again"), n.b.Addr); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(rbound.dgs) != 1 || len(rall.dgs) != 2 {
		t.Errorf("after Close: bound %d (want 1), unfiltered %d (want 2)", len(rbound.dgs), len(rall.dgs))
	}
}

func TestHeaderIncluded(t *testing.T) {
	n := newNet(t)
	u, err := udp.New(n.b.S, udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := u.NewPCB()
	if err := srv.Bind(netip.MustParseAddrPort("0.0.0.0:7000")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	var from netip.AddrPort
	var ttl uint8
	srv.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		got, from, ttl = bytes.Clone(data), info.Src, info.TTL
	})
	_, rw := open(t, n.b.r, wire.ProtoUDP)

	c, _ := open(t, n.a.r, wire.ProtoUDP)
	c.SetHeaderIncluded(true)
	payload := []byte("built by hand")
	pkt := make([]byte, 20+8+len(payload))
	h := wire.IPv4Header{TotalLength: len(pkt), TTL: 33, Protocol: wire.ProtoUDP, Src: n.a.Addr, Dst: n.b.Addr, Flags: wire.IPv4FlagDF}
	hl := h.Encode(pkt)
	wire.PutUDP(pkt[hl:], 4242, 7000, 8+len(payload))
	copy(pkt[hl+8:], payload)
	wire.SetUDPChecksum(pkt[hl:], n.a.Addr, n.b.Addr)
	if err := c.SendTo(pkt, n.b.Addr); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if !bytes.Equal(got, payload) || from != netip.MustParseAddrPort("10.0.0.1:4242") || ttl != 33 {
		t.Fatalf("UDP pcb got %q from %v ttl %d", got, from, ttl)
	}
	if len(rw.dgs) != 1 || !bytes.Equal(rw.dgs[0][20:], pkt[20:]) {
		t.Fatalf("b's raw UDP pcb did not see the datagram as sent")
	}
	ip, _ := wire.ParseIPv4(rw.dgs[0])
	if ip.TTL() != 33 || !ip.DontFragment() || !ip.ChecksumValid() {
		t.Errorf("header fields not kept: ttl %d df %v", ip.TTL(), ip.DontFragment())
	}
	// Not an IPv4 header.
	for _, bad := range [][]byte{pkt[:19], append([]byte{0x65}, pkt[1:]...), append([]byte{0x44}, pkt[1:]...), append([]byte{0x4f}, pkt[1:24]...)} {
		if err := c.SendTo(bad, n.b.Addr); !errors.Is(err, raw.ErrInvalid) {
			t.Errorf("header-included SendTo of a bad header %x: %v", bad[:1], err)
		}
	}
	if st := n.a.S.Pool().Stats(); st.InUse != 0 {
		t.Errorf("%d buffers leaked", st.InUse)
	}
}

func TestReassembledDatagramWhole(t *testing.T) {
	n := newNet(t)
	const proto = 253
	_, r := open(t, n.b.r, proto)
	s, _ := open(t, n.a.r, proto)
	msg := make([]byte, 4000)
	for i := range msg {
		msg[i] = byte(i * 13)
	}
	if err := s.SendTo(msg, n.b.Addr); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(r.dgs) != 1 {
		t.Fatalf("got %d datagrams", len(r.dgs))
	}
	ip, err := wire.ParseIPv4(r.dgs[0])
	if err != nil || ip.IsFragment() || ip.TotalLength() != 20+len(msg) || !bytes.Equal(ip.Payload(), msg) || !ip.ChecksumValid() {
		t.Fatalf("reassembled datagram: %v, fragment %v, length %d", err, ip.IsFragment(), len(r.dgs[0]))
	}
}

func TestLimitsAndErrors(t *testing.T) {
	n := newNet(t)
	p, err := raw.New(n.a.S, raw.Config{MaxPCBs: 2})
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := p.NewPCB(1)
	if _, err := p.NewPCB(17); err != nil {
		t.Fatal(err)
	}
	if _, err := p.NewPCB(1); !errors.Is(err, raw.ErrTooManyPCBs) {
		t.Fatalf("3rd pcb: %v", err)
	}
	c1.Close()
	if _, err := p.NewPCB(1); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := raw.New(n.a.S, raw.Config{MaxPCBs: -1}); err == nil {
		t.Error("New with MaxPCBs -1 succeeded")
	}
	c, _ := p.NewPCB(1)
	_ = c
	c2, _ := n.a.r.NewPCB(1)
	for _, d := range []netip.Addr{{}, netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		if err := c2.SendTo([]byte("x"), d); !errors.Is(err, raw.ErrInvalid) {
			t.Errorf("SendTo(%v) = %v", d, err)
		}
	}
	// IPv6 is supported: without an IPv6 route the stack says so.
	if err := c2.SendTo([]byte("x"), netip.MustParseAddr("2001:db8::1")); !errors.Is(err, stack.ErrNoRoute) {
		t.Errorf("SendTo(2001:db8::1) = %v", err)
	}
	if err := c2.SendTo(make([]byte, 65535-20+1), n.b.Addr); !errors.Is(err, raw.ErrMessageTooLong) {
		t.Errorf("SendTo of 65516 bytes = %v", err)
	}
}

func TestCloseInCallbackAndUnregister(t *testing.T) {
	n := newNet(t)
	const proto = 253
	c1, _ := n.b.r.NewPCB(proto)
	c2, r2 := open(t, n.b.r, proto)
	calls := 0
	c1.OnRecv(func(c *raw.PCB, dg []byte, info *raw.RecvInfo) {
		calls++
		c.Close()
	})
	s, _ := open(t, n.a.r, proto)
	for i := 0; i < 2; i++ {
		if err := s.SendTo([]byte("x"), n.b.Addr); err != nil {
			t.Fatal(err)
		}
		n.Pump()
	}
	if calls != 1 || len(r2.dgs) != 2 {
		t.Fatalf("self-closing pcb ran %d times (want 1), other pcb got %d (want 2)", calls, len(r2.dgs))
	}
	c2.Close()
	unknown := n.b.S.Stats().IP.InUnknownProtos
	if err := s.SendTo([]byte("x"), n.b.Addr); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if got := n.b.S.Stats().IP.InUnknownProtos; got != unknown+1 {
		t.Errorf("after closing every pcb the stack still has a raw handler (InUnknownProtos %d -> %d)", unknown, got)
	}
	if st := n.b.r.Stats(); st.PCBs != 0 || st.InDelivers != 3 {
		t.Errorf("stats %+v", st)
	}
	any, _ := n.b.r.NewPCB(255)
	if err := any.SendTo([]byte("not a header"), n.a.Addr); !errors.Is(err, raw.ErrInvalid) {
		t.Errorf("protocol-255 pcb is not header-included: %v", err)
	}
}
