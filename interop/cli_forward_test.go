package interop

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/featherip/featherip/internal/netns"
)

// TestCLIForward runs `featherip up --forward` with two TAP devices as a
// router between two Linux namespaces (Linux A — featherip — Linux B):
// the devices are created in the router's namespace, then each is moved
// into its Linux host's namespace, and A pings B over IPv4 and IPv6
// through featherip, with a traceroute that sees featherip as hop 1.
func TestCLIForward(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	bin, r := cliEnv(t)
	a, b := netns.New(t), netns.New(t)
	run := startCLI(t, r, bin, "up", "--forward", "--no-slaac",
		"--tap", "fwa0,10.11.0.1/24,fd11::1/64",
		"--tap", "fwb0,10.12.0.1/24,fd12::1/64")
	if l := run.ready; !strings.HasPrefix(l, "ready fwa0 ") || !strings.Contains(l, "fwb0") {
		t.Fatalf("first line %q, want a ready line naming both devices; stderr: %s", l, run.Stderr())
	}
	t.Logf("%s", run.ready)

	// Hand each device to its Linux host and route through featherip.
	for _, h := range []struct {
		ns             *netns.NS
		dev, v4, v6    string
		gw4, gw6, peer string
	}{
		{a, "fwa0", "10.11.0.2/24", "fd11::2/64", "10.11.0.1", "fd11::1", "B"},
		{b, "fwb0", "10.12.0.2/24", "fd12::2/64", "10.12.0.1", "fd12::1", "A"},
	} {
		r.Run("ip", "link", "set", h.dev, "netns", h.ns.Name)
		h.ns.Run("ip", "addr", "add", h.v4, "dev", h.dev)
		h.ns.Run("ip", "-6", "addr", "add", h.v6, "dev", h.dev, "nodad")
		h.ns.Run("ip", "link", "set", h.dev, "up")
		h.ns.Run("ip", "route", "add", "default", "via", h.gw4)
		h.ns.Run("ip", "-6", "route", "add", "default", "via", h.gw6)
	}
	if out, err := a.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.12.0.2"); err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("IPv4 ping A -> B through featherip: %v\n%s", err, out)
	}
	if out, err := a.Try("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", "fd12::2"); err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("IPv6 ping A -> B through featherip: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("traceroute"); err == nil {
		out, err := a.Try("traceroute", "-n", "-q", "1", "-w", "2", "-m", "4", "10.12.0.2")
		if err != nil {
			t.Fatalf("traceroute: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), " 1  10.11.0.1 ") {
			t.Errorf("traceroute does not show featherip (10.11.0.1) as hop 1:\n%s", out)
		}
	}

	text := run.stop()
	if !strings.Contains(text, "Stack.IP.ForwDatagrams ") {
		t.Errorf("no IPv4 forwarding counter in the exit counters:\n%s", text)
	}
}
