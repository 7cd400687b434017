package interop

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/stack"
)

// Multicast groups of the tests: an IPv4 administratively scoped group
// (RFC 2365) and an IPv6 site-local scoped transient group.
const (
	mcastGroup4 = "239.1.2.3"
	mcastGroup6 = "ff15::1234"
	mcastPort   = 5000
)

// mcastSender sends a UDP datagram every 10 ms from the namespace to
// both groups until stopped.
type mcastSender struct {
	stop chan struct{}
	wg   sync.WaitGroup
	sent atomic.Int64
}

func startMcastSender(t *testing.T, ns *netns.NS) *mcastSender {
	t.Helper()
	ns.Run("ip", "route", "add", "224.0.0.0/4", "dev", tapName)
	var c4, c6 net.Conn
	if err := ns.Do(func() error {
		var err error
		if c4, err = net.Dial("udp4", net.JoinHostPort(mcastGroup4, "5000")); err != nil {
			return err
		}
		c6, err = net.Dial("udp6", "["+mcastGroup6+"%"+tapName+"]:5000")
		return err
	}); err != nil {
		t.Fatalf("multicast sender sockets: %v", err)
	}
	s := &mcastSender{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer c4.Close()
		defer c6.Close()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				c4.Write([]byte("multicast v4"))
				c6.Write([]byte("multicast v6"))
				s.sent.Add(1)
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *mcastSender) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

// mcastCounter reads a featherip UDP socket on port 5000 and counts the
// datagrams from each family.
type mcastCounter struct {
	conn   *featherip.UDPConn
	v4, v6 atomic.Int64
	bad    atomic.Int64
}

func startMcastCounter(t *testing.T, h *featherip.Host) *mcastCounter {
	t.Helper()
	c, err := h.ListenUDP("udp", &net.UDPAddr{Port: mcastPort})
	if err != nil {
		t.Fatal(err)
	}
	m := &mcastCounter{conn: c}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			switch {
			case from.Addr().Unmap().Is4() && string(buf[:n]) == "multicast v4":
				m.v4.Add(1)
			case from.Addr().Is6() && !from.Addr().Is4In6() && string(buf[:n]) == "multicast v6":
				m.v6.Add(1)
			default:
				m.bad.Add(1)
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return m
}

// waitCounts waits until both counters passed the given values.
func (m *mcastCounter) waitCounts(t *testing.T, v4, v6 int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for m.v4.Load() <= v4 || m.v6.Load() <= v6 {
		if time.Now().After(deadline) {
			t.Fatalf("after joining: received %d IPv4 and %d IPv6 group datagrams, want more than %d and %d", m.v4.Load(), m.v6.Load(), v4, v6)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMcastJoinLeave: Linux streams UDP to 239.1.2.3:5000 and
// [ff15::1234]:5000; a featherip UDP socket receives nothing before it
// joins, both streams while joined (IGMPv3 / MLDv2 host, RFC 3376, RFC
// 3810), and nothing after it leaves.
func TestMcastJoinLeave(t *testing.T) {
	e := setup6(t, v6Options{})
	runMcast(t, e, nil)
}

// TestMcastReportsInTshark: as TestMcastJoinLeave with tshark capturing
// on the kernel's side, and with an IGMPv3 and an MLDv2 general query
// sent by scapy while featherip is joined. The capture shows featherip's
// state-change reports for the join (CHANGE_TO_EXCLUDE) and the leave
// (CHANGE_TO_INCLUDE), its current-state reports answering the queries
// (MODE_IS_EXCLUDE, sent only to answer a query), and tshark finds
// nothing malformed.
func TestMcastReportsInTshark(t *testing.T) {
	requireTool(t, "tshark", "tshark")
	py := requireScapy(t)
	e := setup6(t, v6Options{})
	kll := kernelLinkLocal(t, e)
	file := filepath.Join(t.TempDir(), "mcast.pcap")
	capt := startCapture(t, e.ns, file, "-f", "igmp or ip6") // MLD sits behind a hop-by-hop header
	query := func() {
		script := `
import sys
from scapy.all import IP, IPOption_Router_Alert, IPv6, IPv6ExtHdrHopByHop, RouterAlert, send, conf
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mq
from scapy.layers.inet6 import ICMPv6MLQuery2
conf.verb = 0
dev, ll = sys.argv[1], sys.argv[2]
send(IP(src="` + kernelIP + `", dst="224.0.0.1", ttl=1, options=[IPOption_Router_Alert()])/IGMPv3(type=0x11, mrcode=10)/IGMPv3mq(), iface=dev)
send(IPv6(src=ll, dst="ff02::1", hlim=1)/IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])/ICMPv6MLQuery2(mrd=1000), iface=dev)
`
		if out, err := e.ns.Try(py, "-c", script, tapName, kll.String()); err != nil {
			t.Fatalf("scapy queries: %v\n%s", err, out)
		}
	}
	runMcast(t, e, query)
	capt.stop(500 * time.Millisecond)

	bad := tshark(t, "-r", file, "-Y", `_ws.malformed || _ws.expert.severity >= error`, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info")
	if strings.TrimSpace(bad) != "" {
		t.Errorf("tshark flags these frames:\n%s", bad)
	}
	// IGMPv3 reports (type 0x22) from featherip: record types per group.
	igmp := tshark(t, "-r", file, "-Y", "igmp.type == 0x22 && ip.src == "+featherIP, "-T", "fields", "-e", "igmp.record_type", "-e", "igmp.maddr")
	mld := tshark(t, "-r", file, "-Y", "icmpv6.type == 143 && eth.src == "+e.tap.HardwareAddr().String(), "-T", "fields",
		"-e", "icmpv6.mldr.mar.record_type", "-e", "icmpv6.mldr.mar.multicast_address")
	queries := tshark(t, "-r", file, "-Y", "igmp.type == 0x11 || icmpv6.type == 130", "-T", "fields", "-e", "_ws.col.Info")
	t.Logf("queries:\n%sIGMPv3 reports (record types, groups):\n%sMLDv2 reports:\n%s", queries, igmp, mld)
	for _, c := range []struct {
		name, text, group string
	}{{"IGMPv3", igmp, mcastGroup4}, {"MLDv2", mld, mcastGroup6}} {
		types := recordTypes(c.text, c.group)
		for _, want := range []struct {
			typ  string
			what string
		}{{"4", "CHANGE_TO_EXCLUDE (join)"}, {"2", "MODE_IS_EXCLUDE (answer to the query)"}, {"3", "CHANGE_TO_INCLUDE (leave)"}} {
			if !types[want.typ] {
				t.Errorf("%s: no %s record for %s from featherip", c.name, want.what, c.group)
			}
		}
	}
	var st stack.Stats
	e.host.Do(func(s *stack.Stack) { st = s.Stats() })
	if st.ICMPv6.InGroupMembQueries < 1 {
		t.Errorf("featherip counted %d MLD queries, want >= 1", st.ICMPv6.InGroupMembQueries)
	}
}

// recordTypes collects the record types tshark printed (one report per
// line: comma-separated types, tab, comma-separated groups) for group.
func recordTypes(text, group string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 2 {
			continue
		}
		types, groups := strings.Split(f[0], ","), strings.Split(f[1], ",")
		for i := range groups {
			if i < len(types) && groups[i] == group {
				out[types[i]] = true
			}
		}
	}
	return out
}

// runMcast streams to both groups and checks that featherip receives
// only while joined; query, when set, runs while joined.
func runMcast(t *testing.T, e *env6, query func()) {
	t.Helper()
	e.linkLocal(t) // MLD reports want a link-local source (RFC 3810 5.2.13)
	m := startMcastCounter(t, e.host)
	snd := startMcastSender(t, e.ns)
	ifi, err := e.host.InterfaceByName(tapName)
	if err != nil {
		t.Fatal(err)
	}
	g4 := &net.UDPAddr{IP: net.ParseIP(mcastGroup4)}
	g6 := &net.UDPAddr{IP: net.ParseIP(mcastGroup6)}

	time.Sleep(300 * time.Millisecond)
	if snd.sent.Load() < 10 {
		t.Fatalf("the sender sent %d datagrams in 300 ms", snd.sent.Load())
	}
	if n4, n6 := m.v4.Load(), m.v6.Load(); n4 != 0 || n6 != 0 {
		t.Fatalf("before joining: received %d IPv4 and %d IPv6 group datagrams", n4, n6)
	}
	// The socket's JoinGroup; where the socket API does not take IPv6
	// groups yet, the stack's own JoinGroup for the interface (the socket
	// is bound to the wildcard address and takes both families).
	viaStack := map[*net.UDPAddr]bool{}
	var membership func(g *net.UDPAddr, join bool)
	membership = func(g *net.UDPAddr, join bool) {
		t.Helper()
		var err error
		switch {
		case viaStack[g] && join:
			e.host.Do(func(s *stack.Stack) { err = s.JoinGroup(e.nic, netip.MustParseAddr(g.IP.String())) })
		case viaStack[g]:
			e.host.Do(func(s *stack.Stack) { err = s.LeaveGroup(e.nic, netip.MustParseAddr(g.IP.String())) })
		case join:
			err = m.conn.JoinGroup(ifi, g)
			if err != nil && g.IP.To4() == nil && strings.Contains(err.Error(), "not supported") {
				t.Logf("UDPConn.JoinGroup %v: %v; joining through Stack.JoinGroup", g, err)
				viaStack[g] = true
				membership(g, true)
				return
			}
		default:
			err = m.conn.LeaveGroup(ifi, g)
		}
		if err != nil {
			t.Fatalf("join %v (%v): %v", g, join, err)
		}
	}
	for _, g := range []*net.UDPAddr{g4, g6} {
		membership(g, true)
	}
	m.waitCounts(t, 0, 0, 3*time.Second)
	var groups []netip.Addr
	e.host.Do(func(s *stack.Stack) { groups = s.Groups(e.nic) })
	t.Logf("joined: %d + %d datagrams received; interface groups %v", m.v4.Load(), m.v6.Load(), groups)
	if query != nil {
		query()
		time.Sleep(1500 * time.Millisecond) // max response time 1 s
	}
	m.waitCounts(t, m.v4.Load(), m.v6.Load(), 2*time.Second)
	for _, g := range []*net.UDPAddr{g4, g6} {
		membership(g, false)
	}
	time.Sleep(200 * time.Millisecond) // datagrams already queued
	n4, n6 := m.v4.Load(), m.v6.Load()
	sent := snd.sent.Load()
	time.Sleep(time.Second)
	if snd.sent.Load()-sent < 20 {
		t.Fatalf("the sender stalled: %d datagrams in 1 s", snd.sent.Load()-sent)
	}
	if m.v4.Load() != n4 || m.v6.Load() != n6 {
		t.Errorf("after leaving: IPv4 %d -> %d, IPv6 %d -> %d datagrams: still receiving", n4, m.v4.Load(), n6, m.v6.Load())
	}
	if b := m.bad.Load(); b != 0 {
		t.Errorf("%d datagrams with the wrong family or data", b)
	}
	snd.close()
}
