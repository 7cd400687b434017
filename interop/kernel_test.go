package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
)

// TestLinuxPing: the kernel's ping gets every echo answered with the data
// intact, from an empty payload to one that needs 45 fragments each way.
func TestLinuxPing(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	e := setup(t, "")
	for _, size := range []int{0, 56, 1472, 4000, 65000} {
		out, err := e.ns.Try("ping", "-c", "3", "-i", "0.2", "-s", fmt.Sprint(size), "-W", "2", featherIP)
		s := string(out)
		if err != nil || !strings.Contains(s, " 0% packet loss") {
			t.Errorf("ping -s %d: %v\n%s", size, err, s)
			continue
		}
		if strings.Contains(s, "wrong data") || strings.Contains(s, "DUP!") {
			t.Errorf("ping -s %d: bad replies:\n%s", size, s)
		}
	}
	var st stack.Stats
	e.host.Do(func(s *stack.Stack) { st = s.Stats() })
	if st.ICMP.InEchos < 15 || st.ICMP.OutEchoReps < 15 {
		t.Errorf("ICMP counters: %d echos in, %d replies out; want >= 15 each", st.ICMP.InEchos, st.ICMP.OutEchoReps)
	}
	if st.IP.ReasmOKs == 0 || st.IP.FragCreates == 0 {
		t.Errorf("large pings did not reassemble/fragment: ReasmOKs %d FragCreates %d", st.IP.ReasmOKs, st.IP.FragCreates)
	}
}

var (
	habetsRe  = regexp.MustCompile(`(\d+) packets received`)
	iputilsRe = regexp.MustCompile(`Received (\d+) response`)
)

// TestArping: the kernel side resolves featherip's address with arping, and
// its neighbour table holds featherip's MAC.
func TestArping(t *testing.T) {
	requireTool(t, "arping", "arping")
	e := setup(t, "")
	out, err := e.ns.Try("arping", "-c", "2", "-I", tapName, featherIP)
	s := string(out)
	if err != nil {
		t.Fatalf("arping: %v", err)
	}
	m := habetsRe.FindStringSubmatch(s)
	if m == nil {
		m = iputilsRe.FindStringSubmatch(s)
	}
	if m == nil {
		t.Fatalf("cannot read the reply count from arping:\n%s", s)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Fatalf("arping got %d replies, want 2:\n%s", n, s)
	}
	mac := strings.ToLower(e.tap.HardwareAddr().String())
	if !strings.Contains(strings.ToLower(s), mac) {
		t.Errorf("arping replies do not come from featherip's MAC %s:\n%s", mac, s)
	}
	// arping uses a packet socket; let the kernel resolve on its own too.
	e.ns.Run("ping", "-c", "1", "-W", "2", featherIP)
	neigh := string(e.ns.Run("ip", "neigh", "show", featherIP))
	if !strings.Contains(strings.ToLower(neigh), mac) {
		t.Errorf("ip neigh show %s = %q, want featherip's MAC %s", featherIP, neigh, mac)
	}
}

// TestUDPEchoSocat sends a few KB of random data through socat to
// featherip's echo service, one line per datagram (97 bytes: socat -b 97
// reading a file), and checks that every line comes back intact. The
// kernel may reorder datagrams on its way out of a TAP device (seen in
// captures: IP IDs leave out of order), and UDP promises no order, so lines
// are compared as sets.
func TestUDPEchoSocat(t *testing.T) {
	requireTool(t, "socat", "socat")
	e := setup(t, "")
	const lineLen = 97 // 96 hex digits and a newline
	var in bytes.Buffer
	raw := make([]byte, 48*100)
	rand.Read(raw)
	for i := 0; i < len(raw); i += 48 {
		in.WriteString(hex.EncodeToString(raw[i : i+48]))
		in.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := e.ns.Command("socat", "-b", fmt.Sprint(lineLen), "-t", "2", "-", "UDP:"+featherIP+":7")
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("socat: %v: %s", err, stderr.String())
	}
	sent := strings.Split(strings.TrimSuffix(in.String(), "\n"), "\n")
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if !bytes.Equal(out, in.Bytes()) {
		t.Logf("echo came back in a different order (kernel-side reordering)")
	}
	sortedSent, sortedGot := slices.Clone(sent), slices.Clone(got)
	slices.Sort(sortedSent)
	slices.Sort(sortedGot)
	if !slices.Equal(sortedSent, sortedGot) {
		t.Fatalf("echo differs: sent %d lines (%d bytes), got %d lines (%d bytes) with different content",
			len(sent), in.Len(), len(got), len(out))
	}
	var n int
	e.host.Do(func(*stack.Stack) { n = e.echoed })
	if n != len(sent) {
		t.Errorf("echo service answered %d datagrams, want one per line: %d", n, len(sent))
	}
}

// TestUDPClosedPortRefused: a datagram to a port nobody listens on makes
// featherip send ICMP port unreachable, which the Linux sender's connected
// socket reports as ECONNREFUSED.
func TestUDPClosedPortRefused(t *testing.T) {
	e := setup(t, "")
	err := e.ns.Do(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(featherIP+":9999")))
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 100)
		var last error
		for try := 0; try < 3; try++ {
			if _, err := c.Write([]byte("anyone there?")); err != nil {
				last = err
			} else {
				c.SetReadDeadline(time.Now().Add(time.Second))
				_, last = c.Read(buf)
			}
			if errors.Is(last, syscall.ECONNREFUSED) {
				return nil
			}
		}
		return fmt.Errorf("want ECONNREFUSED, got %v", last)
	})
	if err != nil {
		t.Fatal(err)
	}
	var st stack.Stats
	e.host.Do(func(s *stack.Stack) { st = s.Stats() })
	if st.ICMP.OutDestUnreachs == 0 {
		t.Errorf("ICMP OutDestUnreachs = 0 after a datagram to a closed port")
	}
}

// TestFeatheripPingsLinux: featherip pings the kernel through a raw ICMP pcb
// (Host.Ping) and gets matching replies, fragmented ones included.
func TestFeatheripPingsLinux(t *testing.T) {
	e := setup(t, "")
	dst := netip.MustParseAddr(kernelIP)
	for _, size := range []int{0, 56, 1472, 4000, 65000} {
		data := make([]byte, size)
		rand.Read(data)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		rtt, err := e.host.Ping(ctx, dst, data)
		cancel()
		if err != nil {
			t.Errorf("ping %v with %d bytes: %v", dst, size, err)
			continue
		}
		t.Logf("%d bytes: rtt %v", size, rtt)
	}
}
