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

var (
	group251 = netip.MustParseAddr("224.0.0.251")
	group22  = netip.MustParseAddr("239.1.2.3")
	any4     = netip.AddrFrom4([4]byte{})
)

// Known messages as Linux sends them, with checksums worked out by hand.
func TestIGMPKnownVectors(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		typ     uint8
		version int
		group   netip.Addr
		maxResp time.Duration
	}{
		{"v2-query", "1164ee9b00000000", IGMPMembershipQuery, 2, any4, 10 * time.Second},
		{"v1-query", "1100eeff00000000", IGMPMembershipQuery, 1, any4, 10 * time.Second},
		{"v3-query", "1164ec1e00000000027d0000", IGMPMembershipQuery, 3, any4, 10 * time.Second},
		{"v2-report", "16000904e00000fb", IGMPv2MembershipReport, 2, group251, 0},
		{"v1-report", "12000dfee0000001", IGMPv1MembershipReport, 1, netip.MustParseAddr("224.0.0.1"), 0},
		{"v2-leave", "17000804e00000fb", IGMPv2LeaveGroup, 2, group251, 0},
		{"v3-report", "2200f90200000001040000 00e00000fb", IGMPv3MembershipReport, 3, netip.Addr{}, 0},
	}
	for _, tc := range tests {
		b := unhex(t, tc.hex)
		m, err := ParseIGMP(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !m.ChecksumValid() {
			t.Errorf("%s: checksum invalid", tc.name)
		}
		if m.Type() != tc.typ || m.Version() != tc.version || m.Group() != tc.group || m.MaxRespTime() != tc.maxResp {
			t.Errorf("%s: type %#x version %d group %v maxresp %v", tc.name, m.Type(), m.Version(), m.Group(), m.MaxRespTime())
		}
		if m.Checksum() != binary.BigEndian.Uint16(b[2:]) || !bytes.Equal(m.Bytes(), b) {
			t.Errorf("%s: Checksum/Bytes", tc.name)
		}
		// Rebuild v1/v2 messages with PutIGMP: identical bytes.
		if tc.version < 3 {
			c := make([]byte, 8)
			if n := PutIGMP(c, m.Type(), m.MaxRespCode(), m.Group()); n != 8 || !bytes.Equal(c, b) {
				t.Errorf("%s: PutIGMP %x, want %x", tc.name, c, b)
			}
		}
	}
	// The v3 query: QRV 2, QQIC 125 s, no sources.
	m, _ := ParseIGMP(unhex(t, "1164ec1e00000000027d0000"))
	if m.QRV() != 2 || m.QQIC() != 125 || m.QueryInterval() != 125*time.Second || m.SFlag() || m.NumSources() != 0 {
		t.Errorf("v3 query fields: qrv %d qqic %d", m.QRV(), m.QQIC())
	}
	c := make([]byte, 12)
	if n := PutIGMPv3Query(c, 100, any4, false, 2, 125, nil); n != 12 || !bytes.Equal(c, m.Bytes()) {
		t.Errorf("PutIGMPv3Query %x", c[:n])
	}
	// The v3 report: one EXCLUDE({}) record for 224.0.0.251 (a join).
	m, _ = ParseIGMP(unhex(t, "2200f9020000000104000000e00000fb"))
	var recs []IGMPGroupRecord
	m.ForEachGroupRecord(func(r IGMPGroupRecord) bool { recs = append(recs, r); return true })
	if m.NumGroupRecords() != 1 || len(recs) != 1 || recs[0].Type() != IGMPv3ChangeToExclude || recs[0].Group() != group251 ||
		recs[0].NumSources() != 0 || len(recs[0].AuxData()) != 0 || m.GroupRecordsLen() != 8 {
		t.Errorf("v3 report records %+v", recs)
	}
	c = make([]byte, 16)
	n := PutIGMPv3ReportHeader(c, 1)
	n += PutIGMPv3GroupRecord(c[n:], IGMPv3ChangeToExclude, group251, nil)
	SetIGMPChecksum(c[:n])
	if !bytes.Equal(c[:n], m.Bytes()) {
		t.Errorf("rebuilt report %x", c[:n])
	}
}

func TestIGMPv3QueryGopacket(t *testing.T) {
	srcs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.9.8.7")}
	for _, tc := range []struct {
		maxResp, qqic, qrv uint8
		s                  bool
		srcs               []netip.Addr
	}{{100, 125, 2, false, nil}, {10, 60, 7, true, srcs}, {127, 0, 0, false, srcs[:1]}} {
		b := make([]byte, IGMPv3QueryLen(len(tc.srcs)))
		n := PutIGMPv3Query(b, tc.maxResp, group22, tc.s, tc.qrv, tc.qqic, tc.srcs)
		if n != len(b) {
			t.Fatalf("length %d", n)
		}
		p := decode(t, b, layers.LayerTypeIGMP)
		g := p.Layer(layers.LayerTypeIGMP).(*layers.IGMP)
		// gopacket.IGMP.DecodeFromBytes zeroes Version, so it is not compared.
		// gopacket decodes codes < 128 correctly (its exponential decoding
		// swaps mantissa and exponent, so larger codes are not compared).
		if g.MaxResponseTime != time.Duration(tc.maxResp)*100*time.Millisecond || !g.GroupAddress.Equal(group22.AsSlice()) ||
			g.SupressRouterProcessing != tc.s || g.RobustnessValue != tc.qrv || int(g.NumberOfSources) != len(tc.srcs) {
			t.Errorf("gopacket sees %+v", g)
		}
		for i, s := range tc.srcs {
			if !g.SourceAddresses[i].Equal(s.AsSlice()) {
				t.Errorf("gopacket source %d %v", i, g.SourceAddresses[i])
			}
		}
		if gopacket.FoldChecksum(gopacket.ComputeChecksum(b, 0)) != 0 {
			t.Error("checksum (gopacket sum) invalid")
		}
		m, err := ParseIGMP(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Version() != 3 || m.MaxRespCode() != tc.maxResp || m.Group() != group22 || m.SFlag() != tc.s || m.QRV() != tc.qrv ||
			m.QQIC() != tc.qqic || m.NumSources() != len(tc.srcs) || !m.ChecksumValid() ||
			m.MaxRespTime() != time.Duration(tc.maxResp)*100*time.Millisecond {
			t.Error("round trip mismatch")
		}
		for i, s := range tc.srcs {
			if m.Source(i) != s {
				t.Errorf("source %d: %v", i, m.Source(i))
			}
		}
		if m.Source(-1).IsValid() || m.Source(len(tc.srcs)).IsValid() {
			t.Error("out-of-range Source must be the zero Addr")
		}
		if m.NumGroupRecords() != 0 {
			t.Error("query has group records")
		}
	}
}

func TestIGMPv3ReportGopacket(t *testing.T) {
	type rec struct {
		typ   uint8
		group netip.Addr
		srcs  []netip.Addr
	}
	recs := []rec{
		{IGMPv3ModeIsInclude, group22, []netip.Addr{netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("10.1.1.2")}},
		{IGMPv3ChangeToExclude, group251, nil},
		{IGMPv3BlockOldSources, netip.MustParseAddr("232.1.1.1"), []netip.Addr{netip.MustParseAddr("10.2.2.2")}},
	}
	b := make([]byte, 200)
	n := PutIGMPv3ReportHeader(b, len(recs))
	for _, r := range recs {
		l := PutIGMPv3GroupRecord(b[n:], r.typ, r.group, r.srcs)
		if l != IGMPv3GroupRecordLen(len(r.srcs)) {
			t.Fatalf("record length %d", l)
		}
		n += l
	}
	SetIGMPChecksum(b[:n])
	b = b[:n]

	p := decode(t, b, layers.LayerTypeIGMP)
	g := p.Layer(layers.LayerTypeIGMP).(*layers.IGMP)
	if int(g.NumberOfGroupRecords) != len(recs) || len(g.GroupRecords) != len(recs) {
		t.Fatalf("gopacket sees %+v", g)
	}
	for i, r := range recs {
		gr := g.GroupRecords[i]
		if uint8(gr.Type) != r.typ || !gr.MulticastAddress.Equal(r.group.AsSlice()) || int(gr.NumberOfSources) != len(r.srcs) {
			t.Errorf("gopacket record %d: %+v", i, gr)
		}
		for j, s := range r.srcs {
			if !gr.SourceAddresses[j].Equal(s.AsSlice()) {
				t.Errorf("gopacket record %d source %d", i, j)
			}
		}
	}
	m, err := ParseIGMP(b)
	if err != nil {
		t.Fatal(err)
	}
	if !m.ChecksumValid() || m.Version() != 3 || m.NumGroupRecords() != 3 || m.Group().IsValid() || m.GroupRecordsLen() != n-8 {
		t.Error("report fields")
	}
	i := 0
	m.ForEachGroupRecord(func(r IGMPGroupRecord) bool {
		want := recs[i]
		if r.Type() != want.typ || r.Group() != want.group || r.NumSources() != len(want.srcs) || r.AuxDataLen() != 0 ||
			len(r.Bytes()) != IGMPv3GroupRecordLen(len(want.srcs)) {
			t.Errorf("record %d mismatch", i)
		}
		for j, s := range want.srcs {
			if r.Source(j) != s {
				t.Errorf("record %d source %d: %v", i, j, r.Source(j))
			}
		}
		if r.Source(len(want.srcs)).IsValid() {
			t.Error("out-of-range source")
		}
		i++
		return true
	})
	if i != 3 {
		t.Errorf("visited %d records", i)
	}
	// Stop early.
	i = 0
	m.ForEachGroupRecord(func(IGMPGroupRecord) bool { i++; return false })
	if i != 1 {
		t.Errorf("stop: visited %d", i)
	}
	// Every truncation of the records is rejected.
	for l := 8; l < n; l++ {
		if _, err := ParseIGMP(b[:l]); err != ErrBadLength {
			t.Errorf("report cut to %d: %v", l, err)
		}
	}
}

func TestIGMPv3ReportAuxData(t *testing.T) {
	// One record with 1 source and 2 words of aux data, then another record.
	b := unhex(t, "22000000 0000 0002"+
		"01 02 0001 e0000001 0a000001 aabbccdd 11223344"+
		"02 00 0000 e0000002")
	SetIGMPChecksum(b)
	m, err := ParseIGMP(b)
	if err != nil {
		t.Fatal(err)
	}
	var aux []byte
	var groups []netip.Addr
	m.ForEachGroupRecord(func(r IGMPGroupRecord) bool {
		groups = append(groups, r.Group())
		if r.AuxDataLen() > 0 {
			aux = r.AuxData()
		}
		return true
	})
	if len(groups) != 2 || groups[1] != netip.MustParseAddr("224.0.0.2") || !bytes.Equal(aux, unhex(t, "aabbccdd11223344")) {
		t.Errorf("groups %v aux %x", groups, aux)
	}
	p := decode(t, b, layers.LayerTypeIGMP)
	if g := p.Layer(layers.LayerTypeIGMP).(*layers.IGMP); len(g.GroupRecords) != 2 {
		t.Errorf("gopacket records %d", len(g.GroupRecords))
	}
}

func TestIGMPv1v2Gopacket(t *testing.T) {
	for _, tc := range []struct {
		typ, code uint8
		group     netip.Addr
		version   uint8
	}{
		{IGMPMembershipQuery, 0, any4, 1},
		{IGMPMembershipQuery, 100, any4, 2},
		{IGMPMembershipQuery, 10, group22, 2},
		{IGMPv1MembershipReport, 0, group22, 1},
		{IGMPv2MembershipReport, 0, group251, 2},
		{IGMPv2LeaveGroup, 0, group251, 2},
	} {
		b := make([]byte, 8)
		PutIGMP(b, tc.typ, tc.code, tc.group)
		p := decode(t, b, layers.LayerTypeIGMP)
		g := p.Layer(layers.LayerTypeIGMP).(*layers.IGMPv1or2)
		if uint8(g.Type) != tc.typ || g.Version != tc.version || !g.GroupAddress.Equal(tc.group.AsSlice()) ||
			gopacket.FoldChecksum(gopacket.ComputeChecksum(b, 0)) != 0 {
			t.Errorf("gopacket sees %+v", g)
		}
		m, err := ParseIGMP(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type() != tc.typ || m.Version() != int(tc.version) || m.Group() != tc.group || !m.ChecksumValid() ||
			m.QRV() != 0 || m.QQIC() != 0 || m.NumSources() != 0 || m.SFlag() || m.NumGroupRecords() != 0 {
			t.Errorf("type %#x: mismatch", tc.typ)
		}
		checkShort(t, b, IGMPHeaderLen, ErrTooShort, func(b []byte) error { _, err := ParseIGMP(b); return err })
	}
}

func TestParseIGMPErrors(t *testing.T) {
	q := make([]byte, 24)
	PutIGMPv3Query(q[:20], 10, group22, false, 2, 125, []netip.Addr{group22, group251})
	parse := func(b []byte) error { _, err := ParseIGMP(b); return err }
	checkShort(t, q, IGMPHeaderLen, ErrTooShort, parse)
	for l := 9; l < 12; l++ {
		if err := parse(q[:l]); err != ErrBadLength {
			t.Errorf("query len %d: %v", l, err)
		}
	}
	for l := 12; l < 20; l++ {
		if err := parse(q[:l]); err != ErrBadLength {
			t.Errorf("query len %d with 2 sources: %v", l, err)
		}
	}
	if err := parse(q); err != nil { // trailing bytes are allowed
		t.Errorf("query with trailing bytes: %v", err)
	}
	binary.BigEndian.PutUint16(q[10:], 0xffff)
	if err := parse(q); err != ErrBadLength {
		t.Errorf("65535 sources: %v", err)
	}
	for _, typ := range []uint8{0, 0x13, 0x1e, 0x21, 0xff} {
		b := make([]byte, 8)
		b[0] = typ
		if err := parse(b); err != ErrUnsupported {
			t.Errorf("type %#x: %v", typ, err)
		}
	}
	// A report claiming more records than present, and records whose
	// sources or aux data overflow.
	r := unhex(t, "2200000000000002 02000000e0000001")
	if err := parse(r); err != ErrBadLength {
		t.Errorf("missing record: %v", err)
	}
	r = unhex(t, "2200000000000001 02000001e0000001")
	if err := parse(r); err != ErrBadLength {
		t.Errorf("missing source: %v", err)
	}
	r = unhex(t, "2200000000000001 02010000e0000001")
	if err := parse(r); err != ErrBadLength {
		t.Errorf("missing aux: %v", err)
	}
}

func TestIGMPCode(t *testing.T) {
	// RFC 3376 §4.1.1: exp = (c>>4)&7, mant = c&0xf, value (mant|0x10)<<(exp+3).
	if IGMPDecodeCode(0x80) != 128 || IGMPDecodeCode(0xff) != 31744 || IGMPDecodeCode(0x8f) != 248 || IGMPDecodeCode(0x90) != 256 || IGMPDecodeCode(127) != 127 {
		t.Error("decode vectors")
	}
	for c := 0; c < 256; c++ {
		if got := IGMPEncodeCode(IGMPDecodeCode(uint8(c))); got != uint8(c) {
			t.Errorf("code %#x: round trip %#x", c, got)
		}
	}
	for v := -5; v < 40000; v++ {
		c := IGMPEncodeCode(v)
		d := IGMPDecodeCode(c)
		if v >= 0 && v <= 31744 && d > v || v >= 0 && d > max(v, 0) {
			t.Fatalf("v %d: encodes to %d, above", v, d)
		}
		// Largest representable value not above v.
		if c < 0xff && v >= 0 && IGMPDecodeCode(c+1) <= v {
			t.Fatalf("v %d: code %#x not the largest (%d)", v, c, IGMPDecodeCode(c+1))
		}
	}
	m, _ := ParseIGMP(unhex(t, "11 8f 0000 00000000 00 90 0000"))
	if m.MaxRespTime() != 24800*time.Millisecond || m.QueryInterval() != 256*time.Second {
		t.Errorf("decoded times %v %v", m.MaxRespTime(), m.QueryInterval())
	}
}

func TestIGMPZeroAllocs(t *testing.T) {
	srcs := []netip.Addr{group22, group251}
	b := make([]byte, 64)
	var sink int
	checkZeroAllocs(t, "v2", func() {
		PutIGMP(b, IGMPv2MembershipReport, 0, group251)
		m, err := ParseIGMP(b[:8])
		if err != nil || !m.ChecksumValid() {
			panic("bad")
		}
		sink += m.Version()
	})
	checkZeroAllocs(t, "v3query", func() {
		n := PutIGMPv3Query(b, 10, group22, true, 2, 125, srcs)
		m, err := ParseIGMP(b[:n])
		if err != nil || !m.ChecksumValid() {
			panic("bad")
		}
		if m.Source(1) == group251 {
			sink++
		}
	})
	checkZeroAllocs(t, "v3report", func() {
		n := PutIGMPv3ReportHeader(b, 2)
		n += PutIGMPv3GroupRecord(b[n:], IGMPv3ModeIsInclude, group22, srcs)
		n += PutIGMPv3GroupRecord(b[n:], IGMPv3ModeIsExclude, group251, nil)
		SetIGMPChecksum(b[:n])
		m, err := ParseIGMP(b[:n])
		if err != nil || !m.ChecksumValid() {
			panic("bad")
		}
		m.ForEachGroupRecord(func(r IGMPGroupRecord) bool { sink += r.NumSources(); return true })
	})
	_ = sink
}
