package featherip

import (
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
)

// benchPair is two hosts on a pipe with a callback-API UDP echo server on
// b's port 7: both benchmarks below share it, so the difference between
// them is the client side's socket layer.
func benchPair(b *testing.B) (cli, srv *Host) {
	ea, eb := pipe.New(pipe.Config{QueueLen: 1024})
	var hs [2]*Host
	for i, l := range []*pipe.End{ea, eb} {
		h, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { h.Close() })
		if _, err := h.AddInterface(l, InterfaceConfig{Addrs: []netip.Prefix{[]netip.Prefix{addrA, addrB}[i]}}); err != nil {
			b.Fatal(err)
		}
		hs[i] = h
	}
	srv = hs[1]
	srv.Do(func(*stack.Stack) {
		pcb, err := srv.UDP().NewPCB()
		if err != nil {
			b.Fatal(err)
		}
		pcb.Bind(netip.AddrPortFrom(netip.Addr{}, 7))
		pcb.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) { c.SendTo(data, info.Src) })
	})
	return hs[0], srv
}

var benchEcho = netip.MustParseAddrPort("10.0.0.2:7")

// BenchmarkUDPRequestResponseSocket: one request/response at a time through
// UDPConn (WriteToUDPAddrPort, ReadFromUDPAddrPort).
func BenchmarkUDPRequestResponseSocket(b *testing.B) {
	cli, _ := benchPair(b)
	c, err := cli.ListenUDPAddrPort("udp4", netip.AddrPort{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 64)
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := c.WriteToUDPAddrPort(msg, benchEcho); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPRequestResponseCallback: the same exchange through the
// callback API: Do + SendTo, and an OnRecv that copies into a buffer and
// signals a channel.
func BenchmarkUDPRequestResponseCallback(b *testing.B) {
	cli, _ := benchPair(b)
	got := make(chan int, 1)
	buf := make([]byte, 2048)
	var pcb *udp.PCB
	cli.Do(func(*stack.Stack) {
		var err error
		if pcb, err = cli.UDP().NewPCB(); err != nil {
			b.Fatal(err)
		}
		pcb.Bind(netip.AddrPort{})
		pcb.OnRecv(func(_ *udp.PCB, data []byte, _ *udp.RecvInfo) {
			got <- copy(buf, data)
		})
	})
	msg := make([]byte, 64)
	var err error
	send := func(*stack.Stack) { err = pcb.SendTo(msg, benchEcho) }
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		cli.Do(send)
		if err != nil {
			b.Fatal(err)
		}
		<-got
	}
}
