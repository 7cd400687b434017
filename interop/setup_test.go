package interop

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pcap"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
)

const (
	tapName    = "fip0"
	kernelIP   = "192.168.7.1"
	kernelPfx  = "192.168.7.1/24"
	featherIP  = "192.168.7.2"
	featherPfx = "192.168.7.2/24"
)

// env is one test's world: a namespace with a TAP device whose kernel side
// has 192.168.7.1/24, and a featherip Host at 192.168.7.2/24 on it running
// UDP echo on port 7.
type env struct {
	ns   *netns.NS
	tap  *tap.Link
	host *featherip.Host
	// echoed counts datagrams the echo service answered (under the lock).
	echoed int
}

// requireTool skips the test when a command is missing, naming the Debian
// package that provides it.
func requireTool(t *testing.T, cmd, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(cmd); err != nil {
		t.Skipf("%s is not installed: apt-get install -y %s", cmd, pkg)
	}
}

// setup builds the env. When pcapPath is not empty, featherip's link is
// wrapped with a capture written there (flushed when the host closes).
func setup(t *testing.T, pcapPath string) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop tests need root (network namespaces and /dev/net/tun): run sudo go test ./interop/")
	}
	ns := netns.New(t)
	e := &env{ns: ns}
	if err := ns.Do(func() error {
		var err error
		e.tap, err = tap.Open(tap.Config{Name: tapName, VnetHdr: pcapPath == "" && vnetOn()})
		return err
	}); err != nil {
		t.Fatalf("opening TAP %s in %s: %v", tapName, ns.Name, err)
	}
	ns.Run("ip", "addr", "add", kernelPfx, "dev", tapName)
	ns.Run("ip", "link", "set", "dev", tapName, "up")

	var l link.Link = e.tap
	if pcapPath != "" {
		f, err := os.Create(pcapPath)
		if err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriter(f)
		l = pcap.Wrap(l, bw, pcap.Options{})
		t.Cleanup(func() { f.Close() })
	}
	h, err := featherip.New(featherip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e.host = h
	// Registered after netns.New's cleanup, so it runs before the
	// namespace goes.
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Host.Close: %v", err)
		}
	})
	if _, err := h.AddInterface(l, featherip.InterfaceConfig{Name: tapName, Addrs: []netip.Prefix{netip.MustParsePrefix(featherPfx)}}); err != nil {
		l.Close()
		t.Fatal(err)
	}
	h.Do(func(*stack.Stack) {
		pcb, err := h.UDP().NewPCB()
		if err != nil {
			t.Fatal(err)
		}
		if err := pcb.Bind(netip.AddrPortFrom(netip.Addr{}, 7)); err != nil {
			t.Fatal(err)
		}
		pcb.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
			e.echoed++
			if err := c.SendTo(data, info.Src); err != nil {
				t.Errorf("echo to %v: %v", info.Src, err)
			}
		})
	})
	return e
}

// execCommand is exec.Command, for tools run outside the namespace on
// files only.
var execCommand = exec.Command
