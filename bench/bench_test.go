package bench

import (
	"runtime"
	"testing"
)

// The benchmarks below are the bodies the report runs, one per path and
// stack, so that `go test -bench` with -cpuprofile and -memprofile can
// profile each path alone (see README.md). Fip* are featherip, Gv* gVisor.

func BenchmarkFipUDP64(b *testing.B)   { FipUDPStream(64, 1500)(b) }
func BenchmarkGvUDP64(b *testing.B)    { GvUDPStream(64, 1500)(b) }
func BenchmarkFipUDP1472(b *testing.B) { FipUDPStream(1472, 1500)(b) }
func BenchmarkGvUDP1472(b *testing.B)  { GvUDPStream(1472, 1500)(b) }

func BenchmarkFipICMPEcho(b *testing.B) { FipICMPEcho(1500)(b) }
func BenchmarkGvICMPEcho(b *testing.B)  { GvICMPEcho(1500)(b) }

func BenchmarkFipUDPRR(b *testing.B) { FipUDPRRBench()(b) }
func BenchmarkGvUDPRR(b *testing.B)  { GvUDPRRBench()(b) }

// BenchmarkFipMinimalStack builds the heap figure's minimal featherip
// stacks, one per op (in pairs, each pair with its 4 TCP connections
// established); its -memprofile shows where a stack's memory goes.
func BenchmarkFipMinimalStack(b *testing.B) { minimalStackBench(b, FipMinimalStack) }

// BenchmarkGvMinimalStack is the same for gVisor.
func BenchmarkGvMinimalStack(b *testing.B) { minimalStackBench(b, GvMinimalStack) }

func minimalStackBench(b *testing.B, f func(int) (HeapResult, error)) {
	b.ReportAllocs()
	const batch = 10
	for i := 0; i < b.N; i += batch {
		r, err := f(batch)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.BytesPerStack, "heapB/stack")
	}
	runtime.GC()
}

func tcpBulk(b *testing.B, s TCPStack, mtu, conns int, api API) {
	f, err := s.Bulk(mtu, conns, api)
	if err != nil {
		b.Skip(err)
	}
	f(b)
}

func tcpSetup(b *testing.B, s TCPStack) {
	f, err := s.ConnSetup()
	if err != nil {
		b.Skip(err)
	}
	f(b)
}

func BenchmarkFipTCPBulk1500x1Callback(b *testing.B) { tcpBulk(b, FipTCP{}, 1500, 1, APICallback) }
func BenchmarkGvTCPBulk1500x1Callback(b *testing.B)  { tcpBulk(b, GvTCP{}, 1500, 1, APICallback) }
func BenchmarkFipTCPBulk1500x8Callback(b *testing.B) { tcpBulk(b, FipTCP{}, 1500, 8, APICallback) }
func BenchmarkGvTCPBulk1500x8Callback(b *testing.B)  { tcpBulk(b, GvTCP{}, 1500, 8, APICallback) }
func BenchmarkFipTCPBulk1500x1NetConn(b *testing.B)  { tcpBulk(b, FipTCP{}, 1500, 1, APINetConn) }
func BenchmarkGvTCPBulk1500x1NetConn(b *testing.B)   { tcpBulk(b, GvTCP{}, 1500, 1, APINetConn) }
func BenchmarkFipTCPBulk1500x8NetConn(b *testing.B)  { tcpBulk(b, FipTCP{}, 1500, 8, APINetConn) }
func BenchmarkGvTCPBulk1500x8NetConn(b *testing.B)   { tcpBulk(b, GvTCP{}, 1500, 8, APINetConn) }
func BenchmarkFipTCPBulk64Kx1NetConn(b *testing.B)   { tcpBulk(b, FipTCP{}, 65535, 1, APINetConn) }
func BenchmarkGvTCPBulk64Kx1NetConn(b *testing.B)    { tcpBulk(b, GvTCP{}, 65535, 1, APINetConn) }
func BenchmarkFipTCPBulk64Kx8NetConn(b *testing.B)   { tcpBulk(b, FipTCP{}, 65535, 8, APINetConn) }
func BenchmarkGvTCPBulk64Kx8NetConn(b *testing.B)    { tcpBulk(b, GvTCP{}, 65535, 8, APINetConn) }
func BenchmarkFipTCPBulk64Kx1Callback(b *testing.B)  { tcpBulk(b, FipTCP{}, 65535, 1, APICallback) }
func BenchmarkGvTCPBulk64Kx1Callback(b *testing.B)   { tcpBulk(b, GvTCP{}, 65535, 1, APICallback) }
func BenchmarkFipTCPConnSetup(b *testing.B)          { tcpSetup(b, FipTCP{}) }
func BenchmarkGvTCPConnSetup(b *testing.B)           { tcpSetup(b, GvTCP{}) }

func BenchmarkFipTCPRR(b *testing.B) { FipTCPRRBench()(b) }
func BenchmarkGvTCPRR(b *testing.B) {
	rrBench(b, func(n int) (Latency, error) { return GvTCP{}.RR(APICallback, n) })
}

// rrBench runs a latency figure as a benchmark (b.N timed exchanges after
// the warm-up) so that it can be profiled; it reports the median.
func rrBench(b *testing.B, f func(int) (Latency, error)) {
	b.ReportAllocs()
	l, err := f(b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(l.Median.Nanoseconds()), "median-ns")
}

func BenchmarkFipUDPRRConn(b *testing.B) { rrBench(b, FipUDPRRConn) }
func BenchmarkGvUDPRRConn(b *testing.B)  { rrBench(b, GvUDPRRConn) }

// BenchmarkFipTCPIdle1000 and BenchmarkGvTCPIdle1000 build 1,000 idle
// established connections per op and report the heap each costs (both
// ends); the -memprofile shows where a connection's memory goes.
func BenchmarkFipTCPIdle1000(b *testing.B) { idleBench(b, FipTCP{}) }

// BenchmarkGvTCPIdle1000 is the same for gVisor.
func BenchmarkGvTCPIdle1000(b *testing.B) { idleBench(b, GvTCP{}) }

func idleBench(b *testing.B, s TCPStack) {
	b.ReportAllocs()
	for range b.N {
		h, err := s.IdleConns(1000)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(h, "heapB/conn")
	}
}
