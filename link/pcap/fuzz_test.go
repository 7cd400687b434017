package pcap

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"
)

func sampleFile(nano bool, pkts ...[]byte) []byte {
	var b bytes.Buffer
	w, _ := NewWriter(&b, LinkTypeEthernet, 0, nano)
	for i, p := range pkts {
		w.WritePacket(time.Duration(i)*time.Second+123456789, p)
	}
	return b.Bytes()
}

// FuzzReader feeds arbitrary files to the Reader: it must never panic,
// must bound what it returns, and every packet it accepts must survive a
// write and read round trip unchanged.
func FuzzReader(f *testing.F) {
	f.Add(sampleFile(false, []byte("abc"), nil, make([]byte, 60)))
	f.Add(sampleFile(true, []byte("xyz")))
	f.Add([]byte{})
	be := make([]byte, 40)
	binary.BigEndian.PutUint32(be, MagicMicroseconds)
	binary.BigEndian.PutUint16(be[4:], 2)
	binary.BigEndian.PutUint32(be[32:], 0)
	f.Add(be)
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		type rec struct {
			ts   time.Duration
			orig int
			data []byte
		}
		var recs []rec
		for {
			p, err := rd.Next()
			if err != nil {
				break
			}
			if len(p.Data) > MaxSnapLen || p.OrigLen < len(p.Data) || p.Timestamp < 0 {
				t.Fatalf("bad packet: %d bytes, orig %d, ts %v", len(p.Data), p.OrigLen, p.Timestamp)
			}
			recs = append(recs, rec{p.Timestamp, p.OrigLen, append([]byte(nil), p.Data...)})
		}
		var out bytes.Buffer
		w, err := NewWriter(&out, rd.LinkType, MaxSnapLen, rd.Nanosecond())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			// WritePacket records len(data) as the original length.
			if err := w.WritePacket(r.ts, r.data); err != nil {
				t.Fatal(err)
			}
		}
		rd2, err := NewReader(&out)
		if err != nil {
			t.Fatal(err)
		}
		if rd2.LinkType != rd.LinkType || rd2.Nanosecond() != rd.Nanosecond() {
			t.Fatal("header changed in round trip")
		}
		for i, r := range recs {
			p, err := rd2.Next()
			if err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
			if p.Timestamp != r.ts || !bytes.Equal(p.Data, r.data) || p.OrigLen != len(r.data) {
				t.Fatalf("packet %d changed in round trip", i)
			}
		}
		if _, err := rd2.Next(); err != io.EOF {
			t.Fatalf("extra data after round trip: %v", err)
		}
	})
}
