package interop

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/link/pcap"
	"github.com/featherip/featherip/wire"
)

// checkFilter selects malformed packets, expert errors and bad checksums
// (Wireshark's checksum status 0 is "Bad").
const checkFilter = `_ws.malformed || _ws.expert.severity >= error || ` +
	`ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0`

// TestPcapCleanInTshark captures a ping and UDP exchange twice, with
// featherip's link/pcap wrapper and with tshark on the kernel's side of the
// TAP device, and checks that tshark finds nothing malformed and no bad
// checksum in either capture.
func TestPcapCleanInTshark(t *testing.T) {
	requireTool(t, "tshark", "tshark")
	requireTool(t, "ping", "iputils-ping")
	requireTool(t, "socat", "socat")
	dir := t.TempDir()
	ours := filepath.Join(dir, "featherip.pcap")
	theirs := filepath.Join(dir, "tshark.pcap")
	e := setup(t, ours)

	capt := e.ns.Command("tshark", "-i", tapName, "-w", theirs)
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

	// "Capturing on" comes a little before the capture really runs.
	time.Sleep(time.Second)
	// Make the kernel resolve featherip again, so tshark sees ARP too.
	e.ns.Run("ip", "neigh", "flush", "dev", tapName)
	e.ns.Run("ping", "-c", "3", "-i", "0.2", "-s", "3000", "-W", "2", featherIP)
	e.ns.Run("ping", "-c", "2", "-i", "0.2", "-W", "2", featherIP)
	sc := e.ns.Command("socat", "-t", "1", "-", "UDP:"+featherIP+":7")
	sc.Stdin = strings.NewReader(strings.Repeat("hello featherip\n", 50))
	if out, err := sc.CombinedOutput(); err != nil {
		t.Fatalf("socat: %v: %s", err, out)
	}
	// a closed port, for an ICMP error in the captures
	sc = e.ns.Command("socat", "-t", "0.5", "-", "UDP:"+featherIP+":9999")
	sc.Stdin = strings.NewReader("nobody\n")
	sc.Run()

	time.Sleep(300 * time.Millisecond)
	capt.Process.Signal(syscall.SIGINT)
	if err := capt.Wait(); err != nil {
		t.Logf("tshark exit: %v\n%s", err, capLog.String())
	}
	if err := e.host.Close(); err != nil { // flushes our capture
		t.Fatal(err)
	}

	for _, file := range []string{ours, theirs} {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		protos := tshark(t, "-r", file, "-T", "fields", "-e", "frame.protocols")
		for _, want := range []string{"arp", "icmp", "udp"} {
			if !strings.Contains(protos, want) {
				t.Errorf("%s (%d bytes): no %s frames in\n%s", filepath.Base(file), st.Size(), want, protos)
			}
		}
		bad := tshark(t, "-r", file,
			"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
			"-Y", checkFilter, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info")
		if strings.TrimSpace(bad) != "" {
			t.Errorf("%s: tshark flags these frames:\n%s", filepath.Base(file), bad)
		}
		n := strings.Count(protos, "\n")
		t.Logf("%s: %d frames, clean", filepath.Base(file), n)
	}
}

// TestPcapFilterCatchesBadChecksum makes sure the check above can fail: a
// frame with a wrong UDP checksum and one with a wrong IP checksum are
// flagged.
func TestPcapFilterCatchesBadChecksum(t *testing.T) {
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
	frame := func(breakIP, breakUDP bool) []byte {
		b := make([]byte, wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+wire.UDPHeaderLen+4)
		wire.PutEthernet(b, wire.MAC{2, 0, 0, 0, 0, 2}, wire.MAC{2, 0, 0, 0, 0, 1}, wire.EtherTypeIPv4)
		ip := b[wire.EthernetHeaderLen:]
		h := wire.IPv4Header{TotalLength: len(ip), TTL: 64, Protocol: wire.ProtoUDP, Src: src, Dst: dst}
		h.Encode(ip)
		seg := ip[wire.IPv4MinHeaderLen:]
		wire.PutUDP(seg, 1000, 7, len(seg))
		copy(seg[wire.UDPHeaderLen:], "test")
		wire.SetUDPChecksum(seg, src, dst)
		if breakIP {
			ip[10] ^= 0x55
		}
		if breakUDP {
			seg[6] ^= 0x55
		}
		return b
	}
	for _, fr := range [][]byte{frame(false, false), frame(true, false), frame(false, true)} {
		if err := w.WritePacket(0, fr); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	bad := tshark(t, "-r", file, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", checkFilter, "-T", "fields", "-e", "frame.number")
	if got := strings.Fields(bad); len(got) != 2 || got[0] != "2" || got[1] != "3" {
		t.Fatalf("filter flagged frames %q, want 2 and 3", got)
	}
}

// tshark runs tshark (outside the namespace: it only reads files) and
// returns its standard output.
func tshark(t *testing.T, args ...string) string {
	t.Helper()
	cmd := execCommand("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
