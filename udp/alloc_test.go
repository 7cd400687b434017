package udp_test

import (
	"testing"

	"github.com/featherip/featherip/udp"
)

// echoPair sets up an echo server on b and a client on a that counts
// replies, and warms the path up (ARP, pools).
func echoPair(tb testing.TB) (n *testNet, cli *udp.PCB, replies *int) {
	n = newNet(tb)
	srv := mustPCB(tb, n.b.u)
	mustBind(tb, srv, "0.0.0.0:7")
	srv.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		// Zero-copy echo: fill a buffer in place and hand it over.
		b := c.NewBuf(len(data))
		if b == nil {
			return
		}
		copy(b.Bytes(), data)
		c.SendBufTo(b, info.Src)
	})
	cli = mustPCB(tb, n.a.u)
	if err := cli.Connect(ap("10.0.0.2:7")); err != nil {
		tb.Fatal(err)
	}
	replies = new(int)
	cli.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) { *replies++ })
	msg := make([]byte, 64)
	for i := 0; i < 50; i++ {
		if err := cli.Send(msg); err != nil {
			tb.Fatal(err)
		}
		n.Pump()
	}
	if *replies != 50 {
		tb.Fatalf("warm-up: %d replies of 50", *replies)
	}
	return n, cli, replies
}

func TestEchoAllocs(t *testing.T) {
	n, cli, replies := echoPair(t)
	msg := make([]byte, 512)
	before := *replies
	allocs := testing.AllocsPerRun(200, func() {
		cli.Send(msg)
		n.Pump()
	})
	if *replies-before != 201 { // AllocsPerRun runs once more to warm up
		t.Fatalf("%d replies during the run, want 201", *replies-before)
	}
	if allocs != 0 {
		t.Errorf("UDP echo allocates %.1f times per packet, want 0", allocs)
	}
}

func BenchmarkEcho(b *testing.B) {
	n, cli, replies := echoPair(b)
	msg := make([]byte, 512)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	before := *replies
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cli.Send(msg)
		n.Pump()
	}
	b.StopTimer()
	if *replies-before != b.N {
		b.Fatalf("%d replies of %d", *replies-before, b.N)
	}
}
