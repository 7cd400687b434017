package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pcap"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
)

const upUsage = `Usage: featherip up [flags]

Brings a featherip host up on a Linux TAP device. The device is created when
it does not exist (and removed on exit); this needs root or CAP_NET_ADMIN.
featherip answers ping, UDP echo (port 7) and UDP discard (port 9), and on
TCP echo (7), discard (9), chargen (19) and an iperf 2 server (5001). It prints
one line starting with "ready" once it runs, and on SIGINT (Ctrl-C) or
SIGTERM stops and prints all its counters.

Flags:
`

const upExamples = `
Examples:
  sudo featherip up
      fip0 with the kernel at 192.168.7.1/24 and featherip at 192.168.7.2/24
      then, in another shell:
        ping 192.168.7.2
        echo hi | socat - udp:192.168.7.2:7
        echo hi | socat - tcp:192.168.7.2:7
        iperf -c 192.168.7.2 -t 5
  sudo featherip up --tap tap1 --host-addr 10.9.0.1/24 --addr 10.9.0.2/24 --addr 10.9.0.3/24
  sudo featherip up --pcap /tmp/fip.pcap        capture every frame (open in wireshark)
  sudo featherip up --host-addr none --addr 10.0.0.2/24 --gateway 10.0.0.1

IPv6: featherip forms a link-local address (and SLAAC addresses from router
advertisements) on every device; the ready line lists the usable ones and
later changes print as "address added|removed|duplicate DEVICE ADDRESS".
  sudo featherip up --addr6 fd00:7::2/64 --host-addr6 fd00:7::1/64
      then: ping -6 fd00:7::2   or   ping -6 -I fip0 fe80::... (from the ready line)
  sudo featherip up --addr6 2001:db8:7::2/64 --gateway6 2001:db8:7::1

Several devices: repeat --tap, each as NAME[,PREFIX...][,host=PREFIX...]
(PREFIX: featherip's IPv4 or IPv6 address on it; host=PREFIX: the kernel
side's); --addr, --addr6, --host-addr, --host-addr6 then do not apply.
With --forward featherip routes between them (IPv4 and IPv6):
  sudo featherip up --forward \
      --tap fa0,10.1.0.1/24,fd01::1/64,host=10.1.0.2/24,host=fd01::2/64 \
      --tap fb0,10.2.0.1/24,fd02::1/64,host=10.2.0.2/24,host=fd02::2/64
`

// prefixList is a repeatable --addr flag.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	s := make([]string, len(*p))
	for i, a := range *p {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixList) Set(v string) error {
	a, err := netip.ParsePrefix(v)
	if err != nil || !a.Addr().Is4() {
		return fmt.Errorf("want an IPv4 address with prefix length such as 192.168.7.2/24")
	}
	*p = append(*p, a)
	return nil
}

// upOptions are the parsed flags of `featherip up`.
type upOptions struct {
	tap      string
	hostAddr string // "none" or a prefix
	hostPfx  netip.Prefix
	addrs    prefixList
	gateway  netip.Addr
	mtu      int
	pcapFile string
	v6       ipv6Options // ipv6.go
	taps     tapList     // forward.go
	forward  bool
	devs     []devConfig // the devices to run on, from the flags (forward.go)
}

func parseUp(args []string, stderr io.Writer) (*upOptions, error) {
	o := &upOptions{}
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), upUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), upExamples)
	}
	fs.Var(&o.taps, "tap", "TAP device `name` (default fip0); created if missing, removed on exit if created; repeatable as NAME[,PREFIX...][,host=PREFIX...] (see below)")
	fs.StringVar(&o.hostAddr, "host-addr", "192.168.7.1/24", "`prefix` for the kernel side of the TAP device; none leaves its addresses alone")
	fs.Var(&o.addrs, "addr", "featherip's IPv4 `prefix` (repeatable; default 192.168.7.2/24)")
	gw := fs.String("gateway", "", "default gateway `address` for featherip (optional)")
	fs.IntVar(&o.mtu, "mtu", 1500, "IP MTU of the TAP device and of featherip")
	fs.StringVar(&o.pcapFile, "pcap", "", "write every frame featherip sends and receives on the first device to this pcap `file`")
	o.registerIPv6Flags(fs)
	o.registerForwardFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(o.addrs) == 0 {
		o.addrs = prefixList{netip.MustParsePrefix("192.168.7.2/24")}
	}
	if o.hostAddr != "none" {
		p, err := netip.ParsePrefix(o.hostAddr)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("--host-addr %q: want an IPv4 prefix such as 192.168.7.1/24, or none", o.hostAddr)
		}
		o.hostPfx = p
		for _, a := range o.addrs {
			if a.Addr() == p.Addr() {
				return nil, fmt.Errorf("--addr %v is the kernel's address (--host-addr): pick another", a)
			}
		}
	}
	if *gw != "" {
		a, err := netip.ParseAddr(*gw)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("--gateway %q: want an IPv4 address", *gw)
		}
		o.gateway = a
	}
	if o.mtu < 68 || o.mtu > 65535 {
		return nil, fmt.Errorf("--mtu %d: want 68 to 65535", o.mtu)
	}
	if err := o.checkIPv6(); err != nil {
		return nil, err
	}
	if err := o.buildDevices(set); err != nil {
		return nil, err
	}
	return o, nil
}

// services counts what the echo and discard services did.
type services struct {
	EchoDatagrams, EchoBytes, EchoErrors uint64
	DiscardDatagrams, DiscardBytes       uint64
}

func cmdUp(args []string, stdout, stderr io.Writer) int {
	o, err := parseUp(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "featherip up: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := up(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "featherip up: %v\n", err)
		return 1
	}
	return 0
}

// up runs the host until ctx is done.
func up(ctx context.Context, o *upOptions, stdout io.Writer) (err error) {
	devs, err := openDevices(o) // devices.go: every --tap, kernel sides configured
	if err != nil {
		return err
	}
	defer func() {
		for _, d := range devs {
			if cerr := d.remove(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	links := make([]link.Link, len(devs))
	for i, d := range devs {
		links[i] = d.link
	}
	closeLinks := func() {
		for _, l := range links {
			l.Close()
		}
	}

	var pcapFile *os.File
	if o.pcapFile != "" {
		pcapFile, err = os.Create(o.pcapFile)
		if err != nil {
			closeLinks()
			return fmt.Errorf("--pcap: %w", err)
		}
		bw := bufio.NewWriterSize(pcapFile, 64<<10)
		links[0] = pcap.Wrap(links[0], bw, pcap.Options{})
		defer func() {
			if cerr := pcapFile.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("--pcap: %w", cerr)
			}
		}()
	}

	l := links[0]
	ev := newAddrEvents(stdout) // ipv6.go: address lines after the ready line
	h, err := featherip.New(featherip.Config{Stack: o.stackConfig(ev)})
	if err != nil {
		closeLinks()
		return err
	}
	nics, err := addDevices(h, o, links, ev)
	if err != nil {
		h.Close()
		return err
	}
	var svc services
	tsvc := tcpServices{report: stdout}
	h.Do(func(s *stack.Stack) {
		err = startServices(h, &svc)
		if err == nil {
			err = startTCPServices(s, h.TCP(), &tsvc)
		}
	})
	if err != nil {
		h.Close()
		return err
	}
	// the status page (status.go): net/http over featherip's socket API
	stopStatus, err := startStatus(h, func() any {
		var x struct {
			Services    services
			TCPServices tcpServices
		}
		h.Do(func(*stack.Stack) { x.Services, x.TCPServices = svc, tsvc })
		return x
	})
	if err != nil {
		h.Close()
		return err
	}

	if !o.v6.noIPv6 {
		statics := make([][]netip.Prefix, len(nics))
		for i := range nics {
			statics[i] = o.devs[i].addrs6
		}
		waitDAD(h, ev, nics, statics, dadWait)
	}
	// under the lock: the services' report lines never interleave with it
	h.Do(func(s *stack.Stack) {
		addrs6 := make([][]netip.Prefix, len(nics))
		for i, nic := range nics {
			addrs6[i] = ev.usable6(s, nic)
		}
		fmt.Fprintln(stdout, readyLine(o, links, addrs6))
		ev.setReady()
	})
	<-ctx.Done()

	stopStatus()
	closeErr := h.Close() // closes the link (and flushes the capture)
	st := h.Stats()
	var svcCopy services
	var tcpCopy tcpServices
	h.Do(func(*stack.Stack) {
		svcCopy, tcpCopy = svc, tsvc
		tsvc.report = nil // no report lines after the counters
		ev.out = nil
	})
	var buf bytes.Buffer
	fmt.Fprintln(&buf, "stopped; counters:")
	printCounters(&buf, st)
	printCounters(&buf, struct {
		Services    services
		TCPServices tcpServices
	}{svcCopy, tcpCopy})
	stdout.Write(buf.Bytes())
	if pl, ok := l.(interface{ Err() error }); ok && pl.Err() != nil {
		return fmt.Errorf("--pcap: %w", pl.Err())
	}
	return closeErr
}

// startServices binds UDP echo (RFC 862) on port 7 and discard (RFC 863) on
// port 9. It runs under the core lock.
func startServices(h *featherip.Host, svc *services) error {
	echo, err := h.UDP().NewPCB()
	if err != nil {
		return err
	}
	if err := echo.Bind(netip.AddrPortFrom(netip.Addr{}, 7)); err != nil {
		return fmt.Errorf("udp echo port 7: %w", err)
	}
	echo.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		svc.EchoDatagrams++
		svc.EchoBytes += uint64(len(data))
		if info.Broadcast || info.Multicast {
			return // RFC 862 echo to a unicast request only, no broadcast storms
		}
		if err := c.SendTo(data, info.Src); err != nil {
			svc.EchoErrors++
		}
	})
	discard, err := h.UDP().NewPCB()
	if err != nil {
		return err
	}
	if err := discard.Bind(netip.AddrPortFrom(netip.Addr{}, 9)); err != nil {
		return fmt.Errorf("udp discard port 9: %w", err)
	}
	discard.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
		svc.DiscardDatagrams++
		svc.DiscardBytes += uint64(len(data))
	})
	return nil
}
