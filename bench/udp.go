package bench

import (
	"bytes"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gudp "gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/featherip/featherip/udp"
)

// udpBatch is how many datagrams the sender queues before the pump runs:
// both links queue them (the featherip pipe holds 1024 frames, the gVisor
// channel 1024), so neither drops.
const udpBatch = 16

const udpPort = 9000

// FipUDPStream measures one-way UDP between two featherip stacks with the
// callback API: the sender's PCB.Send (which copies), the pipe, the
// receiver's OnRecv, which copies the payload into an application buffer.
// One op is one datagram sent and received.
func FipUDPStream(size, mtu int) func(*testing.B) {
	return func(b *testing.B) {
		p, err := NewFipPair(mtu)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		got, err := fipUDPSink(p.B)
		if err != nil {
			b.Fatal(err)
		}
		tx, err := p.A.UDP.NewPCB()
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Connect(netip.AddrPortFrom(AddrB, udpPort)); err != nil {
			b.Fatal(err)
		}
		payload := make([]byte, size)
		b.SetBytes(int64(size))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; {
			n := min(udpBatch, b.N-i)
			for range n {
				if err := tx.Send(payload); err != nil {
					b.Fatal(err)
				}
			}
			p.Pump()
			i += n
		}
		b.StopTimer()
		if *got != b.N {
			b.Fatalf("featherip: received %d datagrams of %d sent", *got, b.N)
		}
	}
}

// fipUDPSink binds a PCB on h at udpPort whose callback copies each
// datagram into an application buffer and counts it.
func fipUDPSink(h *FipHost) (*int, error) {
	rx, err := h.UDP.NewPCB()
	if err != nil {
		return nil, err
	}
	if err := rx.Bind(netip.AddrPortFrom(netip.Addr{}, udpPort)); err != nil {
		return nil, err
	}
	app := make([]byte, 65536)
	n := new(int)
	rx.OnRecv(func(_ *udp.PCB, data []byte, _ *udp.RecvInfo) {
		copy(app, data)
		*n++
	})
	return n, nil
}

// GvUDPStream measures one-way UDP between two gVisor stacks with the
// tcpip.Endpoint API: Write from a bytes.Reader, the channel link, and a
// non-blocking Read into an application buffer on the same goroutine. One
// op is one datagram sent and received.
func GvUDPStream(size, mtu int) func(*testing.B) {
	return func(b *testing.B) {
		p, err := NewGvPair(mtu)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		var rwq, twq waiter.Queue
		rx, terr := p.B.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, &rwq)
		if terr != nil {
			b.Fatal(terr)
		}
		defer rx.Close()
		if terr := rx.Bind(tcpip.FullAddress{Port: udpPort}); terr != nil {
			b.Fatal(terr)
		}
		tx, terr := p.A.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, &twq)
		if terr != nil {
			b.Fatal(terr)
		}
		defer tx.Close()
		if terr := tx.Connect(tcpip.FullAddress{Addr: p.B.Addr, Port: udpPort}); terr != nil {
			b.Fatal(terr)
		}
		payload := make([]byte, size)
		app := make([]byte, 65536)
		var r bytes.Reader
		w := new(tcpip.SliceWriter) // reused: a fresh one per Read would allocate
		got := 0
		b.SetBytes(int64(size))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; {
			n := min(udpBatch, b.N-i)
			for range n {
				r.Reset(payload)
				if _, terr := tx.Write(&r, tcpip.WriteOptions{}); terr != nil {
					b.Fatal(terr)
				}
			}
			p.Pump()
			for {
				*w = app
				if _, terr := rx.Read(w, tcpip.ReadOptions{}); terr != nil {
					break
				}
				got++
			}
			i += n
		}
		b.StopTimer()
		if got != b.N {
			b.Fatalf("gVisor: received %d datagrams of %d sent", got, b.N)
		}
	}
}
