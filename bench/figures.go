package bench

import (
	"errors"
	"fmt"
	"testing"
)

// Metrics are the numbers one measurement of one stack produced, by name.
type Metrics map[string]float64

// Side measures one stack once. It returns ErrNotYetMeasured when the stack
// cannot run the figure yet.
type Side func() (Metrics, error)

// Row is one line of the report: a metric of an experiment.
type Row struct {
	// Label names the figure.
	Label string
	// Metric is the key in Metrics.
	Metric string
	// Unit is printed after the numbers.
	Unit string
	// HigherBetter tells how to read the ratio.
	HigherBetter bool
}

// Experiment is one setup run on both stacks; its rows are read from the
// same runs.
type Experiment struct {
	Name    string
	Fip, Gv Side
	Rows    []Row
}

// Metric names.
const (
	mRate     = "rate"
	mMBps     = "MB/s"
	mAllocs   = "allocs/op"
	mBytesOp  = "B/op"
	mMedian   = "median"
	mP99      = "p99"
	mHeap     = "heap"
	mRoutines = "goroutines"
)

// fromBench runs a benchmark with testing.Benchmark and reads its rate,
// throughput and allocations per op.
func fromBench(f func(*testing.B)) (Metrics, error) {
	r := testing.Benchmark(f)
	if r.N == 0 || r.T <= 0 {
		return nil, errors.New("benchmark failed (run it with go test -bench to see why)")
	}
	m := Metrics{
		mRate:    float64(r.N) / r.T.Seconds(),
		mAllocs:  float64(r.MemAllocs) / float64(r.N),
		mBytesOp: float64(r.MemBytes) / float64(r.N),
	}
	for k, v := range r.Extra {
		m[k] = v
	}
	if r.Bytes > 0 {
		m[mMBps] = float64(r.Bytes) * float64(r.N) / r.T.Seconds() / 1e6
	}
	return m, nil
}

func benchSide(f func(*testing.B)) Side { return func() (Metrics, error) { return fromBench(f) } }

func benchSideErr(f func(*testing.B), err error) Side {
	return func() (Metrics, error) {
		if err != nil {
			return nil, err
		}
		return fromBench(f)
	}
}

func latencySide(f func() (Latency, error)) Side {
	return func() (Metrics, error) {
		l, err := f()
		if err != nil {
			return nil, err
		}
		return Metrics{mMedian: float64(l.Median.Nanoseconds()) / 1e3, mP99: float64(l.P99.Nanoseconds()) / 1e3}, nil
	}
}

func heapSide(f func(int) (HeapResult, error), n int) Side {
	return func() (Metrics, error) {
		h, err := f(n)
		if err != nil {
			return nil, err
		}
		return Metrics{mHeap: h.BytesPerStack, mRoutines: h.GoroutinesPerStack}, nil
	}
}

// Options size the experiments.
type Options struct {
	// RRCount is the number of timed request/response exchanges per run.
	RRCount int
	// HeapStacks is how many minimal stacks the heap figure builds (in
	// pairs, so an odd count builds one less).
	HeapStacks int
	// IdleConns are the connection counts of the idle-connection heap figure.
	IdleConns []int
	// TAPSeconds is the length of each TAP iperf run; 0 leaves the TAP
	// figures out.
	TAPSeconds int
}

// DefaultOptions are what make bench uses.
var DefaultOptions = Options{RRCount: 20000, HeapStacks: 200, IdleConns: []int{1000, 10000}, TAPSeconds: 2}

// Experiments lists every figure of the report, featherip first, gVisor
// second. fipTCP and gvTCP are the stacks' TCP sides.
func Experiments(o Options, fipTCP, gvTCP TCPStack) []Experiment {
	pps := func(what string) Row { return Row{what, mRate, "packets/s", true} }
	allocs := func(what string) Row { return Row{what, mAllocs, "allocs", false} }
	lat := func(what string) []Row {
		return []Row{{what + ", median", mMedian, "µs", false}, {what + ", 99th percentile", mP99, "µs", false}}
	}
	ex := []Experiment{
		{
			Name: "UDP 64 B", Fip: benchSide(FipUDPStream(64, 1500)), Gv: benchSide(GvUDPStream(64, 1500)),
			Rows: []Row{pps("UDP 64-byte datagrams one way (callback / endpoint API)"), allocs("UDP 64-byte: allocations per datagram"), {"UDP 64-byte: heap bytes allocated per datagram", mBytesOp, "B", false}},
		},
		{
			Name: "UDP 1472 B", Fip: benchSide(FipUDPStream(1472, 1500)), Gv: benchSide(GvUDPStream(1472, 1500)),
			Rows: []Row{pps("UDP 1472-byte datagrams one way (callback / endpoint API)"), {"UDP 1472-byte payload throughput", mMBps, "MB/s", true}, allocs("UDP 1472-byte: allocations per datagram")},
		},
		{
			Name: "ICMP echo", Fip: benchSide(FipICMPEcho(1500)), Gv: benchSide(GvICMPEcho(1500)),
			Rows: []Row{{"ICMP echo round trips (raw PCB / ping endpoint, 56-byte data)", mRate, "round trips/s", true}, allocs("ICMP echo: allocations per round trip")},
		},
		{
			Name: "UDP RR", Fip: latencySide(func() (Latency, error) { return FipUDPRR(o.RRCount) }), Gv: latencySide(func() (Latency, error) { return GvUDPRR(o.RRCount) }),
			Rows: lat("UDP 1-byte request/response, callback / endpoint API, one goroutine"),
		},
		{
			Name: "UDP RR conn",
			Fip:  latencySide(func() (Latency, error) { return FipUDPRRConn(o.RRCount) }),
			Gv:   latencySide(func() (Latency, error) { return GvUDPRRConn(o.RRCount) }),
			Rows: lat("UDP 1-byte request/response, net.PacketConn API (featherip.UDPConn / gonet.UDPConn)"),
		},
		{
			Name: "minimal stack", Fip: heapSide(FipMinimalStack, o.HeapStacks), Gv: heapSide(GvMinimalStack, o.HeapStacks),
			Rows: []Row{{"Heap of a minimal stack (IPv4, ARP, UDP, TCP, 4 connections with 4 KiB windows), New to serving", mHeap, "B", false}, {"Goroutines started by a minimal stack", mRoutines, "", false}},
		},
	}
	for _, mtu := range []int{1500, 65535} {
		for _, api := range []API{APICallback, APINetConn} {
			for _, conns := range []int{1, 8} {
				what := fmt.Sprintf("TCP bulk, MTU %d, %d conn%s, %v API", mtu, conns, plural(conns), api)
				ex = append(ex, Experiment{
					Name: what,
					Fip:  benchSideErr(fipTCP.Bulk(mtu, conns, api)),
					Gv:   benchSideErr(gvTCP.Bulk(mtu, conns, api)),
					Rows: []Row{{what, mMBps, "MB/s", true}, {what + ": allocations per 64 KiB", mAllocs, "allocs", false}},
				})
			}
		}
	}
	ex = append(ex, Experiment{
		Name: "TCP setup", Fip: benchSideErr(fipTCP.ConnSetup()), Gv: benchSideErr(gvTCP.ConnSetup()),
		Rows: []Row{{"TCP connection setup + teardown (callback / endpoint API)", mRate, "conns/s", true}, allocs("TCP setup + teardown: allocations per connection")},
	})
	for _, n := range o.IdleConns {
		idle := func(t TCPStack) Side {
			return func() (Metrics, error) {
				b, err := t.IdleConns(n)
				return Metrics{mHeap: b}, err
			}
		}
		ex = append(ex, Experiment{
			Name: fmt.Sprintf("TCP idle %d", n), Fip: idle(fipTCP), Gv: idle(gvTCP),
			Rows: []Row{{fmt.Sprintf("Heap per idle established TCP connection (both ends), %d connections", n), mHeap, "B", false}},
		})
	}
	for _, api := range []API{APICallback, APINetConn} {
		rr := func(t TCPStack) Side {
			return latencySide(func() (Latency, error) { return t.RR(api, o.RRCount) })
		}
		ex = append(ex, Experiment{
			Name: "TCP RR " + api.String(), Fip: rr(fipTCP), Gv: rr(gvTCP),
			Rows: lat(fmt.Sprintf("TCP 1-byte request/response, %v API", api)),
		})
	}
	if o.TAPSeconds > 0 {
		for _, dir := range []TAPDir{TAPIn, TAPOut} {
			for _, off := range []bool{false, true} {
				what := "TAP, Linux iperf 2 client -> stack, 1 stream"
				if dir == TAPOut {
					what = "TAP, stack -> Linux iperf 2 server, 1 stream"
				}
				if off {
					what += tapOffloadsOn
				} else {
					what += tapOffloadsOff
				}
				ex = append(ex, Experiment{
					Name: what, Fip: FipTAP(dir, off, o.TAPSeconds), Gv: GvTAP(dir, off, o.TAPSeconds),
					Rows: []Row{{what, mMbits, "Mbit/s", true}},
				})
			}
		}
	}
	return ex
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// The TAP rows' settings, as their labels say them.
const (
	tapOffloadsOff = ", offloads off (software GRO in both stacks)"
	tapOffloadsOn  = ", offloads on (featherip: vnet header, TSO, large receive, checksum offload; gVisor fdbased: RX checksum offload; software GRO in both stacks)"
)
