// Package bench measures featherip side by side with gVisor's netstack
// (gvisor.dev/gvisor/pkg/tcpip) on identical setups: two stacks of each kind
// joined by an in-memory Ethernet link at a given MTU, with static neighbor
// entries (no ARP on the measured path), pumped in the same process; and,
// as root, each stack on a TAP device against Linux iperf 2 (tap.go).
//
// It lives in its own module so that the library's go.mod stays free of
// gVisor. Each figure is a function that runs one stack; the figures table
// (Figures) pairs featherip's and gVisor's functions, and Run measures both
// in the same process, a few times each, and reports the medians and their
// ratio. cmd/fipbench prints the table and writes REPORT.md.
//
// Nothing here is a timed test: the numbers come from testing.Benchmark and
// runtime.MemStats, and the tests in this package only check that the
// harnesses move packets.
package bench
