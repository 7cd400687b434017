package netns

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

func nsInode(t *testing.T) string {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNamespaceLifecycle(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		ns := New(t)
		name = ns.Name
		if !strings.HasPrefix(name, "fip-") {
			t.Fatalf("name %q", name)
		}
		list, err := exec.Command("ip", "netns", "list").CombinedOutput()
		if err != nil || !strings.Contains(string(list), name) {
			t.Fatalf("namespace %s not listed: %v %s", name, err, list)
		}
		// Only lo exists inside, and it is up.
		out := string(ns.Run("ip", "-o", "link", "show"))
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(out, "lo:") || !strings.Contains(out, "UP") {
			t.Fatalf("fresh namespace has links:\n%s", out)
		}
		if _, err := ns.Try("false"); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("Try(false) = %v", err)
		}
	})
	if t.Skipped() || name == "" {
		return
	}
	list, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	if strings.Contains(string(list), name) {
		t.Fatalf("namespace %s still exists after the test", name)
	}
}

func TestDo(t *testing.T) {
	ns := New(t)
	ns.Run("ip", "tuntap", "add", "dev", "fipdummy0", "mode", "tap")
	orig := nsInode(t)
	var inside []string
	var insideNS string
	err := ns.Do(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, i := range ifs {
			inside = append(inside, i.Name)
		}
		s, err := os.Readlink("/proc/thread-self/ns/net")
		insideNS = s
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if insideNS == orig {
		t.Fatal("Do ran in the original namespace")
	}
	if strings.Join(inside, ",") != "lo,fipdummy0" {
		t.Fatalf("interfaces inside: %v", inside)
	}
	if _, err := net.InterfaceByName("fipdummy0"); err == nil {
		t.Fatal("the namespace's interface is visible outside")
	}
	// Every thread is back: run many goroutines and check their namespace.
	for i := 0; i < 20; i++ {
		if got := nsInode(t); got != orig {
			t.Fatalf("a thread was left in %s", got)
		}
	}
	want := errors.New("boom")
	if err := ns.Do(func() error { return want }); err != want {
		t.Fatalf("Do returned %v, want fn's error", err)
	}
}

func TestStart(t *testing.T) {
	ns := New(t)
	cmd := ns.Start("sleep", "30")
	time.Sleep(50 * time.Millisecond)
	if cmd.Process == nil || cmd.ProcessState != nil {
		t.Fatal("process not running")
	}
	link, err := os.Readlink("/proc/" + itoa(cmd.Process.Pid) + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if link == nsInode(t) {
		t.Fatal("started process is in the original namespace")
	}
	// Cleanup kills it.
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}
