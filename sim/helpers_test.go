package sim

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// pinger sends ICMP echo requests from a host through a raw ICMP pcb and
// records which sequence numbers got a matching reply.
type pinger struct {
	t       *testing.T
	h       *Host
	pcb     *raw.PCB
	id      uint16
	data    []byte
	replies map[uint16]int // seq -> replies seen
	bad     int            // replies with wrong data
}

func newPinger(t *testing.T, h *Host, id uint16, data []byte) *pinger {
	t.Helper()
	p := &pinger{t: t, h: h, id: id, data: data, replies: map[uint16]int{}}
	pcb, err := h.Raw.NewPCB(wire.ProtoICMP)
	if err != nil {
		t.Fatalf("raw NewPCB: %v", err)
	}
	p.pcb = pcb
	pcb.OnRecv(func(_ *raw.PCB, datagram []byte, info *raw.RecvInfo) {
		ip, err := wire.ParseIPv4(datagram)
		if err != nil {
			t.Errorf("raw pcb got a datagram that does not parse: %v", err)
			return
		}
		if ip.Src() != info.Src || ip.Dst() != info.Dst {
			t.Errorf("RecvInfo %v->%v does not match header %v->%v", info.Src, info.Dst, ip.Src(), ip.Dst())
		}
		m, err := wire.ParseICMPv4(ip.Payload())
		if err != nil || m.Type() != wire.ICMPv4EchoReply || m.ID() != p.id {
			return
		}
		if !m.ChecksumValid() || !bytes.Equal(m.Payload(), p.data) {
			p.bad++
			return
		}
		p.replies[m.Seq()]++
	})
	t.Cleanup(pcb.Close)
	return p
}

func (p *pinger) send(dst netip.Addr, seq uint16) {
	p.t.Helper()
	msg := make([]byte, wire.ICMPv4HeaderLen+len(p.data))
	wire.PutICMPv4(msg, wire.ICMPv4Echo, 0, uint32(p.id)<<16|uint32(seq))
	copy(msg[wire.ICMPv4HeaderLen:], p.data)
	wire.SetICMPv4Checksum(msg)
	if err := p.pcb.SendTo(msg, dst); err != nil {
		p.t.Fatalf("ping %v seq %d: %v", dst, seq, err)
	}
}

// echoServer binds a UDP echo service on port 7 of h.
func echoServer(t *testing.T, h *Host) *udp.PCB {
	t.Helper()
	pcb, err := h.UDP.NewPCB()
	if err != nil {
		t.Fatal(err)
	}
	if err := pcb.Bind(netip.AddrPortFrom(netip.Addr{}, 7)); err != nil {
		t.Fatal(err)
	}
	pcb.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		if err := c.SendTo(data, info.Src); err != nil {
			t.Errorf("echo: %v", err)
		}
	})
	return pcb
}

func payload(n int, salt byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ salt
	}
	return b
}
