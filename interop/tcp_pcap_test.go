package interop

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/link/pcap"
	"github.com/featherip/featherip/tcp"
	"github.com/featherip/featherip/wire"
)

// tcpCheckFilter is checkFilter plus bad TCP checksums.
const tcpCheckFilter = checkFilter + ` || tcp.checksum.status == 0`

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
	capt := e.ns.Command("tshark", "-i", tapName, "-s", "128", "-w", file)
	stderr, err := capt.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := capt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if capt.ProcessState == nil {
			capt.Process.Kill()
			capt.Wait()
		}
	})
	ready := make(chan struct{})
	var capLog bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			capLog.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "Capturing on") {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatalf("tshark did not start capturing")
	}
	time.Sleep(time.Second) // "Capturing on" comes a little before the capture runs

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

	time.Sleep(300 * time.Millisecond)
	capt.Process.Signal(syscall.SIGINT)
	if err := capt.Wait(); err != nil {
		t.Logf("tshark exit: %v\n%s", err, capLog.String())
	}
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
	file := filepath.Join(t.TempDir(), "bad.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcap.NewWriter(f, pcap.LinkTypeEthernet, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := netip.MustParseAddr(kernelIP), netip.MustParseAddr(featherIP)
	frame := func(breakTCP bool) []byte {
		b := make([]byte, wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+wire.TCPMinHeaderLen+4)
		wire.PutEthernet(b, wire.MAC{2, 0, 0, 0, 0, 2}, wire.MAC{2, 0, 0, 0, 0, 1}, wire.EtherTypeIPv4)
		ip := b[wire.EthernetHeaderLen:]
		h := wire.IPv4Header{TotalLength: len(ip), TTL: 64, Protocol: wire.ProtoTCP, Src: src, Dst: dst}
		h.Encode(ip)
		seg := ip[wire.IPv4MinHeaderLen:]
		th := wire.TCPHeader{SrcPort: 40000, DstPort: 7, Seq: 1000, Ack: 1, Flags: 0x18, Window: 1000}
		th.Encode(seg)
		copy(seg[wire.TCPMinHeaderLen:], "test")
		wire.SetTCPChecksum(seg, src, dst)
		if breakTCP {
			seg[16] ^= 0x55
		}
		return b
	}
	for _, fr := range [][]byte{frame(false), frame(true)} {
		if err := w.WritePacket(0, fr); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	bad := tshark(t, append(append([]string{"-r", file}, tcpCheckPrefs...), "-Y", tcpCheckFilter, "-T", "fields", "-e", "frame.number")...)
	if got := strings.Fields(bad); len(got) != 1 || got[0] != "2" {
		t.Fatalf("filter flagged frames %q, want 2", got)
	}
}
