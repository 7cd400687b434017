package stack

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// pingFrames builds the frames of an echo request from the peer (fragmented by the peer's MTU 1500).
func pingFrames(t testing.TB, dst netip.Addr, id, seq uint16, data []byte) [][]byte {
	pkt := ipPkt(wire.IPv4Header{ID: seq, Protocol: wire.ProtoICMP, Src: peerIP, Dst: dst}, echoMsg(wire.ICMPv4Echo, id, seq, data))
	var out [][]byte
	for _, f := range fragmentPkt(t, pkt, 1500) {
		out = append(out, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, f))
	}
	return out
}

func TestEchoReply(t *testing.T) {
	for _, size := range []int{0, 56, 1472, 4000, 65000} {
		e := newEnv(t, nil)
		e.learnPeer()
		base := e.s.Pool().Stats().InUse
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + size)
		}
		frames := pingFrames(t, ourIP, 0x1234, 7, data)
		if size > 1472 && len(frames) < 2 {
			t.Fatal("test did not fragment")
		}
		for _, f := range frames {
			e.s.Input(e.nic, f)
		}
		ips := ipFrames(t, e.link.take(), peerMAC)
		for _, f := range ips {
			if len(f) > 1500 {
				t.Fatalf("size %d: %d-byte packet exceeds MTU", size, len(f))
			}
		}
		if (size+28 > 1500) != (len(ips) > 1) {
			t.Fatalf("size %d: %d reply packets", size, len(ips))
		}
		reply := ips[0]
		if len(ips) > 1 {
			reply = reassemble(t, ips)
		}
		p, err := wire.ParseIPv4(reply)
		if err != nil || !p.ChecksumValid() {
			t.Fatalf("size %d: bad reply header %v", size, err)
		}
		if p.Src() != ourIP || p.Dst() != peerIP || p.Protocol() != wire.ProtoICMP || p.TTL() != 64 {
			t.Fatalf("size %d: reply %v -> %v proto %d ttl %d", size, p.Src(), p.Dst(), p.Protocol(), p.TTL())
		}
		m, err := wire.ParseICMPv4(p.Payload())
		if err != nil || !m.ChecksumValid() {
			t.Fatalf("size %d: bad ICMP checksum", size)
		}
		want := echoMsg(wire.ICMPv4EchoReply, 0x1234, 7, data)
		if !bytes.Equal(m.Bytes(), want) {
			t.Fatalf("size %d: reply differs from the expected echo reply", size)
		}
		st := e.s.Stats()
		if st.ICMP.InEchos != 1 || st.ICMP.OutEchoReps != 1 {
			t.Fatalf("size %d: icmp stats %+v", size, st.ICMP)
		}
		if len(frames) > 1 && (st.IP.ReasmOKs != 1 || st.IP.FragOKs != 1 || st.IP.FragCreates != uint64(len(ips))) {
			t.Fatalf("size %d: ip stats %+v", size, st.IP)
		}
		if e.s.Pool().Stats().InUse != base {
			t.Fatalf("size %d: %d buffers leaked", size, e.s.Pool().Stats().InUse-base)
		}
	}
}

func TestEchoBroadcastIgnoredByDefault(t *testing.T) {
	for _, on := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.EchoBroadcast = on })
		e.learnPeer()
		pkt := ipPkt(wire.IPv4Header{Protocol: wire.ProtoICMP, Src: peerIP, Dst: netip.MustParseAddr("192.168.7.255")}, echoMsg(wire.ICMPv4Echo, 1, 1, []byte("hi")))
		e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeIPv4, pkt))
		ips := ipFrames(t, e.link.take(), peerMAC)
		if (len(ips) == 1) != on {
			t.Fatalf("EchoBroadcast %v: %d replies", on, len(ips))
		}
		if on {
			p, _ := wire.ParseIPv4(ips[0])
			if p.Src() != ourIP {
				t.Fatalf("reply to broadcast from %v", p.Src())
			}
		}
	}
}

func TestICMPChecksumAndCounters(t *testing.T) {
	e := newEnv(t, nil)
	e.learnPeer()
	m := echoMsg(wire.ICMPv4Echo, 1, 1, []byte("abc"))
	m[9] ^= 1
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoICMP, Src: peerIP, Dst: ourIP}, m)))
	e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoICMP, Src: peerIP, Dst: ourIP}, m[:5])))
	st := e.s.Stats().ICMP
	if len(e.link.take()) != 0 || st.InCsumErrors != 1 || st.InErrors != 2 || st.InMsgs != 2 {
		t.Fatalf("%+v", st)
	}
}

func TestProtocolUnreachableAndRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ICMPRateLimit = RateLimitConfig{PerSecond: 10, Burst: 3} })
	e.learnPeer()
	send := func() {
		e.s.Input(e.nic, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: 99, Src: peerIP, Dst: ourIP}, []byte("0123456789"))))
	}
	send()
	ips := ipFrames(t, e.link.take(), peerMAC)
	if len(ips) != 1 {
		t.Fatalf("%d errors", len(ips))
	}
	p, _ := wire.ParseIPv4(ips[0])
	m, _ := wire.ParseICMPv4(p.Payload())
	if m.Type() != wire.ICMPv4DestUnreachable || m.Code() != wire.ICMPv4ProtoUnreachable || !m.ChecksumValid() || p.Src() != ourIP || p.Dst() != peerIP {
		t.Fatalf("type %d code %d", m.Type(), m.Code())
	}
	if q := m.Payload(); len(q) != 30 || q[9] != 99 {
		t.Fatalf("quote %x", q)
	}
	for i := 0; i < 10; i++ {
		send()
	}
	if n := len(e.link.take()); n != 2 {
		t.Fatalf("%d errors within the burst, want 2 more", n)
	}
	st := e.s.Stats()
	if st.ICMP.RateLimited != 8 || st.IP.InUnknownProtos != 11 || st.ICMP.OutDestUnreachs != 3 {
		t.Fatalf("icmp %+v ip %+v", st.ICMP, st.IP)
	}
	e.clk.t += 100 * time.Millisecond
	send()
	if n := len(e.link.take()); n != 1 {
		t.Fatal("token not refilled after 100ms")
	}
	// Never about broadcasts, or about ICMP errors.
	e.clk.t += time.Second
	e.s.Input(e.nic, ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: 99, Src: peerIP, Dst: limitedBroadcast}, []byte("x"))))
	if n := len(e.link.take()); n != 0 {
		t.Fatal("error about a broadcast")
	}
	h := ipPkt(wire.IPv4Header{Protocol: wire.ProtoICMP, Src: peerIP, Dst: ourIP}, echoMsg(wire.ICMPv4DestUnreachable, 0, 0, make([]byte, 28)))
	var hdr, pay = h[:20], h[20:]
	e.s.sendICMPError(hdr, pay, false, wire.ICMPv4DestUnreachable, 1, 0)
	if n := len(e.link.take()); n != 0 {
		t.Fatal("error about an ICMP error")
	}
}

func TestICMPErrorToTransport(t *testing.T) {
	e := newEnv(t, nil)
	e.learnPeer()
	tr := &stubTransport{}
	raw := &stubRaw{}
	_ = e.s.RegisterTransport(wire.ProtoUDP, tr)
	e.s.AddRawHandler(wire.ProtoICMP, raw)
	router := netip.MustParseAddr("192.168.7.254")
	remote := netip.MustParseAddr("10.9.9.9")
	orig := ipPkt(wire.IPv4Header{Protocol: wire.ProtoUDP, Src: ourIP, Dst: remote}, udpTo(t, e.s, ourIP, remote, []byte("payload")))
	mk := func(typ, code uint8, rest uint32, quote []byte) []byte {
		m := make([]byte, 8+len(quote))
		wire.PutICMPv4(m, typ, code, rest)
		copy(m[8:], quote)
		wire.SetICMPv4Checksum(m)
		return ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipPkt(wire.IPv4Header{Protocol: wire.ProtoICMP, Src: router, Dst: ourIP}, m))
	}
	e.s.Input(e.nic, mk(wire.ICMPv4DestUnreachable, wire.ICMPv4FragNeeded, 1400, orig[:28]))
	e.s.Input(e.nic, mk(wire.ICMPv4TimeExceeded, 0, 0, orig))
	e.s.Input(e.nic, mk(wire.ICMPv4ParamProblem, 0, 5<<24, orig[:28]))
	if len(tr.errs) != 3 {
		t.Fatalf("%d errors delivered", len(tr.errs))
	}
	want := ICMPError{Type: 3, Code: 4, From: router, Src: ourIP, Dst: remote, Protocol: wire.ProtoUDP, MTU: 1400, Kind: ICMPTooBig}
	got := tr.errs[0]
	if !bytes.Equal(got.Quoted, orig[20:28]) {
		t.Fatalf("quoted %x", got.Quoted)
	}
	got.Quoted = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if tr.errs[1].Type != 11 || len(tr.errs[1].Quoted) != len(orig)-20 || tr.errs[2].Pointer != 5 {
		t.Fatalf("%+v", tr.errs[1:])
	}
	// Not about us, truncated quote, bad version: ignored, but raw handlers see all.
	other := append([]byte(nil), orig...)
	copy(other[12:16], []byte{10, 1, 1, 1})
	e.s.Input(e.nic, mk(3, 1, 0, other[:28]))
	e.s.Input(e.nic, mk(3, 1, 0, orig[:27]))
	bad := append([]byte(nil), orig[:28]...)
	bad[0] = 0x65
	e.s.Input(e.nic, mk(3, 1, 0, bad))
	if len(tr.errs) != 3 || e.s.Stats().ICMP.InErrorsIgnored != 3 {
		t.Fatalf("bad errors delivered: %d, ignored %d", len(tr.errs), e.s.Stats().ICMP.InErrorsIgnored)
	}
	if len(raw.pkts) != 6 {
		t.Fatalf("raw handler saw %d ICMP datagrams, want 6", len(raw.pkts))
	}
	if len(e.link.take()) != 0 {
		t.Fatal("replied to ICMP errors")
	}
}
