package bench

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gudp "gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/featherip/featherip/udp"
)

// Latency summarizes round-trip times.
type Latency struct {
	Median, P99 time.Duration // 50th and 99th percentile
	N           int           // exchanges timed
}

// summarize sorts d and takes its median and 99th percentile.
func summarize(d []time.Duration) Latency {
	slices.Sort(d)
	return Latency{Median: d[len(d)/2], P99: d[(len(d)*99)/100], N: len(d)}
}

// rrWarmup round trips run before the timed ones.
const rrWarmup = 1000

// timeRR runs rrWarmup untimed and then n timed calls of exchange.
func timeRR(n int, exchange func(i int) error) (Latency, error) {
	d := make([]time.Duration, 0, n)
	for i := range rrWarmup + n {
		t0 := time.Now()
		if err := exchange(i); err != nil {
			return Latency{}, err
		}
		if i >= rrWarmup {
			d = append(d, time.Since(t0))
		}
	}
	return summarize(d), nil
}

// benchRR turns an exchange into a benchmark: one op is one exchange.
func benchRR(setup func() (func(int) error, func(), error)) func(*testing.B) {
	return func(b *testing.B) {
		ex, done, err := setup()
		if err != nil {
			b.Fatal(err)
		}
		defer done()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := ex(i); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// latencyRR times n exchanges of setup's kind.
func latencyRR(setup func() (func(int) error, func(), error), n int) (Latency, error) {
	ex, done, err := setup()
	if err != nil {
		return Latency{}, err
	}
	defer done()
	return timeRR(n, ex)
}

// FipUDPRR times n request/response exchanges of 1-byte UDP datagrams
// between two featherip stacks: the client sends one byte, the server's
// OnRecv echoes it back from inside the callback, and the client's OnRecv
// sees the answer, all moved by the pump on this goroutine.
func FipUDPRR(n int) (Latency, error) { return latencyRR(fipUDPRRSetup, n) }

// FipUDPRRBench is FipUDPRR as a benchmark (one op is one exchange), for
// profiles.
func FipUDPRRBench() func(*testing.B) { return benchRR(fipUDPRRSetup) }

func fipUDPRRSetup() (func(int) error, func(), error) {
	p, err := NewFipPair(1500)
	if err != nil {
		return nil, nil, err
	}
	srv, err := p.B.UDP.NewPCB()
	if err != nil {
		return nil, nil, err
	}
	if err := srv.Bind(netip.AddrPortFrom(netip.Addr{}, udpPort)); err != nil {
		return nil, nil, err
	}
	srv.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		c.SendTo(data, info.Src)
	})
	cli, err := p.A.UDP.NewPCB()
	if err != nil {
		return nil, nil, err
	}
	if err := cli.Connect(netip.AddrPortFrom(AddrB, udpPort)); err != nil {
		return nil, nil, err
	}
	answers := 0
	cli.OnRecv(func(*udp.PCB, []byte, *udp.RecvInfo) { answers++ })
	req := []byte{'x'}
	return func(i int) error {
		if err := cli.Send(req); err != nil {
			return err
		}
		p.Pump()
		if answers != i+1 {
			return fmt.Errorf("featherip: no answer to request %d", i)
		}
		return nil
	}, p.Close, nil
}

// GvUDPRR times n request/response exchanges of 1-byte UDP datagrams
// between two gVisor stacks with the tcpip.Endpoint API on one goroutine:
// the client writes, the pump delivers, the server reads and writes back,
// the pump delivers, the client reads.
func GvUDPRR(n int) (Latency, error) { return latencyRR(gvUDPRRSetup, n) }

// GvUDPRRBench is GvUDPRR as a benchmark (one op is one exchange).
func GvUDPRRBench() func(*testing.B) { return benchRR(gvUDPRRSetup) }

func gvUDPRRSetup() (func(int) error, func(), error) {
	p, err := NewGvPair(1500)
	if err != nil {
		return nil, nil, err
	}
	var swq, cwq waiter.Queue
	srv, terr := p.B.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, &swq)
	if terr != nil {
		return nil, nil, errors.New(terr.String())
	}
	if terr := srv.Bind(tcpip.FullAddress{Port: udpPort}); terr != nil {
		return nil, nil, errors.New(terr.String())
	}
	cli, terr := p.A.S.NewEndpoint(gudp.ProtocolNumber, ipv4.ProtocolNumber, &cwq)
	if terr != nil {
		return nil, nil, errors.New(terr.String())
	}
	if terr := cli.Connect(tcpip.FullAddress{Addr: p.B.Addr, Port: udpPort}); terr != nil {
		return nil, nil, errors.New(terr.String())
	}
	req := []byte{'x'}
	app := make([]byte, 2048)
	var r bytes.Reader
	w := new(tcpip.SliceWriter) // reused: a fresh one per Read would allocate
	done := func() {
		srv.Close()
		cli.Close()
		p.Close()
	}
	return func(i int) error {
		r.Reset(req)
		if _, terr := cli.Write(&r, tcpip.WriteOptions{}); terr != nil {
			return errors.New(terr.String())
		}
		p.Pump()
		*w = app
		res, terr := srv.Read(w, tcpip.ReadOptions{NeedRemoteAddr: true})
		if terr != nil {
			return fmt.Errorf("gVisor: server read %d: %s", i, terr)
		}
		r.Reset(app[:res.Count])
		to := res.RemoteAddr
		if _, terr := srv.Write(&r, tcpip.WriteOptions{To: &to}); terr != nil {
			return errors.New(terr.String())
		}
		p.Pump()
		*w = app
		if _, terr := cli.Read(w, tcpip.ReadOptions{}); terr != nil {
			return fmt.Errorf("gVisor: no answer to request %d: %s", i, terr)
		}
		return nil
	}, done, nil
}

// GvUDPRRConn times n request/response exchanges of 1-byte UDP datagrams
// over gVisor's gonet.UDPConn (the net.PacketConn API): a client goroutine
// and a server goroutine, blocking calls, the link forwarded by goroutines.
func GvUDPRRConn(n int) (Latency, error) {
	p, err := NewGvPair(1500)
	if err != nil {
		return Latency{}, err
	}
	p.Start()
	defer p.Close()
	srv, err := gonet.DialUDP(p.B.S, &tcpip.FullAddress{NIC: gvNIC, Addr: p.B.Addr, Port: udpPort}, nil, ipv4.ProtocolNumber)
	if err != nil {
		return Latency{}, err
	}
	defer srv.Close()
	cli, err := gonet.DialUDP(p.A.S, nil, &tcpip.FullAddress{NIC: gvNIC, Addr: p.B.Addr, Port: udpPort}, ipv4.ProtocolNumber)
	if err != nil {
		return Latency{}, err
	}
	defer cli.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err := srv.WriteTo(buf[:k], from); err != nil {
				return
			}
		}
	}()
	return connRR(cli, n)
}

// connRR times n 1-byte exchanges on c (a connected UDP or TCP conn whose
// peer echoes).
func connRR(c net.Conn, n int) (Latency, error) {
	req := []byte{'x'}
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	return timeRR(n, func(i int) error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		if _, err := c.Read(buf); err != nil {
			return fmt.Errorf("exchange %d: %w", i, err)
		}
		return nil
	})
}
