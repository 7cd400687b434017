package stack

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

func TestARPRequestAnswered(t *testing.T) {
	e := newEnv(t, nil)
	req := ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, peerIP, wire.MAC{}, ourIP))
	e.s.Input(e.nic, req)
	fr := e.link.take()
	if len(fr) != 1 {
		t.Fatalf("%d frames, want 1 reply", len(fr))
	}
	want := ethFrame(peerMAC, ourMAC, wire.EtherTypeARP, arpPkt(wire.ARPReply, ourMAC, ourIP, peerMAC, peerIP))
	if !bytes.Equal(fr[0], want) {
		t.Fatalf("reply\n got %x\nwant %x", fr[0], want)
	}
	ns := e.s.Neighbors()
	if len(ns) != 1 || ns[0].IP != peerIP || ns[0].MAC != peerMAC || ns[0].State != "reachable" {
		t.Fatalf("neighbors %+v", ns)
	}
	// A request for an address that is not ours: no reply, nothing learned.
	other := netip.MustParseAddr("192.168.7.3")
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, wire.MAC{2, 9, 9, 9, 9, 9}, wire.EtherTypeARP,
		arpPkt(wire.ARPRequest, wire.MAC{2, 9, 9, 9, 9, 9}, other, wire.MAC{}, netip.MustParseAddr("192.168.7.77"))))
	if len(e.link.take()) != 0 || len(e.s.Neighbors()) != 1 {
		t.Fatal("answered or learned from a request not for us")
	}
	st := e.s.Stats().ARP
	if st.InRequests != 2 || st.OutReplies != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestARPSecondAddressAndMerge(t *testing.T) {
	e := newEnv(t, nil)
	second := netip.MustParseAddr("10.1.1.1")
	if err := e.s.AddAddress(e.nic, netip.MustParsePrefix("10.1.1.1/8")); err != nil {
		t.Fatal(err)
	}
	e.link.take()
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, netip.MustParseAddr("10.2.2.2"), wire.MAC{}, second)))
	fr := e.link.take()
	if len(fr) != 1 {
		t.Fatal("no reply for second address")
	}
	a, _ := wire.ParseARP(fr[0][14:])
	if a.SenderIP() != second || a.Op() != wire.ARPReply {
		t.Fatalf("reply from %v op %d", a.SenderIP(), a.Op())
	}
	// Merge: an update from a known sender, not addressed to us, changes its MAC.
	newMAC := wire.MAC{2, 0, 0, 0, 0, 0x22}
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, newMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, newMAC, netip.MustParseAddr("10.2.2.2"), wire.MAC{}, netip.MustParseAddr("10.9.9.9"))))
	if ns := e.s.Neighbors(); len(ns) != 1 || ns[0].MAC != newMAC {
		t.Fatalf("merge failed: %+v", ns)
	}
}

func TestARPIgnoredSenders(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name string
		sha  wire.MAC
		spa  netip.Addr
	}{
		{"own MAC", ourMAC, peerIP},
		{"broadcast MAC", wire.BroadcastMAC, peerIP},
		{"multicast MAC", wire.MAC{1, 0, 0x5e, 0, 0, 1}, peerIP},
		{"sender broadcast IP", peerMAC, netip.MustParseAddr("255.255.255.255")},
		{"sender directed broadcast", peerMAC, netip.MustParseAddr("192.168.7.255")},
		{"sender multicast IP", peerMAC, netip.MustParseAddr("224.0.0.5")},
	}
	for _, c := range cases {
		before := e.s.Stats().ARP.InIgnored
		e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, c.sha, c.spa, wire.MAC{}, ourIP)))
		if n := len(e.link.take()); n != 0 {
			t.Errorf("%s: %d frames sent", c.name, n)
		}
		if len(e.s.Neighbors()) != 0 {
			t.Errorf("%s: learned", c.name)
		}
		if e.s.Stats().ARP.InIgnored != before+1 {
			t.Errorf("%s: not counted as ignored", c.name)
		}
	}
	// RFC 5227 probe (sender IP 0) for our address: answered, not learned.
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, netip.IPv4Unspecified(), wire.MAC{}, ourIP)))
	if fr := e.link.take(); len(fr) != 1 {
		t.Fatalf("probe: %d frames, want a defending reply", len(fr))
	}
	if len(e.s.Neighbors()) != 0 {
		t.Fatal("learned from a probe")
	}
	// Someone claiming our address: conflict counted, not learned.
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, ourIP, wire.MAC{}, ourIP)))
	if e.s.Stats().ARP.Conflicts != 1 || len(e.s.Neighbors()) != 0 {
		t.Fatal("conflict not detected")
	}
	// Truncated and unsupported ARP.
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, peerIP, wire.MAC{}, ourIP)[:27]))
	bad := arpPkt(7, peerMAC, peerIP, wire.MAC{}, ourIP)
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, bad))
	if e.s.Stats().ARP.InErrors != 2 {
		t.Fatalf("InErrors %d", e.s.Stats().ARP.InErrors)
	}
}

// sendUDP writes a small UDP-like datagram via WriteIPv4.
func sendUDP(t testing.TB, e *env, dst netip.Addr, n int) error {
	b := e.s.NewPacket(8 + n)
	if b == nil {
		t.Fatal("pool empty")
	}
	for i := range b.Bytes() {
		b.Bytes()[i] = byte(i)
	}
	return e.s.WriteIPv4(b, &WriteOptions{Dst: dst, Protocol: wire.ProtoUDP})
}

func TestARPResolutionFlushesQueue(t *testing.T) {
	e := newEnv(t, nil)
	base := e.s.Pool().Stats().InUse
	for i := 0; i < 3; i++ {
		if err := sendUDP(t, e, peerIP, 10+i); err != nil {
			t.Fatal(err)
		}
	}
	fr := e.link.take()
	if len(fr) != 1 {
		t.Fatalf("%d frames, want one ARP request", len(fr))
	}
	want := ethFrame(wire.BroadcastMAC, ourMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, ourMAC, ourIP, wire.MAC{}, peerIP))
	if !bytes.Equal(fr[0], want) {
		t.Fatalf("request\n got %x\nwant %x", fr[0], want)
	}
	if e.s.Pool().Stats().InUse != base+3 {
		t.Fatal("datagrams not held while resolving")
	}
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPReply, peerMAC, peerIP, ourMAC, ourIP)))
	ips := ipFrames(t, e.link.take(), peerMAC)
	if len(ips) != 3 {
		t.Fatalf("%d datagrams flushed, want 3", len(ips))
	}
	for i, d := range ips {
		p, err := wire.ParseIPv4(d)
		if err != nil || !p.ChecksumValid() || p.Dst() != peerIP || p.Src() != ourIP || len(p.Payload()) != 18+i {
			t.Fatalf("datagram %d wrong (err %v)", i, err)
		}
	}
	if e.s.Pool().Stats().InUse != base {
		t.Fatal("buffers leaked")
	}
	// Now resolved: the next datagram goes straight out.
	_ = sendUDP(t, e, peerIP, 1)
	if len(ipFrames(t, e.link.take(), peerMAC)) != 1 {
		t.Fatal("not sent directly after resolution")
	}
}

func TestARPRetriesThenFailure(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{}
	if err := e.s.RegisterTransport(wire.ProtoUDP, tr); err != nil {
		t.Fatal(err)
	}
	base := e.s.Pool().Stats().InUse
	dst := netip.MustParseAddr("192.168.7.99")
	_ = sendUDP(t, e, dst, 4)
	if n := len(e.link.take()); n != 1 {
		t.Fatalf("%d frames, want 1 request", n)
	}
	for i := 0; i < 2; i++ {
		d, ok := e.s.NextDeadline()
		if !ok || d != e.clk.t+time.Second {
			t.Fatalf("deadline %v %v, want now+1s", d, ok)
		}
		e.advance(time.Second)
		if n := len(e.link.take()); n != 1 {
			t.Fatalf("retry %d: %d frames", i, n)
		}
	}
	e.advance(time.Second) // third request unanswered: resolution fails
	if n := len(e.link.take()); n != 0 {
		t.Fatalf("%d frames after failure", n)
	}
	st := e.s.Stats()
	if st.ARP.OutRequests < 3 || st.ARP.ResolutionFailures != 1 {
		t.Fatalf("arp stats %+v", st.ARP)
	}
	if len(e.s.Neighbors()) != 0 {
		t.Fatal("failed entry kept")
	}
	// The host unreachable error loops back to the transport (in the same Poll).
	if len(tr.errs) != 1 {
		t.Fatalf("%d ICMP errors delivered, want 1", len(tr.errs))
	}
	ie := tr.errs[0]
	if ie.Type != wire.ICMPv4DestUnreachable || ie.Code != wire.ICMPv4HostUnreachable || ie.Dst != dst || ie.Src != ourIP || ie.Protocol != wire.ProtoUDP || len(ie.Quoted) < 8 {
		t.Fatalf("error %+v", ie)
	}
	if e.s.Pool().Stats().InUse != base {
		t.Fatal("buffers leaked")
	}
	if _, ok := e.s.NextDeadline(); ok {
		t.Fatal("timers left after failure")
	}
}

func TestARPQueueBounds(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ARP.QueueLen = 2; c.ARP.QueueTotal = 3 })
	base := e.s.Pool().Stats().InUse
	for i := 0; i < 5; i++ {
		_ = sendUDP(t, e, netip.MustParseAddr("192.168.7.50"), i)
	}
	if e.s.Stats().ARP.QueueDrops != 3 || e.s.Pool().Stats().InUse != base+2 {
		t.Fatalf("per-entry bound: drops %d inuse %d", e.s.Stats().ARP.QueueDrops, e.s.Pool().Stats().InUse-base)
	}
	for i := 0; i < 3; i++ {
		_ = sendUDP(t, e, netip.MustParseAddr("192.168.7.51"), i)
	}
	if e.s.Pool().Stats().InUse != base+3 {
		t.Fatalf("total bound: %d held", e.s.Pool().Stats().InUse-base)
	}
	// The newest datagrams of the first entry survive: the reply flushes sizes 3 and 4.
	e.link.take()
	m := wire.MAC{2, 0, 0, 0, 0, 0x50}
	e.s.Input(e.nic, ethFrame(ourMAC, m, wire.EtherTypeARP, arpPkt(wire.ARPReply, m, netip.MustParseAddr("192.168.7.50"), ourMAC, ourIP)))
	ips := ipFrames(t, e.link.take(), m)
	if len(ips) != 2 || len(ips[0]) != 20+8+3 || len(ips[1]) != 20+8+4 {
		t.Fatalf("flushed %d datagrams", len(ips))
	}
	for i := 0; i < 5; i++ {
		e.advance(time.Second)
	}
	if e.s.Pool().Stats().InUse != base {
		t.Fatal("leak after failure of second entry")
	}
}

func TestARPCacheBound(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ARP.CacheSize = 8 })
	static := netip.MustParseAddr("192.168.7.200")
	if err := e.s.AddStaticNeighbor(e.nic, static, wire.MAC{2, 1, 1, 1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		mac := wire.MAC{2, 3, 0, 0, byte(i >> 8), byte(i)}
		ip := netip.AddrFrom4([4]byte{192, 168, 7, byte(10 + i)})
		e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, mac, wire.EtherTypeARP, arpPkt(wire.ARPRequest, mac, ip, wire.MAC{}, ourIP)))
	}
	ns := e.s.Neighbors()
	if len(ns) != 8 {
		t.Fatalf("%d entries, want 8", len(ns))
	}
	found := false
	for _, n := range ns {
		if n.IP == static && n.Static {
			found = true
		}
	}
	if !found {
		t.Fatal("static entry evicted")
	}
	if ev := e.s.Stats().ARP.CacheEvictions; ev != 100-7 {
		t.Fatalf("evictions %d, want 93", ev)
	}
	// Fill with statics: dynamic learning is then refused, counted.
	for i := 0; i < 7; i++ {
		if err := e.s.AddStaticNeighbor(e.nic, netip.AddrFrom4([4]byte{192, 168, 7, byte(201 + i)}), wire.MAC{2, 1, 1, 1, 1, byte(2 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.AddStaticNeighbor(e.nic, netip.MustParseAddr("192.168.7.250"), wire.MAC{2, 1, 1, 1, 1, 99}); err != ErrBufferFull {
		t.Fatalf("ninth static: %v", err)
	}
	if err := sendUDP(t, e, netip.MustParseAddr("192.168.7.251"), 1); err != ErrBufferFull {
		t.Fatalf("send with full static cache: %v", err)
	}
	if e.s.Stats().ARP.CacheFull == 0 {
		t.Fatal("CacheFull not counted")
	}
}

func TestARPAging(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ARP.ReachableTime = time.Minute })
	e.learnPeer()
	d, ok := e.s.NextDeadline()
	if !ok || d != e.clk.t+time.Minute {
		t.Fatalf("deadline %v", d)
	}
	e.advance(30 * time.Second)
	e.learnPeer() // refresh
	e.advance(59 * time.Second)
	if len(e.s.Neighbors()) != 1 {
		t.Fatal("refreshed entry expired early")
	}
	e.advance(time.Second)
	if len(e.s.Neighbors()) != 0 || e.s.Stats().ARP.Expired != 1 {
		t.Fatal("entry did not age out")
	}
	// Next send must resolve again.
	_ = sendUDP(t, e, peerIP, 1)
	fr := e.link.take()
	if len(fr) != 1 || !bytes.Equal(fr[0][12:14], []byte{0x08, 0x06}) {
		t.Fatal("no new ARP request after aging")
	}
}

func TestStaticNeighbor(t *testing.T) {
	e := newEnv(t, nil)
	sm := wire.MAC{2, 0xaa, 0, 0, 0, 1}
	if err := e.s.AddStaticNeighbor(e.nic, peerIP, sm); err != nil {
		t.Fatal(err)
	}
	_ = sendUDP(t, e, peerIP, 1)
	if len(ipFrames(t, e.link.take(), sm)) != 1 {
		t.Fatal("static entry not used")
	}
	// ARP traffic cannot override it, and it does not age.
	e.learnPeer()
	e.advance(time.Hour)
	ns := e.s.Neighbors()
	if len(ns) != 1 || ns[0].MAC != sm || !ns[0].Static || ns[0].State != "permanent" {
		t.Fatalf("%+v", ns)
	}
	if err := e.s.AddStaticNeighbor(e.nic, netip.MustParseAddr("224.0.0.1"), sm); err != ErrInvalid {
		t.Fatalf("multicast static: %v", err)
	}
	if err := e.s.AddStaticNeighbor(LoopbackNIC, peerIP, sm); err != ErrInvalid {
		t.Fatalf("static on loopback: %v", err)
	}
	if err := e.s.RemoveNeighbor(e.nic, peerIP); err != nil || len(e.s.Neighbors()) != 0 {
		t.Fatal("remove failed")
	}
}

func TestGratuitousARPOnSetUp(t *testing.T) {
	clk := &fakeClock{}
	s, err := New(Config{Clock: clk, Rand: &seqRand{}, IPv6: IPv6Config{Disabled: true}}) // ARP frames only
	verifyDeadlineCaches(t, s)
	if err != nil {
		t.Fatal(err)
	}
	l := &recLink{}
	n, _ := s.AddInterface(InterfaceConfig{Name: "eth0", Link: l, MAC: ourMAC})
	_ = s.AddAddress(n, netip.MustParsePrefix("192.168.7.1/24"))
	if len(l.frames) != 0 {
		t.Fatal("sent while down")
	}
	if err := s.SetUp(n, true); err != nil {
		t.Fatal(err)
	}
	want := ethFrame(wire.BroadcastMAC, ourMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, ourMAC, ourIP, wire.MAC{}, ourIP))
	fr := l.take()
	if len(fr) != 1 || !bytes.Equal(fr[0], want) {
		t.Fatalf("announcement %x", fr)
	}
	d, ok := s.NextDeadline()
	if !ok || d != 2*time.Second {
		t.Fatalf("next announcement at %v", d)
	}
	clk.t = 2 * time.Second
	s.Poll()
	if fr := l.take(); len(fr) != 1 || !bytes.Equal(fr[0], want) {
		t.Fatal("second announcement missing")
	}
	clk.t = 10 * time.Second
	s.Poll()
	if len(l.take()) != 0 || s.Stats().ARP.Announcements != 2 {
		t.Fatal("too many announcements")
	}
	if _, ok := s.NextDeadline(); ok {
		t.Fatal("timer pending when idle")
	}
	// Down: frames are not accepted, nothing is sent.
	_ = s.SetUp(n, false)
	s.Input(n, want)
	if s.Stats().Link.NoInterface != 1 {
		t.Fatal("frame on a down interface not counted")
	}
}

type seqRand struct{ n uint64 }

func (r *seqRand) Uint64() uint64 { r.n++; return r.n }
