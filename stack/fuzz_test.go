package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// Fuzz input records: 1 byte op, 2 bytes big-endian length, then data.
const (
	fuzzOpEth  = 0 // data is an Ethernet frame for eth0
	fuzzOpTime = 1 // advance the clock by length*10ms and Poll (data empty)
	fuzzOpSend = 2 // send a UDP datagram of length bytes to 192.168.7.data[0]
	fuzzOpTun  = 3 // data is an IP packet for tun0
)

func fuzzRecord(op byte, data []byte) []byte {
	r := []byte{op, 0, 0}
	binary.BigEndian.PutUint16(r[1:], uint16(len(data)))
	return append(r, data...)
}

func fuzzSeeds(t testing.TB) [][]byte {
	arp := ethFrame(wire.BroadcastMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPRequest, peerMAC, peerIP, wire.MAC{}, ourIP))
	var seeds [][]byte
	var ping []byte
	ping = append(ping, fuzzRecord(fuzzOpEth, arp)...)
	for _, f := range pingFrames(t, ourIP, 1, 1, make([]byte, 3000)) {
		ping = append(ping, fuzzRecord(fuzzOpEth, f)...)
	}
	seeds = append(seeds, ping)
	var frags []byte
	frags = append(frags, fuzzRecord(fuzzOpEth, frag(9, 0, true, make([]byte, 16)))...)
	frags = append(frags, fuzzRecord(fuzzOpEth, frag(9, 8, true, make([]byte, 16)))...)
	frags = append(frags, fuzzRecord(fuzzOpEth, frag(10, 8, false, make([]byte, 8)))...)
	frags = append(frags, []byte{fuzzOpTime, 0x10, 0}...)
	seeds = append(seeds, frags)
	var arpFail []byte
	arpFail = append(arpFail, fuzzRecord(fuzzOpSend, []byte{99})...)
	arpFail = append(arpFail, fuzzRecord(fuzzOpSend, []byte{99})...)
	arpFail = append(arpFail, []byte{fuzzOpTime, 0, 100, fuzzOpTime, 0, 100, fuzzOpTime, 0, 100}...)
	arpFail = append(arpFail, fuzzRecord(fuzzOpSend, []byte{2})...)
	arpFail = append(arpFail, fuzzRecord(fuzzOpEth, ethFrame(ourMAC, peerMAC, wire.EtherTypeARP, arpPkt(wire.ARPReply, peerMAC, peerIP, ourMAC, ourIP)))...)
	seeds = append(seeds, arpFail)
	tun := ipPkt(wire.IPv4Header{Protocol: 77, Src: netip.MustParseAddr("10.8.0.2"), Dst: netip.MustParseAddr("10.8.0.1")}, []byte("x"))
	seeds = append(seeds, fuzzRecord(fuzzOpTun, tun))
	seeds = append(seeds, fuzzRecord(fuzzOpEth, udpFrame(t, wire.BroadcastMAC, peerIP, limitedBroadcast, "bcast")))
	// IGMP: v3 general and group queries, a v2 querier, another host's report, hostile messages.
	var igmp []byte
	any4 := netip.IPv4Unspecified()
	g := netip.MustParseAddr("239.1.1.1")
	igmp = append(igmp, fuzzRecord(fuzzOpEth, igmpFrame(querierIP, allHosts, v3Query(10, any4)))...)
	igmp = append(igmp, fuzzRecord(fuzzOpEth, igmpFrame(querierIP, g, v3Query(10, g, srcS1)))...)
	igmp = append(igmp, fuzzOpTime, 0, 50)
	igmp = append(igmp, fuzzRecord(fuzzOpEth, igmpFrame(querierIP, allHosts, oldMsg(wire.IGMPMembershipQuery, 100, any4)))...)
	igmp = append(igmp, fuzzRecord(fuzzOpEth, igmpFrame(peerIP, g, oldMsg(wire.IGMPv2MembershipReport, 0, g)))...)
	igmp = append(igmp, fuzzOpTime, 0, 200)
	igmp = append(igmp, fuzzRecord(fuzzOpEth, igmpFrame(querierIP, allHosts, oldMsg(wire.IGMPMembershipQuery, 0, any4)))...)
	igmp = append(igmp, fuzzRecord(fuzzOpEth, igmpFrame(querierIP, allHosts, []byte{0x22, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0}))...)
	igmp = append(igmp, fuzzOpTime, 0xff, 0xff)
	seeds = append(seeds, igmp)
	// Forwarding: a datagram for another host, one with TTL 1, one too big with DF.
	var fwd []byte
	other := netip.MustParseAddr("192.168.7.9")
	fwd = append(fwd, fuzzRecord(fuzzOpEth, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, udpPkt(t, peerIP, other, 64, 0, []byte("via"))))...)
	fwd = append(fwd, fuzzRecord(fuzzOpEth, ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, udpPkt(t, peerIP, netip.MustParseAddr("8.8.8.8"), 1, 0, []byte("ttl"))))...)
	fwd = append(fwd, fuzzRecord(fuzzOpTun, udpPkt(t, netip.MustParseAddr("10.8.0.2"), netip.MustParseAddr("8.8.4.4"), 9, wire.IPv4FlagDF, make([]byte, 1600)))...)
	fwd = append(fwd, fuzzRecord(fuzzOpTun, udpPkt(t, netip.MustParseAddr("10.8.0.2"), netip.MustParseAddr("8.8.4.4"), 9, 0, make([]byte, 1600)))...)
	seeds = append(seeds, fwd)
	return seeds
}

func FuzzStackInput(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(runFuzzOnce)
}

func runFuzzOnce(t *testing.T, in []byte) {
	{
		clk := &fakeClock{}
		s, err := New(Config{Clock: clk, Rand: rand.NewPCG(1, 2), Reassembly: ReassemblyConfig{MaxBytes: 64 << 10}, Forwarding: true})
		verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
		if err != nil {
			t.Fatal(err)
		}
		eth, _ := s.AddInterface(InterfaceConfig{Name: "eth0", Link: &recLink{}, MAC: ourMAC})
		_ = s.AddAddress(eth, netip.MustParsePrefix("192.168.7.1/24"))
		_ = s.SetUp(eth, true)
		_ = s.AddRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.7.254"), NIC: eth})
		_ = s.JoinGroup(eth, netip.MustParseAddr("239.1.1.1"))
		tun, _ := s.AddInterface(InterfaceConfig{Name: "tun0", Link: &recLink{}, Kind: LinkIP})
		_ = s.AddAddress(tun, netip.MustParsePrefix("10.8.0.1/24"))
		_ = s.SetUp(tun, true)
		tr := &stubTransport{}
		_ = s.RegisterTransport(wire.ProtoUDP, tr)
		s.AddRawHandler(ProtoAny, &stubRaw{})
		base := s.Pool().Stats().InUse
		for len(in) >= 3 {
			op, n := in[0], int(binary.BigEndian.Uint16(in[1:3]))
			in = in[3:]
			if op%4 == fuzzOpTime {
				clk.t += time.Duration(n) * 10 * time.Millisecond
				s.Poll()
				continue
			}
			if n > len(in) {
				n = len(in)
			}
			data := in[:n]
			in = in[n:]
			switch op % 4 {
			case fuzzOpEth:
				s.Input(eth, data)
			case fuzzOpTun:
				s.Input(tun, data)
			case fuzzOpSend:
				last := byte(2)
				if len(data) > 0 {
					last = data[0]
				}
				if b := s.NewPacket(8 + n); b != nil {
					_ = s.WriteIPv4(b, &WriteOptions{Dst: netip.AddrFrom4([4]byte{192, 168, 7, last}), Protocol: wire.ProtoUDP})
				}
			}
			if s.reasm.mem > 64<<10 {
				t.Fatalf("reassembly memory %d over budget", s.reasm.mem)
			}
		}
		// Let every timer expire.
		for i := 0; i < 10000; i++ {
			d, ok := s.NextDeadline()
			if !ok {
				break
			}
			if d > clk.t {
				clk.t = d
			}
			s.Poll()
		}
		clk.t += time.Hour
		s.Poll()
		if _, ok := s.NextDeadline(); ok {
			t.Fatal("timers still pending")
		}
		if got := s.Pool().Stats().InUse; got != base {
			t.Fatalf("pool in use %d, baseline %d", got, base)
		}
		if s.reasm.mem != 0 || s.arp.queued != 0 || s.lo.n != 0 {
			t.Fatalf("state left: reasm %d arp queue %d loopback %d", s.reasm.mem, s.arp.queued, s.lo.n)
		}
	}
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzStackInput when
// FEATHERIP_WRITE_CORPUS=1 (the committed files are the output).
func TestWriteFuzzCorpus(t *testing.T) {
	if !writeCorpus() {
		t.Skip("set FEATHERIP_WRITE_CORPUS=1 to regenerate the seed corpus")
	}
	for i, s := range fuzzSeeds(t) {
		writeCorpusFile(t, "FuzzStackInput", i, s)
	}
}
