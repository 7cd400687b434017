// Package netns gives tests a private Linux network namespace: a fresh,
// uniquely named namespace (fip-<random>) created with `ip netns add` and
// removed when the test ends, commands run inside it, and Go code run
// inside it on a locked OS thread.
//
// Tests that use it never touch the machine's own interfaces: everything
// they create lives in the namespace and goes away with it. New skips the
// test with a clear message when it cannot run (not root, no `ip`, no
// namespace support).
package netns

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// NS is a network namespace created for one test.
type NS struct {
	// Name is the namespace's name, as `ip netns` knows it.
	Name string
	// Path is the namespace's bind mount (/run/netns/<Name>).
	Path string
	ip   string
	t    testing.TB
}

// New creates a network namespace named fip-<random> and removes it in
// t.Cleanup. It skips the test when not root, when `ip` is missing, or when
// the namespace cannot be created.
func New(t testing.TB) *NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netns: needs root to create a network namespace (run the tests as root, e.g. sudo go test)")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("netns: the `ip` command is missing (apt-get install -y iproute2)")
	}
	var b [4]byte
	rand.Read(b[:])
	name := "fip-" + hex.EncodeToString(b[:])
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("netns: cannot create a network namespace (`ip netns add %s`: %v: %s)", name, err, strings.TrimSpace(string(out)))
	}
	ns := &NS{Name: name, Path: filepath.Join("/run/netns", name), ip: ip, t: t}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("netns: removing %s: %v: %s", name, err, out)
		}
	})
	ns.Run("ip", "link", "set", "lo", "up")
	return ns
}

// Command returns a command that runs args inside the namespace (via
// `ip netns exec`), not yet started.
func (ns *NS) Command(args ...string) *exec.Cmd {
	return exec.Command(ns.ip, append([]string{"netns", "exec", ns.Name}, args...)...)
}

// Try runs args inside the namespace and returns its combined output. The
// error names the namespace and the command and includes the output.
func (ns *NS) Try(args ...string) ([]byte, error) {
	out, err := ns.Command(args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netns %s: %s: %w: %s", ns.Name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Run runs args inside the namespace and returns its combined output; it
// fails the test when the command fails. Call it from the test goroutine.
func (ns *NS) Run(args ...string) []byte {
	ns.t.Helper()
	out, err := ns.Try(args...)
	if err != nil {
		ns.t.Fatal(err)
	}
	return out
}

// Start starts args inside the namespace and returns the running command,
// with its output discarded unless set later through Command instead. It
// fails the test when the command cannot start. A process still running
// when the test ends is killed and reaped in t.Cleanup (before the
// namespace goes). Call it from the test goroutine.
func (ns *NS) Start(args ...string) *exec.Cmd {
	ns.t.Helper()
	cmd := ns.Command(args...)
	if err := cmd.Start(); err != nil {
		ns.t.Fatalf("netns %s: starting %s: %v", ns.Name, strings.Join(args, " "), err)
	}
	ns.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// Do runs fn inside the namespace, on a dedicated OS thread: a new
// goroutine locks its thread, switches the thread into the namespace with
// setns(2), runs fn and switches back. If switching back fails the thread
// stays locked, so the runtime destroys it when the goroutine ends and no
// other goroutine ever runs in the wrong namespace.
//
// Sockets and devices fn creates belong to the namespace; their file
// descriptors stay usable from any thread afterwards. fn runs on another
// goroutine, so it must not call t.Fatal; it returns an error instead.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: opening current namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: opening %s: %w", ns.Path, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: entering %s: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- fmt.Errorf("netns: returning from %s: %w (fn: %v)", ns.Name, err, ferr)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
