package interop

import (
	"regexp"
	"strings"
	"testing"
)

var readyLLRe = regexp.MustCompile(` ipv6 (fe80::[0-9a-f:]+)/64 fd00:7::2/64 host6 fd00:7::1/64 `)

// TestV6CLIUp runs `featherip up --addr6 fd00:7::2/64 --host-addr6
// fd00:7::1/64`: the ready line comes after the link-local address passed
// DAD and lists it with the static one; Linux pings both.
func TestV6CLIUp(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	bin, ns := cliEnv(t)
	const dev = "fipc6"
	run := startCLI(t, ns, bin, "up", "--tap", dev, "--addr6", "fd00:7::2/64", "--host-addr6", "fd00:7::1/64")
	ready := run.ready
	t.Logf("%s", ready)
	if !strings.HasPrefix(ready, "ready "+dev+" 192.168.7.2/24 mac ") {
		t.Fatalf("first line %q, want the ready line; stderr: %s", ready, run.Stderr())
	}
	m := readyLLRe.FindStringSubmatch(ready)
	if m == nil {
		t.Fatalf("ready line %q lacks the link-local and static IPv6 addresses", ready)
	}
	for _, dst := range []string{m[1] + "%" + dev, "fd00:7::2"} {
		out, err := ns.Try("ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "-s", "2000", dst)
		if err != nil || !strings.Contains(string(out), " 0% packet loss") {
			t.Errorf("ping -6 %s: %v\n%s", dst, err, out)
		}
	}
	if text := run.stop(); !strings.Contains(text, "[Stack.ICMPv6]") {
		t.Errorf("no ICMPv6 counters in the output:\n%s", text)
	}
}
