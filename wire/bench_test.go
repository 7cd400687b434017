package wire

import (
	"net/netip"
	"testing"
)

// Parse and build benchmarks for the link-layer and control formats; the
// IPv4/UDP, TCP and IPv6 ones sit beside their tests. All report
// allocations, which must be zero.

var benchSink int

func BenchmarkParseEthernetVLAN(b *testing.B) {
	f := make([]byte, 64)
	PutEthernet(f, testMAC2, testMAC1, EtherTypeVLAN)
	f[14], f[15], f[16], f[17] = 0, 42, 0x08, 0x00
	b.ReportAllocs()
	for b.Loop() {
		e, err := ParseEthernet(f)
		if err != nil {
			b.Fatal(err)
		}
		id, _ := e.VLAN()
		benchSink += int(e.EtherType()) + int(id) + len(e.Payload())
	}
}

func BenchmarkBuildEthernet(b *testing.B) {
	f := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		PutEthernet(f, testMAC2, testMAC1, EtherTypeIPv4)
	}
}

func BenchmarkParseARP(b *testing.B) {
	p := make([]byte, ARPLen)
	PutARP(p, ARPRequest, testMAC1, testSrc4, MAC{}, testDst4)
	b.ReportAllocs()
	for b.Loop() {
		a, err := ParseARP(p)
		if err != nil {
			b.Fatal(err)
		}
		if a.SenderIP() == a.TargetIP() {
			benchSink++
		}
		benchSink += int(a.Op())
	}
}

func BenchmarkBuildARP(b *testing.B) {
	p := make([]byte, ARPLen)
	b.ReportAllocs()
	for b.Loop() {
		PutARP(p, ARPReply, testMAC2, testDst4, testMAC1, testSrc4)
	}
}

func BenchmarkParseICMPv4Echo(b *testing.B) {
	m := make([]byte, 64)
	PutICMPv4(m, ICMPv4Echo, 0, 0x12340001)
	SetICMPv4Checksum(m)
	b.ReportAllocs()
	for b.Loop() {
		v, err := ParseICMPv4(m)
		if err != nil || !v.ChecksumValid() {
			b.Fatal(err)
		}
		benchSink += int(v.ID()) + int(v.Seq())
	}
}

func BenchmarkBuildICMPv4Echo(b *testing.B) {
	m := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		PutICMPv4(m, ICMPv4EchoReply, 0, 0x12340001)
		SetICMPv4Checksum(m)
	}
}

func BenchmarkParseIGMPv3Query(b *testing.B) {
	m := make([]byte, 64)
	srcs := []netip.Addr{testSrc4, testDst4}
	n := PutIGMPv3Query(m, 100, netip.MustParseAddr("239.1.2.3"), false, 2, 125, srcs)
	m = m[:n]
	b.ReportAllocs()
	for b.Loop() {
		v, err := ParseIGMP(m)
		if err != nil || !v.ChecksumValid() {
			b.Fatal(err)
		}
		for i := range v.NumSources() {
			if v.Source(i).IsValid() {
				benchSink++
			}
		}
		benchSink += int(v.MaxRespTime())
	}
}

func BenchmarkBuildIGMPv2Report(b *testing.B) {
	m := make([]byte, IGMPHeaderLen)
	g := netip.MustParseAddr("239.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		PutIGMP(m, IGMPv2MembershipReport, 0, g)
	}
}
