package tap

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/wire"
	"golang.org/x/sys/unix"
)

// sendBenchTarget says what the kernel does with the benchmark's frames.
type sendBenchTarget int

const (
	// toOtherHost frames are addressed to another MAC: the kernel drops
	// them at the start of its IPv4 input (PACKET_OTHERHOST), the least
	// work a frame can cost it, so our side's per-frame cost weighs most.
	toOtherHost sendBenchTarget = iota
	// toUDPSocket frames are UDP datagrams to a socket bound in the
	// namespace: the kernel runs its whole IPv4 and UDP input for each
	// (and drops it at the socket once the socket's buffer is full).
	toUDPSocket
)

func (t sendBenchTarget) String() string {
	if t == toOtherHost {
		return "otherhost"
	}
	return "udpsock"
}

// sendBenchFrame builds an Ethernet/IPv4/UDP frame of size bytes from src
// to dst port 9999, to the kernel's MAC or, for toOtherHost, to another.
func sendBenchFrame(l *Link, size int, src, dst netip.Addr, to sendBenchTarget) []byte {
	f := make([]byte, size)
	mac := wire.MAC(l.KernelAddr())
	if to == toOtherHost {
		mac = wire.MAC{0x02, 0x99, 0x99, 0x99, 0x99, 0x99}
	}
	wire.PutEthernet(f, mac, wire.MAC(l.HardwareAddr()), wire.EtherTypeIPv4)
	ip := wire.IPv4Header{TotalLength: size - 14, ID: 1, TTL: 64, Protocol: wire.ProtoUDP, Src: src, Dst: dst}
	ip.Encode(f[14:])
	u := f[34:]
	u[0], u[1] = 0x9c, 0x40 // source port 40000
	u[2], u[3] = 0x27, 0x0f // destination port 9999
	u[4], u[5] = byte((size-34)>>8), byte(size-34)
	// checksum 0: none (RFC 768), so the kernel has none to verify
	return f
}

// threadCPU locks the benchmark to its thread and returns a function that
// reports the thread's CPU time (user and system, so the kernel's work in
// the writes too) per op as cpu-ns/op: on a machine shared with other
// work, wall time per op also counts the time the thread waited for a
// CPU, thread CPU time does not.
func threadCPU(b *testing.B) func() {
	b.ReportAllocs()
	runtime.LockOSThread()
	var t0 unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0)
	b.ResetTimer()
	return func() {
		b.StopTimer()
		var t1 unix.Timespec
		unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1)
		runtime.UnlockOSThread()
		b.ReportMetric(float64(t1.Nano()-t0.Nano())/float64(b.N), "cpu-ns/op")
	}
}

// sendBatchLen is the batch of the "batch" and "paired" benchmarks: the
// root package's receive batch, the most frames one batch of input hands
// the core.
const sendBatchLen = 16

// BenchmarkSend measures writing one frame to a TAP device, one op per
// frame, the kernel's processing of the frame included (a TAP write runs
// the kernel's receive path in the writing thread): Send per frame
// ("single"), SendBatch of 16 frames ("batch"), and the three ways of
// pairedSend interleaved ("paired", the comparison to read on a shared
// machine), without and with the vnet header, for 60- and 1514-byte
// frames to another host or to a UDP socket. It needs root (a network
// namespace and a TAP device); otherwise it skips.
//
//	go test -run '^$' -bench 'BenchmarkSend/.*/.*/.*/paired' -benchtime 480000x -count 3 ./link/tap/
func BenchmarkSend(b *testing.B) {
	ns := netns.New(b)
	var sock net.PacketConn
	if err := ns.Do(func() error {
		var err error
		sock, err = net.ListenPacket("udp4", "0.0.0.0:9999")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer sock.Close()
	for i, vnet := range []bool{false, true} {
		name := fmt.Sprintf("fipb%d", i)
		l, err := openIn(b, ns, Config{Name: name, VnetHdr: vnet})
		if err != nil {
			b.Fatal(err)
		}
		kern := netip.AddrFrom4([4]byte{192, 168, byte(7 + i), 1})
		ours := netip.AddrFrom4([4]byte{192, 168, byte(7 + i), 2})
		ns.Run("ip", "addr", "add", kern.String()+"/24", "dev", name)
		hdr := "plain"
		if vnet {
			hdr = "vnet"
		}
		for _, size := range []int{60, 1514} {
			for _, to := range []sendBenchTarget{toOtherHost, toUDPSocket} {
				frame := sendBenchFrame(l, size, ours, kern, to)
				frames := make([][]byte, sendBatchLen)
				for j := range frames {
					frames[j] = frame
				}
				prefix := fmt.Sprintf("%s/%d/%v/", hdr, size, to)
				b.Run(prefix+"single", func(b *testing.B) {
					defer threadCPU(b)()
					for range b.N {
						if err := l.Send(frame); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(prefix+"paired", func(b *testing.B) { pairedSend(b, l, frames) })
				b.Run(prefix+"batch", func(b *testing.B) {
					defer threadCPU(b)()
					for i := 0; i < b.N; i += sendBatchLen {
						k := min(sendBatchLen, b.N-i)
						if n, err := l.SendBatch(frames[:k], nil); err != nil || n != k {
							b.Fatalf("SendBatch: %d of %d: %v", n, k, err)
						}
					}
				})
			}
		}
		l.Close()
	}
}

// pairedSend compares the three ways of writing a block of sendBatchLen
// frames: Send per frame ("single"), one SendBatch ("batch"), and
// HoldWrites, Send per frame (each copied into the write queue) and
// FlushWrites ("held", what the root package's reader does for the
// answers of a batch). It runs the three back to back, rotating their
// order, b.N/(3*sendBatchLen) times, and reports each way's median time
// per frame (single-ns/frame, batch-ns/frame, held-ns/frame) and the
// ratios to single. Running them together and taking medians makes the
// comparison hold on a machine whose load changes during the run: the
// three see the same load, and a block in which the thread lost its CPU
// does not move a median. One op is one frame.
func pairedSend(b *testing.B, l *Link, frames [][]byte) {
	b.ReportAllocs()
	ways := []func(){
		func() {
			for _, f := range frames {
				if err := l.Send(f); err != nil {
					b.Fatal(err)
				}
			}
		},
		func() {
			if n, err := l.SendBatch(frames, nil); err != nil || n != len(frames) {
				b.Fatalf("SendBatch: %d of %d: %v", n, len(frames), err)
			}
		},
		func() {
			l.HoldWrites()
			for _, f := range frames {
				if err := l.Send(f); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.FlushWrites(); err != nil {
				b.Fatal(err)
			}
		},
	}
	rounds := max(1, b.N/(len(ways)*len(frames)))
	times := make([][]time.Duration, len(ways))
	for w := range times {
		times[w] = make([]time.Duration, rounds)
	}
	b.ResetTimer()
	for i := range rounds {
		for j := range ways {
			w := (i + j) % len(ways)
			t0 := time.Now()
			ways[w]()
			times[w][i] = time.Since(t0)
		}
	}
	b.StopTimer()
	med := make([]float64, len(ways))
	for w, t := range times {
		slices.Sort(t)
		med[w] = float64(t[rounds/2]) / float64(len(frames))
	}
	b.ReportMetric(med[0], "single-ns/frame")
	b.ReportMetric(med[1], "batch-ns/frame")
	b.ReportMetric(med[2], "held-ns/frame")
	b.ReportMetric(med[1]/med[0], "batch/single")
	b.ReportMetric(med[2]/med[0], "held/single")
}
