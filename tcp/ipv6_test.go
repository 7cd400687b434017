package tcp

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/link/fault"
	"github.com/featherip/featherip/wire"
)

func TestIPv6Bulk(t *testing.T) {
	f := fault.Config{Loss: 0.01}
	pr := newPair(t, pairOpts{delay: 2 * time.Millisecond, v6: true, fault: &f})
	took := bulkTo(t, pr, pr.b.ip6, 1<<20, 5*time.Minute)
	t.Logf("IPv6: 1 MiB each way in %v", took)
	if pr.a.tcp.Stats().ActiveOpens != 1 {
		t.Fatal("no IPv6 connection")
	}
}

func TestIPv6MSSAndRefused(t *testing.T) {
	pr := newPair(t, pairOpts{v6: true})
	c, _ := pr.a.tcp.NewPCB()
	var got error
	done := false
	c.OnConnected(func(c *PCB, err error) { got, done = err, true })
	if err := c.Connect(netip.AddrPortFrom(pr.b.ip6, 9)); err != nil {
		t.Fatal(err)
	}
	pr.run(func() bool { return done }, time.Second)
	if !errors.Is(got, ErrConnRefused) {
		t.Fatalf("connect to a closed IPv6 port: %v", got)
	}
	l, _ := pr.b.tcp.NewPCB()
	l.Listen(netip.MustParseAddrPort("[::]:80"), 4)
	var srv *PCB
	l.OnAccept(func(l, c *PCB) { srv = c })
	c, _ = pr.a.tcp.NewPCB()
	c.Connect(netip.AddrPortFrom(pr.b.ip6, 80))
	pr.run(func() bool { return srv != nil }, time.Second)
	if srv == nil || srv.Stats().SndMSS != 1500-60 || !srv.RemoteAddr().Addr().Is6() {
		t.Fatalf("IPv6 accept: %v", srv)
	}
	// the dual-stack listener takes IPv4 too
	srv = nil
	c4, _ := pr.a.tcp.NewPCB()
	c4.Connect(netip.AddrPortFrom(pr.b.ip, 80))
	pr.run(func() bool { return srv != nil }, time.Second)
	if srv == nil || !srv.RemoteAddr().Addr().Is4() || srv.Stats().SndMSS != 1460 {
		t.Fatalf("IPv4 on [::]: %v", srv)
	}
}

// TestIPv6BulkMiB moves a few MiB each way over IPv6, clean and with
// faults on both receive sides, and compares SHA-256 sums (bulkTo).
func TestIPv6BulkMiB(t *testing.T) {
	for _, c := range []struct {
		name string
		f    *fault.Config
	}{
		{"clean", nil},
		{"loss3", &fault.Config{Loss: 0.03}},
		{"loss-dup-reorder", &fault.Config{Loss: 0.02, Duplicate: 0.01, Reorder: 0.02, ReorderHold: 5 * time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr := newPair(t, pairOpts{delay: time.Millisecond, v6: true, fault: c.f, seed: 3})
			took := bulkTo(t, pr, pr.b.ip6, 3<<20, 10*time.Minute)
			t.Logf("3 MiB each way over IPv6 in %v virtual", took)
			if st := pr.b.s.Stats().IPv6; st.InDelivers == 0 {
				t.Fatal("nothing went over IPv6")
			}
		})
	}
}

// icmp6To builds the frame of an ICMPv6 error (typ, code, rest) from
// `from` to h quoting an IPv6/TCP header from h's address local to
// remote with sequence number seq.
func icmp6To(h *host, from netip.Addr, typ, code uint8, rest uint32, local, remote netip.AddrPort, seq uint32) []byte {
	q := make([]byte, wire.IPv6HeaderLen+wire.TCPMinHeaderLen)
	qh := wire.IPv6Header{PayloadLength: wire.TCPMinHeaderLen, NextHeader: wire.ProtoTCP, HopLimit: 64, Src: local.Addr(), Dst: remote.Addr()}
	qh.Encode(q)
	tcpH := q[wire.IPv6HeaderLen:]
	binary.BigEndian.PutUint16(tcpH[0:2], local.Port())
	binary.BigEndian.PutUint16(tcpH[2:4], remote.Port())
	binary.BigEndian.PutUint32(tcpH[4:8], seq)
	tcpH[12] = 5 << 4
	m := make([]byte, wire.ICMPv6HeaderLen+len(q))
	wire.PutICMPv6(m, typ, code, rest)
	copy(m[wire.ICMPv6HeaderLen:], q)
	wire.SetICMPv6Checksum(m, from, h.ip6)
	pkt := make([]byte, wire.IPv6HeaderLen+len(m))
	ph := wire.IPv6Header{PayloadLength: len(m), NextHeader: wire.ProtoICMPv6, HopLimit: 64, Src: from, Dst: h.ip6}
	ph.Encode(pkt)
	copy(pkt[wire.IPv6HeaderLen:], m)
	f := make([]byte, wire.EthernetHeaderLen+len(pkt))
	wire.PutEthernet(f, wire.MAC{2, 0, 0, 0, 0, 1}, wire.MAC{2, 0, 0, 0, 0, 2}, wire.EtherTypeIPv6)
	copy(f[wire.EthernetHeaderLen:], pkt)
	return f
}

// TestIPv6PacketTooBig: an ICMPv6 packet too big about a segment in
// flight lowers the MSS to MTU-60 and the transfer completes intact.
func TestIPv6PacketTooBig(t *testing.T) {
	pr := newPair(t, pairOpts{delay: 5 * time.Millisecond, v6: true})
	l, _ := pr.b.tcp.NewPCB()
	l.Listen(netip.MustParseAddrPort("[::]:80"), 4)
	var got []byte
	l.OnAccept(func(l, c *PCB) {
		c.OnRecv(func(c *PCB, d []byte) { got = append(got, d...); c.Recved(len(d)) })
	})
	c, _ := pr.a.tcp.NewPCB()
	connected := false
	c.OnConnected(func(*PCB, error) { connected = true })
	c.Connect(netip.AddrPortFrom(pr.b.ip6, 80))
	pr.run(func() bool { return connected }, time.Second)
	if c.Stats().SndMSS != 1440 {
		t.Fatalf("IPv6 MSS %d, want 1500-60", c.Stats().SndMSS)
	}
	data := randomData(200000, 9)
	n, _ := c.Write(data)
	pr.a.s.Poll()
	// A quoted sequence number out of flight is ignored (RFC 5927).
	pr.a.s.Input(pr.a.nic, icmp6To(pr.a, pr.b.ip6, wire.ICMPv6PacketTooBig, 0, 1280, c.LocalAddr(), c.RemoteAddr(), c.sndUna-100000))
	if c.Stats().SndMSS != 1440 {
		t.Fatal("packet too big about a sequence number not in flight was used")
	}
	pr.a.s.Input(pr.a.nic, icmp6To(pr.a, pr.b.ip6, wire.ICMPv6PacketTooBig, 0, 1280, c.LocalAddr(), c.RemoteAddr(), c.sndUna))
	if c.Stats().SndMSS != 1280-60 || pr.a.s.PathMTU(pr.b.ip6) != 1280 {
		t.Fatalf("after packet too big 1280: MSS %d, path MTU %d", c.Stats().SndMSS, pr.a.s.PathMTU(pr.b.ip6))
	}
	sent := n
	pr.run(func() bool {
		if sent < len(data) {
			m, _ := c.Write(data[sent:])
			sent += m
		}
		return len(got) == len(data)
	}, time.Minute)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("data mismatch after the MSS drop: %d of %d bytes", len(got), len(data))
	}
}

// TestIPv6UnreachableAbortsSynSent: ICMPv6 destination unreachable about
// our SYN aborts the connection attempt (address unreachable: host
// unreachable; port unreachable: refused).
func TestIPv6UnreachableAbortsSynSent(t *testing.T) {
	for _, c := range []struct {
		code uint8
		want error
	}{
		{wire.ICMPv6AddressUnreachable, ErrHostUnreachable},
		{wire.ICMPv6NoRoute, ErrHostUnreachable},
		{wire.ICMPv6PortUnreachable, ErrConnRefused},
	} {
		pr := newPair(t, pairOpts{v6: true})
		nowhere := netip.MustParseAddr("fd00::99") // on-link, never answers NDP
		cl, _ := pr.a.tcp.NewPCB()
		var got error
		done := false
		cl.OnConnected(func(c *PCB, err error) { got, done = err, true })
		if err := cl.Connect(netip.AddrPortFrom(nowhere, 80)); err != nil {
			t.Fatal(err)
		}
		if cl.State() != SynSent {
			t.Fatalf("state %v", cl.State())
		}
		// Wrong sequence number: ignored.
		pr.a.s.Input(pr.a.nic, icmp6To(pr.a, pr.b.ip6, wire.ICMPv6DestUnreachable, c.code, 0, cl.LocalAddr(), cl.RemoteAddr(), cl.iss+12345))
		if done {
			t.Fatal("error with a wrong sequence number aborted the connection")
		}
		pr.a.s.Input(pr.a.nic, icmp6To(pr.a, pr.b.ip6, wire.ICMPv6DestUnreachable, c.code, 0, cl.LocalAddr(), cl.RemoteAddr(), cl.iss))
		if !done || !errors.Is(got, c.want) {
			t.Fatalf("code %d: connect ended %v with %v, want %v", c.code, done, got, c.want)
		}
	}
}
