package main

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/app/iperf"
	"github.com/featherip/featherip/link/ethswitch"
	"github.com/featherip/featherip/sim"
	"github.com/featherip/featherip/tcp"
)

func TestChargenPattern(t *testing.T) {
	b := chargenPattern(3 * chargenCycle)
	if len(b) != 3*chargenCycle {
		t.Fatalf("len %d", len(b))
	}
	lines := bytes.Split(b[:len(b)-2], []byte("\r\n"))
	if len(lines) != 3*95 {
		t.Fatalf("%d lines, want %d", len(lines), 3*95)
	}
	for i, l := range lines {
		if len(l) != chargenLine {
			t.Fatalf("line %d has %d characters", i, len(l))
		}
		if l[0] != byte(' '+i%95) {
			t.Fatalf("line %d starts with %q", i, l[0])
		}
		for j := 1; j < len(l); j++ {
			if want := byte(' ' + (i+j)%95); l[j] != want || l[j] < ' ' || l[j] > '~' {
				t.Fatalf("line %d char %d = %q, want %q", i, j, l[j], want)
			}
		}
	}
	if string(lines[0][:3]) != ` !"` || lines[94][0] != '~' || lines[95][0] != ' ' {
		t.Errorf("lines start %q, %q, %q", lines[0][:3], lines[94][:1], lines[95][:1])
	}
}

// svcNet is a client stack and a server stack running the TCP services
// under virtual time.
type svcNet struct {
	n      *sim.Network
	client *tcp.Protocol
	svc    *tcpServices
	reps   bytes.Buffer
}

func newSvcNet(t *testing.T) *svcNet {
	t.Helper()
	n, err := sim.New(sim.Config{Seed: 3, Switch: ethswitch.Config{Delay: 200 * time.Microsecond}})
	if err != nil {
		t.Fatal(err)
	}
	sn := &svcNet{n: n, svc: &tcpServices{}}
	sn.svc.report = &sn.reps
	for i, addr := range []string{"10.0.0.1/24", "10.0.0.2/24"} {
		h, err := n.AddHost(sim.HostConfig{Addrs: []netip.Prefix{netip.MustParsePrefix(addr)}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := tcp.New(h.Stack, tcp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			sn.client = p
		} else if err := startTCPServices(h.Stack, p, sn.svc); err != nil {
			t.Fatal(err)
		}
	}
	return sn
}

// conn is a test client connection that collects what it receives.
type conn struct {
	pcb      *tcp.PCB
	up, fin  bool
	err      error
	received []byte
}

func (sn *svcNet) dial(t *testing.T, port uint16) *conn {
	t.Helper()
	c := &conn{}
	pcb, err := sn.client.NewPCB()
	if err != nil {
		t.Fatal(err)
	}
	c.pcb = pcb
	pcb.OnConnected(func(_ *tcp.PCB, err error) { c.up, c.err = err == nil, err })
	pcb.OnRecv(func(p *tcp.PCB, data []byte) {
		if data == nil {
			c.fin = true
			return
		}
		c.received = append(c.received, data...)
		p.Recved(len(data))
	})
	pcb.OnError(func(_ *tcp.PCB, err error) { c.err = err })
	if err := pcb.Connect(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), port)); err != nil {
		t.Fatal(err)
	}
	if !sn.n.RunUntil(func() bool { return c.up || c.err != nil }, 5*time.Second) || c.err != nil {
		t.Fatalf("connect to port %d: %v", port, c.err)
	}
	return c
}

// send writes all of data, running the network while the buffer is full.
func (sn *svcNet) send(t *testing.T, c *conn, data []byte) {
	t.Helper()
	for len(data) > 0 {
		n, err := c.pcb.Write(data)
		if err != nil && err != tcp.ErrBufferFull {
			t.Fatal(err)
		}
		data = data[n:]
		if n == 0 {
			sn.n.Run(time.Millisecond)
		}
	}
}

// TestTCPEcho sends 3 MiB, far more than the windows and buffers hold, to
// the echo service, then half-closes: everything comes back in order, then
// the service's FIN.
func TestTCPEcho(t *testing.T) {
	sn := newSvcNet(t)
	c := sn.dial(t, portEcho)
	data := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sn.send(t, c, data)
	c.pcb.Shutdown()
	if !sn.n.RunUntil(func() bool { return c.fin || c.err != nil }, time.Minute) {
		t.Fatalf("no FIN from echo; got %d of %d bytes", len(c.received), len(data))
	}
	if c.err != nil || sha256.Sum256(c.received) != sha256.Sum256(data) {
		t.Fatalf("echo: %d bytes back (want %d), err %v", len(c.received), len(data), c.err)
	}
	if sn.svc.EchoConns != 1 || sn.svc.EchoBytes != uint64(len(data)) || sn.svc.Errors != 0 {
		t.Errorf("counters %+v", sn.svc)
	}
}

func TestTCPDiscard(t *testing.T) {
	sn := newSvcNet(t)
	c := sn.dial(t, portDiscard)
	sn.send(t, c, make([]byte, 1<<20))
	c.pcb.Shutdown()
	if !sn.n.RunUntil(func() bool { return c.fin }, 10*time.Second) {
		t.Fatal("no FIN from discard")
	}
	if len(c.received) != 0 || sn.svc.DiscardBytes != 1<<20 || sn.svc.DiscardConns != 1 {
		t.Errorf("received %d, counters %+v", len(c.received), sn.svc)
	}
}

func TestTCPChargen(t *testing.T) {
	sn := newSvcNet(t)
	c := sn.dial(t, portChargen)
	const want = 1 << 20
	if !sn.n.RunUntil(func() bool { return len(c.received) >= want }, 10*time.Second) {
		t.Fatalf("chargen sent %d bytes", len(c.received))
	}
	if !bytes.Equal(c.received, chargenPattern(len(c.received))) {
		t.Fatal("chargen stream differs from the RFC 864 pattern")
	}
	c.pcb.Abort()
	sn.n.Run(100 * time.Millisecond)
	if sn.svc.ChargenConns != 1 || sn.svc.ChargenBytes < want/2 {
		t.Errorf("counters %+v", sn.svc)
	}
}

func TestTCPIperfService(t *testing.T) {
	sn := newSvcNet(t)
	var done *iperf.Report
	var cs *sim.Host = sn.n.Hosts()[0]
	if _, err := iperf.Dial(cs.Stack, sn.client, iperf.ClientConfig{Remote: netip.MustParseAddrPort("10.0.0.2:5001"), Bytes: 2 << 20,
		OnDone: func(r iperf.Report) { done = &r }}); err != nil {
		t.Fatal(err)
	}
	if !sn.n.RunUntil(func() bool { return done != nil && sn.svc.IperfTests == 1 }, time.Minute) {
		t.Fatal("iperf test did not end")
	}
	if done.Err != nil || sn.svc.IperfBytes != 2<<20 || !bytes.HasPrefix(sn.reps.Bytes(), []byte("iperf 10.0.0.2:5001 <- 10.0.0.1:")) {
		t.Errorf("client %v, counters %+v, report %q", done, sn.svc, sn.reps.String())
	}
}
