package interop

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

var discardRe = regexp.MustCompile(`(?m)^Services\.DiscardDatagrams (\d+)$`)

// TestCLIUpOptions runs `featherip up` on a TAP device that already
// exists, with --host-addr none (the test configures the kernel side),
// --addr, --gateway, --mtu 1400 and --pcap, and checks each end to end:
// the ready line lists the address; ping works, and a reply larger than
// 1400 bytes leaves featherip in fragments no larger than its MTU (read
// from the --pcap file with tshark, which finds it clean); a ping from an
// address beyond the subnet is answered through the gateway; UDP
// datagrams to the discard port (9) get no answer and are counted; on
// SIGTERM it stops cleanly, prints its counters and leaves the device and
// the kernel's address in place, as it did not create them.
func TestCLIUpOptions(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	requireTool(t, "socat", "socat")
	requireTool(t, "tshark", "tshark")
	bin, ns := cliEnv(t)
	const dev = "fipo0"
	ns.Run("ip", "tuntap", "add", "dev", dev, "mode", "tap")
	ns.Run("ip", "addr", "add", "10.9.0.1/24", "dev", dev)
	ns.Run("ip", "link", "set", "dev", dev, "up")
	// An address beyond featherip's subnet (TEST-NET-2), reachable for
	// featherip only through its gateway 10.9.0.1.
	ns.Run("ip", "addr", "add", "198.51.100.1/32", "dev", "lo")
	pcapFile := filepath.Join(t.TempDir(), "up.pcap")

	run := startCLI(t, ns, bin, "up", "--tap", dev, "--host-addr", "none", "--addr", "10.9.0.2/24",
		"--gateway", "10.9.0.1", "--mtu", "1400", "--pcap", pcapFile)
	if !strings.HasPrefix(run.ready, "ready "+dev+" 10.9.0.2/24 ") {
		t.Fatalf("first line %q, want the ready line with 10.9.0.2/24; stderr: %s", run.ready, run.Stderr())
	}
	for _, args := range [][]string{
		{"-s", "56", "10.9.0.2"},
		{"-s", "3000", "10.9.0.2"},                     // the reply is fragmented at featherip's MTU
		{"-s", "56", "-I", "198.51.100.1", "10.9.0.2"}, // the reply goes through the gateway
	} {
		out, err := ns.Try(append([]string{"ping", "-c", "2", "-i", "0.2", "-W", "2"}, args...)...)
		if err != nil || !strings.Contains(string(out), " 0% packet loss") {
			t.Fatalf("ping %v: %v\n%s", args, err, out)
		}
	}
	for range 3 {
		sc := ns.Command("socat", "-t", "0.5", "-", "UDP:10.9.0.2:9")
		sc.Stdin = strings.NewReader("to be discarded\n")
		if got, err := sc.Output(); err != nil || len(got) != 0 {
			t.Errorf("UDP to the discard port: answer %q, %v; want none", got, err)
		}
	}

	text := run.stopWith(syscall.SIGTERM)
	if m := discardRe.FindStringSubmatch(text); m == nil {
		t.Errorf("no Services.DiscardDatagrams counter in the output:\n%s", text)
	} else if n, _ := strconv.Atoi(m[1]); n != 3 {
		t.Errorf("DiscardDatagrams = %d, want 3", n)
	}
	if _, err := ns.Try("ip", "link", "show", dev); err != nil {
		t.Errorf("%s is gone after featherip stopped; it existed before", dev)
	}
	if out := ns.Run("ip", "-o", "-4", "addr", "show", "dev", dev); !strings.Contains(string(out), "10.9.0.1/24") {
		t.Errorf("the kernel's address on %s changed: %s", dev, out)
	}

	// The --pcap file: clean in tshark, featherip's fragments within 1400.
	if bad := tshark(t, append(append([]string{"-r", pcapFile}, tcpCheckPrefs...), "-Y", checkFilter, "-T", "fields", "-e", "frame.number")...); strings.TrimSpace(bad) != "" {
		t.Errorf("tshark flags frames of the --pcap file: %s", bad)
	}
	lens := strings.Fields(tshark(t, "-r", pcapFile, "-Y", "ip.src == 10.9.0.2 && (ip.flags.mf == 1 || ip.frag_offset > 0)", "-T", "fields", "-e", "ip.len"))
	if len(lens) < 4 {
		t.Fatalf("%d fragments from featherip in the --pcap file, want the two 3028-byte replies in fragments", len(lens))
	}
	for _, l := range lens {
		if n, err := strconv.Atoi(l); err != nil || n > 1400 {
			t.Errorf("fragment of %s bytes from featherip: want at most its MTU, 1400", l)
		}
	}
	if n := strings.Count(tshark(t, "-r", pcapFile, "-Y", "icmp.type == 0 && ip.dst == 198.51.100.1", "-T", "fields", "-e", "frame.number"), "\n"); n < 2 {
		t.Errorf("%d echo replies to 198.51.100.1 in the --pcap file, want 2", n)
	}
}
