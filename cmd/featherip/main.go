// Command featherip runs the featherip TCP/IP stack in user space.
//
// Usage:
//
//	featherip up [flags]     bring a host up on a Linux TAP device
//	featherip version        print the version
//	featherip help           show this help
//
// `featherip up` creates the TAP device (default fip0) unless it exists,
// gives the kernel side an address (default 192.168.7.1/24), runs a
// featherip host on it (default 192.168.7.2/24) that answers ping, UDP echo
// (port 7) and UDP discard (port 9), TCP echo (7), discard (9), chargen (19)
// and an iperf 2 server (5001), prints one line starting with "ready",
// and on SIGINT or SIGTERM stops, removes the device if it created it and
// prints every counter. Run `featherip up --help` for the flags.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `featherip - a lightweight TCP/IP stack in user space

Usage:
  featherip up [flags]   bring a featherip host up on a Linux TAP device
  featherip version      print the version
  featherip help         show this help

Run 'featherip up --help' for the flags of up.

Examples:
  sudo featherip up
      creates fip0, gives the kernel 192.168.7.1/24 and featherip
      192.168.7.2/24; then: ping 192.168.7.2
  sudo featherip up --tap tap1 --addr 10.9.0.2/24 --host-addr 10.9.0.1/24 --pcap /tmp/fip.pcap
  echo hi | socat - udp:192.168.7.2:7      UDP echo
  echo hi | socat - tcp:192.168.7.2:7      TCP echo
  iperf -c 192.168.7.2 -t 5                TCP throughput (iperf 2)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "up":
		return cmdUp(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "featherip: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
