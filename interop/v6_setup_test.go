package interop

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// IPv6 test addresses: the kernel side and featherip's static address.
const (
	kernelIP6   = "fd00:7::1"
	kernelPfx6  = "fd00:7::1/64"
	featherIP6  = "fd00:7::2"
	featherPfx6 = "fd00:7::2/64"
)

// v6Options shape setup6.
type v6Options struct {
	// stack adjusts the stack configuration (the callbacks are set after).
	stack func(c *stack.Config)
	// beforeUp runs after the TAP exists and before featherip's interface
	// comes up (and starts DAD), with featherip's MAC.
	beforeUp func(ns *netns.NS, mac []byte)
	// noStatic leaves out fd00:7::2/64 (featherip) and fd00:7::1/64 (kernel).
	noStatic bool
}

// env6 is an IPv6 test world: tcpEnv's namespace, TAP device and host
// (with TCP echo on 7 and the hashing sink on 9), IPv4 as in setup, and
// IPv6: featherip's link-local address and, unless noStatic,
// fd00:7::2/64 (usable: DAD passed) with the kernel at fd00:7::1/64
// (added without DAD).
type env6 struct {
	*tcpEnv
	tap *tap.Link
	nic stack.NIC
	// under the host lock: what the address callbacks reported
	added   []netip.Prefix
	removed []netip.Prefix
	dadFail []netip.Addr
}

func setup6(t *testing.T, o v6Options) *env6 {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop tests need root (network namespaces and /dev/net/tun): run sudo go test ./interop/")
	}
	ns := netns.New(t)
	e := &env6{tcpEnv: &tcpEnv{ns: ns}}
	if err := ns.Do(func() error {
		var err error
		e.tap, err = tap.Open(tap.Config{Name: tapName, VnetHdr: vnetOn()})
		return err
	}); err != nil {
		t.Fatalf("opening TAP %s in %s: %v", tapName, ns.Name, err)
	}
	ns.Run("ip", "addr", "add", kernelPfx, "dev", tapName)
	if !o.noStatic {
		ns.Run("ip", "-6", "addr", "add", kernelPfx6, "dev", tapName, "nodad")
	}
	ns.Run("ip", "link", "set", "dev", tapName, "up")
	if o.beforeUp != nil {
		o.beforeUp(ns, e.tap.HardwareAddr())
	}
	var sc stack.Config
	if o.stack != nil {
		o.stack(&sc)
	}
	sc.OnAddressChange = func(_ stack.NIC, p netip.Prefix, added bool) {
		if added {
			e.added = append(e.added, p)
		} else {
			e.removed = append(e.removed, p)
		}
	}
	sc.OnDADFailure = func(_ stack.NIC, a netip.Addr) { e.dadFail = append(e.dadFail, a) }
	h, err := featherip.New(featherip.Config{Stack: sc})
	if err != nil {
		e.tap.Close()
		t.Fatal(err)
	}
	e.host = h
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Host.Close: %v", err)
		}
	})
	e.nic, err = h.AddInterface(e.tap, featherip.InterfaceConfig{Name: tapName, Addrs: []netip.Prefix{netip.MustParsePrefix(featherPfx)}})
	if err != nil {
		e.tap.Close()
		t.Fatal(err)
	}
	h.Do(func(s *stack.Stack) {
		if !o.noStatic {
			if err := s.AddAddress(e.nic, netip.MustParsePrefix(featherPfx6)); err != nil {
				t.Fatalf("adding %s: %v", featherPfx6, err)
			}
		}
		e.listen(t, tcpEchoPort, e.acceptEcho)
		e.listen(t, tcpSinkPort, e.acceptSink)
	})
	if !o.noStatic {
		ready6(t, e) // the static address is tentative until DAD passes
	}
	return e
}

// waitAddr waits until the address callback reported an address that
// match accepts, and returns it.
func (e *env6) waitAddr(t *testing.T, what string, limit time.Duration, match func(netip.Prefix) bool) netip.Prefix {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var got netip.Prefix
		var all []netip.Prefix
		e.host.Do(func(s *stack.Stack) {
			for _, p := range e.added {
				if match(p) && !got.IsValid() {
					got = p
				}
			}
			all = s.Addresses(e.nic)
		})
		if got.IsValid() {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s formed after %v; featherip's addresses %v", what, limit, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// linkLocal waits for featherip's link-local address to pass DAD.
func (e *env6) linkLocal(t *testing.T) netip.Addr {
	t.Helper()
	return e.waitAddr(t, "link-local address", 5*time.Second, func(p netip.Prefix) bool { return p.Addr().IsLinkLocalUnicast() }).Addr()
}

// eui64 is the link-local address with a modified EUI-64 interface
// identifier (RFC 4291 appendix A) for mac.
func eui64(mac []byte) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	copy(b[8:], []byte{mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]})
	return netip.AddrFrom16(b)
}

var pingLossRe = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// ping6 runs `ping -6` in the namespace and checks: every reply came
// back, none with wrong data (ping reports "wrong data byte" and
// duplicates).
func ping6(t *testing.T, ns *netns.NS, dst string, size int) {
	t.Helper()
	out, err := ns.Try("ping", "-6", "-c", "4", "-i", "0.2", "-W", "2", "-s", fmt.Sprint(size), dst)
	text := string(out)
	m := pingLossRe.FindStringSubmatch(text)
	if err != nil || m == nil || m[1] != m[2] || !strings.Contains(text, " 0% packet loss") {
		t.Fatalf("ping -6 -s %d %s: %v\n%s", size, dst, err, text)
	}
	if strings.Contains(text, "wrong data") || strings.Contains(text, "DUP!") {
		t.Fatalf("ping -6 -s %d %s: corrupted or duplicated replies:\n%s", size, dst, text)
	}
}

// pinger6 sends ICMPv6 echo requests from featherip through a raw ICMPv6
// pcb and matches replies (RFC 4443 4.1, 4.2).
type pinger6 struct {
	e       *env6
	pcb     *raw.PCB
	replies chan []byte
}

func newPinger6(t *testing.T, e *env6) *pinger6 {
	t.Helper()
	p := &pinger6{e: e, replies: make(chan []byte, 16)}
	e.host.Do(func(*stack.Stack) {
		var err error
		p.pcb, err = e.host.Raw().NewPCB(wire.ProtoICMPv6)
		if err != nil {
			t.Fatal(err)
		}
		p.pcb.OnRecv(func(_ *raw.PCB, d []byte, info *raw.RecvInfo) {
			if m, err := wire.ParseICMPv6(d); err == nil && m.Type() == wire.ICMPv6EchoReply {
				select {
				case p.replies <- append([]byte(nil), d...):
				default:
				}
			}
		})
	})
	t.Cleanup(func() { e.host.Do(func(*stack.Stack) { p.pcb.Close() }) })
	return p
}

// ping sends one echo request with size bytes of data to dst and waits
// for the reply with the same identifier, sequence number and data.
func (p *pinger6) ping(ctx context.Context, dst netip.Addr, seq uint16, size int) error {
	msg := make([]byte, wire.ICMPv6HeaderLen+size)
	const id = 0x6a6a
	wire.PutICMPv6(msg, wire.ICMPv6EchoRequest, 0, uint32(id)<<16|uint32(seq))
	for i := range msg[wire.ICMPv6HeaderLen:] {
		msg[wire.ICMPv6HeaderLen+i] = byte(i*7 + int(seq))
	}
	var err error
	p.e.host.Do(func(*stack.Stack) { err = p.pcb.SendTo(msg, dst) })
	if err != nil {
		return fmt.Errorf("sending echo request: %w", err)
	}
	for {
		select {
		case r := <-p.replies:
			m, _ := wire.ParseICMPv6(r)
			if m.ID() != id || m.Seq() != seq {
				continue
			}
			if string(m.Payload()) != string(msg[wire.ICMPv6HeaderLen:]) {
				return errors.New("echo reply with wrong data")
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("no echo reply: %w", ctx.Err())
		}
	}
}

// kernelNeighborMAC returns the MAC the kernel's neighbor table has for
// addr on the TAP device, or "".
func kernelNeighborMAC(ns *netns.NS, addr string) string {
	out, _ := ns.Try("ip", "-6", "neigh", "show", "dev", tapName, "to", addr)
	f := strings.Fields(string(out))
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// requireScapy skips the test unless Debian's python3 has scapy, and
// returns that python.
func requireScapy(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(py, "-c", "import scapy.all").Run(); err == nil {
			return py
		}
	}
	t.Skip("scapy is not installed: apt-get install -y python3-scapy")
	return ""
}

var llRe = regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`)

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}
