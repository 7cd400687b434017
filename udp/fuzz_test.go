package udp_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

// refChecksum is an independent RFC 1071 checksum over the IPv4 (RFC
// 768) or IPv6 (RFC 8200 8.1) pseudo-header and seg (the covered bytes),
// with the pseudo-header length plen.
func refChecksum(src, dst netip.Addr, proto uint8, plen int, seg []byte) uint16 {
	var sum uint32
	var ph []byte
	if src.Is4() {
		s4, d4 := src.As4(), dst.As4()
		ph = []byte{s4[0], s4[1], s4[2], s4[3], d4[0], d4[1], d4[2], d4[3], 0, proto, byte(plen >> 8), byte(plen)}
	} else {
		s16, d16 := src.As16(), dst.As16()
		ph = append(append(s16[:], d16[:]...), byte(plen>>24), byte(plen>>16), byte(plen>>8), byte(plen), 0, 0, 0, proto)
	}
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(ph)
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// FuzzUDPInput feeds arbitrary UDP and UDP-Lite segments, in valid IPv4
// or IPv6 and Ethernet headers, to a stack with bound PCBs, and checks
// that each lands exactly where an independent model says: the right PCB
// with the right payload, or one counted drop. kind bit 0 selects
// UDP-Lite, bit 1 IPv6 (2001:db8::1 to 2001:db8::2).
func FuzzUDPInput(f *testing.F) {
	f.Add(byte(0), []byte("\x03\xe8\x00\x07\x00\x0d\x00\x00hello"))
	f.Add(byte(1), []byte("\x03\xe8\x00\x07\x00\x00\x00\x00lite!"))
	f.Add(byte(0), []byte("\x03\xe8\x00\x09\x00\x08\x00\x00"))
	f.Add(byte(0), []byte("\x03\xe9\x00\x09\x00\x08\x00\x00"))
	f.Add(byte(0), []byte("\x03\xe8\x00\x08\x00\x10\x12\x34"))
	f.Add(byte(2), []byte("\x03\xe8\x00\x07\x00\x0d\x00\x00hello")) // IPv6: a zero UDP checksum is an error
	f.Add(byte(3), []byte("\x03\xe8\x00\x07\x00\x00\x00\x00lite!"))

	n := newNet6(f)
	n.b.Tap = func([]byte) bool { return false } // b's replies (ICMP) go nowhere
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	// Static neighbor entries, so ICMP errors leave at once instead of
	// waiting (holding buffers) for an ARP or NDP reply that never comes.
	for _, a := range []netip.Addr{n.a.Addr, a6} {
		if err := n.b.S.AddStaticNeighbor(n.b.NIC, a, n.a.MAC); err != nil {
			f.Fatal(err)
		}
	}
	type got struct {
		which int
		data  []byte
	}
	var gots []got
	var wantSrc, wantDst netip.Addr
	rec := func(which int) func(*udp.PCB, []byte, *udp.RecvInfo) {
		return func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
			gots = append(gots, got{which, bytes.Clone(data)})
			if info.Src.Addr() != wantSrc || info.Dst != wantDst {
				f.Errorf("bad RecvInfo %+v", info)
			}
		}
	}
	// 1: UDP wildcard [::]:7 (both families); 2: UDP 10.0.0.2:8; 3: UDP
	// 0.0.0.0:9 connected to 10.0.0.1:1000; 4: UDP-Lite [::]:7; 5: UDP
	// [2001:db8::2]:8; 6: UDP [2001:db8::2]:9 connected to
	// [2001:db8::1]:1000.
	p1 := mustPCB(f, n.b.u)
	mustBind(f, p1, "[::]:7")
	p1.OnRecv(rec(1))
	p2 := mustPCB(f, n.b.u)
	mustBind(f, p2, "10.0.0.2:8")
	p2.OnRecv(rec(2))
	p3 := mustPCB(f, n.b.u)
	mustBind(f, p3, "0.0.0.0:9")
	if err := p3.Connect(ap("10.0.0.1:1000")); err != nil {
		f.Fatal(err)
	}
	p3.OnRecv(rec(3))
	p4, _ := n.b.u.NewLitePCB()
	mustBind(f, p4, "[::]:7")
	p4.OnRecv(rec(4))
	p5 := mustPCB(f, n.b.u)
	mustBind(f, p5, "[2001:db8::2]:8")
	p5.OnRecv(rec(5))
	p6 := mustPCB(f, n.b.u)
	mustBind(f, p6, "[2001:db8::2]:9")
	if err := p6.Connect(ap("[2001:db8::1]:1000")); err != nil {
		f.Fatal(err)
	}
	p6.OnRecv(rec(6))

	frame := make([]byte, 14+20+1500)
	f.Fuzz(func(t *testing.T, kind byte, seg []byte) {
		lite, v6 := kind&1 == 1, kind&2 == 2
		proto := uint8(wire.ProtoUDP)
		if lite {
			proto = wire.ProtoUDPLite
		}
		var hl int
		if v6 {
			if len(seg) > 1500-wire.IPv6HeaderLen {
				return // larger than the link MTU: not a valid single frame
			}
			wantSrc, wantDst = a6, b6
			wire.PutEthernet(frame, n.b.MAC, n.a.MAC, wire.EtherTypeIPv6)
			h := wire.IPv6Header{PayloadLength: len(seg), NextHeader: proto, HopLimit: 64, Src: a6, Dst: b6}
			hl = h.Encode(frame[14:])
		} else {
			if len(seg) > 1480 {
				return
			}
			wantSrc, wantDst = n.a.Addr, n.b.Addr
			wire.PutEthernet(frame, n.b.MAC, n.a.MAC, wire.EtherTypeIPv4)
			h := wire.IPv4Header{TotalLength: 20 + len(seg), TTL: 64, Protocol: proto, Src: n.a.Addr, Dst: n.b.Addr, ID: 1}
			hl = h.Encode(frame[14:])
		}
		copy(frame[14+hl:], seg)
		fr := frame[:14+hl+len(seg)]

		// The model.
		want, wantData := 0, []byte(nil)
		drop := false
		if len(seg) < 8 {
			drop = true
		} else {
			sport := binary.BigEndian.Uint16(seg[0:2])
			dport := binary.BigEndian.Uint16(seg[2:4])
			f3 := int(binary.BigEndian.Uint16(seg[4:6]))
			csum := binary.BigEndian.Uint16(seg[6:8])
			if lite {
				cov := f3
				if cov == 0 {
					cov = len(seg)
				}
				// RFC 3828 3.1: coverage 0 or 8..length, checksum never 0.
				if cov < 8 || cov > len(seg) || csum == 0 ||
					refChecksum(wantSrc, wantDst, proto, len(seg), seg[:cov]) != 0 {
					drop = true
				} else if dport == 7 {
					want, wantData = 4, seg[8:]
				}
			} else {
				// RFC 768; over IPv6 the checksum is mandatory (RFC 8200 8.1).
				if f3 < 8 || f3 > len(seg) || (csum == 0 && v6) ||
					(csum != 0 && refChecksum(wantSrc, wantDst, proto, f3, seg[:f3]) != 0) {
					drop = true
				} else {
					switch {
					case dport == 7:
						want = 1
					case dport == 8 && v6:
						want = 5
					case dport == 8:
						want = 2
					case dport == 9 && sport == 1000 && v6:
						want = 6
					case dport == 9 && sport == 1000:
						want = 3
					}
					wantData = seg[8:f3]
				}
			}
		}
		before := n.b.u.Stats()
		gots = gots[:0]
		n.b.S.Input(n.b.NIC, fr)
		n.b.S.Poll()
		after := n.b.u.Stats()
		cb, ca := before.Counters, after.Counters
		if lite {
			cb, ca = before.Lite, after.Lite
		}
		switch {
		case drop:
			if len(gots) != 0 || ca.InErrors != cb.InErrors+1 {
				t.Fatalf("malformed segment %x (IPv6 %v): deliveries %v, InErrors %d -> %d", seg, v6, gots, cb.InErrors, ca.InErrors)
			}
		case want == 0:
			if len(gots) != 0 || ca.NoPorts != cb.NoPorts+1 {
				t.Fatalf("segment %x (IPv6 %v) for no pcb: deliveries %v, NoPorts %d -> %d", seg, v6, gots, cb.NoPorts, ca.NoPorts)
			}
		default:
			if len(gots) != 1 || gots[0].which != want || !bytes.Equal(gots[0].data, wantData) ||
				ca.InDatagrams != cb.InDatagrams+1 {
				t.Fatalf("segment %x (IPv6 %v): deliveries %v, want pcb %d with %x", seg, v6, gots, want, wantData)
			}
		}
		if n.b.S.Pool().Stats().InUse != 0 {
			t.Fatalf("buffers leaked: %d", n.b.S.Pool().Stats().InUse)
		}
	})
}
