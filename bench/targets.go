package bench

import (
	"fmt"
	"strings"
)

// Target is one performance goal of featherip against gVisor, checked on
// the measured rows.
type Target struct {
	// Name says the goal in words.
	Name string
	// Rows are the labels of the rows it applies to (each is checked).
	Rows []string
	// Check returns whether a row meets the goal and how it stands, given
	// featherip's and gVisor's medians.
	Check func(fip, gv float64) (met bool, how string)
	// Blocker says what the profiles show in the way, printed when a row
	// misses the goal.
	Blocker string
}

func atLeast(x float64) func(fip, gv float64) (bool, string) {
	return func(fip, gv float64) (bool, string) {
		r := fip / gv
		if r >= x {
			return true, fmt.Sprintf("%.2f× (target %g×)", r, x)
		}
		return false, fmt.Sprintf("%.2f× (target %g×): %.0f%% short", r, x, (1-r/x)*100)
	}
}

// DefaultTargets are the goals of the issue that asked for this module.
func DefaultTargets() []Target {
	bulk := func(mtu int, conns int, api API) string {
		return fmt.Sprintf("TCP bulk, MTU %d, %d conn%s, %v API", mtu, conns, plural(conns), api)
	}
	var tap []string
	for _, dir := range []string{"TAP, Linux iperf 2 client -> stack, 1 stream", "TAP, stack -> Linux iperf 2 server, 1 stream"} {
		tap = append(tap, dir+tapOffloadsOff, dir+tapOffloadsOn)
	}
	return []Target{
		{
			Name:  "in-process TCP bulk at MTU 1500 at least 3× gVisor",
			Rows:  []string{bulk(1500, 1, APICallback), bulk(1500, 8, APICallback), bulk(1500, 1, APINetConn), bulk(1500, 8, APINetConn)},
			Check: atLeast(3),
			Blocker: "featherip's callback rows run both ends on one goroutine where gVisor spreads its work over its goroutines on the 2 cores (8 connections help gVisor, not featherip); " +
				"the pump hands frames over in input batches as the shell's reader does (one ACK per batch and connection), and what is left is checksum and copy " +
				"(the sender copies into its send buffer and checksums each segment, the receiver verifies, the application copies out: wire.Sum and memmove are about half the CPU); " +
				"a fused copy-and-checksum loop in Go measured slower than memmove plus Sum (90 ns against 77 ns per 1500 bytes), so it was not adopted. " +
				"In the net.Conn rows (two Hosts, one goroutine per application sender and receiver) the link readers take every queued frame per wake-up and core-lock hold, " +
				"coalesce runs of in-order segments before TCP sees them (software GRO: one ACK per run instead of one per two segments), and wake the conns they fed after releasing the lock; " +
				"the pipe hands frames over by exchanging buffers and a burst of sends in one lock hold; what is left is the stacks' checksum and copy (the pipe's copy on send and the receive ring's copy included) " +
				"and the cost of moving that data between the 2 cores.",
		},
		{
			Name:  "TAP, one stream, at least 2× gVisor's fdbased endpoint",
			Rows:  tap,
			Check: atLeast(2),
			Blocker: "without offloads, one read(2) per frame received (a TAP character device gives exactly one frame per call; no recvmmsg on a TAP) is most of featherip's CPU in the Linux-to-stack direction, about 1.7 µs each, " +
				"and its answers are already few (one ACK per read batch and connection: software GRO and input batches). " +
				"Until the default receive window went from 64 KiB to 256 KiB that window, not the CPU, held this direction near 2× (256 KiB measured 3.4-3.8× against 1.6-2.1× before). " +
				"The kernel's iperf shares the 2 cores with the stack, so the TAP rows swing by tens of percent from run to run for both stacks (see the spread below).",
		},
		{
			Name: "heap per idle established connection at most 1/10 of gVisor's",
			Rows: []string{"Heap per idle established TCP connection (both ends), 1000 connections", "Heap per idle established TCP connection (both ends), 10000 connections"},
			Check: func(fip, gv float64) (bool, string) {
				r := fip / gv
				if r <= 0.1 {
					return true, fmt.Sprintf("%.3f× of gVisor's (target ≤ 0.1×)", r)
				}
				return false, fmt.Sprintf("%.3f× of gVisor's (target ≤ 0.1×): %.0f B per connection pair over the %.0f B target", r, fip-gv/10, gv/10)
			},
			Blocker: "each end is one tcp.PCB of 512 bytes (the allocator's 512-byte class, with nothing to spare) and about 20 B in the Protocol's tables (an open-addressing connection table of PCB pointers and the PCB list); " +
				"congestion control state, the SACK scoreboard and the out-of-order queue come from free lists only while data is in flight (congestion control until an RTO of idleness, RFC 5681 §4.1), the send buffer's storage from the first write, listener and non-default keepalive state from their own small structs. " +
				"What remains inline is state that must outlive idle periods or is read on every segment: addresses and callbacks (96 B), sequence space and windows, the RTT estimator (24 B), counters (56 B), timers (64 B).",
		},
		{
			Name: "zero allocations per packet on the UDP, ICMP and TCP bulk paths",
			Rows: []string{"UDP 64-byte: allocations per datagram", "UDP 1472-byte: allocations per datagram", "ICMP echo: allocations per round trip",
				bulk(1500, 1, APICallback) + ": allocations per 64 KiB", bulk(1500, 8, APICallback) + ": allocations per 64 KiB",
				bulk(65535, 1, APICallback) + ": allocations per 64 KiB", bulk(65535, 8, APICallback) + ": allocations per 64 KiB"},
			Check: func(fip, _ float64) (bool, string) {
				if fip < 0.1 {
					return true, fmt.Sprintf("%.2f per op (below 0.1: an occasional allocation of the harness or the runtime, none per packet)", fip)
				}
				return false, fmt.Sprintf("%.2f per op", fip)
			},
			Blocker: "see the allocation profile (bench/README.md).",
		},
		{
			Name:  "TCP connection setup + teardown rate at least 3× gVisor",
			Rows:  []string{"TCP connection setup + teardown (callback / endpoint API)"},
			Check: atLeast(3),
			Blocker: "per connection: two PCB allocations, the SYN/SYN-ACK/ACK and FIN exchanges through both stacks, " +
				"and the ISN hash (RFC 6528).",
		},
	}
}

// Targets renders the "Targets" section: each goal, each of its rows with
// the measured ratio, met or missed by how much, and for a miss what the
// profiles show in the way.
func Targets(lines []Line, targets []Target) string {
	byLabel := map[string]Line{}
	for _, l := range lines {
		byLabel[l.Row.Label] = l
	}
	var b strings.Builder
	for _, t := range targets {
		fmt.Fprintf(&b, "- **%s**\n", t.Name)
		missed := false
		for _, label := range t.Rows {
			l, ok := byLabel[label]
			switch {
			case !ok:
				continue
			case !l.Fip.OK || !l.Gv.OK:
				note := l.Fip.Note
				if l.Fip.OK {
					note = "gVisor: " + l.Gv.Note
				}
				fmt.Fprintf(&b, "  - %s: not measured (%s)\n", label, note)
				continue
			}
			met, how := t.Check(l.Fip.Median, l.Gv.Median)
			mark := "met"
			if !met {
				mark, missed = "**missed**", true
			}
			fmt.Fprintf(&b, "  - %s: %s, %s\n", label, mark, how)
		}
		if missed && t.Blocker != "" {
			fmt.Fprintf(&b, "  - in the way: %s\n", t.Blocker)
		}
	}
	return b.String()
}
