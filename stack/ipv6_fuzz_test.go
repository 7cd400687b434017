package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/wire"
)

// FuzzStackInput6 feeds IPv6 frame sequences with time steps into a stack
// with IPv6 addresses, NDP, reassembly and a UDP transport, in the record
// format of FuzzStackInput (op 0: Ethernet frame, 1: time step, 2: send a
// UDP datagram to 2001:db8::data[0], 3: IP packet for tun0). It checks
// that nothing panics, memory stays in its budgets and every buffer and
// timer is released in the end. Inputs of odd length run with IPv6
// forwarding on, so packets for other nodes cross between eth0 and tun0.
func FuzzStackInput6(f *testing.F) {
	for _, s := range fuzzSeeds6(f) {
		f.Add(s)
	}
	f.Fuzz(runFuzz6)
}

func fuzzSeeds6(t testing.TB) [][]byte {
	eth := func(pkt []byte) []byte {
		dst := ourMAC
		if pkt[24] == 0xff {
			dst = wire.IPv6MulticastMAC(netip.AddrFrom16([16]byte(pkt[24:40])))
		}
		return fuzzRecord(fuzzOpEth, ethFrame(dst, peerMAC, wire.EtherTypeIPv6, pkt))
	}
	var seeds [][]byte
	// ping6, fragmented both ways, after the peer announced itself
	var ping []byte
	ping = append(ping, eth(nsFrom(h6Peer, wire.SolicitedNodeMulticast(h6Our), h6Our, peerMAC, 255))...)
	req := pkt6(h6Peer, h6Our, wire.ProtoICMPv6, 64, echo6(wire.ICMPv6EchoRequest, 1, 1, make([]byte, 3000), h6Peer, h6Our))
	for _, fr := range frag6Split(req, 1280, 1) {
		ping = append(ping, eth(fr)...)
	}
	seeds = append(seeds, ping)
	// resolution, NA, queued datagrams, NUD time steps
	var nd []byte
	nd = append(nd, fuzzRecord(fuzzOpSend, []byte{2})...)
	nd = append(nd, fuzzRecord(fuzzOpSend, []byte{2})...)
	nd = append(nd, eth(naFrom(h6Peer, h6Our, h6Peer, wire.NDPNAFlagSolicited|wire.NDPNAFlagOverride, peerMAC, 255))...)
	nd = append(nd, []byte{fuzzOpTime, 0x10, 0, fuzzOpTime, 0x10, 0}...)
	nd = append(nd, fuzzRecord(fuzzOpSend, []byte{2})...)
	nd = append(nd, []byte{fuzzOpTime, 2, 0, fuzzOpTime, 2, 0}...)
	seeds = append(seeds, nd)
	// extension headers: options with each action, routing header, endless chain
	u := udp6(h6Peer, h6Our, []byte("x"))
	var ext []byte
	for _, typ := range []uint8{0x1e, 0x5e, 0x9e, 0xde} {
		ext = append(ext, eth(pkt6(h6Peer, h6Our, wire.ProtoDestOpts, 64, append(optsHdr(wire.ProtoUDP, typ), u...)))...)
	}
	rh := make([]byte, 24)
	wire.PutIPv6Routing(rh, wire.ProtoUDP, 0, 1, make([]byte, 20))
	ext = append(ext, eth(pkt6(h6Peer, h6Our, wire.ProtoRouting, 64, append(rh, u...)))...)
	var long []byte
	for i := 0; i < 12; i++ {
		long = append(long, optsHdr(wire.ProtoDestOpts, wire.IPv6OptPadN)...)
	}
	ext = append(ext, eth(pkt6(h6Peer, h6Our, wire.ProtoDestOpts, 64, long))...)
	seeds = append(seeds, ext)
	// fragments: overlap, timeout
	full := pkt6(h6Peer, h6Our, wire.ProtoUDP, 64, udp6(h6Peer, h6Our, make([]byte, 2000)))
	fr := frag6Split(full, 1280, 4)
	var frags []byte
	frags = append(frags, eth(fr[0])...)
	frags = append(frags, eth(fr[0][:len(fr[0])-8])...)
	frags = append(frags, eth(frag6Split(full, 1280, 5)[0])...)
	frags = append(frags, []byte{fuzzOpTime, 0x20, 0}...)
	seeds = append(seeds, frags)
	// tiny first fragment (the UDP header only in the second, RFC 7112)
	// and a flood of incomplete datagrams beyond the budget
	var tiny []byte
	small := pkt6(h6Peer, h6Our, wire.ProtoUDP, 64, udp6(h6Peer, h6Our, make([]byte, 40)))
	for _, f := range frag6Split(small, wire.IPv6HeaderLen+wire.IPv6FragmentHeaderLen+8, 6) {
		tiny = append(tiny, eth(f)...)
	}
	for id := uint32(100); id < 140; id++ {
		tiny = append(tiny, eth(frag6Split(full, 1280, id)[0])...)
	}
	seeds = append(seeds, tiny)
	// NDP flood: solicitations from more sources than the cache holds
	var flood []byte
	for i := 0; i < 20; i++ {
		src := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 1, 15: byte(i)})
		flood = append(flood, eth(nsFrom(src, wire.SolicitedNodeMulticast(h6Our), h6Our, wire.MAC{2, 1, 0, 0, 0, byte(i)}, 255))...)
	}
	seeds = append(seeds, flood)
	// a router advertisement from a global (spoofed) source, then a
	// redirect from a link-local node that is not our router
	ra := raMsg(raSpec{hopLimit: 3, lifetime: 1800, prefixes: []pio{{prefixA, lA, 3600, 3600}}})
	wire.SetICMPv6Checksum(ra, h6Peer, wire.IPv6AllNodes)
	spoof := eth(pkt6(h6Peer, wire.IPv6AllNodes, wire.ProtoICMPv6, 255, ra))
	rd := redirectMsg(netip.MustParseAddr("fe80::77"), h6Far)
	wire.SetICMPv6Checksum(rd, router2LL, h6Our)
	spoof = append(spoof, eth(pkt6(router2LL, h6Our, wire.ProtoICMPv6, 255, rd))...)
	seeds = append(seeds, spoof)
	// a TUN packet
	seeds = append(seeds, fuzzRecord(fuzzOpTun, pkt6(netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::1"), wire.ProtoUDP, 64, udp6(netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::1"), []byte("tun")))))
	// MLD queries (RFC 3810): a general query and a group-and-source-
	// specific one for our solicited-node group, with hop limit 1 and the
	// router alert, then queries with hop limit 64 or without the router
	// alert (dropped), and time for the reports
	alert := []wire.IPv6Option{{Type: wire.IPv6OptRouterAlert, Data: []byte{0, wire.IPv6RouterAlertMLD}}}
	mldPkt := func(dst netip.Addr, hop uint8, withAlert bool, msg []byte) []byte {
		m := append([]byte(nil), msg...)
		wire.SetICMPv6Checksum(m, h6PeerLL, dst)
		if !withAlert {
			return eth(pkt6(h6PeerLL, dst, wire.ProtoICMPv6, hop, m))
		}
		hbh := make([]byte, wire.IPv6OptionsHeaderLen(alert))
		wire.PutIPv6OptionsHeader(hbh, wire.ProtoICMPv6, alert)
		return eth(pkt6(h6PeerLL, dst, wire.ProtoHopByHop, hop, append(hbh, m...)))
	}
	sol := wire.SolicitedNodeMulticast(h6Our)
	general := v2Query(time.Second, netip.IPv6Unspecified(), 2)
	var mld []byte
	mld = append(mld, mldPkt(wire.IPv6AllNodes, 1, true, general)...)
	mld = append(mld, mldPkt(sol, 1, true, v2Query(time.Second, sol, 2, h6Peer, h6Far))...)
	mld = append(mld, mldPkt(wire.IPv6AllNodes, 64, true, general)...)
	mld = append(mld, mldPkt(wire.IPv6AllNodes, 1, false, v1Msg(wire.ICMPv6MLDQuery, time.Second, netip.IPv6Unspecified()))...)
	mld = append(mld, []byte{fuzzOpTime, 0, 200}...)
	seeds = append(seeds, mld)
	return seeds
}

func runFuzz6(t *testing.T, in []byte) {
	clk := &fakeClock{}
	cfg := Config{Clock: clk, Rand: rand.NewPCG(1, 2)}
	cfg.IPv6.Reassembly.MaxBytes = 64 << 10
	cfg.IPv6.NDP.CacheSize = 8
	cfg.IPv6.Forwarding = len(in)%2 == 1 // half the inputs run through a router (forward6.go)
	s, err := New(cfg)
	verifyDeadlineCaches(t, s) // NextDeadline and Poll check the deadline caches
	if err != nil {
		t.Fatal(err)
	}
	eth, _ := s.AddInterface(InterfaceConfig{Name: "eth0", Link: &recLink{}, MAC: ourMAC})
	_ = s.AddAddress(eth, netip.MustParsePrefix("2001:db8::1/64"))
	_ = s.SetUp(eth, true)
	tun, _ := s.AddInterface(InterfaceConfig{Name: "tun0", Link: &recLink{}, Kind: LinkIP})
	_ = s.AddAddress(tun, netip.MustParsePrefix("fd00::1/64"))
	_ = s.SetUp(tun, true)
	_ = s.RegisterTransport(wire.ProtoUDP, &stub6{})
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
		n = min(n, len(in))
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
				_ = s.WriteIP(b, &WriteOptions{Dst: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: last}), Protocol: wire.ProtoUDP})
			}
		}
		if s.ip6.reasm.mem > 64<<10 || s.ip6.ndp.queued > s.cfg.IPv6.NDP.QueueTotal {
			t.Fatalf("over budget: reassembly %d, NDP queue %d", s.ip6.reasm.mem, s.ip6.ndp.queued)
		}
	}
	// Let every timer run out; pending NDP entries end STALE (no timer).
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
	if s.ip6.reasm.mem != 0 || s.ip6.ndp.queued != 0 || s.lo.n != 0 {
		t.Fatalf("state left: reasm %d ndp queue %d loopback %d", s.ip6.reasm.mem, s.ip6.ndp.queued, s.lo.n)
	}
	if got := s.Pool().Stats().InUse; got != base {
		t.Fatalf("pool in use %d, baseline %d", got, base)
	}
}

// TestWriteFuzzCorpus6 regenerates testdata/fuzz/FuzzStackInput6 when
// FEATHERIP_WRITE_CORPUS=1 (the committed files are the output).
func TestWriteFuzzCorpus6(t *testing.T) {
	if !writeCorpus() {
		t.Skip("set FEATHERIP_WRITE_CORPUS=1 to regenerate the seed corpus")
	}
	for i, s := range fuzzSeeds6(t) {
		writeCorpusFile(t, "FuzzStackInput6", i, s)
	}
}
