package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Fuzz targets for every parser. Each checks that an accepted view's
// accessors do not panic, that the view's slices are consistent, and that
// re-encoding the parsed fields gives the original bytes where the format
// allows. Seeds come from fuzzSeeds, which also writes the committed corpus
// under testdata/fuzz (run with FEATHERIP_WRITE_CORPUS=1 to regenerate).

func fuzzSeeds(name string) [][]byte {
	var out [][]byte
	switch name {
	case "FuzzEthernet":
		b := make([]byte, 60)
		PutEthernet(b, BroadcastMAC, testMAC1, EtherTypeARP)
		out = append(out, b)
		q := make([]byte, 64)
		PutEthernet(q, testMAC2, testMAC1, EtherTypeVLAN)
		binary.BigEndian.PutUint16(q[14:], 42)
		binary.BigEndian.PutUint16(q[16:], EtherTypeIPv4)
		out = append(out, q)
		qq := make([]byte, 64)
		PutEthernet(qq, testMAC2, testMAC1, EtherTypeQinQ)
		binary.BigEndian.PutUint16(qq[14:], 100)
		binary.BigEndian.PutUint16(qq[16:], EtherTypeVLAN)
		binary.BigEndian.PutUint16(qq[18:], 200)
		binary.BigEndian.PutUint16(qq[20:], EtherTypeIPv6)
		out = append(out, qq, q[:17])
	case "FuzzARP":
		b := make([]byte, ARPLen)
		PutARP(b, ARPRequest, testMAC1, testSrc4, MAC{}, testDst4)
		r := make([]byte, 46)
		PutARP(r, ARPReply, testMAC2, testDst4, testMAC1, testSrc4)
		out = append(out, b, r, b[:20])
	case "FuzzIPv4":
		for _, opts := range [][]byte{nil, {148, 4, 0, 0}, {7, 7, 4, 0, 0, 0, 0, 1}, {1, 1, 68, 4, 5, 0, 0, 0}} {
			h := IPv4Header{TotalLength: 20 + (len(opts)+3)&^3 + 8, ID: 5, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoUDP, Src: testSrc4, Dst: testDst4, Options: opts}
			b := make([]byte, h.TotalLength)
			h.Encode(b)
			out = append(out, b)
		}
		out = append(out, unhex(nopT{}, "45000073000040004011b861c0a80001c0a800c7"+"00"))
	case "FuzzICMPv4":
		b := make([]byte, 16)
		PutICMPv4(b, ICMPv4Echo, 0, 0x12340001)
		copy(b[8:], "pingdata")
		SetICMPv4Checksum(b)
		u := make([]byte, 36)
		PutICMPv4(u, ICMPv4DestUnreachable, ICMPv4FragNeeded, 1400)
		SetICMPv4Checksum(u)
		out = append(out, b, u, b[:7])
	case "FuzzUDP":
		b := make([]byte, 20)
		PutUDP(b, 53, 40000, 20)
		copy(b[8:], "dns-ish data")
		SetUDPChecksum(b, testSrc4, testDst4)
		out = append(out, b, append(append([]byte(nil), b...), 0, 0), b[:8])
	case "FuzzUDPLite":
		b := make([]byte, 24)
		PutUDPLite(b, 1, 2, 0)
		SetUDPLiteChecksum(b, testSrc4, testDst4, 12)
		c := append([]byte(nil), b...)
		SetUDPLiteChecksum(c, testSrc4, testDst4, 0)
		out = append(out, b, c)
	case "FuzzTCP":
		for _, o := range []TCPOptions{{}, {MSS: 1460, HasMSS: true, SACKPermitted: true, HasTimestamps: true, TSVal: 1, WScale: 7, HasWScale: true},
			benchTCPOpts} {
			b := make([]byte, 80)
			n := buildTCP(b, TCPHeader{SrcPort: 80, DstPort: 40000, Seq: 1, Ack: 2, Flags: TCPFlagACK, Window: 100}, &o, []byte("data"), testSrc4, testDst4)
			out = append(out, b[:n])
		}
	case "FuzzTCPOptions":
		out = append(out, []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7},
			[]byte{1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4},
			[]byte{2, 0}, []byte{3, 3, 20, 0}, []byte{8, 10, 1, 2, 3, 4, 5, 6, 7})
	case "FuzzIGMP":
		for _, h := range []string{"1164ee9b00000000", "1100eeff00000000", "1164ec1e00000000027d0000", "16000904e00000fb",
			"17000804e00000fb", "2200f9020000000104000000e00000fb"} {
			out = append(out, unhex(nopT{}, h))
		}
		q := make([]byte, 20)
		PutIGMPv3Query(q, 10, netip.MustParseAddr("239.1.2.3"), true, 2, 125, []netip.Addr{testSrc4, testDst4})
		out = append(out, q)
	}
	return out
}

// nopT lets unhex run outside a test.
type nopT struct{ testing.TB }

func (nopT) Helper()                   {}
func (nopT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// fuzzTargets are the fuzz targets of this file, whose seeds fuzzSeeds gives.
var fuzzTargets = []string{"FuzzEthernet", "FuzzARP", "FuzzIPv4", "FuzzICMPv4", "FuzzUDP", "FuzzUDPLite", "FuzzTCP", "FuzzTCPOptions", "FuzzIGMP"}

// TestWriteFuzzCorpus regenerates testdata/fuzz from fuzzSeeds.
func TestWriteFuzzCorpus(t *testing.T) { writeCorpus(t, fuzzTargets, fuzzSeeds) }

// TestFuzzCorpusCommitted checks that every fuzz target of this file has
// its seed corpus on disk, so plain go test runs it.
func TestFuzzCorpusCommitted(t *testing.T) { checkCorpus(t, fuzzTargets, fuzzSeeds) }

// writeCorpus writes the seeds of each target in names to
// testdata/fuzz/<name>/seedNN in the go test fuzz v1 format, when
// FEATHERIP_WRITE_CORPUS is set.
func writeCorpus(t *testing.T, names []string, seeds func(name string) [][]byte) {
	if os.Getenv("FEATHERIP_WRITE_CORPUS") == "" {
		t.Skip("set FEATHERIP_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	for _, name := range names {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds(name) {
			data := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkCorpus checks that each target in names has at least as many
// corpus files on disk as it has seeds.
func checkCorpus(t *testing.T, names []string, seeds func(name string) [][]byte) {
	for _, name := range names {
		ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(ents) < len(seeds(name)) {
			t.Errorf("%s: %d corpus files for %d seeds: %v", name, len(ents), len(seeds(name)), err)
		}
	}
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds(f.Name()) {
		f.Add(s)
	}
}

func FuzzEthernet(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEthernet(b)
		if err != nil {
			if len(b) >= 22 || err != ErrTooShort {
				t.Fatalf("rejected %d bytes: %v", len(b), err)
			}
			return
		}
		_, _, _ = e.Dst().String(), e.Src().IsMulticast(), e.EtherType()
		id, tagged := e.VLAN()
		if id > 0xfff || tagged != (e.HeaderLen() > 14) {
			t.Fatalf("VLAN %d %v hl %d", id, tagged, e.HeaderLen())
		}
		if e.HeaderLen()+len(e.Payload()) != len(b) {
			t.Fatal("header + payload != frame")
		}
		if !tagged {
			c := make([]byte, 14)
			PutEthernet(c, e.Dst(), e.Src(), e.EtherType())
			if !bytes.Equal(c, b[:14]) {
				t.Fatalf("re-encode %x != %x", c, b[:14])
			}
		}
	})
}

func FuzzARP(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseARP(b)
		if err != nil {
			return
		}
		c := make([]byte, ARPLen)
		PutARP(c, a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
		if !bytes.Equal(c, b[:ARPLen]) || !bytes.Equal(a.Bytes(), c) {
			t.Fatalf("re-encode %x != %x", c, b[:ARPLen])
		}
	})
}

func FuzzIPv4(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseIPv4(b)
		if err != nil {
			return
		}
		if len(p.Header())+len(p.Payload()) != p.TotalLength() || len(p.Bytes()) != p.TotalLength() ||
			len(p.Options()) != p.HeaderLen()-20 || p.IsFragment() != (p.MoreFragments() || p.FragmentOffset() != 0) {
			t.Fatal("inconsistent lengths or flags")
		}
		n := 0
		err = p.ForEachOption(func(o IPv4Option) bool {
			n++
			if len(o.Data) > 38 || o.Type <= 1 {
				t.Fatalf("option %d len %d", o.Type, len(o.Data))
			}
			return true
		})
		if n > 20 || (err != nil && err != ErrBadLength) {
			t.Fatalf("%d options, err %v", n, err)
		}
		// Re-encode the header from the accessors.
		h := IPv4Header{TOS: p.TOS(), TotalLength: p.TotalLength(), ID: p.ID(), Flags: p.Flags(), FragmentOffset: p.FragmentOffset(),
			TTL: p.TTL(), Protocol: p.Protocol(), Src: p.Src(), Dst: p.Dst(), Options: p.Options()}
		c := make([]byte, p.HeaderLen())
		if h.Encode(c) != p.HeaderLen() {
			t.Fatal("re-encoded length")
		}
		if !bytes.Equal(c[:10], b[:10]) || !bytes.Equal(c[12:], b[12:p.HeaderLen()]) {
			t.Fatalf("re-encode\n%x\n%x", c, b[:p.HeaderLen()])
		}
		if p.ChecksumValid() && !sameChecksum(binary.BigEndian.Uint16(c[10:]), p.Checksum()) {
			t.Fatalf("checksum %#04x vs %#04x", binary.BigEndian.Uint16(c[10:]), p.Checksum())
		}
		// An incremental TTL update keeps a valid checksum valid.
		if p.ChecksumValid() {
			hdr := append([]byte(nil), p.Header()...)
			SetIPv4TTL(hdr, p.TTL()-1)
			if Checksum(hdr, 0) != 0 {
				t.Fatal("SetIPv4TTL broke the checksum")
			}
		}
	})
}

func FuzzICMPv4(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseICMPv4(b)
		if err != nil {
			if len(b) >= 8 {
				t.Fatal("rejected a long enough message")
			}
			return
		}
		_, _, _, _ = m.ID(), m.Seq(), m.NextHopMTU(), m.Pointer()
		c := make([]byte, len(b))
		PutICMPv4(c, m.Type(), m.Code(), m.Rest())
		copy(c[8:], m.Payload())
		SetICMPv4Checksum(c)
		if !bytes.Equal(c[4:], b[4:]) || c[0] != b[0] || c[1] != b[1] {
			t.Fatal("re-encode")
		}
		// The recomputed checksum equals the original exactly when it verifies
		// (modulo ±0; an all-zero message is the one case of +0).
		if m.ChecksumValid() != sameChecksum(binary.BigEndian.Uint16(c[2:]), m.Checksum()) && !allZero(b) {
			t.Fatalf("ChecksumValid %v but recomputed %#04x vs %#04x", m.ChecksumValid(), binary.BigEndian.Uint16(c[2:]), m.Checksum())
		}
	})
}

func FuzzUDP(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUDP(b)
		if err != nil {
			return
		}
		if u.Length() != len(u.Bytes()) || len(u.Payload()) != u.Length()-8 || u.Length() > len(b) {
			t.Fatal("lengths")
		}
		_ = u.ChecksumValid(testSrc4, testDst4)
		_ = u.ChecksumValid(testSrc6, testDst6)
		c := make([]byte, u.Length())
		PutUDP(c, u.SrcPort(), u.DstPort(), u.Length())
		copy(c[8:], u.Payload())
		if !bytes.Equal(c[:6], b[:6]) {
			t.Fatal("re-encode")
		}
		SetUDPChecksum(c, testSrc4, testDst4)
		if v, _ := ParseUDP(c); !v.ChecksumValid(testSrc4, testDst4) {
			t.Fatal("SetUDPChecksum result does not verify")
		}
	})
}

func FuzzUDPLite(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUDPLite(b)
		if err != nil {
			return
		}
		if u.Coverage() < 8 || u.Coverage() > u.Length() || u.Length() != len(b) {
			t.Fatalf("coverage %d length %d", u.Coverage(), u.Length())
		}
		_ = u.ChecksumValid(testSrc4, testDst4)
		c := append([]byte(nil), b...)
		SetUDPLiteChecksum(c, testSrc6, testDst6, u.CoverageField())
		v, err := ParseUDPLite(c)
		if err != nil || !v.ChecksumValid(testSrc6, testDst6) || !bytes.Equal(c[:6], b[:6]) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func FuzzTCP(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		seg, err := ParseTCP(b)
		if err != nil {
			return
		}
		if len(seg.Header())+len(seg.Payload()) != len(b) || len(seg.Options()) != seg.HeaderLen()-20 {
			t.Fatal("lengths")
		}
		_ = seg.ChecksumValid(testSrc4, testDst4)
		c := append([]byte(nil), b...)
		h := TCPHeader{SrcPort: seg.SrcPort(), DstPort: seg.DstPort(), Seq: seg.Seq(), Ack: seg.Ack(), Flags: seg.Flags(),
			Window: seg.Window(), Urgent: seg.Urgent(), OptionsLen: len(seg.Options())}
		if h.Encode(c) != seg.HeaderLen() {
			t.Fatal("re-encoded length")
		}
		c[12] |= b[12] & 0x0f // reserved bits and NS are not in TCPHeader
		if !bytes.Equal(c[:16], b[:16]) || !bytes.Equal(c[18:], b[18:]) {
			t.Fatalf("re-encode\n%x\n%x", c, b)
		}
		SetTCPChecksum(c, testSrc4, testDst4)
		if v, _ := ParseTCP(c); !v.ChecksumValid(testSrc4, testDst4) {
			t.Fatal("SetTCPChecksum result does not verify")
		}
		var o TCPOptions
		_ = ParseTCPOptions(seg.Options(), &o)
	})
}

func FuzzTCPOptions(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var o TCPOptions
		if err := ParseTCPOptions(b, &o); err != nil {
			if err != ErrBadLength {
				t.Fatal(err)
			}
			return
		}
		if o.NumSACK < 0 || o.NumSACK > 4 || o.WScale > 14 {
			t.Fatalf("out of range %+v", o)
		}
		// Encode then parse gives the same options, when they fit.
		n := o.EncodedLen()
		if n%4 != 0 || n > 40 {
			t.Fatalf("EncodedLen %d", n)
		}
		c := make([]byte, 40)
		if o.Encode(c) != n {
			t.Fatal("Encode length")
		}
		var p TCPOptions
		if err := ParseTCPOptions(c[:n], &p); err != nil {
			t.Fatal(err)
		}
		want := o
		if room := (40 - o.fixedLen() - 4) / 8; want.NumSACK > room {
			for j := room; j < want.NumSACK; j++ {
				want.SACK[j] = SACKBlock{}
			}
			want.NumSACK = room
		}
		if p != want {
			t.Fatalf("round trip\n got %+v\nwant %+v", p, want)
		}
	})
}

func FuzzIGMP(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseIGMP(b)
		if err != nil {
			return
		}
		_, _, _, _ = m.MaxRespTime(), m.QueryInterval(), m.SFlag(), m.QRV()
		_, _ = m.Group(), m.ChecksumValid()
		if v := m.Version(); v < 1 || v > 3 {
			t.Fatalf("version %d", v)
		}
		for i := -1; i <= m.NumSources(); i++ {
			_ = m.Source(i)
		}
		total := 0
		n := 0
		m.ForEachGroupRecord(func(r IGMPGroupRecord) bool {
			n++
			total += len(r.Bytes())
			for i := -1; i <= r.NumSources(); i++ {
				_ = r.Source(i)
			}
			_, _, _ = r.Type(), r.Group(), r.AuxData()
			if len(r.AuxData()) != r.AuxDataLen() {
				t.Fatal("aux length")
			}
			return true
		})
		if n != m.NumGroupRecords() || 8+total > len(b) || total != m.GroupRecordsLen() {
			t.Fatalf("records %d/%d, %d bytes of %d", n, m.NumGroupRecords(), total, len(b))
		}
		// Re-encode where the format allows.
		switch {
		case m.Version() < 3 && len(b) == 8:
			c := make([]byte, 8)
			PutIGMP(c, m.Type(), m.MaxRespCode(), m.Group())
			if !bytes.Equal(c[4:], b[4:]) || c[0] != b[0] || c[1] != b[1] || m.ChecksumValid() && !sameChecksum(m.Checksum(), binary.BigEndian.Uint16(c[2:])) {
				t.Fatalf("re-encode %x %x", c, b)
			}
		case m.Type() == IGMPMembershipQuery && b[8]&0xf0 == 0:
			srcs := make([]netip.Addr, m.NumSources())
			for i := range srcs {
				srcs[i] = m.Source(i)
			}
			c := make([]byte, IGMPv3QueryLen(len(srcs)))
			PutIGMPv3Query(c, m.MaxRespCode(), m.Group(), m.SFlag(), m.QRV(), m.QQIC(), srcs)
			if !bytes.Equal(c[4:], b[4:len(c)]) || c[0] != b[0] || c[1] != b[1] {
				t.Fatalf("re-encode query\n%x\n%x", c, b)
			}
		}
	})
}
