package tap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link"
)

// openIn opens a TAP device inside ns.
func openIn(t testing.TB, ns *netns.NS, cfg Config) (*Link, error) {
	t.Helper()
	var l *Link
	err := ns.Do(func() error {
		var err error
		l, err = Open(cfg)
		return err
	})
	if l != nil {
		t.Cleanup(func() { l.Close() })
	}
	return l, err
}

// arpRequest builds an ARP request (RFC 826) from mac/spa asking for tpa.
func arpRequest(mac net.HardwareAddr, spa, tpa net.IP) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	binary.BigEndian.PutUint16(f[14:], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // protocol: IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], 1) // request
	copy(f[22:28], mac)
	copy(f[28:32], spa.To4())
	copy(f[38:42], tpa.To4())
	return f
}

// receiver reads frames from l into a channel until Receive fails.
func receiver(l link.Link) (<-chan []byte, <-chan error) {
	frames := make(chan []byte, 64)
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := l.Receive(buf)
			if err != nil {
				errc <- err
				close(frames)
				return
			}
			select {
			case frames <- append([]byte(nil), buf[:n]...):
			default: // test not listening; drop
			}
		}
	}()
	return frames, errc
}

func TestKernelARPReply(t *testing.T) {
	ns := netns.New(t)
	l, err := openIn(t, ns, Config{Name: "fip0", MTU: 1400})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Created() || l.Name() != "fip0" || l.MTU() != 1400 || l.Kind() != link.Ethernet {
		t.Fatalf("created=%v name=%q mtu=%d", l.Created(), l.Name(), l.MTU())
	}
	mac := l.HardwareAddr()
	if len(mac) != 6 || mac[0]&3 != 2 || bytes.Equal(mac, l.KernelAddr()) {
		t.Fatalf("featherip MAC %v (kernel side %v) is not a distinct locally administered unicast address", mac, l.KernelAddr())
	}
	out := string(ns.Run("ip", "-o", "link", "show", "fip0"))
	if !strings.Contains(out, "mtu 1400") || !strings.Contains(out, "UP") {
		t.Fatalf("device not up with MTU 1400: %s", out)
	}
	if _, err := net.InterfaceByName("fip0"); err == nil {
		t.Fatal("fip0 appeared in the root namespace")
	}
	ns.Run("ip", "addr", "add", "192.168.7.1/24", "dev", "fip0")
	ns.Run("ip", "link", "set", "fip0", "up")

	frames, errc := receiver(l)
	req := arpRequest(mac, net.IPv4(192, 168, 7, 2), net.IPv4(192, 168, 7, 1))
	deadline := time.After(5 * time.Second)
	resend := time.NewTicker(500 * time.Millisecond)
	defer resend.Stop()
	if err := l.Send(req); err != nil {
		t.Fatal(err)
	}
	for found := false; !found; {
		select {
		case f := <-frames:
			if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0806 {
				continue // IPv6 neighbour discovery and the like
			}
			if binary.BigEndian.Uint16(f[20:]) != 2 {
				continue
			}
			if !bytes.Equal(f[0:6], mac) || !bytes.Equal(f[32:38], mac) {
				t.Fatalf("ARP reply not addressed to us: %x", f)
			}
			if !bytes.Equal(f[28:32], []byte{192, 168, 7, 1}) || !bytes.Equal(f[38:42], []byte{192, 168, 7, 2}) {
				t.Fatalf("ARP reply for the wrong addresses: %x", f)
			}
			if !bytes.Equal(f[22:28], l.KernelAddr()) || !bytes.Equal(f[6:12], l.KernelAddr()) {
				t.Fatalf("ARP reply does not carry the kernel side's MAC %v: %x", l.KernelAddr(), f)
			}
			found = true
		case <-resend.C:
			l.Send(req)
		case err := <-errc:
			t.Fatalf("Receive: %v", err)
		case <-deadline:
			t.Fatal("no ARP reply from the kernel within 5s")
		}
	}
	// The kernel learned our address from the request.
	neigh := string(ns.Run("ip", "neigh", "show", "dev", "fip0"))
	if !strings.Contains(neigh, "192.168.7.2") || !strings.Contains(neigh, mac.String()) {
		t.Fatalf("kernel neighbour table: %q", neigh)
	}
	st := l.Stats()
	if st.Sent == 0 || st.Received == 0 {
		t.Fatalf("stats %+v", st)
	}

	// Close unblocks the pending Receive.
	time.Sleep(20 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, link.ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	if err := l.Send(req); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if _, err := l.Receive(make([]byte, 10)); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Receive after Close: %v", err)
	}
	// The created device goes away with the file descriptor.
	for i := 0; ; i++ {
		if _, err := ns.Try("ip", "link", "show", "fip0"); err != nil {
			break
		}
		if i == 100 {
			t.Fatal("fip0 still exists after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAttachExisting(t *testing.T) {
	ns := netns.New(t)
	ns.Run("ip", "tuntap", "add", "dev", "fip1", "mode", "tap")
	mac := net.HardwareAddr{0x02, 0xaa, 0, 0, 0, 1}
	l, err := openIn(t, ns, Config{Name: "fip1", MAC: mac})
	if err != nil {
		t.Fatal(err)
	}
	if l.Created() {
		t.Fatal("Created() true for an existing device")
	}
	if l.MTU() != 1500 || l.HardwareAddr().String() != mac.String() {
		t.Fatalf("mtu %d mac %v", l.MTU(), l.HardwareAddr())
	}
	// A second open of the same device while attached fails clearly.
	_, err = openIn(t, ns, Config{Name: "fip1"})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	l.Close()
	// The persistent device stays after Close.
	ns.Run("ip", "link", "show", "fip1")
	// And can be attached again.
	l2, err := openIn(t, ns, Config{Name: "fip1"})
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
}

func TestOpenErrors(t *testing.T) {
	ns := netns.New(t)
	ns.Run("ip", "tuntap", "add", "dev", "fiptun", "mode", "tun")
	if _, err := openIn(t, ns, Config{Name: "fiptun"}); err == nil || !strings.Contains(err.Error(), "not a TAP") {
		t.Fatalf("Open of a TUN device: %v", err)
	}
	for _, cfg := range []Config{
		{Name: "this-name-is-too-long"},
		{MTU: -1},
		{MAC: net.HardwareAddr{1, 2, 3}},
		{MAC: net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}},
	} {
		if _, err := openIn(t, ns, cfg); err == nil {
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
	l, err := openIn(t, ns, Config{Name: "fip2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openIn(t, ns, Config{Name: "fip3", MTU: 10}); err == nil || !strings.Contains(err.Error(), "MTU") {
		t.Fatalf("MTU 10: %v", err)
	}
	if _, err := ns.Try("ip", "link", "show", "fip3"); err == nil {
		t.Fatal("a failed Open left its device behind")
	}
	// An unnamed device gets a kernel-chosen name.
	u, err := openIn(t, ns, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Name(), "tap") || !u.Created() {
		t.Fatalf("unnamed device: %q created=%v", u.Name(), u.Created())
	}
	if err := l.Send(make([]byte, l.MTU()+15)); !errors.Is(err, link.ErrFrameTooLong) {
		t.Fatalf("long frame: %v", err)
	}
}

func TestMACCollision(t *testing.T) {
	ns := netns.New(t)
	ns.Run("ip", "tuntap", "add", "dev", "fip5", "mode", "tap")
	ns.Run("ip", "link", "set", "fip5", "address", "02:bb:00:00:00:05")
	_, err := openIn(t, ns, Config{Name: "fip5", MAC: net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 5}})
	if err == nil || !strings.Contains(err.Error(), "kernel side") {
		t.Fatalf("Open with the kernel's MAC: %v", err)
	}
}

func TestShortReceiveBuffer(t *testing.T) {
	ns := netns.New(t)
	l, err := openIn(t, ns, Config{Name: "fip6"})
	if err != nil {
		t.Fatal(err)
	}
	ns.Run("ip", "addr", "add", "192.168.7.1/24", "dev", "fip6")
	l.Send(arpRequest(l.HardwareAddr(), net.IPv4(192, 168, 7, 2), net.IPv4(192, 168, 7, 1)))
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			l.Close()
		}
	}()
	buf := make([]byte, 20)
	for {
		n, err := l.Receive(buf)
		if err != nil {
			t.Fatalf("no frame within 5s: %v", err)
		}
		if n != 20 {
			t.Fatalf("short buffer: n = %d, want 20 (truncated)", n)
		}
		if binary.BigEndian.Uint16(buf[12:]) == 0x0806 && binary.BigEndian.Uint16(buf[14:]) == 1 {
			return // ARP header start as expected
		}
	}
}

// TestPermissionError runs Open as an unprivileged user (inside a test
// namespace) and checks the error matches os.ErrPermission.
func TestPermissionError(t *testing.T) {
	if os.Getenv("FIP_TAP_PERM_CHILD") == "1" {
		_, err := Open(Config{Name: "fipperm"})
		if !errors.Is(err, os.ErrPermission) {
			t.Fatalf("unprivileged Open: %v, want os.ErrPermission", err)
		}
		if !strings.Contains(err.Error(), "CAP_NET_ADMIN") && !strings.Contains(err.Error(), "root") {
			t.Fatalf("error does not say what is missing: %v", err)
		}
		return
	}
	ns := netns.New(t)
	// Copy the test binary where an unprivileged user can run it.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	bin := filepath.Join(dir, "tap.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(dst, src)
	src.Close()
	dst.Close()
	var out []byte
	err = ns.Do(func() error {
		cmd := exec.Command(bin, "-test.run=^TestPermissionError$", "-test.v")
		cmd.Env = append(os.Environ(), "FIP_TAP_PERM_CHILD=1")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var err error
		out, err = cmd.CombinedOutput()
		return err
	})
	if err != nil {
		if strings.Contains(string(out), "--- FAIL") {
			t.Fatalf("unprivileged child failed:\n%s", out)
		}
		t.Skipf("cannot run the test binary as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestPermissionError") {
		t.Fatalf("child did not run the check:\n%s", out)
	}
}
