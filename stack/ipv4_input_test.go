package stack

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/wire"
)

func udpFrame(t testing.TB, dstMAC wire.MAC, src, dst netip.Addr, data string) []byte {
	return ethFrame(dstMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoUDP, Src: src, Dst: dst}, udpTo(t, nil, src, dst, []byte(data))))
}

func TestTransportDelivery(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{accept: true}
	raw, any := &stubRaw{}, &stubRaw{}
	if err := e.s.RegisterTransport(wire.ProtoUDP, tr); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RegisterTransport(wire.ProtoUDP, tr); err != ErrExists {
		t.Fatal("second registration accepted")
	}
	if err := e.s.RegisterTransport(wire.ProtoICMP, tr); err != ErrExists {
		t.Fatal("ICMP registration accepted")
	}
	e.s.AddRawHandler(wire.ProtoUDP, raw)
	e.s.AddRawHandler(ProtoAny, any)
	f := udpFrame(t, ourMAC, peerIP, ourIP, "hello")
	e.s.Input(e.nic, f)
	if len(tr.pkts) != 1 || len(raw.pkts) != 1 || len(any.pkts) != 1 {
		t.Fatalf("deliveries %d %d %d", len(tr.pkts), len(raw.pkts), len(any.pkts))
	}
	p := tr.pkts[0]
	if p.NIC != e.nic || p.Src != peerIP || p.Dst != ourIP || p.Protocol != wire.ProtoUDP || p.TTL != 64 || p.Broadcast || p.Multicast ||
		!bytes.Equal(p.IPHeader, f[14:34]) || !bytes.Equal(p.Payload, f[34:]) {
		t.Fatalf("%+v", p)
	}
	// Ethernet padding is trimmed by the total length.
	padded := append(append([]byte(nil), udpFrame(t, ourMAC, peerIP, ourIP, "x")...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	e.s.Input(e.nic, padded)
	if len(tr.pkts) != 2 || len(tr.pkts[1].Payload) != 9 {
		t.Fatal("padding not trimmed")
	}
	e.s.RemoveRawHandler(wire.ProtoUDP, raw)
	e.s.Input(e.nic, f)
	if len(raw.pkts) != 2 || len(any.pkts) != 3 {
		t.Fatal("RemoveRawHandler")
	}
	// A protocol with only a raw handler is delivered there, no ICMP error.
	e.learnPeer()
	e.s.AddRawHandler(99, raw)
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: 99, Src: peerIP, Dst: ourIP}, []byte("z"))))
	if len(raw.pkts) != 3 || len(e.link.take()) != 0 || e.s.Stats().IP.InUnknownProtos != 0 {
		t.Fatal("raw-only protocol")
	}
	// SendDestUnreachable from the transport: port unreachable quoting the datagram.
	e.s.SendDestUnreachable(&tr.pkts[0], wire.ICMPv4PortUnreachable)
	ips := ipFrames(t, e.link.take(), peerMAC)
	if len(ips) != 1 {
		t.Fatal("no port unreachable")
	}
	ip, _ := wire.ParseIPv4(ips[0])
	m, _ := wire.ParseICMPv4(ip.Payload())
	if m.Code() != 3 || !bytes.Equal(m.Payload(), f[14:]) {
		t.Fatalf("port unreachable code %d quote %x", m.Code(), m.Payload())
	}
	st := e.s.Stats().IP
	if st.InDelivers != 4 || st.InReceives != 4 {
		t.Fatalf("%+v", st)
	}
}

func TestDestinationFilter(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	group := netip.MustParseAddr("239.1.2.3")
	if err := e.s.JoinGroup(e.nic, group); err != nil {
		t.Fatal(err)
	}
	_ = e.s.JoinGroup(e.nic, group)
	if err := e.s.JoinGroup(e.nic, peerIP); err != ErrInvalid {
		t.Fatal("joined a unicast address")
	}
	cases := []struct {
		dstMAC  wire.MAC
		dst     string
		deliver bool
		bcast   bool
		mcast   bool
	}{
		{wire.BroadcastMAC, "255.255.255.255", true, true, false},
		{wire.BroadcastMAC, "192.168.7.255", true, true, false},
		{wire.IPv4MulticastMAC(allHosts), "224.0.0.1", true, false, true},
		{wire.IPv4MulticastMAC(group), "239.1.2.3", true, false, true},
		{wire.IPv4MulticastMAC(group), "239.9.9.9", false, false, false},
		{ourMAC, "192.168.7.3", false, false, false},            // not ours: no forwarding
		{wire.BroadcastMAC, "192.168.7.1", false, false, false}, // unicast IP in a link broadcast
		{peerMAC, "192.168.7.1", false, false, false},           // other unicast MAC
		{ourMAC, "10.0.0.255", false, false, false},             // broadcast of a subnet we are not on
	}
	for _, c := range cases {
		n := len(tr.pkts)
		e.s.Input(e.nic, udpFrame(t, c.dstMAC, peerIP, netip.MustParseAddr(c.dst), "d"))
		got := len(tr.pkts) > n
		if got != c.deliver {
			t.Errorf("%s via %v: delivered %v", c.dst, c.dstMAC, got)
			continue
		}
		if got && (tr.pkts[n].Broadcast != c.bcast || tr.pkts[n].Multicast != c.mcast) {
			t.Errorf("%s: flags %+v", c.dst, tr.pkts[n])
		}
	}
	_ = e.s.LeaveGroup(e.nic, group)
	e.s.Input(e.nic, udpFrame(t, wire.IPv4MulticastMAC(group), peerIP, group, "d"))
	if len(tr.pkts) != 5 {
		t.Fatal("group left after one of two leaves")
	}
	_ = e.s.LeaveGroup(e.nic, group)
	e.s.Input(e.nic, udpFrame(t, wire.IPv4MulticastMAC(group), peerIP, group, "d"))
	if len(tr.pkts) != 5 {
		t.Fatal("group still received after leaving")
	}
	if e.s.LeaveGroup(e.nic, group) != ErrNotFound {
		t.Fatal("leave of unjoined group")
	}
	// Martian sources.
	for _, src := range []string{"224.0.0.9", "255.255.255.255", "192.168.7.255", "127.0.0.1", "192.168.7.1"} {
		before := e.s.Stats().IP.InMartians
		e.s.Input(e.nic, udpFrame(t, ourMAC, netip.MustParseAddr(src), ourIP, "m"))
		if e.s.Stats().IP.InMartians != before+1 {
			t.Errorf("martian source %s accepted", src)
		}
	}
	if len(tr.pkts) != 5 {
		t.Fatal("martian delivered")
	}
	// IGMP is counted and given to raw handlers.
	raw := &stubRaw{}
	e.s.AddRawHandler(wire.ProtoIGMP, raw)
	e.s.Input(e.nic, ethFrame(wire.IPv4MulticastMAC(allHosts), peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoIGMP, Src: peerIP, Dst: allHosts, TTL: 1}, make([]byte, 8))))
	if e.s.Stats().IGMP.InMsgs != 1 || len(raw.pkts) != 1 {
		t.Fatal("IGMP not counted")
	}
}

func TestLoopbackDelivery(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	for _, dst := range []string{"127.0.0.1", "127.1.2.3", "192.168.7.1"} {
		d := netip.MustParseAddr(dst)
		if err := sendUDP(t, e, d, 3); err != nil {
			t.Fatal(err)
		}
		if len(tr.pkts) != 0 {
			t.Fatal("delivered before Poll (output re-entered input)")
		}
		if when, ok := e.s.NextDeadline(); !ok || when != e.clk.t {
			t.Fatal("loopback queue not in NextDeadline")
		}
		e.s.Poll()
		if len(tr.pkts) != 1 || tr.pkts[0].Dst != d || tr.pkts[0].NIC != LoopbackNIC {
			t.Fatalf("%s: %+v", dst, tr.pkts)
		}
		tr.pkts = nil
	}
	if len(e.link.take()) != 0 {
		t.Fatal("loopback traffic on the wire")
	}
	// Ping ourselves: request and reply both loop back, one per Poll.
	raw := &stubRaw{}
	e.s.AddRawHandler(wire.ProtoICMP, raw)
	b := e.s.NewPacket(12)
	copy(b.Bytes(), echoMsg(wire.ICMPv4Echo, 9, 9, []byte("self")))
	_ = e.s.WriteIPv4(b, &WriteOptions{Dst: ourIP, Protocol: wire.ProtoICMP})
	e.s.Poll()
	e.s.Poll()
	if len(raw.pkts) != 2 || raw.pkts[1].Payload[0] != wire.ICMPv4EchoReply {
		t.Fatalf("self ping: %d", len(raw.pkts))
	}
	// Queue bound.
	e2 := newEnv(t, func(c *Config) { c.LoopbackQueueLen = 2 })
	for i := 0; i < 3; i++ {
		err := sendUDP(t, e2, ourIP, 1)
		if (i < 2) != (err == nil) {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if e2.s.Stats().Link.LoopbackDrops != 1 {
		t.Fatal("loopback drop not counted")
	}
	// Multicast loop: a copy is delivered locally when we joined.
	group := netip.MustParseAddr("239.1.1.1")
	_ = e.s.JoinGroup(e.nic, group)
	e.link.take() // the IGMP report of the join
	b = e.s.NewPacket(8)
	_ = e.s.WriteIPv4(b, &WriteOptions{Dst: group, Protocol: wire.ProtoUDP, NIC: e.nic, TTL: 1, MulticastLoop: true})
	fr := e.link.take()
	if len(fr) != 1 || wire.MAC(fr[0][:6]) != wire.IPv4MulticastMAC(group) {
		t.Fatal("multicast not sent to the group MAC")
	}
	e.s.Poll()
	if len(tr.pkts) != 1 || !tr.pkts[0].Multicast || tr.pkts[0].NIC != e.nic {
		t.Fatalf("multicast loop: %+v", tr.pkts)
	}
	// Broadcast goes out as link broadcast.
	b = e.s.NewPacket(8)
	_ = e.s.WriteIPv4(b, &WriteOptions{Dst: limitedBroadcast, Protocol: wire.ProtoUDP, NIC: e.nic})
	if fr := e.link.take(); len(fr) != 1 || wire.MAC(fr[0][:6]) != wire.BroadcastMAC {
		t.Fatal("broadcast not sent to ff:ff:ff:ff:ff:ff")
	}
}

// TestHostileInput feeds malformed frames; all are counted and dropped.
func TestHostileInput(t *testing.T) {
	e := newEnv(t, nil)
	e.learnPeer()
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	base := e.s.Pool().Stats().InUse
	good := udpFrame(t, ourMAC, peerIP, ourIP, "0123456789")
	// Truncated at every length: never delivered, never a reply.
	for n := 0; n < len(good); n++ {
		e.s.Input(e.nic, good[:n])
	}
	arp := ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, peerIP, wire.MAC{}, ourIP))
	for n := 0; n < len(arp); n++ {
		e.s.Input(e.nic, arp[:n])
	}
	if len(tr.pkts) != 0 || len(e.link.take()) != 0 {
		t.Fatal("truncated frame accepted")
	}
	st := e.s.Stats()
	if st.Link.TooShort != 28 || st.IP.InHdrErrors != uint64(len(good)-14) || st.ARP.InErrors != 28 {
		t.Fatalf("link %+v ip %+v arp %+v", st.Link, st.IP, st.ARP)
	}
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b[14:])
		return b
	}
	hdrErr := e.s.Stats().IP.InHdrErrors
	bad := [][]byte{
		mutate(func(b []byte) { b[10] ^= 0xff }),                                                  // checksum
		mutate(func(b []byte) { b[0] = 0x44; b[10], b[11] = 0, 0; wire.SetIPv4Checksum(b[:16]) }), // IHL 4
		mutate(func(b []byte) { b[0] = 0x4f }),                                                    // IHL past total length
		mutate(func(b []byte) { b[2], b[3] = 0x01, 0; wire.SetIPv4Checksum(b[:20]) }),             // total length past frame
		mutate(func(b []byte) { b[2], b[3] = 0, 10; wire.SetIPv4Checksum(b[:20]) }),               // total length < header
		mutate(func(b []byte) { b[0] = 0x65 }),                                                    // version 6 in an IPv4 frame
	}
	for i, f := range bad {
		e.s.Input(e.nic, f)
		if got := e.s.Stats().IP.InHdrErrors; got != hdrErr+uint64(i+1) {
			t.Fatalf("bad frame %d not counted as header error", i)
		}
	}
	// Options: a malformed option list is a header error; good options are ignored.
	withOpts := func(opts []byte) []byte {
		return ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoUDP, Src: peerIP, Dst: ourIP, Options: opts}, udpTo(t, nil, peerIP, ourIP, []byte("o"))))
	}
	e.s.Input(e.nic, withOpts([]byte{7, 7, 4, 0, 0, 0, 0, 0})) // record route, fine
	e.s.Input(e.nic, withOpts([]byte{7, 9, 4, 0}))             // length past the options
	e.s.Input(e.nic, withOpts([]byte{7, 1, 0, 0}))             // length below 2
	if len(tr.pkts) != 1 || e.s.Stats().IP.InHdrErrors != hdrErr+uint64(len(bad))+2 {
		t.Fatalf("options: delivered %d", len(tr.pkts))
	}
	// Unknown EtherTypes, VLAN tags, unknown NICs.
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv6, make([]byte, 40)))
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeVLAN, append([]byte{0, 5, 8, 0}, good[14:]...)))
	e.s.Input(99, good)
	e.s.Input(0, good)
	st = e.s.Stats()
	if st.Link.UnknownEtherType != 2 || st.Link.NoInterface != 2 || len(tr.pkts) != 1 {
		t.Fatalf("%+v", st.Link)
	}
	if len(e.link.take()) != 0 {
		t.Fatal("answered hostile input")
	}
	if e.s.Pool().Stats().InUse != base {
		t.Fatal("leak")
	}
}

func TestIPLinkInterface(t *testing.T) {
	e := newEnv(t, nil)
	l := &recLink{}
	n, err := e.s.AddInterface(InterfaceConfig{Name: "tun0", Link: l, Kind: LinkIP, MTU: 1400})
	if err != nil {
		t.Fatal(err)
	}
	_ = e.s.AddAddress(n, netip.MustParsePrefix("10.8.0.1/24"))
	_ = e.s.SetUp(n, true)
	if len(l.take()) != 0 {
		t.Fatal("ARP on an IP link")
	}
	ping := ipPkt(wire.IPv4Header{Protocol: wire.ProtoICMP, Src: netip.MustParseAddr("10.8.0.2"), Dst: netip.MustParseAddr("10.8.0.1")}, echoMsg(wire.ICMPv4Echo, 1, 2, []byte("tun")))
	e.s.Input(n, ping)
	fr := l.take()
	if len(fr) != 1 {
		t.Fatalf("%d frames", len(fr))
	}
	p, err := wire.ParseIPv4(fr[0])
	if err != nil || p.Dst() != netip.MustParseAddr("10.8.0.2") || p.Payload()[0] != 0 {
		t.Fatal("bad reply on IP link")
	}
	e.s.Input(n, []byte{0x60, 0, 0})
	e.s.Input(n, nil)
	if e.s.Stats().Link.UnknownEtherType != 1 || e.s.Stats().Link.TooShort != 1 {
		t.Fatal("IP link errors not counted")
	}
}
