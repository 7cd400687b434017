package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/app/iperf"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link/tap"
	fstack "github.com/featherip/featherip/stack"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	gtun "gvisor.dev/gvisor/pkg/tcpip/link/tun"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// The TAP figures: Linux's own TCP (iperf 2 in a network namespace the
// figure creates and removes) against each user-space stack on a TAP
// device in that namespace, one stream each way. The kernel side is
// 192.168.7.1/24 on the TAP device; the user-space stack is 192.168.7.2.

// ErrUnavailable wraps the reason a figure cannot run on this machine
// (not root, a tool missing); the report prints the reason, no number.
var ErrUnavailable = errors.New("unavailable")

// TAPDir is the direction of a TAP figure.
type TAPDir int

const (
	// TAPIn is Linux `iperf -c` sending to the stack's iperf server.
	TAPIn TAPDir = iota
	// TAPOut is the stack's client sending to Linux `iperf -s`.
	TAPOut
)

const (
	tapDev      = "fipb0"
	tapKernelIP = "192.168.7.1"
	tapStackIP  = "192.168.7.2"
	tapInPort   = 5001
	tapOutPort  = 5002
	mMbits      = "Mbit/s"
)

var iperfMbits = regexp.MustCompile(`([0-9.]+) Mbits/sec`)

// tapAvailable says why the TAP figures cannot run, or nil.
func tapAvailable() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root", ErrUnavailable)
	}
	if _, err := exec.LookPath("iperf"); err != nil {
		return fmt.Errorf("%w: needs iperf 2", ErrUnavailable)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: needs ip (iproute2)", ErrUnavailable)
	}
	return nil
}

// tapSide runs one TAP measurement inside testing.Benchmark, whose B gives
// the namespace helper its cleanup (the namespace and the processes in it
// go when the measurement ends). The measurement runs once, whatever N.
func tapSide(f func(b *testing.B, ns *netns.NS) (float64, error)) Side {
	return func() (Metrics, error) {
		if err := tapAvailable(); err != nil {
			return nil, err
		}
		var v float64
		err := errors.New("TAP measurement did not run")
		testing.Benchmark(func(b *testing.B) {
			if b.N != 1 {
				return
			}
			ns := netns.New(b)
			v, err = f(b, ns)
		})
		if err != nil {
			return nil, err
		}
		return Metrics{mMbits: v}, nil
	}
}

// kernelSide gives the namespace's TAP device its address and brings it up.
func kernelSide(ns *netns.NS) error {
	if _, err := ns.Try("ip", "addr", "add", tapKernelIP+"/24", "dev", tapDev); err != nil {
		return err
	}
	_, err := ns.Try("ip", "link", "set", tapDev, "up")
	return err
}

// kernelClient runs Linux `iperf -c` to the stack for secs seconds and
// returns the rate iperf reports.
func kernelClient(ns *netns.NS, secs int) (float64, error) {
	out, err := ns.Try("iperf", "-c", tapStackIP, "-p", strconv.Itoa(tapInPort), "-t", strconv.Itoa(secs), "-f", "m")
	if err != nil {
		return 0, err
	}
	m := iperfMbits.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("iperf -c printed no rate: %s", out)
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

// kernelServer starts Linux `iperf -s` in the namespace; the returned stop
// kills it.
func kernelServer(ns *netns.NS) (stop func(), err error) {
	cmd := ns.Command("iperf", "-s", "-B", tapKernelIP, "-p", strconv.Itoa(tapOutPort))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	// wait until it listens
	for i := 0; i < 50; i++ {
		if out, _ := ns.Try("ss", "-ltn"); bytes.Contains(out, []byte(":"+strconv.Itoa(tapOutPort))) {
			return stop, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // no ss: give it time
	return stop, nil
}

// FipTAP measures featherip on a TAP device (the root package's Host with
// link/tap: batched reads, software GRO, the answers to a batch written
// together; vnet turns the virtio-net header on: checksum offload, TSO,
// large frames from the kernel) against Linux iperf 2 in one direction,
// one stream, for secs seconds. featherip runs its iperf app (app/iperf) on the
// callback API. The rate is iperf's (Linux client) or the featherip
// client's (acknowledged bytes over the test's time).
func FipTAP(dir TAPDir, vnet bool, secs int) Side {
	return tapSide(func(b *testing.B, ns *netns.NS) (float64, error) {
		var l *tap.Link
		if err := ns.Do(func() error {
			var err error
			l, err = tap.Open(tap.Config{Name: tapDev, VnetHdr: vnet})
			return err
		}); err != nil {
			return 0, err
		}
		if err := kernelSide(ns); err != nil {
			l.Close()
			return 0, err
		}
		h, err := featherip.New(featherip.Config{})
		if err != nil {
			l.Close()
			return 0, err
		}
		defer h.Close()
		if _, err := h.AddInterface(l, featherip.InterfaceConfig{Name: tapDev, Addrs: []netip.Prefix{netip.MustParsePrefix(tapStackIP + "/24")}}); err != nil {
			l.Close()
			return 0, err
		}
		if dir == TAPIn {
			h.Do(func(s *fstack.Stack) {
				_, err = iperf.NewServer(s, h.TCP(), iperf.ServerConfig{Port: tapInPort})
			})
			if err != nil {
				return 0, err
			}
			return kernelClient(ns, secs)
		}
		stop, err := kernelServer(ns)
		if err != nil {
			return 0, err
		}
		defer stop()
		done := make(chan iperf.Report, 1)
		h.Do(func(s *fstack.Stack) {
			_, err = iperf.Dial(s, h.TCP(), iperf.ClientConfig{
				Remote: netip.AddrPortFrom(netip.MustParseAddr(tapKernelIP), tapOutPort), Duration: time.Duration(secs) * time.Second,
				OnDone: func(r iperf.Report) { done <- r },
			})
		})
		if err != nil {
			return 0, err
		}
		select {
		case r := <-done:
			if r.Err != nil {
				return 0, fmt.Errorf("featherip iperf client: %w", r.Err)
			}
			return float64(r.Bytes) * 8 / r.Duration.Seconds() / 1e6, nil
		case <-time.After(time.Duration(secs+20) * time.Second):
			return 0, errors.New("featherip iperf client did not finish")
		}
	})
}

// GvTAP measures gVisor's netstack on the same TAP setup: the device opened
// by gVisor's tun package in the namespace, its fdbased link endpoint
// (Ethernet frames, recvmmsg dispatch), ipv4, arp and tcp with gVisor's
// defaults and its software GRO on, as featherip's shell coalesces
// received segments too. offload turns on what else fdbased offers on a TAP
// file descriptor: trusting received checksums (RXChecksumOffload);
// fdbased's segmentation offload (GSOMaxSize) works only on sockets
// (AF_PACKET), not on a TAP descriptor, so no setting gives gVisor TSO
// here. The server
// discards what it reads; the client writes for secs seconds and its rate
// is the bytes written over that time.
func GvTAP(dir TAPDir, offload bool, secs int) Side {
	return tapSide(func(b *testing.B, ns *netns.NS) (float64, error) {
		fd := -1
		if err := ns.Do(func() error {
			var err error
			fd, err = gtun.OpenTAP(tapDev)
			return err
		}); err != nil {
			return 0, err
		}
		if err := kernelSide(ns); err != nil {
			unix.Close(fd)
			return 0, err
		}
		mac := tcpip.LinkAddress("\x02\x00\x00\x00\x07\x02")
		ep, err := fdbased.New(&fdbased.Options{FDs: []int{fd}, MTU: 1500, EthernetHeader: true, Address: mac,
			GRO: true, RXChecksumOffload: offload})
		if err != nil {
			unix.Close(fd)
			return 0, err
		}
		s := stack.New(stack.Options{
			NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
			TransportProtocols: []stack.TransportProtocolFactory{gtcp.NewProtocol},
		})
		defer func() {
			s.Close()
			s.Wait()
			unix.Close(fd)
		}()
		if e := s.CreateNIC(gvNIC, ep); e != nil {
			return 0, fmt.Errorf("gVisor CreateNIC: %s", e)
		}
		addr := tcpip.AddrFrom4(netip.MustParseAddr(tapStackIP).As4())
		pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr, PrefixLen: 24}}
		if e := s.AddProtocolAddress(gvNIC, pa, stack.AddressProperties{}); e != nil {
			return 0, fmt.Errorf("gVisor AddProtocolAddress: %s", e)
		}
		s.SetRouteTable([]tcpip.Route{{Destination: pa.AddressWithPrefix.Subnet(), NIC: gvNIC}})
		if dir == TAPIn {
			ln, err := gonet.ListenTCP(s, tcpip.FullAddress{Port: tapInPort}, ipv4.ProtocolNumber)
			if err != nil {
				return 0, err
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						io.CopyBuffer(io.Discard, c, make([]byte, 64<<10))
					}()
				}
			}()
			return kernelClient(ns, secs)
		}
		stop, err := kernelServer(ns)
		if err != nil {
			return 0, err
		}
		defer stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kernel := tcpip.AddrFrom4(netip.MustParseAddr(tapKernelIP).As4())
		c, err := gonet.DialContextTCP(ctx, s, tcpip.FullAddress{Addr: kernel, Port: tapOutPort}, ipv4.ProtocolNumber)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return timedSend(c, secs)
	})
}

// timedSend writes zeros (an iperf 2 client header of zeros: no options)
// to c for secs seconds and returns the rate written in Mbit/s.
func timedSend(c net.Conn, secs int) (float64, error) {
	buf := make([]byte, 128<<10)
	start := time.Now()
	end := start.Add(time.Duration(secs) * time.Second)
	var n int64
	for time.Now().Before(end) {
		k, err := c.Write(buf)
		n += int64(k)
		if err != nil {
			return 0, err
		}
	}
	return float64(n) * 8 / time.Since(start).Seconds() / 1e6, nil
}
