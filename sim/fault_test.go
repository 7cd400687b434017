package sim

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/ethswitch"
	"github.com/featherip/featherip/link/fault"
	"github.com/featherip/featherip/link/pcap"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

var lossy = fault.Config{Loss: 0.10, Duplicate: 0.10, Reorder: 0.10, Jitter: 2 * time.Millisecond}

// TestPingThroughFaults pings 50 times through 10% loss, duplication and
// reordering in both directions; the application resends each ping until
// it is answered, a bounded number of times.
func TestPingThroughFaults(t *testing.T) {
	n, a, b := twoHosts(t, 11, time.Millisecond, &lossy)
	p := newPinger(t, a, 0xbeef, payload(200, 3))
	const pings, tries = 50, 20
	resent := 0
	for seq := uint16(1); seq <= pings; seq++ {
		ok := false
		for try := 0; try < tries && !ok; try++ {
			if try > 0 {
				resent++
			}
			p.send(pfxB.Addr(), seq)
			ok = n.RunUntil(func() bool { return p.replies[seq] > 0 }, 200*time.Millisecond)
		}
		if !ok {
			t.Fatalf("ping %d unanswered after %d tries", seq, tries)
		}
	}
	n.Run(time.Second) // let stragglers and duplicates arrive
	if p.bad != 0 {
		t.Errorf("%d replies with wrong data (no corruption was configured)", p.bad)
	}
	sa, sb := a.Fault.Stats(), b.Fault.Stats()
	t.Logf("resent %d; a faults %+v; b faults %+v", resent, sa, sb)
	if sa.Lost+sb.Lost == 0 || sa.Duplicated+sb.Duplicated == 0 || sa.Reordered+sb.Reordered == 0 {
		t.Errorf("faults not exercised: a %+v b %+v", sa, sb)
	}
	if resent == 0 {
		t.Errorf("10%% loss each way but no ping needed a resend")
	}
	dups := 0
	for _, c := range p.replies {
		if c > 1 {
			dups++
		}
	}
	t.Logf("%d pings saw duplicate replies", dups)
}

// TestUDPThroughFaults sends 40 datagrams (some fragmented) to an echo
// server through the faults, resending each until its echo comes back
// intact.
func TestUDPThroughFaults(t *testing.T) {
	n, a, b := twoHosts(t, 12, time.Millisecond, &lossy)
	echoServer(t, b)
	cli, err := a.UDP.NewPCB()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	cli.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) { got[string(data)]++ })
	if err := cli.Connect(netip.AddrPortFrom(pfxB.Addr(), 7)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		size := 100 + i*97 // up to ~3.9 KB: fragments too
		msg := append([]byte(fmt.Sprintf("msg %d:", i)), payload(size, byte(i))...)
		ok := false
		for try := 0; try < 30 && !ok; try++ {
			if err := cli.Send(msg); err != nil {
				t.Fatal(err)
			}
			ok = n.RunUntil(func() bool { return got[string(msg)] > 0 }, 200*time.Millisecond)
		}
		if !ok {
			t.Fatalf("datagram %d (%d bytes) never echoed", i, len(msg))
		}
	}
	for k := range got {
		if !bytes.HasPrefix([]byte(k), []byte("msg ")) {
			t.Errorf("unexpected echo of %d bytes", len(k))
		}
	}
}

// TestFaultsDeterministic checks that the faults repeat with the seed.
func TestFaultsDeterministic(t *testing.T) {
	run := func(seed uint64) (fault.Stats, time.Duration) {
		n, a, b := twoHosts(t, seed, time.Millisecond, &lossy)
		p := newPinger(t, a, 1, payload(64, 0))
		for seq := uint16(1); seq <= 20; seq++ {
			for try := 0; try < 20; try++ {
				p.send(pfxB.Addr(), seq)
				if n.RunUntil(func() bool { return p.replies[seq] > 0 }, 100*time.Millisecond) {
					break
				}
			}
		}
		st := a.Fault.Stats()
		sb := b.Fault.Stats()
		st.Lost += sb.Lost
		st.Duplicated += sb.Duplicated
		st.Reordered += sb.Reordered
		return st, n.Now()
	}
	s1, t1 := run(99)
	s2, t2 := run(99)
	if s1 != s2 || t1 != t2 {
		t.Fatalf("same seed, different runs: %+v at %v vs %+v at %v", s1, t1, s2, t2)
	}
}

// TestWrapWithCapture wraps one host's link with a pcap capture and checks
// the capture holds valid Ethernet frames of the exchange.
func TestWrapWithCapture(t *testing.T) {
	n, err := New(Config{Seed: 5, Switch: ethswitch.Config{Delay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var capture bytes.Buffer
	a, err := n.AddHost(HostConfig{Addrs: []netip.Prefix{pfxA}, Wrap: func(l link.Link, _ uint64) (link.Link, error) {
		return pcap.Wrap(l, &capture, pcap.Options{Clock: n.Clock()}), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddHost(HostConfig{Addrs: []netip.Prefix{pfxB}}); err != nil {
		t.Fatal(err)
	}
	p := newPinger(t, a, 3, payload(10, 0))
	p.send(pfxB.Addr(), 1)
	if !n.RunUntil(func() bool { return p.replies[1] > 0 }, time.Second) {
		t.Fatal("no reply")
	}
	r, err := pcap.NewReader(&capture)
	if err != nil {
		t.Fatal(err)
	}
	var arp, icmp int
	for {
		pkt, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		eth, err := wire.ParseEthernet(pkt.Data)
		if err != nil {
			t.Fatalf("captured frame does not parse: %v", err)
		}
		switch eth.EtherType() {
		case wire.EtherTypeARP:
			arp++
		case wire.EtherTypeIPv4:
			ip, err := wire.ParseIPv4(eth.Payload())
			if err != nil || !ip.ChecksumValid() {
				t.Fatalf("captured IPv4 packet invalid: %v", err)
			}
			if ip.Protocol() == wire.ProtoICMP {
				icmp++
			}
		}
	}
	if arp < 2 || icmp != 2 {
		t.Fatalf("capture holds %d ARP and %d ICMP frames, want >= 2 ARP (request, reply) and 2 ICMP", arp, icmp)
	}
}
