package interop

import (
	"bufio"
	"crypto/sha256"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var tcpEstabRe = regexp.MustCompile(`(?m)^TCP\.PassiveOpens (\d+)$`)

// TestCLIUpTCP runs `featherip up` and uses its TCP services from the
// kernel: echo (with a half-close), discard, chargen (RFC 864 lines) and,
// when iperf (Debian package iperf) is installed, the iperf server; on
// SIGINT the counters include TCP's and the services'.
func TestCLIUpTCP(t *testing.T) {
	bin, ns := cliEnv(t)
	const dev = "fipt0"
	run := startCLI(t, ns, bin, "up", "--tap", dev)
	if ready := run.ready; !strings.HasPrefix(ready, "ready "+dev) || !strings.Contains(ready, "tcp: echo 7, discard 9, chargen 19, iperf 5001") {
		t.Fatalf("ready line %q; stderr %s", ready, run.Stderr())
	}
	dial := func(port string) net.Conn {
		t.Helper()
		var c net.Conn
		if err := ns.Do(func() error {
			var err error
			c, err = net.DialTimeout("tcp4", "192.168.7.2:"+port, 5*time.Second)
			return err
		}); err != nil {
			t.Fatalf("dial port %s: %v", port, err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}

	// echo: 4 MiB, half-close, everything back then EOF
	c := dial("7")
	sent := newStream(9)
	done := kernelSend(c, sent, 4<<20)
	back := &stream{h: sha256.New()}
	if n, err := io.Copy(back.h, c); err != nil || n != 4<<20 || back.sum() != sent.sum() || <-done != nil {
		t.Fatalf("echo: %d bytes, %v, equal %v", n, err, back.sum() == sent.sum())
	}
	c.Close()

	// discard: 1 MiB, then featherip's FIN
	c = dial("9")
	done = kernelSend(c, newStream(8), 1<<20)
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 || <-done != nil {
		t.Fatalf("discard answered %d bytes, %v", n, err)
	}
	c.Close()

	// chargen: 1000 lines of 72 printable characters, each starting one
	// character after the previous one
	c = dial("19")
	r := bufio.NewReader(c)
	var prev byte
	for i := 0; i < 1000; i++ {
		l, err := r.ReadString('\n')
		if err != nil || len(l) != 74 || !strings.HasSuffix(l, "\r\n") {
			t.Fatalf("chargen line %d: %q, %v", i, l, err)
		}
		if i > 0 && l[0] != ' '+(prev-' '+1)%95 {
			t.Fatalf("chargen line %d starts with %q after %q", i, l[0], prev)
		}
		prev = l[0]
	}
	c.Close()

	_, iperfErr := exec.LookPath("iperf")
	if iperfErr == nil {
		out, err := ns.Try("iperf", "-c", "192.168.7.2", "-t", "1")
		if err != nil || bandwidth(string(out)) < 1e6 {
			t.Errorf("iperf -c against the CLI: %v\n%s", err, out)
		}
	}

	text := run.stop()
	for _, want := range []string{"[TCP]", "[TCPServices]", "TCPServices.EchoBytes 4194304", "TCPServices.DiscardBytes 1048576", "TCPServices.ChargenConns 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if m := tcpEstabRe.FindStringSubmatch(text); m == nil {
		t.Errorf("no TCP.PassiveOpens counter in:\n%s", text)
	} else if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("TCP.PassiveOpens = %d, want >= 3", n)
	}
	if iperfErr == nil && !strings.Contains(text, "iperf 192.168.7.2:5001 <- 192.168.7.1:") {
		t.Errorf("no iperf report line in:\n%s", text)
	}
}
