package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// wholeRunCounts are the io,stat columns of the single tshark pass in
// TestTCPWholeRunPcap: each counts the frames of the whole capture that
// match its display filter (tshark runs the statistics taps on every
// frame, whatever -Y prints).
var wholeRunCounts = []struct{ name, filter string }{
	{"frames", "frame"},
	{"tcp", "tcp"},
	{"tcpGood", "tcp.checksum.status == 1"},
	{"ipGood", "tcp && ip.checksum.status == 1"},
	{"fromFeather", "tcp && ip.src == " + featherIP},
	{"toFeather", "tcp && ip.dst == " + featherIP},
	{"syn", "tcp.flags.syn == 1"},
	{"fin", "tcp.flags.fin == 1"},
	{"rstFromFeather", "tcp.flags.reset == 1 && ip.src == " + featherIP},
	{"ackedUnseen", "tcp.analysis.ack_lost_segment"},
	{"prevUnseen", "tcp.analysis.lost_segment"},
	{"retrans", "tcp.analysis.retransmission"},
	{"kernelFFFF", kernelFFFF},
	{"flagged", tcpCheckFilter},
}

// TestTCPWholeRunPcap captures a whole TCP run, full frames, on the
// kernel's side of a TAP device without offloads (so every checksum on
// the wire is a complete one): short echo exchanges, a refused
// connection, 64 MiB from Linux to
// featherip's sink with a half-close, the same from featherip to a Linux
// listener with a half-close, more echo exchanges. One tshark pass over
// the file, verifying checksums, then checks: no malformed frame, no
// expert error, no bad checksum (tcpCheckFilter), every TCP segment's
// checksum verified good (but for the kernel's 0xFFFF ones, kernelFFFF),
// SYN, FIN and RST seen, and a complete capture:
// dumpcap reports no drop, tshark never sees a segment ACKed that the
// capture missed, the capture holds exactly the segments featherip sent
// and at least those it received. The transfer from Linux goes through
// the link reader's software GRO and input batches (one ACK per batch).
func TestTCPWholeRunPcap(t *testing.T) {
	requireTool(t, "tshark", "tshark")
	e := setupTCPVnet(t, tcp.Config{}, false)
	file := filepath.Join(t.TempDir(), "whole.pcapng")
	// Full frames (no -s) and a 512 MiB kernel ring for dumpcap, so that
	// it keeps up with the bulk transfers.
	capt := startCapture(t, e.ns, file, "-B", "512")
	// 64 MiB each way, also with FEATHERIP_BIG=1: at 1 GiB each way (a
	// 2 GiB file of 1.8 million frames) the capture socket misses some
	// 7% of the frames featherip writes while dumpcap reports no drop, so
	// no capture could vouch for a whole run of that size. The 1 GiB
	// transfers run uncaptured in tcp_transfer_test.go.
	size := int64(64 << 20)
	runStart := time.Now()

	echo := func(lines int) {
		t.Helper()
		c, err := e.dialKernel(featherIP + ":7")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		for i := 0; i < lines; i++ {
			line := fmt.Appendf(nil, "echo line %d of the whole-run capture\n", i)
			if _, err := c.Write(line); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf[:len(line)]); err != nil || !bytes.Equal(buf[:len(line)], line) {
				t.Fatalf("echo %d: %q, %v", i, buf[:len(line)], err)
			}
		}
	}
	echo(10)

	// a SYN to a closed port: featherip answers RST
	if c, err := e.dialKernel(featherIP + ":9999"); err == nil {
		c.Close()
		t.Fatal("connected to a closed port")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial closed port: %v, want ECONNREFUSED", err)
	}

	// Linux -> featherip, then Linux half-closes and reads the sink's hash.
	e.kernelToSink(t, "tcp4", featherIP+":9", size, 11)
	// The link reader coalesced runs of the kernel's segments before TCP
	// saw them (software GRO, gro.go); the capture checks below hold for
	// what went over the wire all the same.
	if g := e.host.Stats().Shell.GROSegments; g == 0 {
		t.Error("no received segment was coalesced (software GRO) in a 64 MiB transfer")
	} else {
		t.Logf("software GRO coalesced %d of the kernel's segments", g)
	}

	// featherip -> Linux, then featherip half-closes and receives the hash
	// of what Linux received, then Linux's FIN.
	accepted := e.kernelListen(t, kernelIP+":9004")
	kerr := make(chan error, 1)
	go func() {
		k, ok := <-accepted
		if !ok {
			kerr <- errors.New("accept failed")
			return
		}
		defer k.Close()
		h := sha256.New()
		n, err := io.Copy(h, k)
		if err == nil && n != size {
			err = fmt.Errorf("received %d bytes of %d", n, size)
		}
		if err == nil {
			_, err = k.Write([]byte(hex.EncodeToString(h.Sum(nil)) + "\n"))
		}
		kerr <- err
	}()
	out := newStream(12)
	start := time.Now()
	f := e.dialFeather(t, kernelIP+":9004", out, size)
	f.wait(t, e, transferTimeout())
	if err := <-kerr; err != nil {
		t.Fatalf("Linux receiving: %v", err)
	}
	var in string
	e.host.Do(func(*stack.Stack) { in = string(f.in); f.pcb.Close() })
	if in != out.sum()+"\n" {
		t.Fatalf("Linux hashed %q, want %q", in, out.sum())
	}
	t.Logf("featherip -> kernel: %d MiB in %v (%s)", size>>20, time.Since(start).Round(time.Millisecond), rate(size, time.Since(start)))

	echo(10)
	capt.stop(500 * time.Millisecond)
	e.checkClean(t)
	runTime := time.Since(runStart)

	// Counters of both ends, read after the last segment.
	var st tcp.Stats
	e.host.Do(func(*stack.Stack) { st = e.host.TCP().Stats() })
	kernelIn, err := strconv.ParseUint(snmpField(string(e.ns.Run("cat", "/proc/net/snmp")), "Tcp:", "InSegs"), 10, 64)
	if err != nil {
		t.Fatalf("kernel Tcp InSegs: %v", err)
	}

	// What dumpcap says: frames written and frames the kernel dropped
	// from its ring because dumpcap did not keep up.
	captured, dropped := captureCounts(capt.log.String())
	if captured < 0 {
		t.Errorf("no packet count in tshark's output:\n%s", capt.log.String())
	}
	if dropped != 0 {
		t.Errorf("the capture dropped %d frames (of %d captured): it does not hold the whole run; tshark says:\n%s",
			dropped, captured, capt.log.String())
	}

	// One tshark pass over the whole file with checksum verification:
	// -Y prints the flagged frames, -z io,stat counts the rest.
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	stat := "io,stat,0"
	for _, c := range wholeRunCounts {
		stat += "," + c.filter
	}
	passStart := time.Now()
	// Every TCP payload is dissected as plain data: the bulk data is
	// random, and heuristic dissectors (Thrift, TDS, ...) that take a
	// few of the million segments for their protocol would report those
	// as malformed (and take most of the pass's time).
	args := append([]string{"-r", file, "-d", "tcp.port==1-65535,data"}, tcpCheckPrefs...)
	outp := tshark(t, append(args, "-Y", tcpCheckFilter, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info", "-z", stat)...)
	passTime := time.Since(passStart)
	flaggedList, table, _ := strings.Cut(outp, "\n====")
	n, err := ioStatFrames(table, len(wholeRunCounts))
	if err != nil {
		t.Fatalf("tshark statistics: %v\n%s", err, table)
	}
	cnt := map[string]int64{}
	for i, c := range wholeRunCounts {
		cnt[c.name] = n[i]
	}
	t.Logf("run %v, capture %d MiB, tshark pass %v; dumpcap: %d captured, %d dropped", runTime.Round(time.Millisecond),
		fi.Size()>>20, passTime.Round(time.Millisecond), captured, dropped)
	t.Logf("tshark: %d frames, %d TCP (%d from featherip, %d to it), %d TCP checksums verified good, %d IP checksums good; "+
		"kernel 0xFFFF checksums %d; SYN %d FIN %d RST from featherip %d; retransmissions %d, ACKed-unseen %d, previous-unseen %d; flagged %d",
		cnt["frames"], cnt["tcp"], cnt["fromFeather"], cnt["toFeather"], cnt["tcpGood"], cnt["ipGood"],
		cnt["kernelFFFF"], cnt["syn"], cnt["fin"], cnt["rstFromFeather"], cnt["retrans"], cnt["ackedUnseen"], cnt["prevUnseen"], cnt["flagged"])
	t.Logf("featherip TCP InSegs %d OutSegs %d RetransSegs %d OutErrors %d; kernel Tcp InSegs %d",
		st.InSegs, st.OutSegs, st.RetransSegs, st.OutErrors, kernelIn)

	// clean: nothing malformed, no expert error, no bad checksum
	if cnt["flagged"] != 0 || strings.TrimSpace(flaggedList) != "" {
		lines := strings.SplitN(flaggedList, "\n", 21)
		t.Errorf("tshark flags %d frames (first ones):\n%s", cnt["flagged"], strings.Join(lines[:min(len(lines), 20)], "\n"))
	}
	// Checksums really verified: every TCP segment and its IP header.
	if cnt["tcpGood"]+cnt["kernelFFFF"] != cnt["tcp"] || cnt["ipGood"] != cnt["tcp"] {
		t.Errorf("of %d TCP segments, %d TCP (and %d of the kernel's with 0xFFFF) and %d IP checksums verified good: want all",
			cnt["tcp"], cnt["tcpGood"], cnt["kernelFFFF"], cnt["ipGood"])
	}
	// The handshakes, FINs and the RST for the closed port were captured:
	// 5 SYNs and 4 SYN-ACKs, 2 FINs in each of 4 connections.
	if cnt["syn"] < 9 || cnt["fin"] < 8 || cnt["rstFromFeather"] < 1 {
		t.Errorf("SYN %d (want >= 9), FIN %d (want >= 8), RST from featherip %d (want >= 1)", cnt["syn"], cnt["fin"], cnt["rstFromFeather"])
	}
	// The whole run is in the file: at least one full-sized segment per
	// 1460 bytes each way; the file holds what dumpcap says it wrote.
	if minSegs := size / 1460; cnt["fromFeather"] < minSegs || cnt["toFeather"] < minSegs {
		t.Errorf("TCP segments from featherip %d, to it %d: want >= %d each way for %d bytes", cnt["fromFeather"], cnt["toFeather"], minSegs, size)
	}
	if captured >= 0 && cnt["frames"] != captured {
		t.Errorf("the file holds %d frames, dumpcap captured %d", cnt["frames"], captured)
	}
	// No capture loss by featherip's counters either: the capture point
	// for the frames featherip writes comes before anything could drop
	// them, so it holds every segment featherip sent; the frames to
	// featherip are captured before the TAP's queue could drop one, so
	// it holds at least every segment featherip received. (The kernel's
	// Tcp InSegs, logged above, counts a few more segments than the
	// wire carried, so it is no bound.)
	if sent := int64(st.OutSegs + st.RetransSegs - st.OutErrors); cnt["fromFeather"] != sent || cnt["toFeather"] < int64(st.InSegs) {
		t.Errorf("capture incomplete: %d segments from featherip captured, featherip sent %d; %d to featherip captured, featherip received %d",
			cnt["fromFeather"], sent, cnt["toFeather"], st.InSegs)
	}
	// A segment the peer ACKed but the capture never saw is a capture
	// loss (nothing is lost between the capture point and the receiver
	// in the direction where data can be lost after it).
	if cnt["ackedUnseen"] != 0 {
		t.Errorf("tshark: %d ACKs for segments missing from the capture", cnt["ackedUnseen"])
	}
}

var (
	capturedRE = regexp.MustCompile(`(?m)^(\d+) packets? captured`)
	droppedRE  = regexp.MustCompile(`(?m)^(\d+) packets? dropped`)
)

// captureCounts reads tshark's closing lines on standard error: the
// frames written ("N packets captured", -1 when missing) and the frames
// dropped ("N packets dropped from IF", summed; none when missing).
func captureCounts(log string) (captured, dropped int64) {
	captured = -1
	if m := capturedRE.FindAllStringSubmatch(log, -1); m != nil {
		captured, _ = strconv.ParseInt(m[len(m)-1][1], 10, 64)
	}
	for _, m := range droppedRE.FindAllStringSubmatch(log, -1) {
		d, _ := strconv.ParseInt(m[1], 10, 64)
		dropped += d
	}
	return captured, dropped
}

// ioStatFrames returns the frame counts of the n columns of a
// `tshark -z io,stat,0,...` table (its single interval row, columns of
// Frames and Bytes).
func ioStatFrames(table string, n int) ([]int64, error) {
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") || !strings.Contains(line, "<>") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 1+2*n {
			return nil, fmt.Errorf("%d cells in the interval row, want %d", len(cells), 1+2*n)
		}
		counts := make([]int64, n)
		for i := range counts {
			v, err := strconv.ParseInt(strings.TrimSpace(cells[1+2*i]), 10, 64)
			if err != nil {
				return nil, err
			}
			counts[i] = v
		}
		return counts, nil
	}
	return nil, errors.New("no interval row")
}

// TestWholeRunPcapParsers checks the readers of tshark's output above on
// its real formats, so that a drop or a count cannot go unseen.
func TestWholeRunPcapParsers(t *testing.T) {
	for _, c := range []struct {
		log               string
		captured, dropped int64
	}{
		{"Capturing on 'fip0'\ntshark: \n13 packets captured\n", 13, 0},
		{"1542 packets dropped from fip0\ntshark: \n119218 packets captured\n", 119218, 1542},
		{"1 packet dropped\n1 packet captured\n", 1, 1},
		{"Capturing on 'fip0'\n", -1, 0},
	} {
		if got, drop := captureCounts(c.log); got != c.captured || drop != c.dropped {
			t.Errorf("captureCounts(%q) = %d, %d; want %d, %d", c.log, got, drop, c.captured, c.dropped)
		}
	}
	table := `
| Col 1: frame                                  |
|     2: tcp                                    |
|-----------------------------------------------|
|                |1                |2               |
| Interval       | Frames |  Bytes | Frames | Bytes |
|-----------------------------------------------|
| 0.000 <> 1.356 |     13 | 100870 |      7 |   222 |
=================================================`
	if n, err := ioStatFrames(table, 2); err != nil || len(n) != 2 || n[0] != 13 || n[1] != 7 {
		t.Errorf("ioStatFrames = %v, %v; want [13 7]", n, err)
	}
	if _, err := ioStatFrames(table, 3); err == nil {
		t.Error("ioStatFrames accepted a table with 2 columns for 3")
	}
	if _, err := ioStatFrames("no table", 1); err == nil {
		t.Error("ioStatFrames accepted a missing table")
	}
}
