package interop

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
)

// cliEnv skips the test when not root, builds the CLI and makes a
// namespace to run it in.
func cliEnv(t *testing.T) (bin string, ns *netns.NS) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: run sudo go test ./interop/")
	}
	return buildCLI(t), netns.New(t)
}

// cliRun is the featherip CLI running in a namespace: its ready line (the
// first line on standard output) has been read, the rest of standard output
// is collected until it exits.
type cliRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr syncBuffer
	ready  string        // the first line of standard output
	done   chan struct{} // closed when standard output reached EOF
	mu     sync.Mutex
	rest   []string // the lines after the ready line so far, under mu
}

// startCLI runs bin with args in ns and waits (up to 30 s) for its first
// line on standard output, the ready line, which the caller checks. On
// cleanup a CLI still running gets SIGINT, then after 10 s SIGKILL.
func startCLI(t *testing.T, ns *netns.NS, bin string, args ...string) *cliRun {
	t.Helper()
	r := &cliRun{t: t, cmd: ns.Command(append([]string{bin}, args...)...), done: make(chan struct{})}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		for sc.Scan() {
			r.mu.Lock()
			r.rest = append(r.rest, sc.Text())
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if r.cmd.ProcessState != nil {
			return
		}
		r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
		r.cmd.Wait()
	})
	select {
	case r.ready = <-first:
	case <-r.done:
		select {
		case r.ready = <-first: // one line, then the CLI closed standard output
		default:
			t.Fatalf("no ready line, standard output closed; stderr: %s", r.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no ready line; stderr: %s", r.stderr.String())
	}
	return r
}

// waitLine waits up to limit for a line after the ready line that re
// matches, and returns its submatches (nil at the limit).
func (r *cliRun) waitLine(re *regexp.Regexp, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		r.mu.Lock()
		for _, l := range r.rest {
			if m := re.FindStringSubmatch(l); m != nil {
				r.mu.Unlock()
				return m
			}
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stderr returns what the CLI wrote to standard error so far.
func (r *cliRun) Stderr() string { return r.stderr.String() }

// stop sends SIGINT, collects the rest of standard output (failing the test
// when the CLI does not stop within 10 s), requires a zero exit status and
// returns the lines after the ready line, joined by newlines.
func (r *cliRun) stop() string {
	r.t.Helper()
	return r.stopWith(syscall.SIGINT)
}

// stopWith is stop with another signal.
func (r *cliRun) stopWith(sig syscall.Signal) string {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Fatalf("featherip did not stop after %v", sig)
	}
	if err := r.cmd.Wait(); err != nil {
		r.t.Fatalf("exit: %v; stderr: %s", err, r.stderr.String())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.rest, "\n")
}

// capture is tshark writing a capture file in a namespace.
type capture struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  bytes.Buffer  // tshark's standard error; read after done
	done chan struct{} // closed when standard error reached EOF
}

// startCapture runs `tshark -i tapName -w file args...` in ns, waits (up to
// 15 s) until it says "Capture started." (dumpcap has opened the device;
// "Capturing on" comes earlier, a second or more earlier with a large -B
// buffer to allocate), then one more second. On cleanup a tshark still
// running is killed.
func startCapture(t *testing.T, ns *netns.NS, file string, args ...string) *capture {
	t.Helper()
	c := &capture{t: t, cmd: ns.Command(append([]string{"tshark", "-i", tapName, "-w", file}, args...)...), done: make(chan struct{})}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			c.log.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "Capture started") {
				once = true
				close(ready)
			}
		}
	}()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			<-c.done
			c.cmd.Wait()
		}
	})
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("tshark did not start capturing")
	}
	time.Sleep(time.Second)
	return c
}

// stop waits settle for the last frames, stops tshark with SIGINT and
// waits for it to exit, logging its output when it fails.
func (c *capture) stop(settle time.Duration) {
	c.t.Helper()
	time.Sleep(settle)
	c.cmd.Process.Signal(syscall.SIGINT)
	<-c.done
	if err := c.cmd.Wait(); err != nil {
		c.t.Logf("tshark exit: %v\n%s", err, c.log.String())
	}
}
