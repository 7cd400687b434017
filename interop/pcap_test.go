package interop

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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

	capt := startCapture(t, e.ns, theirs)
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

	capt.stop(300 * time.Millisecond)
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
	src, dst := netip.MustParseAddr(kernelIP), netip.MustParseAddr(featherIP)
	frame := func(breakIP, breakUDP bool) []byte {
		b, ip, seg := ipv4TestFrame(wire.ProtoUDP, wire.UDPHeaderLen+4)
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
	file := writeTestPcap(t, frame(false, false), frame(true, false), frame(false, true))
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

// ipv4TestFrame returns an Ethernet frame from 02:00:00:00:00:02 to
// 02:00:00:00:00:01 holding an IPv4 header (kernelIP to featherIP,
// protocol proto) and room for a payload of n bytes, with the IP datagram
// and the payload as slices of it.
func ipv4TestFrame(proto uint8, n int) (frame, ip, payload []byte) {
	frame = make([]byte, wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+n)
	wire.PutEthernet(frame, wire.MAC{2, 0, 0, 0, 0, 2}, wire.MAC{2, 0, 0, 0, 0, 1}, wire.EtherTypeIPv4)
	ip = frame[wire.EthernetHeaderLen:]
	h := wire.IPv4Header{TotalLength: len(ip), TTL: 64, Protocol: proto,
		Src: netip.MustParseAddr(kernelIP), Dst: netip.MustParseAddr(featherIP)}
	h.Encode(ip)
	return frame, ip, ip[wire.IPv4MinHeaderLen:]
}

// writeTestPcap writes frames to a new Ethernet capture file and returns
// its path.
func writeTestPcap(t *testing.T, frames ...[]byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "bad.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcap.NewWriter(f, pcap.LinkTypeEthernet, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		if err := w.WritePacket(0, fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return file
}
