package sim

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/link/ethswitch"
	"github.com/featherip/featherip/link/fault"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

var (
	pfxA = netip.MustParsePrefix("10.0.0.1/24")
	pfxB = netip.MustParsePrefix("10.0.0.2/24")
)

// twoHosts builds a network with hosts a and b on a switch whose frames take
// delay to cross.
func twoHosts(t *testing.T, seed uint64, delay time.Duration, fc *fault.Config) (*Network, *Host, *Host) {
	t.Helper()
	n, err := New(Config{Seed: seed, Switch: ethswitch.Config{Delay: delay}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	a, err := n.AddHost(HostConfig{Name: "a", Addrs: []netip.Prefix{pfxA}, Fault: fc})
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost(HostConfig{Name: "b", Addrs: []netip.Prefix{pfxB}, Fault: fc})
	if err != nil {
		t.Fatal(err)
	}
	return n, a, b
}

func TestClock(t *testing.T) {
	var c Clock
	if c.Now() != 0 {
		t.Fatalf("zero clock reads %v", c.Now())
	}
	c.Advance(3 * time.Second)
	c.AdvanceTo(time.Second) // in the past: no effect
	if c.Now() != 3*time.Second {
		t.Fatalf("clock reads %v, want 3s", c.Now())
	}
	c.AdvanceTo(time.Hour)
	if c.Now() != time.Hour {
		t.Fatalf("clock reads %v, want 1h", c.Now())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Advance(-1) did not panic")
		}
	}()
	c.Advance(-1)
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{Switch: ethswitch.Config{Clock: NewClock()}}); err == nil || !strings.Contains(err.Error(), "Switch.Clock") {
		t.Errorf("Switch.Clock accepted: %v", err)
	}
	if _, err := New(Config{Switch: ethswitch.Config{MTU: -1}}); err == nil || !strings.Contains(err.Error(), "MTU") {
		t.Errorf("negative MTU accepted: %v", err)
	}
	n, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.AddHost(HostConfig{Stack: stack.Config{Clock: NewClock()}}); err == nil || !strings.Contains(err.Error(), "Stack.Clock") {
		t.Errorf("Stack.Clock accepted: %v", err)
	}
	if _, err := n.AddHost(HostConfig{MAC: []byte{1, 2, 3}}); err == nil || !strings.Contains(err.Error(), "MAC") {
		t.Errorf("3-byte MAC accepted: %v", err)
	}
	if _, err := n.AddHost(HostConfig{MTU: 9000}); err == nil || !strings.Contains(err.Error(), "MTU") {
		t.Errorf("MTU above the switch's accepted: %v", err)
	}
}

// TestARPAndPing checks ARP resolution and an echo exchange with exact
// virtual timing: with 1ms per hop, the first ping needs ARP request, ARP
// reply, echo request and echo reply: 4ms; the second one 2ms.
func TestARPAndPing(t *testing.T) {
	n, a, b := twoHosts(t, 1, time.Millisecond, nil)
	n.Run(10 * time.Millisecond) // let the gratuitous ARPs pass
	p := newPinger(t, a, 0x1234, payload(56, 1))
	want := 4 * time.Millisecond
	for _, nb := range a.Stack.Neighbors() {
		if nb.IP == pfxB.Addr() && nb.MAC != (wire.MAC{}) {
			want = 2 * time.Millisecond // learned from b's gratuitous ARP
		}
	}
	start := n.Now()
	p.send(pfxB.Addr(), 1)
	if !n.RunUntil(func() bool { return p.replies[1] > 0 }, 5*time.Second) {
		t.Fatal("no echo reply within 5s")
	}
	if got := n.Now() - start; got != want {
		t.Errorf("first ping took %v of virtual time, want %v", got, want)
	}
	start = n.Now()
	p.send(pfxB.Addr(), 2)
	if !n.RunUntil(func() bool { return p.replies[2] > 0 }, 5*time.Second) {
		t.Fatal("no reply to the second ping")
	}
	if got := n.Now() - start; got != 2*time.Millisecond {
		t.Errorf("second ping took %v, want 2ms (ARP cached)", got)
	}
	if p.bad != 0 || p.replies[1] != 1 || p.replies[2] != 1 {
		t.Errorf("replies %v, bad %d: want exactly one good reply each", p.replies, p.bad)
	}
	// Each side learned the other's MAC.
	for _, c := range []struct {
		h   *Host
		ip  netip.Addr
		mac wire.MAC
	}{{a, pfxB.Addr(), wire.MAC(b.Port.HardwareAddr())}, {b, pfxA.Addr(), wire.MAC(a.Port.HardwareAddr())}} {
		var found bool
		for _, nb := range c.h.Stack.Neighbors() {
			if nb.IP == c.ip {
				found = true
				if nb.MAC != c.mac {
					t.Errorf("%s: neighbour %v has MAC %v, want %v", c.h.Name, c.ip, nb.MAC, c.mac)
				}
			}
		}
		if !found {
			t.Errorf("%s: no neighbour entry for %v in %+v", c.h.Name, c.ip, c.h.Stack.Neighbors())
		}
	}
}

// TestPingSizes pings with payloads that need fragmentation.
func TestPingSizes(t *testing.T) {
	n, a, _ := twoHosts(t, 2, 100*time.Microsecond, nil)
	for i, size := range []int{0, 1, 1472, 1473, 4000, 30000} {
		p := newPinger(t, a, uint16(100+i), payload(size, byte(i)))
		p.send(pfxB.Addr(), 1)
		if !n.RunUntil(func() bool { return p.replies[1] > 0 || p.bad > 0 }, 5*time.Second) {
			t.Fatalf("%d bytes: no reply", size)
		}
		if p.bad > 0 {
			t.Fatalf("%d bytes: reply with wrong data", size)
		}
	}
}

func TestUDPExchange(t *testing.T) {
	n, a, b := twoHosts(t, 3, time.Millisecond, nil)
	echoServer(t, b)
	cli, err := a.UDP.NewPCB()
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	cli.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		if info.Src != netip.AddrPortFrom(pfxB.Addr(), 7) || info.Dst != pfxA.Addr() {
			t.Errorf("reply %v -> %v", info.Src, info.Dst)
		}
		got = append(got, bytes.Clone(data))
	})
	if err := cli.Connect(netip.AddrPortFrom(pfxB.Addr(), 7)); err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	for i, size := range []int{0, 1, 512, 1472, 1473, 9000} {
		msg := payload(size, byte(i))
		sent = append(sent, msg)
		if err := cli.Send(msg); err != nil {
			t.Fatalf("Send %d: %v", size, err)
		}
		if i == 0 {
			// Resolve ARP first: the stack queues only a few datagrams
			// per unresolved neighbour.
			if !n.RunUntil(func() bool { return len(got) == 1 }, time.Second) {
				t.Fatal("no echo of the first datagram")
			}
		}
	}
	if !n.RunUntil(func() bool { return len(got) == len(sent) }, 5*time.Second) {
		t.Fatalf("got %d of %d echoes", len(got), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Errorf("echo %d: %d bytes back for %d sent, or data differ", i, len(got[i]), len(sent[i]))
		}
	}
	// A closed port answers with port unreachable: the connected pcb sees
	// ErrConnRefused.
	var refused error
	cli2, err := a.UDP.NewPCB()
	if err != nil {
		t.Fatal(err)
	}
	cli2.OnError(func(c *udp.PCB, err error) { refused = err })
	if err := cli2.Connect(netip.AddrPortFrom(pfxB.Addr(), 9999)); err != nil {
		t.Fatal(err)
	}
	if err := cli2.Send([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	if !n.RunUntil(func() bool { return refused != nil }, 5*time.Second) {
		t.Fatal("no error for a datagram to a closed port")
	}
	if !errors.Is(refused, udp.ErrConnRefused) {
		t.Errorf("error %v, want udp.ErrConnRefused", refused)
	}
}

// TestRunUntilLimit checks that RunUntil gives up at the limit with the
// clock at the limit.
func TestRunUntilLimit(t *testing.T) {
	n, _, _ := twoHosts(t, 4, 0, nil)
	start := n.Now()
	if n.RunUntil(func() bool { return false }, 3*time.Second) {
		t.Fatal("RunUntil reported an impossible condition as met")
	}
	if got := n.Now() - start; got != 3*time.Second {
		t.Fatalf("clock advanced %v, want 3s", got)
	}
	n.Run(2 * time.Second)
	if got := n.Now() - start; got != 5*time.Second {
		t.Fatalf("clock advanced %v, want 5s", got)
	}
}

// TestHourInVirtualTime runs an hour of virtual time with resolved ARP
// entries aging and a ping every minute; it must take well under a second.
func TestHourInVirtualTime(t *testing.T) {
	n, a, _ := twoHosts(t, 5, time.Millisecond, nil)
	p := newPinger(t, a, 7, payload(32, 7))
	wall := time.Now()
	for seq := uint16(1); seq <= 60; seq++ {
		p.send(pfxB.Addr(), seq)
		n.Run(time.Minute)
		if p.replies[seq] != 1 {
			t.Fatalf("minute %d: %d replies", seq, p.replies[seq])
		}
	}
	if n.Now() < time.Hour {
		t.Fatalf("virtual clock reads %v, want >= 1h", n.Now())
	}
	if el := time.Since(wall); el > time.Second {
		t.Fatalf("an hour of virtual time took %v of wall time", el)
	}
	t.Logf("1h virtual in %v wall", time.Since(wall))
}

// TestDeterministic checks that the same seed gives the same run.
func TestDeterministic(t *testing.T) {
	run := func() (ports []uint16, at []time.Duration) {
		n, a, b := twoHosts(t, 42, 250*time.Microsecond, nil)
		echoServer(t, b)
		for i := 0; i < 5; i++ {
			c, err := a.UDP.NewPCB()
			if err != nil {
				t.Fatal(err)
			}
			done := false
			c.OnRecv(func(*udp.PCB, []byte, *udp.RecvInfo) { done = true })
			if err := c.SendTo([]byte("x"), netip.AddrPortFrom(pfxB.Addr(), 7)); err != nil {
				t.Fatal(err)
			}
			if !n.RunUntil(func() bool { return done }, time.Second) {
				t.Fatal("no echo")
			}
			ports = append(ports, c.LocalAddr().Port())
			at = append(at, n.Now())
		}
		return ports, at
	}
	p1, t1 := run()
	p2, t2 := run()
	for i := range p1 {
		if p1[i] != p2[i] || t1[i] != t2[i] {
			t.Fatalf("runs differ: ports %v vs %v, times %v vs %v", p1, p2, t1, t2)
		}
	}
}

// TestExtraInterfaceOnPipe attaches a third host through a pipe on the
// network's clock to a second interface of b.
func TestExtraInterfaceOnPipe(t *testing.T) {
	n, _, b := twoHosts(t, 6, time.Millisecond, nil)
	c, err := n.AddHost(HostConfig{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	pb, pc := pipe.New(pipe.Config{Clock: n.Clock(), Delay: time.Millisecond,
		MACA: []byte{2, 1, 0, 0, 0, 1}, MACB: []byte{2, 1, 0, 0, 0, 2}})
	if _, err := b.AddInterface(pb, InterfaceConfig{Name: "p0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddInterface(pc, InterfaceConfig{Name: "p0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24")}}); err != nil {
		t.Fatal(err)
	}
	p := newPinger(t, c, 9, payload(100, 9))
	p.send(netip.MustParseAddr("10.1.0.1"), 1)
	if !n.RunUntil(func() bool { return p.replies[1] > 0 }, time.Second) {
		t.Fatal("no reply across the pipe")
	}
}
