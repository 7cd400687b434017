package udp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

func mustPCB(t testing.TB, p *udp.Protocol) *udp.PCB {
	t.Helper()
	c, err := p.NewPCB()
	if err != nil {
		t.Fatalf("NewPCB: %v", err)
	}
	return c
}

func mustBind(t testing.TB, c *udp.PCB, s string) {
	t.Helper()
	if err := c.Bind(ap(s)); err != nil {
		t.Fatalf("Bind(%s): %v", s, err)
	}
}

// recorder collects what a PCB receives.
type recorder struct {
	data  [][]byte
	infos []udp.RecvInfo
}

func (r *recorder) fn(c *udp.PCB, data []byte, info *udp.RecvInfo) {
	r.data = append(r.data, bytes.Clone(data))
	r.infos = append(r.infos, *info)
}

func listen(t testing.TB, p *udp.Protocol, addr string, reuse bool) (*udp.PCB, *recorder) {
	t.Helper()
	c := mustPCB(t, p)
	c.SetReuseAddr(reuse)
	mustBind(t, c, addr)
	r := &recorder{}
	c.OnRecv(r.fn)
	return c, r
}

func echoServer(t testing.TB, p *udp.Protocol, addr string) *udp.PCB {
	t.Helper()
	c := mustPCB(t, p)
	mustBind(t, c, addr)
	c.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		if err := c.SendTo(data, info.Src); err != nil {
			t.Errorf("echo SendTo: %v", err)
		}
	})
	return c
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func TestEchoBetweenStacks(t *testing.T) {
	n := newNet(t)
	echoServer(t, n.b.u, "0.0.0.0:7")
	cli := mustPCB(t, n.a.u)
	r := &recorder{}
	cli.OnRecv(r.fn)
	var wireErr error
	n.a.Tap = func(f []byte) bool {
		if off := udpOffset(f, wire.ProtoUDP); off >= 0 {
			ip, _ := wire.ParseIPv4(f[14:])
			u, err := wire.ParseUDP(f[off:])
			if err != nil || u.Checksum() == 0 || !u.ChecksumValid(ip.Src(), ip.Dst()) {
				wireErr = errors.New("frame with a bad UDP header or checksum on the wire")
			}
		}
		return true
	}
	msgs := [][]byte{{}, []byte("x"), []byte("hello, featherip"), pattern(1472, 3), pattern(333, 9)}
	for i, m := range msgs {
		if err := cli.SendTo(m, ap("10.0.0.2:7")); err != nil {
			t.Fatalf("SendTo #%d: %v", i, err)
		}
		n.Pump()
		if len(r.data) != i+1 {
			t.Fatalf("after message %d: got %d echoes", i, len(r.data))
		}
		if !bytes.Equal(r.data[i], m) {
			t.Fatalf("echo %d differs: got %d bytes, want %d", i, len(r.data[i]), len(m))
		}
		info := r.infos[i]
		if info.Src != ap("10.0.0.2:7") || info.Dst != n.a.Addr || info.NIC != n.a.NIC ||
			info.Broadcast || info.Multicast || info.TTL != 64 {
			t.Fatalf("echo %d info = %+v", i, info)
		}
	}
	if wireErr != nil {
		t.Fatal(wireErr)
	}
	la := cli.LocalAddr()
	if la.Port() < udp.DefaultEphemeralLow {
		t.Errorf("implicit bind got port %d, want an ephemeral one", la.Port())
	}
	sa, sb := n.a.u.Stats(), n.b.u.Stats()
	if sa.OutDatagrams != uint64(len(msgs)) || sa.InDatagrams != uint64(len(msgs)) ||
		sb.OutDatagrams != uint64(len(msgs)) || sb.InDatagrams != uint64(len(msgs)) {
		t.Errorf("stats a=%+v b=%+v", sa, sb)
	}
	if sa.InErrors+sb.InErrors+sa.NoPorts+sb.NoPorts != 0 {
		t.Errorf("unexpected errors: a=%+v b=%+v", sa, sb)
	}
}

func TestConnectedSendAndZeroCopy(t *testing.T) {
	n := newNet(t)
	echoServer(t, n.b.u, "10.0.0.2:7")
	cli := mustPCB(t, n.a.u)
	if err := cli.Send([]byte("x")); !errors.Is(err, udp.ErrNotConnected) {
		t.Fatalf("Send unconnected: %v, want ErrNotConnected", err)
	}
	if err := cli.Connect(ap("10.0.0.2:7")); err != nil {
		t.Fatal(err)
	}
	if got := cli.LocalAddr().Addr(); got != n.a.Addr {
		t.Errorf("LocalAddr after Connect = %v, want the route source %v", got, n.a.Addr)
	}
	if cli.RemoteAddr() != ap("10.0.0.2:7") {
		t.Errorf("RemoteAddr = %v", cli.RemoteAddr())
	}
	r := &recorder{}
	cli.OnRecv(r.fn)
	if err := cli.Send([]byte("copy")); err != nil {
		t.Fatal(err)
	}
	b := cli.NewBuf(5)
	if b == nil || b.Len() != 5 {
		t.Fatalf("NewBuf(5) = %v", b)
	}
	copy(b.Bytes(), "zcopy")
	if err := cli.SendBufTo(b, ap("10.0.0.2:7")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(r.data) != 2 || string(r.data[0]) != "copy" || string(r.data[1]) != "zcopy" {
		t.Fatalf("got %q", r.data)
	}
	cli.Disconnect()
	if cli.RemoteAddr().IsValid() || cli.LocalAddr().Addr() != netip.IPv4Unspecified() {
		t.Errorf("after Disconnect local=%v remote=%v", cli.LocalAddr(), cli.RemoteAddr())
	}
	if pool := n.a.S.Pool().Stats(); pool.InUse != 0 {
		t.Errorf("a's pool has %d buffers in use after the exchange", pool.InUse)
	}
	big := make([]byte, udp.MaxPayload+1)
	if err := cli.SendTo(big, ap("10.0.0.2:7")); !errors.Is(err, udp.ErrMessageTooLong) {
		t.Errorf("SendTo of %d bytes: %v, want ErrMessageTooLong", len(big), err)
	}
	cli.Close()
	if err := cli.SendTo([]byte("x"), ap("10.0.0.2:7")); !errors.Is(err, udp.ErrClosed) {
		t.Errorf("SendTo after Close: %v", err)
	}
	if err := cli.SendTo([]byte("x"), ap("10.0.0.2:0")); !errors.Is(err, udp.ErrClosed) {
		t.Errorf("SendTo after Close: %v", err)
	}
}

func TestSendToBadDestination(t *testing.T) {
	n := newNet(t)
	c := mustPCB(t, n.a.u)
	for _, d := range []string{"10.0.0.2:0", "0.0.0.0:7", "[::]:7", "[2001:db8::1]:0"} {
		if err := c.SendTo([]byte("x"), ap(d)); !errors.Is(err, udp.ErrInvalid) {
			t.Errorf("SendTo(%s) = %v, want ErrInvalid", d, err)
		}
	}
	// IPv6 is supported: without an IPv6 route the stack says so.
	if err := c.SendTo([]byte("x"), ap("[2001:db8::1]:7")); !errors.Is(err, stack.ErrNoRoute) {
		t.Errorf("SendTo(2001:db8::1) = %v, want stack.ErrNoRoute", err)
	}
	if err := c.Connect(ap("10.0.0.2:0")); !errors.Is(err, udp.ErrInvalid) {
		t.Errorf("Connect to port 0 = %v, want ErrInvalid", err)
	}
	if st := n.a.S.Pool().Stats(); st.InUse != 0 {
		t.Errorf("%d buffers leaked", st.InUse)
	}
}

func TestBindConflicts(t *testing.T) {
	type bind struct {
		lite  bool
		addr  string
		reuse bool
	}
	cases := []struct {
		name  string
		binds []bind
		want  error // of the last bind; the earlier ones must succeed
	}{
		{"same specific", []bind{{false, "10.0.0.1:53", false}, {false, "10.0.0.1:53", false}}, udp.ErrAddrInUse},
		{"distinct specific", []bind{{false, "10.0.0.1:53", false}, {false, "127.0.0.1:53", false}}, nil},
		{"wildcard then specific", []bind{{false, "0.0.0.0:53", false}, {false, "10.0.0.1:53", false}}, udp.ErrAddrInUse},
		{"specific then wildcard", []bind{{false, "10.0.0.1:53", false}, {false, "0.0.0.0:53", false}}, udp.ErrAddrInUse},
		{"wildcard twice", []bind{{false, "0.0.0.0:53", false}, {false, "0.0.0.0:53", false}}, udp.ErrAddrInUse},
		{"wildcard twice, one reuse", []bind{{false, "0.0.0.0:53", true}, {false, "0.0.0.0:53", false}}, udp.ErrAddrInUse},
		{"wildcard twice, other reuse", []bind{{false, "0.0.0.0:53", false}, {false, "0.0.0.0:53", true}}, udp.ErrAddrInUse},
		{"wildcard twice, both reuse", []bind{{false, "0.0.0.0:53", true}, {false, "0.0.0.0:53", true}}, nil},
		{"wildcard and specific, both reuse", []bind{{false, "0.0.0.0:53", true}, {false, "10.0.0.1:53", true}}, nil},
		{"same specific, both reuse", []bind{{false, "10.0.0.1:53", true}, {false, "10.0.0.1:53", true}}, nil},
		{"different ports", []bind{{false, "0.0.0.0:53", false}, {false, "0.0.0.0:54", false}}, nil},
		{"udp and udp-lite spaces", []bind{{false, "0.0.0.0:53", false}, {true, "0.0.0.0:53", false}}, nil},
		{"udp-lite conflict", []bind{{true, "0.0.0.0:53", false}, {true, "10.0.0.1:53", false}}, udp.ErrAddrInUse},
		{"not our address", []bind{{false, "10.0.0.9:53", false}}, udp.ErrAddrNotAvailable},
		{"ipv6 address", []bind{{false, "[2001:db8::1]:53", false}}, udp.ErrAddrNotAvailable},
		{"multicast group", []bind{{false, "239.1.1.1:53", false}}, nil},
		{"directed broadcast", []bind{{false, "10.0.0.255:53", false}}, nil},
		{"ipv4-mapped", []bind{{false, "[::ffff:10.0.0.1]:53", false}, {false, "10.0.0.1:53", false}}, udp.ErrAddrInUse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t)
			for i, b := range tc.binds {
				var c *udp.PCB
				var err error
				if b.lite {
					c, err = n.a.u.NewLitePCB()
				} else {
					c, err = n.a.u.NewPCB()
				}
				if err != nil {
					t.Fatal(err)
				}
				c.SetReuseAddr(b.reuse)
				err = c.Bind(ap(b.addr))
				if i < len(tc.binds)-1 {
					if err != nil {
						t.Fatalf("bind %d (%s): %v", i, b.addr, err)
					}
					continue
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("last bind (%s) = %v, want %v", b.addr, err, tc.want)
				}
				if err == nil && c.LocalAddr() != ap(b.addr) && c.LocalAddr().Addr() != netip.MustParseAddr("10.0.0.1") {
					t.Errorf("LocalAddr = %v", c.LocalAddr())
				}
			}
		})
	}
}

func TestBindCloseFreesPort(t *testing.T) {
	n := newNet(t)
	c1 := mustPCB(t, n.a.u)
	mustBind(t, c1, "0.0.0.0:53")
	c2 := mustPCB(t, n.a.u)
	if err := c2.Bind(ap("0.0.0.0:53")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Fatalf("second bind: %v", err)
	}
	c1.Close()
	c1.Close() // idempotent
	mustBind(t, c2, "0.0.0.0:53")
	if err := c1.Bind(ap("0.0.0.0:54")); !errors.Is(err, udp.ErrClosed) {
		t.Errorf("Bind after Close = %v, want ErrClosed", err)
	}
}

func TestConnectSharedPortDistinctRemotes(t *testing.T) {
	n := newNet(t)
	c1, c2, c3 := mustPCB(t, n.a.u), mustPCB(t, n.a.u), mustPCB(t, n.a.u)
	for _, c := range []*udp.PCB{c1, c2, c3} {
		c.SetReuseAddr(true)
		mustBind(t, c, "0.0.0.0:5000")
	}
	if err := c1.Connect(ap("10.0.0.2:7")); err != nil {
		t.Fatal(err)
	}
	if err := c2.Connect(ap("10.0.0.2:8")); err != nil {
		t.Fatalf("distinct remote: %v", err)
	}
	if err := c3.Connect(ap("10.0.0.2:7")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Fatalf("same remote: %v, want ErrAddrInUse", err)
	}
}

func TestTooManyPCBs(t *testing.T) {
	n := newNetCfg(t, udp.Config{MaxPCBs: 3})
	var pcbs []*udp.PCB
	for i := 0; i < 3; i++ {
		pcbs = append(pcbs, mustPCB(t, n.a.u))
	}
	if _, err := n.a.u.NewLitePCB(); !errors.Is(err, udp.ErrTooManyPCBs) {
		t.Fatalf("4th pcb: %v, want ErrTooManyPCBs", err)
	}
	if got := n.a.u.Stats().PCBs; got != 3 {
		t.Errorf("Stats().PCBs = %d", got)
	}
	pcbs[1].Close()
	if _, err := n.a.u.NewPCB(); err != nil {
		t.Fatalf("after Close: %v", err)
	}
}

func TestEphemeralPorts(t *testing.T) {
	n := newNetCfg(t, udp.Config{MaxPCBs: 500})
	seen := map[uint16]bool{}
	var ports []uint16
	for i := 0; i < 400; i++ {
		c := mustPCB(t, n.a.u)
		mustBind(t, c, "0.0.0.0:0")
		p := c.LocalAddr().Port()
		if p < 49152 {
			t.Fatalf("port %d outside 49152..65535", p)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		ports = append(ports, p)
	}
	// Random, not sequential: few neighbours differ by one, and the
	// ports spread over the range.
	seq, lowHalf := 0, 0
	for i, p := range ports {
		if i > 0 && p == ports[i-1]+1 {
			seq++
		}
		if p < 49152+8192 {
			lowHalf++
		}
	}
	if seq > 10 {
		t.Errorf("%d of 400 ephemeral ports follow their predecessor: not random", seq)
	}
	if lowHalf < 120 || lowHalf > 280 {
		t.Errorf("%d of 400 ports in the lower half of the range: not uniform", lowHalf)
	}
	// The other stack (another seed) starts elsewhere.
	c := mustPCB(t, n.b.u)
	mustBind(t, c, "0.0.0.0:0")
	c2 := mustPCB(t, n.b.u)
	mustBind(t, c2, "0.0.0.0:0")
	if c.LocalAddr().Port() == ports[0] && c2.LocalAddr().Port() == ports[1] {
		t.Errorf("two stacks with different random sources chose the same ports")
	}
}

func TestEphemeralRangeExhausted(t *testing.T) {
	n := newNetCfg(t, udp.Config{MaxPCBs: 20, EphemeralLow: 5000, EphemeralHigh: 5009})
	seen := map[uint16]bool{}
	for i := 0; i < 10; i++ {
		c := mustPCB(t, n.a.u)
		mustBind(t, c, "0.0.0.0:0")
		p := c.LocalAddr().Port()
		if p < 5000 || p > 5009 || seen[p] {
			t.Fatalf("port %d: outside 5000..5009 or repeated", p)
		}
		seen[p] = true
	}
	c := mustPCB(t, n.a.u)
	if err := c.Bind(ap("0.0.0.0:0")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Fatalf("11th ephemeral bind: %v, want ErrAddrInUse", err)
	}
	if err := c.SendTo([]byte("x"), ap("10.0.0.2:7")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Fatalf("implicit bind with the range exhausted: %v", err)
	}
	// A UDP-Lite pcb has its own port space.
	l, err := n.a.u.NewLitePCB()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(ap("0.0.0.0:0")); err != nil {
		t.Fatalf("UDP-Lite ephemeral bind: %v", err)
	}
}

func TestNewConfigErrors(t *testing.T) {
	n := newNet(t)
	for _, cfg := range []udp.Config{
		{MaxPCBs: -1},
		{EphemeralLow: 6000, EphemeralHigh: 5000},
		{EphemeralLow: 0, EphemeralHigh: 5000},
	} {
		if _, err := udp.New(n.a.S, cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := udp.New(nil, udp.Config{}); err == nil {
		t.Errorf("New(nil) succeeded")
	}
}

func TestDemuxBestMatch(t *testing.T) {
	n := newNet(t)
	// b has a wildcard, an address-bound and a connected pcb on port 6000.
	w, rw := listen(t, n.b.u, "0.0.0.0:6000", true)
	s, rs := listen(t, n.b.u, "10.0.0.2:6000", true)
	x, rx := listen(t, n.b.u, "0.0.0.0:6000", true)
	if err := x.Connect(ap("10.0.0.1:5000")); err != nil {
		t.Fatal(err)
	}
	a5000, a5001 := mustPCB(t, n.a.u), mustPCB(t, n.a.u)
	mustBind(t, a5000, "0.0.0.0:5000")
	mustBind(t, a5001, "0.0.0.0:5001")
	send := func(c *udp.PCB, msg string) {
		t.Helper()
		if err := c.SendTo([]byte(msg), ap("10.0.0.2:6000")); err != nil {
			t.Fatal(err)
		}
		n.Pump()
	}
	count := func() [3]int { return [3]int{len(rx.data), len(rs.data), len(rw.data)} }
	send(a5000, "to connected")
	if c := count(); c != [3]int{1, 0, 0} {
		t.Fatalf("from the connected remote: deliveries (connected, bound, wildcard) = %v", c)
	}
	send(a5001, "to bound")
	if c := count(); c != [3]int{1, 1, 0} {
		t.Fatalf("from another port: deliveries = %v, want the address-bound pcb", c)
	}
	s.Close()
	send(a5001, "to wildcard")
	if c := count(); c != [3]int{1, 1, 1} {
		t.Fatalf("after closing the bound pcb: deliveries = %v, want the wildcard pcb", c)
	}
	w.Close()
	// Only the connected pcb is left: a datagram from elsewhere is refused.
	errs := 0
	a5001.OnError(func(*udp.PCB, error) { errs++ })
	send(a5001, "nobody")
	if c := count(); c != [3]int{1, 1, 1} {
		t.Fatalf("connected pcb received from a foreign remote: %v", c)
	}
	if st := n.b.u.Stats(); st.NoPorts != 1 {
		t.Errorf("b NoPorts = %d, want 1", st.NoPorts)
	}
	if errs != 0 {
		t.Errorf("unconnected pcb got %d ICMP errors", errs)
	}
	if string(rx.data[0]) != "to connected" || rx.infos[0].Src != ap("10.0.0.1:5000") {
		t.Errorf("connected pcb got %q from %v", rx.data[0], rx.infos[0].Src)
	}
	x.Disconnect()
	send(a5001, "after disconnect")
	if c := count(); c != [3]int{2, 1, 1} {
		t.Fatalf("after Disconnect: %v", c)
	}
}

func TestBroadcastPermission(t *testing.T) {
	n := newNet(t)
	_, r := listen(t, n.b.u, "0.0.0.0:6100", false)
	c := mustPCB(t, n.a.u)
	c.SetMulticastInterface(n.a.NIC)
	for _, d := range []string{"255.255.255.255:6100", "10.0.0.255:6100"} {
		if err := c.SendTo([]byte("x"), ap(d)); !errors.Is(err, udp.ErrBroadcastNotAllowed) {
			t.Errorf("SendTo(%s) without SetBroadcast = %v, want ErrBroadcastNotAllowed", d, err)
		}
	}
	n.Pump()
	if len(r.data) != 0 {
		t.Fatalf("a broadcast got through without permission")
	}
	c.SetBroadcast(true)
	for i, d := range []string{"255.255.255.255:6100", "10.0.0.255:6100"} {
		if err := c.SendTo([]byte(d), ap(d)); err != nil {
			t.Fatalf("SendTo(%s) with SetBroadcast: %v", d, err)
		}
		n.Pump()
		if len(r.data) != i+1 || string(r.data[i]) != d {
			t.Fatalf("broadcast to %s: received %q", d, r.data)
		}
		info := r.infos[i]
		if !info.Broadcast || info.Multicast || info.Dst != ap(d).Addr() || info.Src.Addr() != n.a.Addr {
			t.Errorf("broadcast info = %+v", info)
		}
	}
	// A broadcast to a port nobody has is ignored: no ICMP error.
	icmpBefore := n.b.S.Stats().ICMP.OutDestUnreachs
	if err := c.SendTo([]byte("x"), ap("10.0.0.255:6101")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if got := n.b.S.Stats().ICMP.OutDestUnreachs; got != icmpBefore {
		t.Errorf("ICMP error sent for a broadcast")
	}
	if st := n.b.u.Stats(); st.IgnoredMulti != 1 || st.NoPorts != 0 {
		t.Errorf("b stats %+v: want IgnoredMulti 1, NoPorts 0", st)
	}
}

func TestMulticast(t *testing.T) {
	n := newNet(t)
	group := netip.MustParseAddr("239.1.2.3")
	if err := n.b.S.JoinGroup(n.b.NIC, group); err != nil {
		t.Fatalf("JoinGroup: %v", err)
	}
	_, rg := listen(t, n.b.u, "239.1.2.3:6200", true)
	_, rw := listen(t, n.b.u, "0.0.0.0:6200", true)
	_, ru := listen(t, n.b.u, "10.0.0.2:6200", true)
	_, rother := listen(t, n.b.u, "239.9.9.9:6200", true)
	snd := mustPCB(t, n.a.u)
	snd.SetMulticastInterface(n.a.NIC)
	n.Pump()
	if err := snd.SendTo([]byte("m1"), ap("239.1.2.3:6200")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(rg.data) != 1 || len(rw.data) != 1 {
		t.Fatalf("group-bound got %d, wildcard got %d; want 1 each", len(rg.data), len(rw.data))
	}
	if len(ru.data) != 0 || len(rother.data) != 0 {
		t.Fatalf("unicast-bound or other-group pcb got a multicast")
	}
	info := rg.infos[0]
	if !info.Multicast || info.Broadcast || info.Dst != group || info.TTL != 1 || info.Src.Addr() != n.a.Addr {
		t.Errorf("multicast info = %+v (default TTL must be 1)", info)
	}
	snd.SetMulticastTTL(7)
	if err := snd.SendTo([]byte("m2"), ap("239.1.2.3:6200")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(rg.data) != 2 || rg.infos[1].TTL != 7 || string(rg.data[1]) != "m2" {
		t.Fatalf("after SetMulticastTTL(7): %d datagrams, infos %+v", len(rg.data), rg.infos)
	}
	if st := n.b.u.Stats(); st.InDatagrams != 4 {
		t.Errorf("b InDatagrams = %d, want 4 (2 datagrams x 2 pcbs)", st.InDatagrams)
	}

	// Loop: a joins too; its own pcb on the port sees its datagrams
	// unless loop is off.
	if err := n.a.S.JoinGroup(n.a.NIC, group); err != nil {
		t.Fatal(err)
	}
	_, rl := listen(t, n.a.u, "0.0.0.0:6200", false)
	n.Pump()
	if err := snd.SendTo([]byte("loop on"), ap("239.1.2.3:6200")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(rl.data) != 1 || string(rl.data[0]) != "loop on" {
		t.Fatalf("loop on: sender's host got %q", rl.data)
	}
	if len(rg.data) != 3 {
		t.Fatalf("loop on: remote group member got %d", len(rg.data))
	}
	snd.SetMulticastLoop(false)
	if err := snd.SendTo([]byte("loop off"), ap("239.1.2.3:6200")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(rl.data) != 1 {
		t.Fatalf("loop off: sender's host got %q", rl.data)
	}
	if len(rg.data) != 4 {
		t.Fatalf("loop off: remote group member got %d", len(rg.data))
	}
	// After leaving, b's stack filters the group.
	if err := n.b.S.LeaveGroup(n.b.NIC, group); err != nil {
		t.Fatal(err)
	}
	if err := snd.SendTo([]byte("left"), ap("239.1.2.3:6200")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(rg.data) != 4 {
		t.Fatalf("after LeaveGroup the group pcb still received")
	}
}

func TestZeroChecksumAccepted(t *testing.T) {
	n := newNet(t)
	_, r := listen(t, n.b.u, "0.0.0.0:6400", false)
	c := mustPCB(t, n.a.u)
	c.SetChecksum(false)
	var sums []uint16
	n.a.Tap = func(f []byte) bool {
		if off := udpOffset(f, wire.ProtoUDP); off >= 0 {
			sums = append(sums, binary.BigEndian.Uint16(f[off+6:]))
		}
		return true
	}
	if err := c.SendTo([]byte("no checksum"), ap("10.0.0.2:6400")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(sums) != 1 || sums[0] != 0 {
		t.Fatalf("checksum fields on the wire: %v, want [0]", sums)
	}
	if len(r.data) != 1 || string(r.data[0]) != "no checksum" {
		t.Fatalf("zero-checksum datagram not delivered: %q", r.data)
	}
	if st := n.b.u.Stats(); st.InErrors != 0 || st.InCsumErrors != 0 {
		t.Errorf("b stats %+v", st)
	}
}

func TestComputedZeroChecksumSentAsFFFF(t *testing.T) {
	n := newNet(t)
	_, r := listen(t, n.b.u, "0.0.0.0:6401", false)
	c := mustPCB(t, n.a.u)
	mustBind(t, c, "0.0.0.0:5555")
	// Find a 2-byte payload whose checksum computes to zero.
	src, dst := n.a.Addr, n.b.Addr
	var payload []byte
	for x := 0; x < 1<<16; x++ {
		seg := []byte{0x15, 0xb3, 0x19, 0x01, 0, 10, 0, 0, byte(x >> 8), byte(x)}
		if wire.Checksum(seg, wire.PseudoHeaderSum(src, dst, wire.ProtoUDP, len(seg))) == 0 {
			payload = seg[8:]
			break
		}
	}
	if payload == nil {
		t.Fatal("no payload with a zero checksum found")
	}
	var sums []uint16
	n.a.Tap = func(f []byte) bool {
		if off := udpOffset(f, wire.ProtoUDP); off >= 0 {
			sums = append(sums, binary.BigEndian.Uint16(f[off+6:]))
		}
		return true
	}
	if err := c.SendTo(payload, ap("10.0.0.2:6401")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(sums) != 1 || sums[0] != 0xffff {
		t.Fatalf("checksum field %x, want [ffff]", sums)
	}
	if len(r.data) != 1 || !bytes.Equal(r.data[0], payload) {
		t.Fatalf("datagram with checksum 0xffff not delivered")
	}
}

func TestBadChecksumDropped(t *testing.T) {
	n := newNet(t)
	_, r := listen(t, n.b.u, "0.0.0.0:6500", false)
	c := mustPCB(t, n.a.u)
	n.a.Tap = func(f []byte) bool {
		if off := udpOffset(f, wire.ProtoUDP); off >= 0 {
			f[off+8+3] ^= 0x40 // corrupt the payload, keep the checksum
		}
		return true
	}
	icmpBefore := n.b.S.Stats().ICMP.OutDestUnreachs
	if err := c.SendTo([]byte("corrupt me"), ap("10.0.0.2:6500")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(r.data) != 0 {
		t.Fatalf("datagram with a bad checksum delivered: %q", r.data)
	}
	st := n.b.u.Stats()
	if st.InCsumErrors != 1 || st.InErrors != 1 || st.InDatagrams != 0 || st.NoPorts != 0 {
		t.Errorf("b stats %+v: want InCsumErrors 1, InErrors 1", st)
	}
	if n.b.S.Stats().ICMP.OutDestUnreachs != icmpBefore {
		t.Errorf("ICMP error sent for a corrupt datagram")
	}
	n.a.Tap = nil
	if err := c.SendTo([]byte("fine"), ap("10.0.0.2:6500")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(r.data) != 1 {
		t.Fatalf("good datagram after a bad one not delivered")
	}
}

func TestClosedPortConnRefused(t *testing.T) {
	n := newNet(t)
	c := mustPCB(t, n.a.u)
	if err := c.Connect(ap("10.0.0.2:9999")); err != nil {
		t.Fatal(err)
	}
	var errs []error
	c.OnError(func(p *udp.PCB, err error) {
		if p != c {
			t.Errorf("OnError for the wrong pcb")
		}
		errs = append(errs, err)
	})
	// An unconnected pcb sending to the same closed port gets nothing.
	u := mustPCB(t, n.a.u)
	uerrs := 0
	u.OnError(func(*udp.PCB, error) { uerrs++ })
	if err := u.SendTo([]byte("probe"), ap("10.0.0.2:9999")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if err := c.Send([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(errs) != 1 || !errors.Is(errs[0], udp.ErrConnRefused) {
		t.Fatalf("OnError got %v, want [ErrConnRefused]", errs)
	}
	if uerrs != 0 {
		t.Errorf("unconnected pcb got %d errors", uerrs)
	}
	if st := n.b.u.Stats(); st.NoPorts != 2 {
		t.Errorf("b NoPorts = %d, want 2", st.NoPorts)
	}
	if got := n.b.S.Stats().ICMP.OutDestUnreachs; got != 2 {
		t.Errorf("b sent %d dest unreachables, want 2", got)
	}
}

// liteFamily is one address family for the UDP-Lite coverage tests.
type liteFamily struct {
	newNet func(testing.TB) *testNet
	any    string     // the wildcard to bind, without port
	peer   string     // b's address in a destination, without port
	src    netip.Addr // a's address
	// offset returns the offset of the UDP header in an Ethernet frame
	// carrying a datagram of proto without options, or -1.
	offset func(frame []byte, proto uint8) int
}

var lite4 = liteFamily{newNet: newNet, any: "0.0.0.0", peer: "10.0.0.2", src: netip.MustParseAddr("10.0.0.1"), offset: udpOffset}

func TestUDPLiteCoverage(t *testing.T) { testLiteCoverage(t, lite4) }

func TestUDPLiteBadCoverageDropped(t *testing.T) { testLiteBadCoverage(t, lite4) }

// testLiteCoverage: the coverage set on the PCB is the field on the wire
// (0 for the whole datagram), corruption outside the covered bytes is
// delivered as is, inside them (or anywhere with full coverage) dropped
// and counted as a checksum error, and coverage values below 8 or beyond
// the datagram are refused at send (RFC 3828 3.1, 3.3).
func testLiteCoverage(t *testing.T, fam liteFamily) {
	n := fam.newNet(t)
	srv, err := n.b.u.NewLitePCB()
	if err != nil {
		t.Fatal(err)
	}
	mustBind(t, srv, fam.any+":6300")
	r := &recorder{}
	srv.OnRecv(r.fn)
	_, rudp := listen(t, n.b.u, fam.any+":6300", false) // plain UDP, same port number
	c, err := n.a.u.NewLitePCB()
	if err != nil {
		t.Fatal(err)
	}
	dst := ap(fam.peer + ":6300")
	msg := pattern(20, 3)
	corruptAt := -1 // offset into the payload
	var covs []int
	n.a.Tap = func(f []byte) bool {
		if off := fam.offset(f, wire.ProtoUDPLite); off >= 0 {
			covs = append(covs, int(binary.BigEndian.Uint16(f[off+4:])))
			if corruptAt >= 0 {
				f[off+8+corruptAt] ^= 0x10
			}
		}
		return true
	}
	send := func() {
		t.Helper()
		if err := c.SendTo(msg, dst); err != nil {
			t.Fatal(err)
		}
		n.Advance(100e6) // the first send resolves the neighbor
	}
	send()
	if len(r.data) != 1 || !bytes.Equal(r.data[0], msg) || len(covs) != 1 || covs[0] != 0 {
		t.Fatalf("clean full-coverage datagram: got %d, coverage field %v", len(r.data), covs)
	}
	if src := r.infos[0].Src.Addr(); src != fam.src {
		t.Fatalf("from %v, want %v", src, fam.src)
	}
	c.SetChecksumCoverage(12) // header + 4 bytes of payload
	corruptAt = 10            // outside the coverage: delivered as is
	send()
	if len(r.data) != 2 {
		t.Fatalf("corruption outside the coverage dropped the datagram")
	}
	want := bytes.Clone(msg)
	want[10] ^= 0x10
	if !bytes.Equal(r.data[1], want) || covs[1] != 12 {
		t.Fatalf("partial coverage: got %x (coverage %d), want %x", r.data[1], covs[1], want)
	}
	corruptAt = 2 // inside the coverage: dropped
	send()
	if len(r.data) != 2 {
		t.Fatalf("corruption inside the coverage delivered")
	}
	c.SetChecksumCoverage(0)
	corruptAt = 19 // the last byte, covered by the full coverage
	send()
	if len(r.data) != 2 {
		t.Fatalf("full coverage: corruption at the end delivered")
	}
	st := n.b.u.Stats()
	if st.Lite.InCsumErrors != 2 || st.Lite.InErrors != 2 || st.Lite.InDatagrams != 2 || st.InDatagrams != 0 || st.InCsumErrors != 0 {
		t.Errorf("b stats %+v", st)
	}
	if len(rudp.data) != 0 {
		t.Errorf("UDP pcb received UDP-Lite datagrams")
	}
	for _, cov := range []int{1, 7, 29} {
		c.SetChecksumCoverage(cov)
		if err := c.SendTo(msg, dst); !errors.Is(err, udp.ErrInvalid) {
			t.Errorf("coverage %d for a 28-byte datagram: %v, want ErrInvalid", cov, err)
		}
	}
	c.SetChecksumCoverage(28) // exactly the datagram
	corruptAt = -1
	send()
	if len(r.data) != 3 || covs[len(covs)-1] != 28 {
		t.Fatalf("coverage == length not delivered (coverage fields %v)", covs)
	}
	for _, h := range []*host{n.a, n.b} {
		if st := h.S.Pool().Stats(); st.InUse != 0 {
			t.Errorf("%d buffers leaked", st.InUse)
		}
	}
}

// testLiteBadCoverage: a received UDP-Lite datagram whose coverage field
// is below 8 or beyond its length is dropped and counted as an error, not
// a checksum error (RFC 3828 3.1).
func testLiteBadCoverage(t *testing.T, fam liteFamily) {
	n := fam.newNet(t)
	srv, _ := n.b.u.NewLitePCB()
	mustBind(t, srv, fam.any+":6301")
	r := &recorder{}
	srv.OnRecv(r.fn)
	c, _ := n.a.u.NewLitePCB()
	cov := -1 // the coverage written on the wire, -1: leave it
	n.a.Tap = func(f []byte) bool {
		if off := fam.offset(f, wire.ProtoUDPLite); off >= 0 && cov >= 0 {
			binary.BigEndian.PutUint16(f[off+4:], uint16(cov))
		}
		return true
	}
	msg := []byte("bad coverage") // 20-byte datagram
	send := func() {
		t.Helper()
		if err := c.SendTo(msg, ap(fam.peer+":6301")); err != nil {
			t.Fatal(err)
		}
		n.Advance(100e6)
	}
	send() // resolves the neighbor, and shows the path works
	if len(r.data) != 1 {
		t.Fatal("clean datagram not delivered")
	}
	for i, bad := range []int{4, 7, 21, 0xffff} {
		cov = bad
		send()
		st := n.b.u.Stats().Lite
		if len(r.data) != 1 || st.InErrors != uint64(i+1) || st.InCsumErrors != 0 {
			t.Fatalf("coverage %d: delivered %d, Lite stats %+v", bad, len(r.data)-1, st)
		}
	}
}

func TestLargeDatagramFragmented(t *testing.T) {
	n := newNet(t)
	echoServer(t, n.b.u, "0.0.0.0:7")
	c := mustPCB(t, n.a.u)
	r := &recorder{}
	c.OnRecv(r.fn)
	msg := pattern(8000, 5)
	sentBefore := n.a.Sent
	if err := c.SendTo(msg, ap("10.0.0.2:7")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if frames := n.a.Sent - sentBefore; frames < 6 {
		t.Errorf("8008-byte datagram left in %d frames, want >= 6 fragments", frames)
	}
	if len(r.data) != 1 || !bytes.Equal(r.data[0], msg) {
		t.Fatalf("8000-byte echo: got %d datagrams", len(r.data))
	}
	if st := n.b.S.Stats().IP; st.ReasmOKs != 1 {
		t.Errorf("b ReasmOKs = %d", st.ReasmOKs)
	}
}

func TestCloseInsideCallback(t *testing.T) {
	n := newNet(t)
	group := netip.MustParseAddr("239.5.5.5")
	if err := n.b.S.JoinGroup(n.b.NIC, group); err != nil {
		t.Fatal(err)
	}
	got := 0
	var pcbs []*udp.PCB
	for i := 0; i < 3; i++ {
		c := mustPCB(t, n.b.u)
		c.SetReuseAddr(true)
		mustBind(t, c, "0.0.0.0:6600")
		pcbs = append(pcbs, c)
	}
	for _, c := range pcbs {
		c.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
			got++
			for _, x := range pcbs {
				x.Close() // the first receiver closes everyone
			}
		})
	}
	s := mustPCB(t, n.a.u)
	s.SetMulticastInterface(n.a.NIC)
	if err := s.SendTo([]byte("x"), netip.AddrPortFrom(group, 6600)); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if got != 1 {
		t.Fatalf("%d callbacks ran, want 1 (the others were closed)", got)
	}
	if n.b.u.Stats().PCBs != 0 {
		t.Fatalf("pcbs left: %d", n.b.u.Stats().PCBs)
	}
}
