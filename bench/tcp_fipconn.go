package bench

import (
	"fmt"
	"io"
	"testing"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// fipConnect makes n connections from A to B of a FipShellPair with the
// root package's net.Conn API (Host.Dial, Host.Listen) and returns the
// client and server sides.
func fipConnect(p *FipShellPair, n int) (cli, srv []bulkConn, err error) {
	ln, err := p.B.Listen("tcp4", fmt.Sprintf(":%d", tcpPort))
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	for range n {
		c, err := p.A.Dial("tcp4", fmt.Sprintf("%v:%d", AddrB, tcpPort))
		if err != nil {
			return nil, nil, err
		}
		s, err := ln.Accept()
		if err != nil {
			return nil, nil, err
		}
		cli, srv = append(cli, netBulk{c}), append(srv, netBulk{s})
	}
	return cli, srv, nil
}

// fipNetBulk is the net.Conn bulk figure: each sender and each receiver on
// its own goroutine (runBulk, as for gonet), the Hosts' goroutines moving
// the frames.
func fipNetBulk(mtu, conns int) func(*testing.B) {
	return func(b *testing.B) {
		p, err := newFipShellPair(mtu, tcp.Config{TimeWait: gvTimeWait, MaxPCBs: conns + 16})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		cli, srv, err := fipConnect(p, conns)
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			for i := range cli {
				cli[i].close()
				srv[i].close()
			}
		}()
		runBulk(b, cli, srv)
		ta, tb := p.A.TCP(), p.B.TCP()
		var retrans uint64
		p.A.Do(func(*stack.Stack) { retrans += ta.Stats().RetransSegs })
		p.B.Do(func(*stack.Stack) { retrans += tb.Stats().RetransSegs })
		reportLinkStats(b, p.ea.Stats().Dropped+p.eb.Stats().Dropped, retrans)
	}
}

// fipNetRR times n 1-byte exchanges over featherip's TCPConn (Nagle off,
// the net.Conn default): the server echoes on its own goroutine.
func fipNetRR(n int) (Latency, error) {
	p, err := newFipShellPair(1500, tcp.Config{TimeWait: gvTimeWait})
	if err != nil {
		return Latency{}, err
	}
	defer p.Close()
	ln, err := p.B.Listen("tcp4", fmt.Sprintf(":%d", tcpPort))
	if err != nil {
		return Latency{}, err
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		io.Copy(s, s)
	}()
	c, err := p.A.Dial("tcp4", fmt.Sprintf("%v:%d", AddrB, tcpPort))
	if err != nil {
		return Latency{}, err
	}
	defer c.Close()
	return connRR(c, n)
}
