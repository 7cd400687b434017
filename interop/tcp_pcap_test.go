package interop

import (
	"bytes"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/tcp"
	"github.com/featherip/featherip/wire"
)

// tcpCheckFilter is checkFilter plus bad TCP checksums, less the
// kernel's 0xFFFF ones (kernelFFFF).
const tcpCheckFilter = "(" + checkFilter + ` || tcp.checksum.status == 0) && !(` + kernelFFFF + ")"

// kernelFFFF selects the kernel's segments whose TCP checksum field is
// 0xFFFF: Linux now and then sends one (the one's complement "negative
// zero" an incremental update can give, RFC 1624 3), which checks out
// arithmetically but which Wireshark flags, as a full computation never
// yields it. featherip's own segments get no such allowance.
const kernelFFFF = "ip.src == " + kernelIP + " && tcp.checksum == 0xffff"

// tcpCheckPrefs make tshark verify every checksum it can.
var tcpCheckPrefs = []string{"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"}

// TestTCPPcapClean captures (tshark on the kernel's side of the TAP
// device, 128-byte snapshots) a short echo transfer, a half-closed sink
// transfer and a refused connection, and checks that tshark finds no
// malformed segment, no expert error and no bad checksum. Checksums are
// verified on the segments captured whole: handshakes, ACKs, FINs, RSTs
// and the short echo lines.
func TestTCPPcapClean(t *testing.T) {
	requireTool(t, "tshark", "tshark")
	// Without offloads: with them, the capture on the kernel's side holds
	// partial checksums both ways (the kernel's own and ours), which are
	// never on a wire; TestTCPOffload* check the offloaded path.
	e := setupTCPVnet(t, tcp.Config{}, false)
	file := filepath.Join(t.TempDir(), "tcp.pcap")
	capt := startCapture(t, e.ns, file, "-s", "128")

	// small writes, so that whole segments (checksums verifiable) are captured
	c, err := e.dialKernel(featherIP + ":7")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line := []byte("a line to echo, short enough to be captured whole\n")
	buf := make([]byte, len(line))
	for i := 0; i < 20; i++ {
		if _, err := c.Write(line); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, line) {
			t.Fatalf("echo %d: %q, %v", i, buf, err)
		}
	}
	c.Close()
	// bulk data with a half-close
	c, err = e.dialKernel(featherIP + ":9")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	sent := newStream(5)
	done := kernelSend(c, sent, 1<<20)
	reply, err := io.ReadAll(c)
	if err != nil || <-done != nil || string(reply) != sent.sum()+"\n" {
		t.Fatalf("sink: reply %q, %v", reply, err)
	}
	c.Close()
	if _, err := e.dialKernel(featherIP + ":9999"); err == nil {
		t.Fatal("closed port accepted")
	}

	capt.stop(300 * time.Millisecond)
	args := append([]string{"-r", file}, tcpCheckPrefs...)
	flags := tshark(t, append(args, "-Y", "tcp", "-T", "fields", "-e", "tcp.flags.str", "-e", "tcp.checksum.status")...)
	n := strings.Count(flags, "\n")
	for _, want := range []string{"S", "R", "F"} { // SYN, RST, FIN seen
		if !strings.Contains(flags, want) {
			t.Errorf("no segment with %s in the capture", want)
		}
	}
	// status 1 is "Good": make sure checksums were really verified
	good := 0
	for _, l := range strings.Split(flags, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "1" {
			good++
		}
	}
	if n < 100 || good < 50 {
		t.Errorf("%d TCP segments, %d with a verified checksum: too few", n, good)
	}
	bad := tshark(t, append(args, "-Y", tcpCheckFilter, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info")...)
	if strings.TrimSpace(bad) != "" {
		t.Errorf("tshark flags these frames:\n%s", bad)
	}
	retrans := tshark(t, append(args, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number")...)
	t.Logf("%d TCP segments, %d checksums verified good, %d retransmissions; none malformed", n, good, strings.Count(retrans, "\n"))
}

// TestTCPPcapFilterCatchesBadChecksum makes sure the check above can
// fail: a TCP segment with a wrong checksum is flagged, a right one not.
func TestTCPPcapFilterCatchesBadChecksum(t *testing.T) {
	requireTool(t, "tshark", "tshark")
	src, dst := netip.MustParseAddr(kernelIP), netip.MustParseAddr(featherIP)
	frame := func(breakTCP bool) []byte {
		b, _, seg := ipv4TestFrame(wire.ProtoTCP, wire.TCPMinHeaderLen+4)
		th := wire.TCPHeader{SrcPort: 40000, DstPort: 7, Seq: 1000, Ack: 1, Flags: 0x18, Window: 1000}
		th.Encode(seg)
		copy(seg[wire.TCPMinHeaderLen:], "test")
		wire.SetTCPChecksum(seg, src, dst)
		if breakTCP {
			seg[16] ^= 0x55
		}
		return b
	}
	file := writeTestPcap(t, frame(false), frame(true))
	bad := tshark(t, append(append([]string{"-r", file}, tcpCheckPrefs...), "-Y", tcpCheckFilter, "-T", "fields", "-e", "frame.number")...)
	if got := strings.Fields(bad); len(got) != 1 || got[0] != "2" {
		t.Fatalf("filter flagged frames %q, want 2", got)
	}
}
