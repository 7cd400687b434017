package stack

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// frag builds one fragment frame of a UDP-protocol datagram from the peer.
func frag(id uint16, off int, mf bool, data []byte) []byte {
	h := wire.IPv4Header{ID: id, Protocol: wire.ProtoUDP, Src: peerIP, Dst: ourIP, FragmentOffset: off}
	if mf {
		h.Flags = wire.IPv4FlagMF
	}
	return ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(h, data))
}

func TestReassemblyOutOfOrderAndDuplicates(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	data := make([]byte, 40)
	for i := range data {
		data[i] = byte(i)
	}
	e.s.Input(e.nic, frag(1, 32, false, data[32:]))
	e.s.Input(e.nic, frag(1, 16, true, data[16:32]))
	e.s.Input(e.nic, frag(1, 16, true, data[16:32])) // exact duplicate
	e.s.Input(e.nic, frag(1, 0, true, data[:16]))
	if len(tr.pkts) != 1 || string(tr.pkts[0].Payload) != string(data) {
		t.Fatalf("reassembled %v", tr.pkts)
	}
	if binary.BigEndian.Uint16(tr.pkts[0].IPHeader[6:8]) != 0 || int(binary.BigEndian.Uint16(tr.pkts[0].IPHeader[2:4])) != 60 {
		t.Fatal("reassembled header not rewritten")
	}
	st := e.s.Stats().IP
	if st.ReasmReqds != 4 || st.ReasmOKs != 1 || st.ReasmDuplicates != 1 || st.ReasmFails != 0 {
		t.Fatalf("%+v", st)
	}
	if _, ok := e.s.NextDeadline(); ok {
		t.Fatal("timer left after completion")
	}
}

func TestReassemblyOverlapDropsDatagram(t *testing.T) {
	e := newEnv(t, nil)
	tr := &stubTransport{accept: true}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	base := e.s.Pool().Stats().InUse
	d := make([]byte, 48)
	e.s.Input(e.nic, frag(2, 0, true, d[:24]))
	e.s.Input(e.nic, frag(2, 16, true, d[16:32])) // overlaps [16,24)
	e.s.Input(e.nic, frag(2, 32, false, d[32:]))
	e.s.Input(e.nic, frag(2, 24, true, d[24:32]))
	if len(tr.pkts) != 0 {
		t.Fatal("overlapping datagram delivered")
	}
	st := e.s.Stats().IP
	if st.ReasmOverlaps != 1 || st.ReasmFails < 1 {
		t.Fatalf("%+v", st)
	}
	// Bad fragments: non-final not a multiple of 8, empty, beyond 65535.
	e.s.Input(e.nic, frag(3, 0, true, d[:12]))
	e.s.Input(e.nic, frag(3, 8, true, nil))
	e.s.Input(e.nic, frag(3, 65528, false, d[:16]))
	// Inconsistent ends: a fragment beyond the final length.
	e.s.Input(e.nic, frag(4, 8, false, d[:8]))
	e.s.Input(e.nic, frag(4, 32, true, d[:8]))
	if e.s.Stats().IP.ReasmFails < 5 || len(tr.pkts) != 0 {
		t.Fatalf("%+v", e.s.Stats().IP)
	}
	for i := 0; i < 20; i++ {
		e.advance(time.Second)
	}
	if e.s.Pool().Stats().InUse != base || e.s.reasm.mem != 0 {
		t.Fatal("leak")
	}
}

func TestReassemblyTimeoutSendsTimeExceeded(t *testing.T) {
	e := newEnv(t, nil)
	e.learnPeer()
	_ = e.s.RegisterTransport(wire.ProtoUDP, &stubTransport{})
	e.s.Input(e.nic, frag(5, 0, true, make([]byte, 16)))
	e.s.Input(e.nic, frag(6, 16, false, make([]byte, 16))) // no first fragment
	d, ok := e.s.NextDeadline()
	if !ok || d != e.clk.t+15*time.Second {
		t.Fatalf("deadline %v", d)
	}
	e.advance(15 * time.Second)
	ips := ipFrames(t, e.link.take(), peerMAC)
	if len(ips) != 1 {
		t.Fatalf("%d ICMP messages, want 1 (only for the datagram whose first fragment came)", len(ips))
	}
	p, _ := wire.ParseIPv4(ips[0])
	m, _ := wire.ParseICMPv4(p.Payload())
	q, _ := wire.ParseIPv4(m.Payload()[:36])
	if m.Type() != wire.ICMPv4TimeExceeded || m.Code() != 1 || q.ID() != 5 {
		t.Fatalf("type %d code %d id %d", m.Type(), m.Code(), q.ID())
	}
	st := e.s.Stats()
	if st.IP.ReasmTimeouts != 2 || st.ICMP.OutTimeExcds != 1 {
		t.Fatalf("%+v", st.IP)
	}
}

func TestReassemblyFloodStaysInBudget(t *testing.T) {
	const budget = 32 << 10
	e := newEnv(t, func(c *Config) {
		c.Reassembly.MaxBytes = budget
		c.Reassembly.MaxDatagrams = 8
		c.Reassembly.MaxFragments = 4
	})
	base := e.s.Pool().Stats().InUse
	max := 0
	for i := 0; i < 2000; i++ {
		id := uint16(i % 50)
		e.s.Input(e.nic, frag(id, (i/50)*8*3, true, make([]byte, 8)))
		if e.s.reasm.mem > budget {
			t.Fatalf("reassembly memory %d over budget", e.s.reasm.mem)
		}
		if held := e.s.Pool().Stats().InUse - base; held > max {
			max = held
		}
	}
	if max*(2048+128) > budget {
		t.Fatalf("held %d buffers", max)
	}
	st := e.s.Stats().IP
	if st.ReasmEvictions == 0 || st.ReasmFails == 0 {
		t.Fatalf("flood not counted: %+v", st)
	}
	for i := 0; i < 16; i++ {
		e.advance(time.Second)
	}
	if e.s.Pool().Stats().InUse != base || e.s.reasm.mem != 0 {
		t.Fatal("fragments left after the timeout")
	}
}

func TestFragmentationOnOutput(t *testing.T) {
	e := newEnv(t, nil)
	e.learnPeer()
	// DF and too big: ErrMessageTooLong.
	b := e.s.NewPacket(2000)
	if err := e.s.WriteIPv4(b, &WriteOptions{Dst: peerIP, Protocol: wire.ProtoUDP, DontFragment: true}); err != ErrMessageTooLong {
		t.Fatalf("DF: %v", err)
	}
	if e.s.Stats().IP.FragFails != 1 {
		t.Fatal("FragFails")
	}
	b = e.s.NewPacket(70000)
	if b != nil {
		if err := e.s.WriteIPv4(b, &WriteOptions{Dst: peerIP, Protocol: wire.ProtoUDP}); err != ErrMessageTooLong {
			t.Fatalf("70000 bytes: %v", err)
		}
	}
	// Options: record route (not copied) and a copied option (LSRR-like type 0x83 would route;
	// use security-style type 0x82, length 4).
	opts := []byte{7, 7, 4, 0, 0, 0, 0, 0x82, 4, 0xaa, 0xbb, 0}
	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	pkt := ipPkt(wire.IPv4Header{Protocol: 99, Src: ourIP, Dst: peerIP, Options: opts}, payload)
	b = e.s.NewPacket(len(pkt))
	copy(b.Bytes(), pkt)
	b.Bytes()[4], b.Bytes()[5] = 0, 0 // zero ID: the stack fills it in
	if err := e.s.WriteIPv4Raw(b); err != nil {
		t.Fatal(err)
	}
	ips := ipFrames(t, e.link.take(), peerMAC)
	if len(ips) != 3 {
		t.Fatalf("%d fragments", len(ips))
	}
	for i, f := range ips {
		p, _ := wire.ParseIPv4(f)
		if len(f) > 1500 || p.ID() == 0 {
			t.Fatalf("fragment %d: len %d id %d", i, len(f), p.ID())
		}
		if i == 0 && string(p.Options()) != string(opts) {
			t.Fatalf("first fragment options %x", p.Options())
		}
		if i > 0 && string(p.Options()) != string([]byte{0x82, 4, 0xaa, 0xbb}) {
			t.Fatalf("fragment %d options %x, want only the copied one", i, p.Options())
		}
	}
	whole := reassemble(t, ips)
	p, _ := wire.ParseIPv4(whole)
	if string(p.Payload()) != string(payload) {
		t.Fatal("fragments do not reassemble to the payload")
	}
	st := e.s.Stats().IP
	if st.FragOKs != 1 || st.FragCreates != 3 {
		t.Fatalf("%+v", st)
	}
}
