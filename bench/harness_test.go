package bench

import (
	"bytes"
	"flag"
	"net/netip"
	"strings"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gudp "gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/featherip/featherip/udp"
)

// withBenchtime runs testing.Benchmark inside a test with a fixed op
// count, so the harness tests stay short.
func withBenchtime(t *testing.T, v string) {
	f := flag.Lookup("test.benchtime")
	old := f.Value.String()
	if err := f.Value.Set(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

func payload(i, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(i + k)
	}
	return b
}

// TestFipPairExchanges sends 100 datagrams each way between the featherip
// pair and checks every one arrives intact.
func TestFipPairExchanges(t *testing.T) {
	p, err := NewFipPair(1500)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, dir := range []struct {
		name     string
		from, to *FipHost
		dst      netip.Addr
	}{{"A->B", p.A, p.B, AddrB}, {"B->A", p.B, p.A, AddrA}} {
		rx, _ := dir.to.UDP.NewPCB()
		if err := rx.Bind(netip.AddrPortFrom(netip.Addr{}, udpPort)); err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		rx.OnRecv(func(_ *udp.PCB, d []byte, _ *udp.RecvInfo) { got = append(got, bytes.Clone(d)) })
		tx, _ := dir.from.UDP.NewPCB()
		if err := tx.Connect(netip.AddrPortFrom(dir.dst, udpPort)); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if err := tx.Send(payload(i, 1+i*14)); err != nil {
				t.Fatal(err)
			}
			if i%10 == 9 {
				p.Pump()
			}
		}
		if len(got) != 100 {
			t.Fatalf("%s: %d of 100 datagrams arrived", dir.name, len(got))
		}
		for i, g := range got {
			if !bytes.Equal(g, payload(i, 1+i*14)) {
				t.Fatalf("%s: datagram %d differs", dir.name, i)
			}
		}
		rx.Close()
		tx.Close()
	}
}

// TestGvPairExchanges does the same with the gVisor pair.
func TestGvPairExchanges(t *testing.T) {
	p, err := NewGvPair(1500)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, dir := range []struct {
		name     string
		from, to *GvHost
	}{{"A->B", p.A, p.B}, {"B->A", p.B, p.A}} {
		var rwq, twq waiter.Queue
		rx, e := dir.to.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, &rwq)
		if e != nil {
			t.Fatal(e)
		}
		if e := rx.Bind(tcpip.FullAddress{Port: udpPort}); e != nil {
			t.Fatal(e)
		}
		tx, e := dir.from.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, &twq)
		if e != nil {
			t.Fatal(e)
		}
		if e := tx.Connect(tcpip.FullAddress{Addr: dir.to.Addr, Port: udpPort}); e != nil {
			t.Fatal(e)
		}
		var r bytes.Reader
		var got [][]byte
		for i := range 100 {
			r.Reset(payload(i, 1+i*14))
			if _, e := tx.Write(&r, tcpip.WriteOptions{}); e != nil {
				t.Fatal(e)
			}
			if i%10 == 9 {
				p.Pump()
				for {
					var buf bytes.Buffer
					if _, e := rx.Read(&buf, tcpip.ReadOptions{}); e != nil {
						break
					}
					got = append(got, buf.Bytes())
				}
			}
		}
		if len(got) != 100 {
			t.Fatalf("%s: %d of 100 datagrams arrived", dir.name, len(got))
		}
		for i, g := range got {
			if !bytes.Equal(g, payload(i, 1+i*14)) {
				t.Fatalf("%s: datagram %d differs", dir.name, i)
			}
		}
		rx.Close()
		tx.Close()
	}
}

// TestPacketBenchmarks runs each packet benchmark body for 100 ops: they
// fail themselves when a datagram or an echo reply goes missing.
func TestPacketBenchmarks(t *testing.T) {
	withBenchtime(t, "100x")
	for name, f := range map[string]func(*testing.B){
		"fip udp 64": FipUDPStream(64, 1500), "gv udp 64": GvUDPStream(64, 1500),
		"fip udp 1472": FipUDPStream(1472, 1500), "gv udp 1472": GvUDPStream(1472, 1500),
		"fip icmp": FipICMPEcho(1500), "gv icmp": GvICMPEcho(1500),
	} {
		if r := testing.Benchmark(f); r.N != 100 {
			t.Errorf("%s: benchmark failed (N=%d)", name, r.N)
		}
	}
}

func TestUDPRR(t *testing.T) {
	for name, f := range map[string]func(int) (Latency, error){"featherip": FipUDPRR, "gVisor": GvUDPRR, "featherip UDPConn": FipUDPRRConn, "gVisor gonet": GvUDPRRConn} {
		l, err := f(100)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if l.N != 100 || l.Median <= 0 || l.P99 < l.Median {
			t.Fatalf("%s: implausible summary %+v", name, l)
		}
	}
}

func TestMinimalStackHeap(t *testing.T) {
	for name, f := range map[string]func(int) (HeapResult, error){"featherip": FipMinimalStack, "gVisor": GvMinimalStack} {
		r, err := f(20)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.BytesPerStack <= 0 {
			t.Fatalf("%s: a stack cannot cost %v bytes", name, r.BytesPerStack)
		}
	}
}

func TestGvTCPHarness(t *testing.T) { testTCPHarness(t, GvTCP{}, []API{APICallback, APINetConn}) }

func TestFipTCPHarness(t *testing.T) { testTCPHarness(t, FipTCP{}, []API{APICallback, APINetConn}) }

// testTCPHarness runs every TCP figure of s briefly: each fails itself when
// bytes go missing or connections do not come up or go down.
func testTCPHarness(t *testing.T, s TCPStack, apis []API) {
	withBenchtime(t, "20x")
	for _, api := range apis {
		for _, mtu := range []int{1500, 65535} {
			for _, conns := range []int{1, 8} {
				f, err := s.Bulk(mtu, conns, api)
				if err != nil {
					t.Fatal(err)
				}
				r := testing.Benchmark(f)
				if r.N != 20 || r.Bytes != bulkChunk {
					t.Fatalf("bulk %v MTU %d x%d failed: %+v", api, mtu, conns, r)
				}
				if d := r.Extra["linkdrops"]; d != 0 {
					t.Errorf("bulk %v MTU %d x%d: the link dropped %v frames", api, mtu, conns, d)
				}
			}
		}
		l, err := s.RR(api, 100)
		if err != nil || l.N != 100 {
			t.Fatalf("RR %v: %+v %v", api, l, err)
		}
	}
	perConn, err := s.IdleConns(50)
	if err != nil || perConn <= 0 {
		t.Fatalf("idle conns: %v %v", perConn, err)
	}
	f, err := s.ConnSetup()
	if err != nil {
		t.Fatal(err)
	}
	if r := testing.Benchmark(f); r.N != 20 {
		t.Fatalf("conn setup failed: %+v", r)
	}
}

// TestReportNeverInventsNumbers checks the table prints "not yet measured"
// and no ratio for a side that could not run, medians for the others, and
// which stack a ratio favors.
func TestReportNeverInventsNumbers(t *testing.T) {
	runs := 0
	ex := []Experiment{{
		Name: "x",
		Fip:  func() (Metrics, error) { return nil, ErrNotYetMeasured },
		Gv: func() (Metrics, error) {
			runs++
			return Metrics{mRate: float64(runs * 100)}, nil
		},
		Rows: []Row{{"rate", mRate, "packets/s", true}},
	}, {
		Name: "y",
		Fip:  func() (Metrics, error) { return Metrics{mHeap: 50}, nil },
		Gv:   func() (Metrics, error) { return Metrics{mHeap: 100}, nil },
		Rows: []Row{{"heap", mHeap, "B", false}},
	}}
	lines, _ := Run(ex, 3, nil)
	if runs != 3 || !lines[0].Gv.OK || lines[0].Gv.Median != 200 {
		t.Fatalf("gVisor median of 100, 200, 300 should be 200: %+v (runs %d)", lines[0].Gv, runs)
	}
	if lines[0].Fip.OK || lines[0].Fip.Note != "not yet measured" {
		t.Fatalf("featherip side: %+v", lines[0].Fip)
	}
	if _, _, ok := lines[0].Ratio(); ok {
		t.Fatal("a ratio against a missing figure")
	}
	if r, better, ok := lines[1].Ratio(); !ok || r != 0.5 || better != "featherip" {
		t.Fatalf("ratio %v %q %v, want 0.5 featherip", r, better, ok)
	}
	md := Markdown(lines)
	if !strings.Contains(md, "| not yet measured | 200 packets/s | — | — |") {
		t.Fatalf("markdown:\n%s", md)
	}
}
