package raw_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// FuzzRawInput feeds arbitrary IPv4 datagrams (in a valid Ethernet frame)
// to a stack with raw PCBs, and checks that whatever a PCB receives is the
// datagram as it arrived: a valid IPv4 header of the PCB's protocol, cut to
// the total length.
func FuzzRawInput(f *testing.F) {
	f.Add([]byte("\x45\x00\x00\x1e\x00\x01\x00\x00\x40\xfd\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02experiment"))
	f.Add([]byte("\x45\x00\x00\x1c\x00\x01\x00\x00\x40\x01\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02\x08\x00\xf7\xff\x00\x00\x00\x00"))
	f.Add([]byte("\x46\x00\x00\x20\x00\x01\x00\x00\x40\xfd\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02\x01\x01\x01\x00opts"))
	f.Add([]byte("\x45\x00\x00\x1e\x00\x01\x20\x00\x40\xfd\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02fragment.."))
	n := newNet(f)
	n.b.Tap = func([]byte) bool { return false }
	if err := n.b.S.AddStaticNeighbor(n.b.NIC, n.a.Addr, n.a.MAC); err != nil {
		f.Fatal(err)
	}
	var got [][]byte
	var who []uint8
	for _, proto := range []uint8{253, wire.ProtoICMP, stack.ProtoAny} {
		c, err := n.b.r.NewPCB(proto)
		if err != nil {
			f.Fatal(err)
		}
		c.OnRecv(func(c *raw.PCB, dg []byte, info *raw.RecvInfo) {
			got = append(got, bytes.Clone(dg))
			who = append(who, c.Protocol())
		})
	}
	frame := make([]byte, 14+1500)
	f.Fuzz(func(t *testing.T, dg []byte) {
		if len(dg) > 1500 {
			return
		}
		if len(dg) >= 20 {
			// Fix the header checksum so the stack looks past it.
			hl := int(dg[0]&0x0f) * 4
			if hl >= 20 && hl <= len(dg) {
				dg[10], dg[11] = 0, 0
				cs := wire.Checksum(dg[:hl], 0)
				dg[10], dg[11] = byte(cs>>8), byte(cs)
			}
		}
		wire.PutEthernet(frame, n.b.MAC, n.a.MAC, wire.EtherTypeIPv4)
		copy(frame[14:], dg)
		got, who = got[:0], who[:0]
		n.b.S.Input(n.b.NIC, frame[:14+len(dg)])
		n.b.S.Poll()
		direct := len(got)
		if direct > 2 {
			t.Fatalf("%d deliveries for one datagram: %x (pcbs %v)", len(got), got, who)
		}
		// Let every timer run out (reassembly, ARP): nothing may stay
		// held. (The stack may report its own failures meanwhile, for
		// example ICMP host unreachable looped back to itself.)
		for i := 0; i < 6; i++ {
			n.Clock.T += 10 * time.Second
			n.b.S.Poll()
		}
		for i, d := range got {
			ip, err := wire.ParseIPv4(d)
			if err != nil || ip.TotalLength() != len(d) {
				t.Fatalf("delivered %x: %v", d, err)
			}
			if who[i] != stack.ProtoAny && who[i] != ip.Protocol() {
				t.Fatalf("pcb for protocol %d got protocol %d", who[i], ip.Protocol())
			}
			if i < direct && (ip.IsFragment() || len(d) > len(dg) || !bytes.Equal(d, dg[:len(d)])) {
				t.Fatalf("delivered %x, sent %x", d, dg)
			}
		}
		if st := n.b.S.Pool().Stats(); st.InUse != 0 {
			t.Fatalf("%d buffers still held a minute after input", st.InUse)
		}
	})
}

// FuzzRawSendHeaderIncluded sends arbitrary bytes through a
// header-included raw PCB: bad headers are refused with ErrInvalid, and
// nothing panics or leaks.
func FuzzRawSendHeaderIncluded(f *testing.F) {
	f.Add([]byte("\x45\x00\x00\x1e\x00\x01\x00\x00\x40\xfd\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02experiment"))
	f.Add([]byte("\x4f\x00\x00\x1e"))
	f.Add([]byte("\x65\x00\x00\x1e\x00\x01\x00\x00\x40\xfd\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02"))
	n := newNet(f)
	n.a.Tap = func([]byte) bool { return false }
	if err := n.a.S.AddStaticNeighbor(n.a.NIC, n.b.Addr, n.b.MAC); err != nil {
		f.Fatal(err)
	}
	c, err := n.a.r.NewPCB(253)
	if err != nil {
		f.Fatal(err)
	}
	c.SetHeaderIncluded(true)
	f.Fuzz(func(t *testing.T, dg []byte) {
		err := c.SendTo(dg, n.b.Addr)
		valid := len(dg) >= 20 && dg[0]>>4 == 4 && int(dg[0]&0xf)*4 >= 20 && int(dg[0]&0xf)*4 <= len(dg)
		if !valid && !errors.Is(err, raw.ErrInvalid) {
			t.Fatalf("SendTo(%x) = %v, want ErrInvalid", dg, err)
		}
		n.a.S.Poll()
		for i := 0; i < 6; i++ { // let ARP and reassembly timers run out
			n.Clock.T += 10 * time.Second
			n.a.S.Poll()
		}
		n.b.Inq = n.b.Inq[:0]
		if st := n.a.S.Pool().Stats(); st.InUse != 0 {
			t.Fatalf("%d buffers still held a minute after send", st.InUse)
		}
	})
}
