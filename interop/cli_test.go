package interop

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/featherip/featherip/internal/netns"
)

// buildCLI builds cmd/featherip into a fresh directory that any user may
// read and run.
func buildCLI(t *testing.T) string {
	t.Helper()
	requireTool(t, "go", "golang-go")
	dir, err := os.MkdirTemp("", "featherip-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "featherip")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/featherip/featherip/cmd/featherip").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var echosRe = regexp.MustCompile(`(?m)^Stack\.ICMP\.InEchos (\d+)$`)

// TestCLIUp runs `featherip up` in a namespace: it creates its TAP device,
// prints its ready line, answers ping and UDP echo, and on SIGINT exits 0
// with its counters and removes the device.
func TestCLIUp(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	bin, ns := cliEnv(t)
	const dev = "fipc0"
	run := startCLI(t, ns, bin, "up", "--tap", dev)
	ready := run.ready
	if !strings.HasPrefix(ready, "ready "+dev+" 192.168.7.2/24 mac ") || !strings.Contains(ready, "ping 192.168.7.2") {
		t.Fatalf("first line %q, want the ready line; stderr: %s", ready, run.Stderr())
	}
	t.Logf("%s", ready)
	ns.Run("ip", "link", "show", dev)
	if out := ns.Run("ip", "-o", "-4", "addr", "show", "dev", dev); !strings.Contains(string(out), "192.168.7.1/24") {
		t.Errorf("kernel side lacks 192.168.7.1/24: %s", out)
	}
	out := ns.Run("ping", "-c", "3", "-i", "0.2", "-W", "2", "192.168.7.2")
	if !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("ping: %s", out)
	}
	if _, err := exec.LookPath("socat"); err == nil {
		sc := ns.Command("socat", "-t", "1", "-", "UDP:192.168.7.2:7")
		sc.Stdin = strings.NewReader("hello\n")
		if got, err := sc.Output(); err != nil || string(got) != "hello\n" {
			t.Errorf("UDP echo via the CLI: %q, %v", got, err)
		}
	}

	text := run.stop()
	m := echosRe.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no Stack.ICMP.InEchos counter in the output:\n%s", text)
	}
	if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("InEchos = %d, want >= 3", n)
	}
	for _, group := range []string{"[Stack.IP]", "[Stack.ARP]", "[UDP]", "[Shell]", "[Services]"} {
		if !strings.Contains(text, group) {
			t.Errorf("counter group %s missing from:\n%s", group, text)
		}
	}
	if _, err := ns.Try("ip", "link", "show", dev); err == nil {
		t.Errorf("%s still exists after featherip stopped", dev)
	}
}

// TestCLINeedsPrivilege runs `featherip up` as an unprivileged user: it must
// say in one line what privilege is missing and exit non-zero.
func TestCLINeedsPrivilege(t *testing.T) {
	requireTool(t, "setpriv", "util-linux")
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user: run sudo go test ./interop/")
	}
	bin := buildCLI(t)
	ns := netns.New(t)
	cmd := ns.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "up", "--tap", "fipn0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("unprivileged run: err %v, want a non-zero exit; stdout %q stderr %q", err, stdout.String(), stderr.String())
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "CAP_NET_ADMIN") || !strings.Contains(msg, "root") {
		t.Fatalf("stderr %q: want one line naming CAP_NET_ADMIN and root", msg)
	}
	if strings.Contains(stdout.String(), "ready") {
		t.Fatalf("printed ready without privilege: %q", stdout.String())
	}
	if _, err := ns.Try("ip", "link", "show", "fipn0"); err == nil {
		t.Errorf("fipn0 was created by an unprivileged run")
	}
}
