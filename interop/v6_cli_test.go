package interop

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
)

var readyLLRe = regexp.MustCompile(` ipv6 (fe80::[0-9a-f:]+)/64 fd00:7::2/64 host6 fd00:7::1/64 `)

// TestV6CLIUp runs `featherip up --addr6 fd00:7::2/64 --host-addr6
// fd00:7::1/64`: the ready line comes after the link-local address passed
// DAD and lists it with the static one; Linux pings both.
func TestV6CLIUp(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	if os.Geteuid() != 0 {
		t.Skip("needs root: run sudo go test ./interop/")
	}
	bin := buildCLI(t)
	ns := netns.New(t)
	const dev = "fipc6"
	cmd := ns.Command(bin, "up", "--tap", dev, "--addr6", "fd00:7::2/64", "--host-addr6", "fd00:7::1/64")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var ready string
	select {
	case ready = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatalf("no ready line; stderr: %s", stderr.String())
	}
	t.Logf("%s", ready)
	if !strings.HasPrefix(ready, "ready "+dev+" 192.168.7.2/24 mac ") {
		t.Fatalf("first line %q, want the ready line; stderr: %s", ready, stderr.String())
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
	cmd.Process.Signal(syscall.SIGINT)
	var rest []string
	timeout := time.After(10 * time.Second)
collect:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			rest = append(rest, l)
		case <-timeout:
			t.Fatal("featherip did not stop after SIGINT")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
	}
	if text := strings.Join(rest, "\n"); !strings.Contains(text, "[Stack.ICMPv6]") {
		t.Errorf("no ICMPv6 counters in the output:\n%s", text)
	}
}
