package bench

import (
	"bytes"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/wire"
)

// pingData is the echo payload length (the 56 bytes of ping's default).
const pingData = 56

// FipICMPEcho measures ICMP echo round trips between two featherip stacks:
// host A sends echo requests from a raw ICMP PCB, host B's stack answers
// them itself, and the reply reaches A's raw PCB. One op is one round trip.
func FipICMPEcho(mtu int) func(*testing.B) {
	return func(b *testing.B) {
		p, err := NewFipPair(mtu)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		pcb, err := p.A.Raw.NewPCB(wire.ProtoICMP)
		if err != nil {
			b.Fatal(err)
		}
		replies := 0
		pcb.OnRecv(func(_ *raw.PCB, d []byte, _ *raw.RecvInfo) {
			ip, err := wire.ParseIPv4(d)
			if err != nil {
				return
			}
			m, err := wire.ParseICMPv4(ip.Payload())
			if err == nil && m.Type() == wire.ICMPv4EchoReply {
				replies++
			}
		})
		msg := make([]byte, wire.ICMPv4HeaderLen+pingData)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			wire.PutICMPv4(msg, wire.ICMPv4Echo, 0, 0x1234<<16|uint32(uint16(i)))
			wire.SetICMPv4Checksum(msg)
			if err := pcb.SendTo(msg, AddrB); err != nil {
				b.Fatal(err)
			}
			p.Pump()
		}
		b.StopTimer()
		if replies != b.N {
			b.Fatalf("featherip: %d echo replies for %d requests", replies, b.N)
		}
	}
}

// GvICMPEcho measures ICMP echo round trips between two gVisor stacks:
// host A writes echo requests on an ICMP (ping) endpoint, host B's stack
// answers, and A reads the reply from the endpoint. One op is one round trip.
func GvICMPEcho(mtu int) func(*testing.B) {
	return func(b *testing.B) {
		p, err := NewGvPair(mtu)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		var wq waiter.Queue
		ep, terr := p.A.S.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
		if terr != nil {
			b.Fatal(terr)
		}
		defer ep.Close()
		if terr := ep.Connect(tcpip.FullAddress{Addr: p.B.Addr}); terr != nil {
			b.Fatal(terr)
		}
		msg := make([]byte, header.ICMPv4MinimumSize+pingData)
		app := make([]byte, 65536)
		var r bytes.Reader
		w := new(tcpip.SliceWriter) // reused: a fresh one per Read would allocate
		replies := 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h := header.ICMPv4(msg)
			h.SetType(header.ICMPv4Echo)
			h.SetCode(0)
			h.SetSequence(uint16(i))
			r.Reset(msg)
			if _, terr := ep.Write(&r, tcpip.WriteOptions{}); terr != nil {
				b.Fatal(terr)
			}
			p.Pump()
			*w = app
			if _, terr := ep.Read(w, tcpip.ReadOptions{}); terr == nil && header.ICMPv4(app[:len(app)-len(*w)]).Type() == header.ICMPv4EchoReply {
				replies++
			}
		}
		b.StopTimer()
		if replies != b.N {
			b.Fatalf("gVisor: %d echo replies for %d requests", replies, b.N)
		}
	}
}
