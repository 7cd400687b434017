package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var testGroup6 = netip.MustParseAddr("ff05::1:3")

// goMLD wraps msg (checksummed for testLL1 -> dst) in an IPv6 packet, decodes it
// with gopacket and checks the ICMPv6 checksum.
func goMLD(t *testing.T, msg []byte, dst netip.Addr) gopacket.Packet {
	t.Helper()
	pkt := make([]byte, 40+len(msg))
	(&IPv6Header{PayloadLength: len(msg), NextHeader: ProtoICMPv6, HopLimit: 1, Src: testLL1, Dst: dst}).Encode(pkt)
	copy(pkt[40:], msg)
	p := decode(t, pkt, layers.LayerTypeIPv6)
	g := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	_ = g.SetNetworkLayerForChecksum(p.NetworkLayer())
	if _, res := g.VerifyChecksum(); !res.Valid {
		t.Errorf("gopacket checksum %+v", res)
	}
	return p
}

func TestMLDv1Gopacket(t *testing.T) {
	tests := []struct {
		name  string
		typ   uint8
		delay uint16
		group netip.Addr
		layer gopacket.LayerType
	}{
		{"general-query", ICMPv6MLDQuery, 10000, netip.IPv6Unspecified(), layers.LayerTypeMLDv1MulticastListenerQuery},
		{"specific-query", ICMPv6MLDQuery, 1000, testGroup6, layers.LayerTypeMLDv1MulticastListenerQuery},
		{"report", ICMPv6MLDv1Report, 0, testGroup6, layers.LayerTypeMLDv1MulticastListenerReport},
		{"done", ICMPv6MLDv1Done, 0, testGroup6, layers.LayerTypeMLDv1MulticastListenerDone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, MLDv1Len)
			if PutMLDv1(b, tc.typ, tc.delay, tc.group) != MLDv1Len {
				t.Fatal("length")
			}
			SetICMPv6Checksum(b, testLL1, IPv6AllNodes)
			p := goMLD(t, b, IPv6AllNodes)
			l := p.Layer(tc.layer)
			if l == nil {
				t.Fatalf("gopacket: no %v layer: %v", tc.layer, p)
			}
			var gm *layers.MLDv1Message
			switch v := l.(type) {
			case *layers.MLDv1MulticastListenerQueryMessage:
				gm = &v.MLDv1Message
			case *layers.MLDv1MulticastListenerReportMessage:
				gm = &v.MLDv1Message
			case *layers.MLDv1MulticastListenerDoneMessage:
				gm = &v.MLDv1Message
			}
			if gm.MaximumResponseDelay != time.Duration(tc.delay)*time.Millisecond || !gm.MulticastAddress.Equal(tc.group.AsSlice()) {
				t.Errorf("gopacket %+v", gm)
			}

			m, err := ParseMLD(b)
			if err != nil {
				t.Fatal(err)
			}
			wantDelay := time.Duration(0)
			if tc.typ == ICMPv6MLDQuery {
				wantDelay = time.Duration(tc.delay) * time.Millisecond
			}
			if m.Type() != tc.typ || m.Version() != 1 || m.MaxRespCode() != tc.delay || m.MaxRespDelay() != wantDelay ||
				m.Group() != tc.group || !m.ChecksumValid(testLL1, IPv6AllNodes) || m.Checksum() != binary.BigEndian.Uint16(b[2:]) {
				t.Errorf("parse mismatch: v%d delay %v group %v", m.Version(), m.MaxRespDelay(), m.Group())
			}
			if m.SFlag() || m.QRV() != 0 || m.QQIC() != 0 || m.NumSources() != 0 || m.NumAddressRecords() != 0 || m.Source(0).IsValid() {
				t.Error("v2 accessors on a v1 message")
			}
			c := make([]byte, MLDv1Len)
			PutMLDv1(c, m.Type(), m.MaxRespCode(), m.Group())
			SetICMPv6Checksum(c, testLL1, IPv6AllNodes)
			if !bytes.Equal(c, b) {
				t.Error("rebuild")
			}
			checkShort(t, b, MLDv2ReportHeaderLen, ErrTooShort, func(b []byte) error { _, err := ParseMLD(b); return err })
			for n := 8; n < MLDv1Len; n++ {
				if _, err := ParseMLD(b[:n]); err != ErrTooShort {
					t.Errorf("len %d: %v", n, err)
				}
			}
		})
	}
}

func TestMLDv2QueryGopacket(t *testing.T) {
	srcs := []netip.Addr{testSrc6, testDst6, netip.MustParseAddr("2001:db8::99")}
	for _, tc := range []struct {
		code uint16
		s    bool
		qrv  uint8
		qqic uint8
		srcs []netip.Addr
	}{
		{10000, false, 2, 125, nil},
		{MLDEncodeCode(60000), true, 7, IGMPEncodeCode(300), srcs},
		{0xffff, false, 0, 0xff, srcs[:1]},
	} {
		b := make([]byte, MLDv2QueryLen(len(tc.srcs)))
		if PutMLDv2Query(b, tc.code, testGroup6, tc.s, tc.qrv, tc.qqic, tc.srcs) != len(b) {
			t.Fatal("length")
		}
		SetICMPv6Checksum(b, testLL1, testGroup6)
		p := goMLD(t, b, testGroup6)
		g, ok := p.Layer(layers.LayerTypeMLDv2MulticastListenerQuery).(*layers.MLDv2MulticastListenerQueryMessage)
		if !ok {
			t.Fatalf("gopacket: no MLDv2 query: %v", p)
		}
		if g.MaximumResponseCode != tc.code || !g.MulticastAddress.Equal(testGroup6.AsSlice()) || g.SuppressRoutersideProcessing != tc.s ||
			g.QueriersRobustnessVariable != tc.qrv || g.QueriersQueryIntervalCode != tc.qqic || int(g.NumberOfSources) != len(tc.srcs) {
			t.Errorf("gopacket %+v", g)
		}
		m, err := ParseMLD(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Version() != 2 || m.MaxRespCode() != tc.code || m.MaxRespDelay() != g.MaximumResponseDelay() || m.Group() != testGroup6 ||
			m.SFlag() != tc.s || m.QRV() != tc.qrv || m.QQIC() != tc.qqic || m.QueryInterval() != g.QQI() || m.NumSources() != len(tc.srcs) ||
			!m.ChecksumValid(testLL1, testGroup6) {
			t.Errorf("parse mismatch: delay %v (gopacket %v) qi %v (%v)", m.MaxRespDelay(), g.MaximumResponseDelay(), m.QueryInterval(), g.QQI())
		}
		got := make([]netip.Addr, m.NumSources())
		for i := range got {
			got[i] = m.Source(i)
			if !g.SourceAddresses[i].Equal(got[i].AsSlice()) || got[i] != tc.srcs[i] {
				t.Errorf("source %d: %v", i, got[i])
			}
		}
		if m.Source(-1).IsValid() || m.Source(len(got)).IsValid() {
			t.Error("out-of-range source")
		}
		c := make([]byte, len(b))
		PutMLDv2Query(c, m.MaxRespCode(), m.Group(), m.SFlag(), m.QRV(), m.QQIC(), got)
		SetICMPv6Checksum(c, testLL1, testGroup6)
		if !bytes.Equal(c, b) {
			t.Error("rebuild")
		}
		// Truncations: 25-27 bytes are bad, sources must fit.
		for n := MLDv1Len + 1; n < len(b); n++ {
			if _, err := ParseMLD(b[:n]); err != ErrBadLength {
				t.Errorf("len %d of %d: %v", n, len(b), err)
			}
		}
	}
	// QRV above 7 is sent as 0.
	b := make([]byte, MLDv2QueryMinLen)
	PutMLDv2Query(b, 1, netip.IPv6Unspecified(), false, 9, 0, nil)
	if m, _ := ParseMLD(b); m.QRV() != 0 {
		t.Errorf("QRV %d", m.QRV())
	}
}

func TestMLDv2ReportGopacket(t *testing.T) {
	g2 := netip.MustParseAddr("ff02::fb")
	b := make([]byte, 256)
	n := PutMLDv2ReportHeader(b, 3)
	n += PutMLDv2AddressRecord(b[n:], MLDv2ChangeToExclude, g2, nil)
	n += PutMLDv2AddressRecord(b[n:], MLDv2AllowNewSources, testGroup6, []netip.Addr{testSrc6, testDst6})
	// A record with 8 bytes of auxiliary data, written by hand.
	n += PutMLDv2AddressRecord(b[n:], MLDv2ModeIsInclude, testGroup6, []netip.Addr{testSrc6})
	b[n-MLDv2AddressRecordLen(1)+1] = 2
	copy(b[n:], "auxdata!")
	n += 8
	b = b[:n]
	SetICMPv6Checksum(b, testLL1, IPv6AllMLDv2Routers)

	p := goMLD(t, b, IPv6AllMLDv2Routers)
	g, ok := p.Layer(layers.LayerTypeMLDv2MulticastListenerReport).(*layers.MLDv2MulticastListenerReportMessage)
	if !ok || len(g.MulticastAddressRecords) != 3 {
		t.Fatalf("gopacket: %v", p)
	}
	m, err := ParseMLD(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != 2 || m.Type() != ICMPv6MLDv2Report || m.NumAddressRecords() != 3 || m.Group().IsValid() || m.MaxRespCode() != 0 ||
		m.MaxRespDelay() != 0 || m.NumSources() != 0 || !m.ChecksumValid(testLL1, IPv6AllMLDv2Routers) {
		t.Error("report fields")
	}
	i := 0
	c := make([]byte, len(b))
	cn := PutMLDv2ReportHeader(c, m.NumAddressRecords())
	m.ForEachAddressRecord(func(r MLDAddressRecord) bool {
		gr := g.MulticastAddressRecords[i]
		if r.Type() != uint8(gr.RecordType) || r.NumSources() != int(gr.N) || !gr.MulticastAddress.Equal(r.Group().AsSlice()) ||
			!bytes.Equal(r.AuxData(), gr.AuxiliaryData) || r.AuxDataLen() != len(r.AuxData()) {
			t.Errorf("record %d: %+v", i, gr)
		}
		srcs := make([]netip.Addr, r.NumSources())
		for j := range srcs {
			srcs[j] = r.Source(j)
			if !gr.SourceAddresses[j].Equal(srcs[j].AsSlice()) {
				t.Errorf("record %d source %d", i, j)
			}
		}
		if r.Source(-1).IsValid() || r.Source(len(srcs)).IsValid() {
			t.Error("out-of-range source")
		}
		k := PutMLDv2AddressRecord(c[cn:], r.Type(), r.Group(), srcs)
		c[cn+1] = r.Bytes()[1]
		cn += k + copy(c[cn+k:], r.AuxData())
		i++
		return true
	})
	SetICMPv6Checksum(c[:cn], testLL1, IPv6AllMLDv2Routers)
	if i != 3 || !bytes.Equal(c[:cn], b) {
		t.Errorf("rebuild %d records\n%x\n%x", i, c[:cn], b)
	}
	// Every truncation inside the records is a bad length.
	for k := MLDv2ReportHeaderLen; k < len(b); k++ {
		if _, err := ParseMLD(b[:k]); err != ErrBadLength {
			t.Errorf("len %d: %v", k, err)
		}
	}
	// An early stop.
	i = 0
	m.ForEachAddressRecord(func(MLDAddressRecord) bool { i++; return false })
	if i != 1 {
		t.Errorf("%d calls after false", i)
	}
	// An empty report.
	e := make([]byte, 8)
	PutMLDv2ReportHeader(e, 0)
	if m, err := ParseMLD(e); err != nil || m.NumAddressRecords() != 0 {
		t.Errorf("empty report: %v", err)
	}
	// Unsupported types.
	for _, typ := range []uint8{ICMPv6EchoRequest, ICMPv6NeighborSolicitation, 144} {
		e[0] = typ
		if _, err := ParseMLD(e); err != ErrUnsupported {
			t.Errorf("type %d: %v", typ, err)
		}
	}
}

func TestMLDCodes(t *testing.T) {
	// Decoding matches gopacket for every code.
	var q layers.MLDv2MulticastListenerQueryMessage
	for c := 0; c <= 0xffff; c++ {
		q.MaximumResponseCode = uint16(c)
		if got, want := time.Duration(MLDDecodeCode(uint16(c)))*time.Millisecond, q.MaximumResponseDelay(); got != want {
			t.Fatalf("code %#04x: %v, gopacket %v", c, got, want)
		}
		// Every code is canonical: encoding its value gives it back.
		if e := MLDEncodeCode(MLDDecodeCode(uint16(c))); e != uint16(c) {
			t.Fatalf("code %#04x -> %d -> %#04x", c, MLDDecodeCode(uint16(c)), e)
		}
	}
	// Encoding rounds down to the nearest representable value.
	r := newRand(t)
	for range 10000 {
		v := int(r.Uint32N(MLDMaxCodeValue + 1000))
		e := MLDEncodeCode(v)
		d := MLDDecodeCode(e)
		if v > MLDMaxCodeValue {
			if e != 0xffff {
				t.Fatalf("%d: %#04x", v, e)
			}
			continue
		}
		if d > v || (e != 0xffff && MLDDecodeCode(e+1) <= v) {
			t.Fatalf("%d -> %#04x -> %d", v, e, d)
		}
	}
	if MLDEncodeCode(-5) != 0 || MLDEncodeCode(32767) != 32767 || MLDDecodeCode(0xffff) != MLDMaxCodeValue {
		t.Error("edges")
	}
}

func TestMLDZeroAllocs(t *testing.T) {
	srcs := []netip.Addr{testSrc6, testDst6}
	b := make([]byte, 256)
	var sink int
	checkZeroAllocs(t, "build", func() {
		n := PutMLDv2ReportHeader(b, 2)
		n += PutMLDv2AddressRecord(b[n:], MLDv2ModeIsExclude, testGroup6, nil)
		n += PutMLDv2AddressRecord(b[n:], MLDv2BlockOldSources, testGroup6, srcs)
		SetICMPv6Checksum(b[:n], testLL1, IPv6AllMLDv2Routers)
		sink += n
	})
	n := MLDv2ReportHeaderLen + MLDv2AddressRecordLen(0) + MLDv2AddressRecordLen(2)
	fn := func(r MLDAddressRecord) bool { sink += r.NumSources() + int(r.Group().As16()[15]); return true }
	checkZeroAllocs(t, "parse", func() {
		m, err := ParseMLD(b[:n])
		if err != nil || !m.ChecksumValid(testLL1, IPv6AllMLDv2Routers) {
			panic("bad")
		}
		m.ForEachAddressRecord(fn)
	})
	_ = sink
}
