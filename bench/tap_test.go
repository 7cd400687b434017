package bench

import (
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/app/iperf"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
)

// TestTAPIperf measures featherip against Linux iperf 2 over a TAP device
// in a network namespace it creates and removes: Linux `iperf -c` to
// featherip's iperf server (kernel -> featherip) and featherip's iperf
// client to Linux `iperf -s` (featherip -> kernel), with the TAP's
// virtio-net offloads (checksums, TSO, GRO) on and off. It logs Mbit/s;
// it needs root and iperf. Run: cd bench && go test -run TAPIperf -v.
func TestTAPIperf(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespace and /dev/net/tun)")
	}
	if _, err := exec.LookPath("iperf"); err != nil {
		t.Skip("iperf (version 2) not installed: apt-get install -y iperf")
	}
	secs := 3
	for _, vnet := range []bool{false, true} {
		in, out := fipTAPIperf(t, vnet, secs)
		t.Logf("featherip, TAP offloads %-5v: Linux iperf -c -> featherip %7.0f Mbit/s; featherip client -> Linux iperf -s %7.0f Mbit/s", vnet, in, out)
	}
}

var mbits = regexp.MustCompile(`([0-9.]+) Mbits/sec`)

func fipTAPIperf(t *testing.T, vnet bool, secs int) (in, out float64) {
	ns := netns.New(t)
	var l *tap.Link
	if err := ns.Do(func() error {
		var err error
		l, err = tap.Open(tap.Config{Name: "fipb0", VnetHdr: vnet})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ns.Run("ip", "addr", "add", "192.168.7.1/24", "dev", "fipb0")
	ns.Run("ip", "link", "set", "fipb0", "up")
	h, err := featherip.New(featherip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.AddInterface(l, featherip.InterfaceConfig{Name: "fipb0", Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.7.2/24")}}); err != nil {
		t.Fatal(err)
	}
	var srv *iperf.Server
	h.Do(func(s *stack.Stack) {
		srv, err = iperf.NewServer(s, h.TCP(), iperf.ServerConfig{Port: 5001})
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = srv
	// kernel -> featherip
	o := ns.Run("iperf", "-c", "192.168.7.2", "-p", "5001", "-t", strconv.Itoa(secs), "-f", "m")
	m := mbits.FindAllSubmatch(o, -1)
	if len(m) == 0 {
		t.Fatalf("iperf -c output: %s", o)
	}
	in, _ = strconv.ParseFloat(string(m[len(m)-1][1]), 64)

	// featherip -> kernel
	ns.Start("iperf", "-s", "-B", "192.168.7.1", "-p", "5002")
	time.Sleep(300 * time.Millisecond)
	done := make(chan iperf.Report, 1)
	for try := 0; ; try++ {
		h.Do(func(s *stack.Stack) {
			_, err = iperf.Dial(s, h.TCP(), iperf.ClientConfig{
				Remote: netip.MustParseAddrPort("192.168.7.1:5002"), Duration: time.Duration(secs) * time.Second,
				OnDone: func(r iperf.Report) { done <- r },
			})
		})
		if err == nil || try == 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.Err != nil {
			t.Fatalf("featherip iperf client: %v", r.Err)
		}
		out = float64(r.Bytes) * 8 / r.Duration.Seconds() / 1e6
	case <-time.After(time.Duration(secs+15) * time.Second):
		t.Fatal("featherip iperf client did not finish")
	}
	return in, out
}
