package pcap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/linktest"
	"github.com/featherip/featherip/link/pipe"
)

// ipLink presents a pipe end as an IP link (like TUN) without Poller.
type ipLink struct{ e *pipe.End }

func (l ipLink) Kind() link.Kind                { return link.IP }
func (l ipLink) MTU() int                       { return l.e.MTU() }
func (l ipLink) HardwareAddr() net.HardwareAddr { return nil }
func (l ipLink) Send(f []byte) error            { return l.e.Send(f) }
func (l ipLink) Receive(b []byte) (int, error)  { return l.e.Receive(b) }
func (l ipLink) Close() error                   { return l.e.Close() }

// arpRequest builds an Ethernet ARP request (RFC 826).
func arpRequest(src net.HardwareAddr, spa, tpa [4]byte) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(p[2:], 0x0800) // IPv4
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:], 1) // request
	copy(p[8:], src)
	copy(p[14:], spa[:])
	copy(p[24:], tpa[:])
	return linktest.Frame([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src, 0x0806, p)
}

// udpPacket builds an IPv4 UDP packet (RFC 791, RFC 768) with a valid
// header checksum and no UDP checksum.
func udpPacket(payload string) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = 17
	copy(p[12:], []byte{192, 168, 7, 2})
	copy(p[16:], []byte{192, 168, 7, 1})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], 9)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}

func readAll(t *testing.T, r io.Reader) (*Reader, []Packet) {
	t.Helper()
	rd, err := NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	var ps []Packet
	for {
		p, err := rd.Next()
		if err == io.EOF {
			return rd, ps
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = append([]byte(nil), p.Data...)
		ps = append(ps, p)
	}
}

func TestWrapRoundTrip(t *testing.T) {
	for _, nano := range []bool{false, true} {
		var clk linktest.Clock
		origin := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		a, b := pipe.New(pipe.Config{Clock: &clk})
		var buf bytes.Buffer
		ca := Wrap(a, &buf, Options{Clock: &clk, Origin: origin, Nanosecond: nano})
		if _, ok := ca.(link.Poller); !ok {
			t.Fatal("capture of a Poller is not a Poller")
		}
		if ca.HardwareAddr().String() != a.HardwareAddr().String() || ca.MTU() != 1500 || ca.Kind() != link.Ethernet {
			t.Fatal("wrapper does not pass through link properties")
		}
		f1 := arpRequest(a.HardwareAddr(), [4]byte{192, 168, 7, 2}, [4]byte{192, 168, 7, 1})
		clk.Set(1500 * time.Millisecond)
		if err := ca.Send(f1); err != nil {
			t.Fatal(err)
		}
		f2 := linktest.Frame(a.HardwareAddr(), b.HardwareAddr(), 0x0800, udpPacket("reply"))
		b.Send(f2)
		clk.Set(2*time.Second + 1234567)
		rbuf := make([]byte, 2048)
		n, ok := ca.(link.Poller).TryReceive(rbuf)
		if !ok || !bytes.Equal(rbuf[:n], f2) {
			t.Fatal("TryReceive through capture failed")
		}
		// A failed Send is not captured.
		if err := ca.Send(make([]byte, 3000)); !errors.Is(err, link.ErrFrameTooLong) {
			t.Fatal(err)
		}
		if err := ca.Close(); err != nil {
			t.Fatal(err)
		}
		if st := ca.(*PollLink).Stats(); st.Captured != 2 || st.Failed != 0 {
			t.Fatalf("stats %+v", st)
		}

		rd, ps := readAll(t, &buf)
		if rd.LinkType != LinkTypeEthernet || rd.Nanosecond() != nano || rd.SnapLen != DefaultSnapLen {
			t.Fatalf("header: type %d nano %v snap %d", rd.LinkType, rd.Nanosecond(), rd.SnapLen)
		}
		if len(ps) != 2 {
			t.Fatalf("%d packets, want 2", len(ps))
		}
		base := time.Duration(origin.UnixNano())
		wantTS := []time.Duration{base + 1500*time.Millisecond, base + 2*time.Second + 1234567}
		if !nano {
			wantTS[1] = base + 2*time.Second + 1234*time.Microsecond
		}
		for i, want := range [][]byte{f1, f2} {
			if !bytes.Equal(ps[i].Data, want) || ps[i].OrigLen != len(want) {
				t.Fatalf("packet %d differs", i)
			}
			if ps[i].Timestamp != wantTS[i] {
				t.Fatalf("packet %d at %v, want %v", i, ps[i].Timestamp, wantTS[i])
			}
		}
	}
}

func TestWrapIPLinkAndWallClock(t *testing.T) {
	a, b := pipe.New(pipe.Config{})
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	c := Wrap(ipLink{a}, bw, Options{SnapLen: 30})
	if _, ok := c.(link.Poller); ok {
		t.Fatal("capture of a non-Poller claims to be a Poller")
	}
	before := time.Now()
	pkt := udpPacket("0123456789")
	if err := c.Send(pkt); err != nil {
		t.Fatal(err)
	}
	b.Send(udpPacket("x"))
	rb := make([]byte, 100)
	if _, err := c.Receive(rb); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	c.Close() // flushes bw
	b.Close()
	rd, ps := readAll(t, &buf)
	if rd.LinkType != LinkTypeRaw || len(ps) != 2 {
		t.Fatalf("type %d, %d packets", rd.LinkType, len(ps))
	}
	if len(ps[0].Data) != 30 || ps[0].OrigLen != len(pkt) || !bytes.Equal(ps[0].Data, pkt[:30]) {
		t.Fatalf("snap cut wrong: %d/%d", len(ps[0].Data), ps[0].OrigLen)
	}
	for _, p := range ps {
		ts := time.Unix(0, int64(p.Timestamp))
		if ts.Before(before.Truncate(time.Microsecond)) || ts.After(after) {
			t.Fatalf("timestamp %v not within [%v, %v]", ts, before, after)
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestWriteErrorKeepsLinkWorking(t *testing.T) {
	var clk linktest.Clock
	a, b := pipe.New(pipe.Config{Clock: &clk})
	c := Wrap(a, &failWriter{n: 1}, Options{Clock: &clk}).(*PollLink) // header only
	for i := 0; i < 3; i++ {
		if err := c.Send(make([]byte, 20)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Err() == nil || c.Stats().Failed != 3 || c.Stats().Captured != 0 {
		t.Fatalf("err %v stats %+v", c.Err(), c.Stats())
	}
	if b.Stats().Received+uint64(func() int {
		n := 0
		for {
			if _, ok := b.TryReceive(make([]byte, 64)); !ok {
				return n
			}
			n++
		}
	}()) != 3 {
		t.Fatal("frames did not pass the failing capture")
	}
	if c.Unwrap() != link.Link(a) {
		t.Fatal("Unwrap")
	}
	// A writer that fails the file header.
	d := Wrap(b, &failWriter{}, Options{}).(*PollLink)
	if d.Err() == nil {
		t.Fatal("header write error not reported")
	}
}

func TestReaderErrors(t *testing.T) {
	var good bytes.Buffer
	w, err := NewWriter(&good, LinkTypeEthernet, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	w.WritePacket(time.Second, []byte("0123456789abcdef"))
	file := good.Bytes()
	// Every truncation of the file header is rejected.
	for n := 0; n < fileHeaderLen; n++ {
		if _, err := NewReader(bytes.NewReader(file[:n])); !errors.Is(err, ErrBadHeader) {
			t.Fatalf("header cut to %d: %v", n, err)
		}
	}
	// Every truncation inside the record is an error, not EOF.
	for n := fileHeaderLen + 1; n < len(file); n++ {
		rd, err := NewReader(bytes.NewReader(file[:n]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rd.Next(); !errors.Is(err, ErrBadHeader) {
			t.Fatalf("record cut to %d: %v", n, err)
		}
	}
	bad := append([]byte(nil), file...)
	bad[0] = 0
	if _, err := NewReader(bytes.NewReader(bad)); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("bad magic: %v", err)
	}
	bad = append([]byte(nil), file...)
	bad[4] = 3
	if _, err := NewReader(bytes.NewReader(bad)); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("bad version: %v", err)
	}
	bad = append([]byte(nil), file...)
	binary.LittleEndian.PutUint32(bad[fileHeaderLen+8:], MaxSnapLen+1)
	rd, _ := NewReader(bytes.NewReader(bad))
	if _, err := rd.Next(); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("oversized record: %v", err)
	}
	bad = append([]byte(nil), file...)
	binary.LittleEndian.PutUint32(bad[fileHeaderLen+4:], 1e6)
	rd, _ = NewReader(bytes.NewReader(bad))
	if _, err := rd.Next(); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("bad microseconds: %v", err)
	}
	if _, err := NewWriter(io.Discard, 1, -1, false); err == nil {
		t.Fatal("negative snaplen accepted")
	}
}

func TestReaderBigEndian(t *testing.T) {
	// A big-endian nanosecond file as another machine would write it.
	var f bytes.Buffer
	hdr := make([]byte, 24)
	binary.BigEndian.PutUint32(hdr[0:], MagicNanoseconds)
	binary.BigEndian.PutUint16(hdr[4:], 2)
	binary.BigEndian.PutUint16(hdr[6:], 4)
	binary.BigEndian.PutUint32(hdr[16:], 65535)
	binary.BigEndian.PutUint32(hdr[20:], LinkTypeRaw)
	f.Write(hdr)
	rec := make([]byte, 16)
	binary.BigEndian.PutUint32(rec[0:], 7)
	binary.BigEndian.PutUint32(rec[4:], 999999999)
	binary.BigEndian.PutUint32(rec[8:], 3)
	binary.BigEndian.PutUint32(rec[12:], 100)
	f.Write(rec)
	f.WriteString("abc")
	rd, ps := readAll(t, &f)
	if rd.LinkType != LinkTypeRaw || !rd.Nanosecond() || len(ps) != 1 {
		t.Fatal("big-endian header misread")
	}
	if ps[0].Timestamp != 7*time.Second+999999999 || ps[0].OrigLen != 100 || string(ps[0].Data) != "abc" {
		t.Fatalf("record misread: %+v", ps[0])
	}
}

// TestTshark checks that an independent decoder reads our captures.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install -y tshark); skipping the independent decoder check")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		ip    bool
		frame []byte
		want  string
	}{
		{"eth.pcap", false, arpRequest(pipe.DefaultMACA, [4]byte{192, 168, 7, 2}, [4]byte{192, 168, 7, 1}), "eth:ethertype:arp"},
		{"raw.pcap", true, udpPacket("hi"), "raw:ip:udp"},
	} {
		var clk linktest.Clock
		clk.Set(time.Hour)
		a, b := pipe.New(pipe.Config{Clock: &clk})
		var l link.Link = a
		if tc.ip {
			l = ipLink{a}
		}
		path := filepath.Join(dir, tc.name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		c := Wrap(l, f, Options{Clock: &clk, Nanosecond: tc.ip})
		c.Send(tc.frame)
		c.Send(tc.frame)
		c.Close()
		b.Close()
		f.Close()
		out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.protocols", "-e", "frame.time_epoch").CombinedOutput()
		if err != nil {
			t.Fatalf("tshark -r %s: %v\n%s", tc.name, err, out)
		}
		var lines []string
		for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(ln, "\t") {
				lines = append(lines, ln)
			}
		}
		if len(lines) != 2 {
			t.Fatalf("tshark decoded %d packets of %s, want 2:\n%s", len(lines), tc.name, out)
		}
		for _, ln := range lines {
			fields := strings.Split(ln, "\t")
			if !strings.HasPrefix(fields[0], tc.want) {
				t.Fatalf("tshark decoded %s as %q, want %q", tc.name, fields[0], tc.want)
			}
			if !strings.HasPrefix(fields[1], "3600.000000") {
				t.Fatalf("tshark timestamp %q, want 3600", fields[1])
			}
		}
	}
}

func TestCaptureNoAllocs(t *testing.T) {
	var clk linktest.Clock
	a, b := pipe.New(pipe.Config{Clock: &clk})
	c := Wrap(a, io.Discard, Options{Clock: &clk}).(*PollLink)
	frame := make([]byte, 1514)
	buf := make([]byte, 1514)
	c.Send(frame)
	b.Send(frame)
	c.TryReceive(buf)
	allocs := testing.AllocsPerRun(1000, func() {
		c.Send(frame)
		b.Send(frame)
		c.TryReceive(buf)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per captured frame", allocs)
	}
}
