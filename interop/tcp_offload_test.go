package interop

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
	"github.com/featherip/featherip/wire"
)

// csumCheck wraps the TAP link and checks, for every frame featherip
// hands over with a partial checksum (the kernel trusts those and never
// checks them), that completing it the way the device does gives a
// valid TCP checksum.
type csumCheck struct {
	*tap.Link
	mu         sync.Mutex
	buf        []byte
	checked    atomic.Int64
	bad        atomic.Int64
	superFrame atomic.Int64
}

func (c *csumCheck) SendGSO(frame []byte, g link.GSO) error {
	if g.CsumStart > 0 && g.CsumStart+g.CsumOffset+2 <= len(frame) && len(frame) > 34 {
		c.mu.Lock()
		f := append(c.buf[:0], frame...)
		c.buf = f
		binary.BigEndian.PutUint16(f[g.CsumStart+g.CsumOffset:], wire.Checksum(f[g.CsumStart:], 0))
		ip, err := wire.ParseIPv4(f[14:])
		ok := err == nil && ip.ChecksumValid()
		if ok {
			s, err := wire.ParseTCP(ip.Payload())
			ok = err == nil && s.ChecksumValid(ip.Src(), ip.Dst())
		}
		c.mu.Unlock()
		c.checked.Add(1)
		if !ok {
			c.bad.Add(1)
		}
		if g.Type != link.GSONone {
			c.superFrame.Add(1)
		}
	}
	return c.Link.SendGSO(frame, g)
}

// TestTCPOffloadBothWays moves 64 MiB (1 GiB with FEATHERIP_BIG=1) each way
// between featherip and the kernel over a TAP with a virtio-net header,
// with checksum offload, TSO and GRO on: hashes equal; featherip's partial
// checksums complete to valid ones; the kernel counts no checksum error;
// tshark on the kernel's side sees super-frames both ways and no bad
// checksum on the segments featherip checksums itself (pure ACKs).
func TestTCPOffloadBothWays(t *testing.T) {
	requireTool(t, "tshark", "tshark")
	var chk *csumCheck
	e := setupTCPWrap(t, tcp.Config{}, true, func(l *tap.Link) link.Link {
		chk = &csumCheck{Link: l}
		return chk
	})
	if off := chk.Offloads(); !off.GRO || off.GSOMaxSize == 0 {
		t.Fatalf("TAP offloads %+v", off)
	}
	file := filepath.Join(t.TempDir(), "offload.pcap")
	capt := startCapture(t, e.ns, file, "-s", "128")

	size := transferSize()
	// kernel -> featherip: the sink hashes and answers with the hash.
	e.kernelToSink(t, "tcp4", featherIP+":9", size, 7)

	// featherip -> kernel: a Go listener in the namespace hashes.
	var ln net.Listener
	if err := e.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", kernelIP+":9002")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		k, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer k.Close()
		h := sha256.New()
		n, err := io.Copy(h, k)
		if err != nil || n != size {
			got <- "read " + strconv.FormatInt(n, 10) + " bytes: " + errString(err)
			return
		}
		got <- hex.EncodeToString(h.Sum(nil))
	}()
	out := newStream(8)
	start := time.Now()
	f := e.dialFeather(t, kernelIP+":9002", out, size)
	var sum string
	select {
	case sum = <-got:
	case <-time.After(transferTimeout()):
		t.Fatal("kernel did not receive everything in time")
	}
	if sum != out.sum() {
		t.Fatalf("kernel hashed %s, want %s", sum, out.sum())
	}
	t.Logf("featherip -> kernel: %d MiB in %v (%s)", size>>20, time.Since(start).Round(time.Millisecond), rate(size, time.Since(start)))
	e.host.Do(func(*stack.Stack) { f.pcb.Close() })
	e.checkClean(t)

	var off stack.OffloadStats
	e.host.Do(func(s *stack.Stack) { off = s.Stats().Offload })
	ts := chk.Stats()
	t.Logf("stack offload %+v; TAP GSOSent %d GROReceived %d CsumPartialIn %d", off, ts.GSOSent, ts.GROReceived, ts.CsumPartialIn)
	if off.OutGSO == 0 || off.InGRO == 0 || off.InCsumOffloaded == 0 || ts.GSOSent == 0 || ts.GROReceived == 0 {
		t.Errorf("offloads not used: stack %+v", off)
	}
	if chk.checked.Load() == 0 || chk.bad.Load() != 0 || chk.superFrame.Load() == 0 {
		t.Errorf("partial checksums: %d checked, %d bad, %d super-frames", chk.checked.Load(), chk.bad.Load(), chk.superFrame.Load())
	}
	// The kernel's own checksum error counter (segments it had to check).
	snmp := string(e.ns.Run("cat", "/proc/net/snmp"))
	if v := snmpField(snmp, "Tcp:", "InCsumErrors"); v != "0" {
		t.Errorf("kernel Tcp InCsumErrors = %q", v)
	}

	capt.stop(500 * time.Millisecond)
	// Checksums are checked only where the filter asks: the kernel's own
	// segments carry partial checksums in this capture too.
	count := func(filter string) int {
		args := []string{"-r", file, "-Y", filter}
		if strings.Contains(filter, "checksum") {
			args = append(args, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE")
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v", filter, err)
		}
		return strings.Count(string(out), "\n")
	}
	fipSrc := "ip.src==" + featherIP
	acks := count(fipSrc + " && tcp.len==0 && tcp.checksum.status==1")
	badAcks := count(fipSrc + " && tcp.len==0 && tcp.checksum.status==0")
	badIP := count("ip.checksum.status==0")
	superOut := count(fipSrc + " && frame.len > 1514")
	superIn := count("ip.src==" + kernelIP + " && frame.len > 1514")
	malformed := count("_ws.malformed || _ws.expert.severity==error")
	t.Logf("tshark: %d ACKs from featherip verified good, %d bad; %d bad IP headers; super-frames: %d from featherip, %d from the kernel; %d malformed/errors",
		acks, badAcks, badIP, superOut, superIn, malformed)
	if acks == 0 || badAcks != 0 || badIP != 0 || superOut == 0 || superIn == 0 || malformed != 0 {
		t.Error("kernel-side capture not clean")
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// snmpField returns field of the /proc/net/snmp table whose lines start
// with prefix (a header line, then a value line).
func snmpField(snmp, prefix, field string) string {
	var head []string
	for _, line := range strings.Split(snmp, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)
		if head == nil {
			head = f
			continue
		}
		for i, h := range head {
			if h == field && i < len(f) {
				return f[i]
			}
		}
	}
	return ""
}
