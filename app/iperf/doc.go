// Package iperf is an iperf 2 compatible TCP throughput tester on
// featherip's callback API, what lwIP's lwiperf is for lwIP: a server that
// accepts iperf 2 clients (`iperf -c host`, port 5001) and counts what
// they send until FIN, and a client that connects to an iperf 2 server
// (`iperf -s`) and sends for a duration or a byte count, as `iperf -c -t`
// and `iperf -c -n` do.
//
// Everything is event-driven and single-threaded like the stack: the
// server and client run from the TCP callbacks and the stack's Poll, so
// they work the same on a real link and under package sim's virtual time.
// Use them from the goroutine that drives the stack (inside
// featherip.Host.Do on a Host).
//
// # Wire format
//
// iperf 2 has no separate control connection for TCP tests: the first bytes
// the client sends are its test settings, the client header (see
// [Header]): six big-endian 32-bit words (flags, threads, port, buffer
// length, window/bandwidth, amount), and, when the HEADER_EXTEND flag is
// set (iperf 2.1 and later always set it), an extension carrying more flags
// and the client's version. The rest of the stream is a payload pattern
// ('0'..'9' repeated). The server parses the header when enough bytes have
// arrived, keeps it in its [Report], and otherwise treats every byte as
// payload, as iperf counts them. Modes that need the server to open a
// connection back to the client (dual test -d, tradeoff -r, reverse -R,
// full duplex) are recognised and counted but not run: the server just
// receives.
//
// The client sends a version-1 header with no mode flags (what lwiperf
// sends), so an iperf 2.0 or 2.1 server runs a plain receive test, then
// the pattern, from one static buffer queued with WriteNoCopy.
package iperf
