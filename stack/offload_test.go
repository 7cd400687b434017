package stack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/wire"
)

// gsoLink is a recording link with segmentation offload.
type gsoLink struct {
	recLink
	max  int
	gsos []GSOFrame
}

func (l *gsoLink) GSOMaxSize() int { return l.max }

func (l *gsoLink) SendGSO(f []byte, g GSOFrame) error {
	l.gsos = append(l.gsos, g)
	return l.Send(f)
}

// newGSOEnv is newEnv with a gsoLink as eth0.
func newGSOEnv(t *testing.T, mut func(*Config)) (*env, *gsoLink) {
	e := newEnv(t, mut)
	gl := &gsoLink{max: 65535}
	n, err := e.s.AddInterface(InterfaceConfig{Name: "eth1", Link: gl, Kind: LinkEthernet, MTU: 1500, MAC: ourMAC})
	if err != nil {
		t.Fatal(err)
	}
	// Move our address to the offloading interface.
	if err := e.s.RemoveAddress(e.nic, ourIP); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AddAddress(n, netip.MustParsePrefix("192.168.7.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetUp(n, true); err != nil {
		t.Fatal(err)
	}
	e.nic = n
	e.advance(10e9)
	gl.take()
	e.link = &gl.recLink
	return e, gl
}

// tcpSeg builds a TCP segment with data, its checksum complete when full,
// else the folded pseudo-header sum (a partial checksum).
func tcpSeg(src, dst netip.Addr, seq uint32, flags uint8, data []byte, full bool) []byte {
	seg := make([]byte, 20+len(data))
	h := wire.TCPHeader{SrcPort: 5001, DstPort: 40000, Seq: seq, Ack: 7, Flags: flags, Window: 1000}
	h.Encode(seg)
	copy(seg[20:], data)
	if full {
		wire.SetTCPChecksum(seg, src, dst)
	} else {
		binary.BigEndian.PutUint16(seg[16:], ^wire.Fold(wire.PseudoHeaderSum(src, dst, wire.ProtoTCP, len(seg))))
	}
	return seg
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestInputMetaChecksums(t *testing.T) {
	e := newEnv(t, nil)
	tp, up := &stubTransport{accept: true}, &stubTransport{accept: true}
	e.s.RegisterTransport(wire.ProtoTCP, tp)
	e.s.RegisterTransport(wire.ProtoUDP, up)
	partial := func(payload []byte, proto uint8) []byte {
		return ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: proto, Src: peerIP, Dst: ourIP}, payload))
	}
	meta := RxMeta{CsumPartial: true, CsumStart: 34, CsumOffset: 16}

	// TCP with a partial checksum: delivered as it is, marked ChecksumOK.
	seg := tcpSeg(peerIP, ourIP, 1, wire.TCPFlagACK, pattern(100), false)
	e.s.InputMeta(e.nic, partial(seg, wire.ProtoTCP), meta)
	// The same without metadata: not marked.
	e.s.Input(e.nic, partial(seg, wire.ProtoTCP))
	// Verified by the device.
	e.s.InputMeta(e.nic, partial(tcpSeg(peerIP, ourIP, 1, wire.TCPFlagACK, nil, true), wire.ProtoTCP), RxMeta{CsumValid: true})
	if len(tp.pkts) != 3 || !tp.pkts[0].ChecksumOK || tp.pkts[1].ChecksumOK || !tp.pkts[2].ChecksumOK {
		t.Fatalf("TCP deliveries %d, ChecksumOK wrong", len(tp.pkts))
	}
	if !bytes.Equal(tp.pkts[0].Payload, seg) {
		t.Fatal("TCP payload changed")
	}

	// UDP with a partial checksum: completed in place, not marked.
	u := make([]byte, 8+50)
	wire.PutUDP(u, 1234, 5678, len(u))
	copy(u[8:], pattern(50))
	binary.BigEndian.PutUint16(u[6:], ^wire.Fold(wire.PseudoHeaderSum(peerIP, ourIP, wire.ProtoUDP, len(u))))
	e.s.InputMeta(e.nic, partial(u, wire.ProtoUDP), RxMeta{CsumPartial: true, CsumStart: 34, CsumOffset: 6})
	if len(up.pkts) != 1 || up.pkts[0].ChecksumOK {
		t.Fatalf("UDP deliveries %+v", up.pkts)
	}
	if wire.Checksum(up.pkts[0].Payload, wire.PseudoHeaderSum(peerIP, ourIP, wire.ProtoUDP, len(u))) != 0 {
		t.Fatal("UDP checksum not completed")
	}

	// Metadata pointing outside the frame: dropped and counted.
	before := e.s.Stats().Offload.InBadMeta
	e.s.InputMeta(e.nic, partial(seg, wire.ProtoTCP), RxMeta{CsumPartial: true, CsumStart: 34, CsumOffset: 5000})
	if e.s.Stats().Offload.InBadMeta != before+1 || len(tp.pkts) != 3 {
		t.Fatal("bad metadata not dropped")
	}
	if st := e.s.Stats().Offload; st.InCsumOffloaded != 2 || st.InCsumCompleted != 1 {
		t.Fatalf("offload stats %+v", st)
	}
}

func TestInputMetaGRO(t *testing.T) {
	e := newEnv(t, nil)
	tp := &stubTransport{accept: true}
	e.s.RegisterTransport(wire.ProtoTCP, tp)
	data := pattern(10000) // far beyond the 1500-byte MTU
	seg := tcpSeg(peerIP, ourIP, 100, wire.TCPFlagACK|wire.TCPFlagPSH, data, false)
	f := ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoTCP, Src: peerIP, Dst: ourIP}, seg))
	e.s.InputMeta(e.nic, f, RxMeta{CsumPartial: true, CsumStart: 34, CsumOffset: 16, GSO: true, GSOSize: 1448})
	if len(tp.pkts) != 1 || !tp.pkts[0].ChecksumOK || !bytes.Equal(tp.pkts[0].Payload[20:], data) {
		t.Fatalf("coalesced segment not delivered whole: %d deliveries", len(tp.pkts))
	}
	if g := tp.pkts[0].GSOSize; g != 1448 {
		t.Fatalf("coalesced segment delivered with GSOSize %d, want the metadata's 1448", g)
	}
	e.s.Input(e.nic, f) // the same frame as an ordinary one (its checksum is partial: dropped by TCP, not here)
	if len(tp.pkts) != 2 || tp.pkts[1].GSOSize != 0 {
		t.Fatalf("ordinary frame after a coalesced one: %d deliveries, GSOSize %d", len(tp.pkts), tp.pkts[len(tp.pkts)-1].GSOSize)
	}
	// GSO metadata on something that is not TCP: dropped.
	e.s.InputMeta(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoUDP, Src: peerIP, Dst: ourIP}, make([]byte, 3000))),
		RxMeta{GSO: true, GSOSize: 1000})
	if st := e.s.Stats().Offload; st.InGRO != 2 || st.InBadMeta != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestGROSplit cuts a super-frame as a forwarder must: each segment a
// valid TCP segment with the right sequence number and flags.
func TestGROSplit(t *testing.T) {
	e := newEnv(t, nil)
	tp := &stubTransport{accept: true}
	e.s.RegisterTransport(wire.ProtoTCP, tp)
	data := pattern(3500)
	seg := tcpSeg(peerIP, ourIP, 1000, wire.TCPFlagACK|wire.TCPFlagPSH|wire.TCPFlagFIN|wire.TCPFlagCWR, data, true)
	f := ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoTCP, Src: peerIP, Dst: ourIP, ID: 50}, seg))
	e.s.groSplit(e.nic, f, wire.EthernetHeaderLen, 1000)
	if len(tp.pkts) != 4 {
		t.Fatalf("%d segments, want 4", len(tp.pkts))
	}
	var got []byte
	for i, p := range tp.pkts {
		s, err := wire.ParseTCP(p.Payload)
		if err != nil || !s.ChecksumValid(peerIP, ourIP) || p.ChecksumOK {
			t.Fatalf("segment %d: %v, checksum valid %v", i, err, err == nil && s.ChecksumValid(peerIP, ourIP))
		}
		if s.Seq() != 1000+uint32(i*1000) {
			t.Fatalf("segment %d seq %d", i, s.Seq())
		}
		last := i == 3
		fl := s.Flags()
		if (fl&wire.TCPFlagPSH != 0) != last || (fl&wire.TCPFlagFIN != 0) != last || (fl&wire.TCPFlagCWR != 0) != (i == 0) {
			t.Fatalf("segment %d flags %#x", i, fl)
		}
		ip, err := wire.ParseIPv4(p.IPHeader)
		_ = ip
		if binary.BigEndian.Uint16(p.IPHeader[4:6]) != 50+uint16(i) || wire.Checksum(p.IPHeader, 0) != 0 {
			t.Fatalf("segment %d IP header ID %d / checksum", i, binary.BigEndian.Uint16(p.IPHeader[4:6]))
		}
		got = append(got, s.Payload()...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs after the split")
	}
}

// TestWriteGSO sends TCP segments with WriteOptions.GSO on an offloading
// link: a super-frame goes out whole with a partial checksum that
// completes to a valid one, a small segment as an ordinary frame with a
// partial checksum.
func TestWriteGSO(t *testing.T) {
	e, gl := newGSOEnv(t, nil)
	e.learnPeer()
	if e.s.GSOMaxSize(e.nic, false) != 65535 || e.s.GSOMaxSize(e.nic, true) != 0 || e.s.GSOMaxSize(LoopbackNIC, false) != 0 {
		t.Fatal("GSOMaxSize")
	}
	data := pattern(3500)
	for _, tc := range []struct {
		n       int
		segment bool
	}{{3500, true}, {500, false}} {
		b := e.s.NewPacket(20 + tc.n)
		copy(b.Bytes(), tcpSeg(ourIP, peerIP, 9, wire.TCPFlagACK|wire.TCPFlagPSH, data[:tc.n], false))
		b.Bytes()[16], b.Bytes()[17] = 0xde, 0xad // the transport leaves it
		if err := e.s.WriteIPv4(b, &WriteOptions{Dst: peerIP, Protocol: wire.ProtoTCP, DontFragment: true, GSO: 1000}); err != nil {
			t.Fatal(err)
		}
		fr := gl.take()
		if len(fr) != 1 || len(gl.gsos) != 1 {
			t.Fatalf("%d frames, %d GSO sends", len(fr), len(gl.gsos))
		}
		g := gl.gsos[0]
		gl.gsos = nil
		want := GSOFrame{Segment: tc.segment, HdrLen: 54, Size: 1000, CsumStart: 34, CsumOffset: 16}
		if g != want {
			t.Fatalf("GSOFrame %+v, want %+v", g, want)
		}
		f := fr[0]
		if len(f) != 54+tc.n {
			t.Fatalf("frame length %d", len(f))
		}
		ip, err := wire.ParseIPv4(f[14:])
		if err != nil || !ip.ChecksumValid() || ip.Dst() != peerIP || ip.Src() != ourIP || f[20]&0x40 == 0 {
			t.Fatalf("IP header: %v", err)
		}
		binary.BigEndian.PutUint16(f[g.CsumStart+g.CsumOffset:], wire.Checksum(f[g.CsumStart:], 0))
		s, _ := wire.ParseTCP(ip.Payload())
		if !s.ChecksumValid(ourIP, peerIP) || !bytes.Equal(s.Payload(), data[:tc.n]) {
			t.Fatal("completed checksum invalid or data changed")
		}
	}
	if st := e.s.Stats().Offload; st.OutGSO != 1 || st.OutCsumPartial != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestWriteGSOSoftware: without an offloading link, or before the next
// hop is resolved, the stack sends ordinary segments with complete
// checksums.
func TestWriteGSOSoftware(t *testing.T) {
	e := newEnv(t, nil)
	e.learnPeer()
	data := pattern(3500)
	b := e.s.NewPacket(20 + len(data))
	copy(b.Bytes(), tcpSeg(ourIP, peerIP, 9, wire.TCPFlagACK|wire.TCPFlagPSH, data, false))
	if err := e.s.WriteIPv4(b, &WriteOptions{Dst: peerIP, Protocol: wire.ProtoTCP, DontFragment: true, GSO: 1000}); err != nil {
		t.Fatal(err)
	}
	pkts := ipFrames(t, e.link.take(), peerMAC)
	if len(pkts) != 4 {
		t.Fatalf("%d segments, want 4", len(pkts))
	}
	var got []byte
	for i, p := range pkts {
		ip, _ := wire.ParseIPv4(p)
		s, err := wire.ParseTCP(ip.Payload())
		if err != nil || !s.ChecksumValid(ourIP, peerIP) || s.Seq() != 9+uint32(i*1000) || ip.IsFragment() {
			t.Fatalf("segment %d: %v", i, err)
		}
		if (s.Flags()&wire.TCPFlagPSH != 0) != (i == 3) {
			t.Fatalf("segment %d flags %#x", i, s.Flags())
		}
		got = append(got, s.Payload()...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	// Unresolved next hop on an offloading link: a small segment is
	// queued with a complete checksum and sent after ARP resolves.
	e2, gl := newGSOEnv(t, nil)
	b = e2.s.NewPacket(20 + 100)
	copy(b.Bytes(), tcpSeg(ourIP, peerIP, 9, wire.TCPFlagACK, data[:100], false))
	if err := e2.s.WriteIPv4(b, &WriteOptions{Dst: peerIP, Protocol: wire.ProtoTCP, DontFragment: true, GSO: 1000}); err != nil {
		t.Fatal(err)
	}
	gl.take() // the ARP request
	e2.s.Input(e2.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPReply, peerMAC, peerIP, ourMAC, ourIP)))
	pkts = ipFrames(t, gl.take(), peerMAC)
	if len(pkts) != 1 || len(gl.gsos) != 0 {
		t.Fatalf("%d frames after resolution, %d GSO", len(pkts), len(gl.gsos))
	}
	ip, _ := wire.ParseIPv4(pkts[0])
	if s, _ := wire.ParseTCP(ip.Payload()); !s.ChecksumValid(ourIP, peerIP) {
		t.Fatal("queued segment has a bad checksum")
	}
}

type nullGSOLink struct{}

func (nullGSOLink) Send([]byte) error              { return nil }
func (nullGSOLink) GSOMaxSize() int                { return 65535 }
func (nullGSOLink) SendGSO([]byte, GSOFrame) error { return nil }

func TestOffloadPathsAllocateNothing(t *testing.T) {
	e := newEnv(t, nil)
	n, _ := e.s.AddInterface(InterfaceConfig{Name: "eth1", Link: nullGSOLink{}, Kind: LinkEthernet, MTU: 1500, MAC: ourMAC})
	e.s.RemoveAddress(e.nic, ourIP)
	e.s.AddAddress(n, netip.MustParsePrefix("192.168.7.1/24"))
	e.s.SetUp(n, true)
	e.nic = n
	e.advance(10e9)
	e.learnPeer()
	e.s.RegisterTransport(wire.ProtoTCP, &countTransport{})
	seg := tcpSeg(peerIP, ourIP, 1, wire.TCPFlagACK, pattern(8000), false)
	f := ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoTCP, Src: peerIP, Dst: ourIP}, seg))
	m := RxMeta{CsumPartial: true, CsumStart: 34, CsumOffset: 16, GSO: true, GSOSize: 1448}
	out := tcpSeg(ourIP, peerIP, 1, wire.TCPFlagACK, pattern(8000), false)
	o := &WriteOptions{Dst: peerIP, Protocol: wire.ProtoTCP, DontFragment: true, GSO: 1448}
	allocs := testing.AllocsPerRun(100, func() {
		e.s.InputMeta(e.nic, f, m)
		b := e.s.NewPacket(len(out))
		copy(b.Bytes(), out)
		e.s.WriteIPv4(b, o)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per GRO input and GSO output", allocs)
	}
	if st := e.s.Stats().Offload; st.OutGSO < 100 || st.InGRO < 100 {
		t.Fatalf("paths not taken: %+v", st)
	}
}

type countTransport struct{ n int }

func (c *countTransport) Deliver(*Packet) bool         { c.n++; return true }
func (c *countTransport) HandleICMPError(e *ICMPError) {}
