package interop

import (
	"regexp"
	"strings"
	"testing"
	"time"
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

var addedSLAACRe = regexp.MustCompile(`^address added ` + tapName + ` (2001:db8:7:[0-9a-f:]+)/64$`)

// TestV6CLISLAAC runs `featherip up` with its defaults and radvd on the
// kernel side advertising 2001:db8:7::/64: featherip forms a SLAAC address
// (RFC 4862) after its ready line, prints it as an "address added" line,
// and Linux reaches it with ping. Started again, featherip forms the same
// address (RFC 7217: its key comes from the machine ID).
func TestV6CLISLAAC(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	bin, ns := cliEnv(t)
	run := startCLI(t, ns, bin, "up", "--tap", tapName)
	if !strings.HasPrefix(run.ready, "ready "+tapName+" ") || !strings.Contains(run.ready, " fe80::") {
		t.Fatalf("first line %q, want the ready line with a link-local address; stderr: %s", run.ready, run.Stderr())
	}
	startRadvd(t, ns)
	m := run.waitLine(addedSLAACRe, 15*time.Second)
	if m == nil {
		t.Fatalf("no SLAAC address from radvd's 2001:db8:7::/64 printed; output so far:\n%s", run.stop())
	}
	t.Logf("formed %s", m[1])
	out, err := ns.Try("ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", m[1])
	if err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Errorf("ping -6 %s: %v\n%s", m[1], err, out)
	}
	run.stop()
	again := startCLI(t, ns, bin, "up", "--tap", tapName)
	m2 := again.waitLine(addedSLAACRe, 15*time.Second)
	if m2 == nil || m2[1] != m[1] {
		t.Errorf("restarted, featherip formed %v, want %s again", m2, m[1])
	}
	again.stop()
}
