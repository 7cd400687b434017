package featherip

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

var (
	addrA = netip.MustParsePrefix("10.0.0.1/24")
	addrB = netip.MustParsePrefix("10.0.0.2/24")
)

// newPair returns two hosts joined by an in-memory pipe in real time.
func newPair(t *testing.T) (a, b *Host) {
	t.Helper()
	ea, eb := pipe.New(pipe.Config{})
	a = newHost(t, ea, addrA)
	b = newHost(t, eb, addrB)
	return a, b
}

func newHost(t *testing.T, l link.Link, p netip.Prefix) *Host {
	t.Helper()
	h, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if _, err := h.AddInterface(l, InterfaceConfig{Addrs: []netip.Prefix{p}}); err != nil {
		t.Fatalf("AddInterface: %v", err)
	}
	return h
}

func TestNewRejectsClock(t *testing.T) {
	_, err := New(Config{Stack: stack.Config{Clock: link.MonotonicClock()}})
	if err == nil || !strings.Contains(err.Error(), "Config.Stack.Clock") {
		t.Fatalf("New with a clock: err = %v, want one naming Config.Stack.Clock", err)
	}
}

func TestAddInterfaceValidates(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ea, eb := pipe.New(pipe.Config{})
	defer ea.Close()
	defer eb.Close()
	for _, tc := range []struct {
		name string
		cfg  InterfaceConfig
		want string
	}{
		{"mtu too big", InterfaceConfig{MTU: 9000}, "MTU"},
		{"mtu too small", InterfaceConfig{MTU: 67}, "MTU"},
		{"ipv6 address", InterfaceConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("fd00::1/64")}}, "Addrs"},
		{"invalid prefix", InterfaceConfig{Addrs: []netip.Prefix{{}}}, "Addrs"},
		{"multicast address", InterfaceConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("224.0.0.1/4")}}, "Addrs"},
		{"ipv6 gateway", InterfaceConfig{Gateway: netip.MustParseAddr("fd00::1")}, "Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.AddInterface(ea, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
	if _, err := h.AddInterface(nil, InterfaceConfig{}); err == nil {
		t.Fatal("nil link accepted")
	}
}

func TestAddInterfaceAfterClose(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	ea, _ := pipe.New(pipe.Config{})
	if _, err := h.AddInterface(ea, InterfaceConfig{}); err != ErrClosed {
		t.Fatalf("AddInterface after Close: err = %v, want ErrClosed", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestAddInterfaceSetsAddressesAndRoutes(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ea, _ := pipe.New(pipe.Config{})
	gw := netip.MustParseAddr("10.0.0.254")
	nic, err := h.AddInterface(ea, InterfaceConfig{Name: "tst0", Addrs: []netip.Prefix{addrA}, Gateway: gw, MTU: 1400})
	if err != nil {
		t.Fatal(err)
	}
	h.Do(func(s *stack.Stack) {
		var v4 []netip.Prefix // IPv6 link-local addresses come on their own
		for _, a := range s.Addresses(nic) {
			if a.Addr().Is4() {
				v4 = append(v4, a)
			}
		}
		if len(v4) != 1 || v4[0] != addrA {
			t.Errorf("IPv4 addresses = %v, want [%v]", v4, addrA)
		}
		var found bool
		for _, r := range s.Routes() {
			if r.Dst.Bits() == 0 && r.Gateway == gw && r.NIC == nic {
				found = true
			}
		}
		if !found {
			t.Errorf("no default route via %v in %v", gw, s.Routes())
		}
		var info *stack.InterfaceInfo
		for _, i := range s.Interfaces() {
			if i.NIC == nic {
				info = &i
			}
		}
		if info == nil {
			t.Fatalf("interface %d missing from %v", nic, s.Interfaces())
		}
		if info.Name != "tst0" || info.MTU != 1400 || !info.Up || info.MAC != wire.MAC(pipe.DefaultMACA) {
			t.Errorf("interface = %+v, want tst0 mtu 1400 up with MAC %v", *info, pipe.DefaultMACA)
		}
	})
}

func TestPingOverPipe(t *testing.T) {
	a, b := newPair(t)
	for _, size := range []int{0, 56, 1472, 4000, 20000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*7 + size)
			}
			for _, pair := range [][2]*Host{{a, b}, {b, a}} {
				dst := addrB.Addr()
				if pair[0] == b {
					dst = addrA.Addr()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				rtt, err := pair[0].Ping(ctx, dst, data)
				cancel()
				if err != nil {
					t.Fatalf("ping %v: %v", dst, err)
				}
				if rtt < 0 || rtt > 5*time.Second {
					t.Errorf("rtt = %v", rtt)
				}
			}
		})
	}
	if st := a.Stats(); st.Shell.FramesIn == 0 || st.Shell.BytesIn == 0 {
		t.Errorf("shell counters not counting: %+v", st.Shell)
	}
}

func TestPingTimesOut(t *testing.T) {
	a, _ := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// 10.0.0.3 does not exist: ARP never resolves.
	if _, err := a.Ping(ctx, netip.MustParseAddr("10.0.0.3"), nil); err == nil {
		t.Fatal("ping to a missing host succeeded")
	}
}

func TestUDPEchoOverPipe(t *testing.T) {
	a, b := newPair(t)
	b.Do(func(*stack.Stack) {
		srv, err := b.UDP().NewPCB()
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Bind(netip.AddrPortFrom(netip.Addr{}, 7)); err != nil {
			t.Fatal(err)
		}
		srv.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
			if err := c.SendTo(data, info.Src); err != nil {
				t.Errorf("echo SendTo: %v", err)
			}
		})
	})
	got := make(chan []byte, 16)
	var cli *udp.PCB
	a.Do(func(*stack.Stack) {
		var err error
		cli, err = a.UDP().NewPCB()
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.Connect(netip.AddrPortFrom(addrB.Addr(), 7)); err != nil {
			t.Fatal(err)
		}
		cli.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
			if info.Src != netip.AddrPortFrom(addrB.Addr(), 7) {
				t.Errorf("reply from %v", info.Src)
			}
			got <- bytes.Clone(data)
		})
	})
	for i, size := range []int{1, 100, 1472, 3000, 8000} {
		msg := bytes.Repeat([]byte{byte('a' + i)}, size)
		var err error
		a.Do(func(*stack.Stack) { err = cli.Send(msg) })
		if err != nil {
			t.Fatalf("Send %d bytes: %v", size, err)
		}
		select {
		case reply := <-got:
			if !bytes.Equal(reply, msg) {
				t.Fatalf("echo of %d bytes came back as %d bytes, differing", size, len(reply))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no echo of %d bytes", size)
		}
	}
	if st := b.Stats(); st.Shell.FramesIn == 0 {
		t.Errorf("server shell counted no frames: %+v", st.Shell)
	}
}

// TestTimerDrivesRetries checks that the timer goroutine wakes at the
// stack's deadline with no traffic and no Do: ARP requests for a missing
// neighbour are retransmitted at the configured interval.
func TestTimerDrivesRetries(t *testing.T) {
	cfg := Config{}
	cfg.Stack.ARP.Retries = 3
	cfg.Stack.ARP.RetryInterval = 50 * time.Millisecond
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ea, eb := pipe.New(pipe.Config{})
	defer eb.Close()
	if _, err := h.AddInterface(ea, InterfaceConfig{Addrs: []netip.Prefix{addrA}}); err != nil {
		t.Fatal(err)
	}
	missing := netip.MustParseAddr("10.0.0.9")
	h.Do(func(*stack.Stack) {
		pcb, err := h.UDP().NewPCB()
		if err != nil {
			t.Fatal(err)
		}
		if err := pcb.SendTo([]byte("x"), netip.AddrPortFrom(missing, 9)); err != nil {
			t.Fatal(err)
		}
	})
	buf := make([]byte, 2048)
	var times []time.Time
	deadline := time.Now().Add(3 * time.Second)
	for len(times) < 3 && time.Now().Before(deadline) {
		n, ok := eb.TryReceive(buf)
		if !ok {
			time.Sleep(time.Millisecond)
			continue
		}
		eth, err := wire.ParseEthernet(buf[:n])
		if err != nil || eth.EtherType() != wire.EtherTypeARP {
			continue
		}
		arp, err := wire.ParseARP(eth.Payload())
		if err != nil || arp.Op() != wire.ARPRequest || arp.TargetIP() != missing {
			continue // e.g. the gratuitous ARP on set-up
		}
		times = append(times, time.Now())
	}
	if len(times) < 3 {
		t.Fatalf("saw %d ARP requests for %v, want 3 (first + retries by the timer)", len(times), missing)
	}
	// Measured from the first request: a late wake-up delays one retry
	// but the ones after it keep to the schedule.
	for i := 1; i < len(times); i++ {
		at := times[i].Sub(times[0])
		want := time.Duration(i) * 50 * time.Millisecond
		if at < want-10*time.Millisecond || at > want+time.Second {
			t.Errorf("retry %d came %v after the first request, want about %v", i, at, want)
		}
	}
}

// TestCloseStopsGoroutines checks that Close returns only when every
// goroutine of the host has exited.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ea, eb := pipe.New(pipe.Config{})
	hosts := make([]*Host, 2)
	for i, l := range []link.Link{ea, eb} {
		h, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.AddInterface(l, InterfaceConfig{Addrs: []netip.Prefix{[]netip.Prefix{addrA, addrB}[i]}}); err != nil {
			t.Fatal(err)
		}
		hosts[i] = h
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := hosts[0].Ping(ctx, addrB.Addr(), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if runtime.NumGoroutine() < before+4 {
		t.Fatalf("expected 4 host goroutines to run, have %d more than before", runtime.NumGoroutine()-before)
	}
	for _, h := range hosts {
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Close has returned, so every goroutine of ours has finished its work
	// (wg.Done is its last statement); give the runtime a moment to retire
	// them, as goleak does, then none may be left.
	buf := make([]byte, 1<<20)
	var dump string
	for wait := time.Millisecond; ; wait *= 2 {
		dump = string(buf[:runtime.Stack(buf, true)])
		left := strings.Contains(dump, "featherip.(*Host).timerLoop") || strings.Contains(dump, "featherip.(*Host).readLoop")
		if !left && runtime.NumGoroutine() <= before {
			break
		}
		if wait > time.Second {
			t.Fatalf("%d goroutines after Close, %d before; dump:\n%s", runtime.NumGoroutine(), before, dump)
		}
		time.Sleep(wait)
	}
}

// TestDoAfterClose checks that counters stay readable after Close.
func TestDoAfterClose(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	ran := false
	h.Do(func(s *stack.Stack) { _ = s.Stats(); ran = true })
	if !ran {
		t.Fatal("Do did not run after Close")
	}
	_ = h.Stats()
}
