package iperf

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/link/ethswitch"
	"github.com/featherip/featherip/link/fault"
	"github.com/featherip/featherip/sim"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

type simHost struct {
	*sim.Host
	tcp *tcp.Protocol
}

// newSim builds two hosts, 10.0.0.1 (client side) and 10.0.0.2 (server
// side), each with TCP. fc, when set, adds faults on both receive sides.
func newSim(t *testing.T, fc *fault.Config) (*sim.Network, *simHost, *simHost) {
	t.Helper()
	// a link delay, so that time passes while data flows
	n, err := sim.New(sim.Config{Seed: 7, Switch: ethswitch.Config{Delay: 100 * time.Microsecond}})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, addr string) *simHost {
		hc := sim.HostConfig{Name: name, Addrs: []netip.Prefix{netip.MustParsePrefix(addr)}}
		if fc != nil {
			c := *fc
			hc.Fault = &c
		}
		h, err := n.AddHost(hc)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tcp.New(h.Stack, tcp.Config{}) // registers itself with AddPoller
		if err != nil {
			t.Fatal(err)
		}
		return &simHost{h, p}
	}
	return n, mk("a", "10.0.0.1/24"), mk("b", "10.0.0.2/24")
}

var serverAddr = netip.MustParseAddrPort("10.0.0.2:5001")

func TestSimBytes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    *fault.Config
		noHeader bool
	}{
		{"clean", nil, false},
		{"no header", nil, true},
		{"lossy", &fault.Config{Loss: 0.01, Reorder: 0.01, Delay: time.Millisecond}, false},
		{"hostile", &fault.Config{Loss: 0.03, Duplicate: 0.02, Reorder: 0.05, Corrupt: 0.01, Delay: time.Millisecond, Jitter: time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := newSim(t, tc.fault)
			var reports []Report
			srv, err := NewServer(b.Stack, b.tcp, ServerConfig{OnReport: func(r Report) { reports = append(reports, r) }})
			if err != nil {
				t.Fatal(err)
			}
			const total = 4 << 20
			var cr *Report
			cl, err := Dial(a.Stack, a.tcp, ClientConfig{Remote: serverAddr, Bytes: total, NoHeader: tc.noHeader,
				OnDone: func(r Report) { cr = &r }})
			if err != nil {
				t.Fatal(err)
			}
			if !n.RunUntil(func() bool { return cr != nil && len(reports) == 1 }, 5*time.Minute) {
				t.Fatalf("test did not end: client %+v, server reports %v, stats %+v", cl.Report(), reports, srv.Stats())
			}
			if cr.Err != nil || cr.Bytes != total {
				t.Errorf("client report %v, want %d bytes and no error", cr, total)
			}
			r := reports[0]
			if r.Err != nil || r.Bytes != total {
				t.Errorf("server report %v, want %d bytes and no error", r, total)
			}
			// our header has no flags: like iperf's server, ours ignores it
			if r.HasHeader {
				t.Errorf("server found a header %+v", r.Header)
			}
			if r.Duration <= 0 || r.BitsPerSecond() <= 0 || cr.Duration <= 0 {
				t.Errorf("durations: server %v client %v", r.Duration, cr.Duration)
			}
			if r.Remote != cr.Local || r.Local != cr.Remote {
				t.Errorf("addresses: server %v<-%v, client %v->%v", r.Local, r.Remote, cr.Local, cr.Remote)
			}
			st := srv.Stats()
			if st.Accepted != 1 || st.Completed != 1 || st.Active != 0 || st.Bytes != total {
				t.Errorf("server stats %+v", st)
			}
			t.Logf("%v; client %v", r, cr)
		})
	}
}

func TestSimDuration(t *testing.T) {
	n, a, b := newSim(t, &fault.Config{Delay: 2 * time.Millisecond})
	var rep *Report
	if _, err := NewServer(b.Stack, b.tcp, ServerConfig{OnReport: func(r Report) { rep = &r }}); err != nil {
		t.Fatal(err)
	}
	var cr *Report
	start := n.Now()
	if _, err := Dial(a.Stack, a.tcp, ClientConfig{Remote: netip.AddrPortFrom(serverAddr.Addr(), 0), Duration: 2 * time.Second,
		OnDone: func(r Report) { cr = &r }}); err != nil {
		t.Fatal(err)
	}
	if !n.RunUntil(func() bool { return cr != nil && rep != nil }, time.Minute) {
		t.Fatal("timed test did not end")
	}
	if cr.Err != nil || rep.Err != nil || cr.Bytes == 0 || rep.Bytes != cr.Bytes {
		t.Fatalf("client %v, server %v", cr, rep)
	}
	// ends shortly after 2 s: the deadline plus draining the window
	if el := n.Now() - start; el < 2*time.Second || el > 3*time.Second {
		t.Errorf("timed test took %v, want a little over 2s", el)
	}
	if rep.Bytes < 1<<20 {
		t.Errorf("only %d bytes in 2 s on a 2 ms link", rep.Bytes)
	}
	t.Logf("%v", rep)
}

// TestSimHeaderSplit feeds the server a 2.1.8 header one byte per segment:
// it is still parsed, and every byte counted.
func TestSimHeaderSplit(t *testing.T) {
	n, a, b := newSim(t, nil)
	var rep *Report
	srv, err := NewServer(b.Stack, b.tcp, ServerConfig{OnReport: func(r Report) { rep = &r }})
	if err != nil {
		t.Fatal(err)
	}
	hdr := mustHex(iperf218)
	hdr[0] = 0xc0 // tradeoff: recognised, not run
	c, _ := a.tcp.NewPCB()
	c.SetNoDelay(true)
	connected := false
	c.OnConnected(func(_ *tcp.PCB, err error) { connected = err == nil })
	if err := c.Connect(serverAddr); err != nil {
		t.Fatal(err)
	}
	n.RunUntil(func() bool { return connected }, time.Second)
	for i := range hdr {
		if _, err := c.Write(hdr[i : i+1]); err != nil {
			t.Fatal(err)
		}
		n.Run(10 * time.Millisecond)
	}
	c.Write([]byte("0123456789"))
	c.Close()
	if !n.RunUntil(func() bool { return rep != nil }, 5*time.Second) {
		t.Fatal("no report")
	}
	if !rep.HasHeader || !rep.Header.Tradeoff() || rep.Header.VersionL != 0x00080003 || rep.Bytes != uint64(len(hdr)+10) {
		t.Errorf("report %+v", rep)
	}
	if st := srv.Stats(); st.Headers != 1 || st.ModesIgnored != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSimRefusedAndReset(t *testing.T) {
	n, a, b := newSim(t, nil)
	var cr *Report
	if _, err := Dial(a.Stack, a.tcp, ClientConfig{Remote: serverAddr, Bytes: 1000, OnDone: func(r Report) { cr = &r }}); err != nil {
		t.Fatal(err)
	}
	if !n.RunUntil(func() bool { return cr != nil }, 10*time.Second) || !errors.Is(cr.Err, tcp.ErrConnRefused) {
		t.Fatalf("no server: report %v, want ErrConnRefused", cr)
	}

	var rep *Report
	srv, err := NewServer(b.Stack, b.tcp, ServerConfig{OnReport: func(r Report) { rep = &r }})
	if err != nil {
		t.Fatal(err)
	}
	cr = nil
	cl, err := Dial(a.Stack, a.tcp, ClientConfig{Remote: serverAddr, Duration: time.Hour, OnDone: func(r Report) { cr = &r }})
	if err != nil {
		t.Fatal(err)
	}
	n.Run(100 * time.Millisecond)
	cl.Close()
	if cr == nil || !errors.Is(cr.Err, ErrClientClosed) {
		t.Fatalf("Close: report %v", cr)
	}
	if !n.RunUntil(func() bool { return rep != nil }, 5*time.Second) || !errors.Is(rep.Err, tcp.ErrConnReset) {
		t.Fatalf("server report after client reset: %v", rep)
	}
	if st := srv.Stats(); st.Failed != 1 || st.Active != 0 {
		t.Errorf("server stats %+v", st)
	}
	// the client's poller is gone: nothing left to do once TCP is idle
	_ = stack.Poller(cl)
}

func TestServerMaxConns(t *testing.T) {
	n, a, b := newSim(t, nil)
	srv, err := NewServer(b.Stack, b.tcp, ServerConfig{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for i := 0; i < 2; i++ {
		if _, err := Dial(a.Stack, a.tcp, ClientConfig{Remote: serverAddr, Duration: time.Second, OnDone: func(r Report) { errs = append(errs, r.Err) }}); err != nil {
			t.Fatal(err)
		}
	}
	if !n.RunUntil(func() bool { return len(errs) == 2 }, 10*time.Second) {
		t.Fatalf("reports %v", errs)
	}
	if st := srv.Stats(); st.Accepted != 1 || st.Refused != 1 || st.Completed != 1 {
		t.Errorf("stats %+v", st)
	}
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("want one test to succeed and one reset: %v", errs)
	}
	srv.Close()
	if _, err := NewServer(b.Stack, b.tcp, ServerConfig{}); err != nil {
		t.Errorf("port 5001 not free after Close: %v", err)
	}
}

func TestServerRecvAllocs(t *testing.T) {
	n, _, b := newSim(t, nil)
	_ = n
	srv, err := NewServer(b.Stack, b.tcp, ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sc := &serverConn{srv: srv}
	data := make([]byte, 1448)
	sc.recv(nil, data)
	if a := testing.AllocsPerRun(100, func() { sc.recv(nil, data) }); a != 0 {
		t.Errorf("recv allocates %v per segment", a)
	}
}

func TestConfigErrors(t *testing.T) {
	_, a, _ := newSim(t, nil)
	if _, err := Dial(a.Stack, a.tcp, ClientConfig{Remote: serverAddr, Bytes: -1}); err == nil {
		t.Error("negative Bytes accepted")
	}
	if _, err := Dial(nil, a.tcp, ClientConfig{}); err == nil {
		t.Error("nil stack accepted")
	}
	if _, err := NewServer(a.Stack, a.tcp, ServerConfig{RecvBuffer: -1}); err == nil {
		t.Error("negative RecvBuffer accepted")
	}
	if _, err := Dial(a.Stack, a.tcp, ClientConfig{Remote: netip.MustParseAddrPort("0.0.0.0:5001")}); err == nil {
		t.Error("unspecified remote accepted")
	}
}

func mustHex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return b
}

func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// TestClientHeaderOnWire checks the bytes an iperf server sees first: a
// version-1 header with no mode flags, one thread and the amount (bytes,
// or negative 10 ms units), then the '0'..'9' pattern, all of it for -n.
func TestClientHeaderOnWire(t *testing.T) {
	for _, tc := range []struct {
		cfg    ClientConfig
		amount int32
	}{
		{ClientConfig{Bytes: 100}, 100},
		{ClientConfig{Duration: 50 * time.Millisecond}, -5},
	} {
		n, a, b := newSim(t, nil)
		l, _ := b.tcp.NewPCB()
		if err := l.Listen(serverAddr, 4); err != nil {
			t.Fatal(err)
		}
		var got []byte
		fin := false
		l.OnAccept(func(_, c *tcp.PCB) {
			c.SetAutoRecved(true)
			c.OnRecv(func(c *tcp.PCB, data []byte) {
				if data == nil {
					fin = true
					c.Close()
					return
				}
				got = append(got, data...)
			})
		})
		cfg := tc.cfg
		cfg.Remote = serverAddr
		if _, err := Dial(a.Stack, a.tcp, cfg); err != nil {
			t.Fatal(err)
		}
		if !n.RunUntil(func() bool { return fin }, 10*time.Second) || len(got) < HeaderV1Len+10 {
			t.Fatalf("%+v: got %d bytes, fin %v", tc.cfg, len(got), fin)
		}
		h, err := ParseHeader(got)
		if err != nil || HasHeader(got) || h != (Header{NumThreads: 1, Amount: tc.amount}) {
			t.Errorf("%+v: header %+v, %v", tc.cfg, h, err)
		}
		// the pattern counts from the stream's start, as iperf fills its
		// buffer before writing the header over its first bytes
		for i, c := range got[HeaderV1Len:] {
			if c != '0'+byte((HeaderV1Len+i)%10) {
				t.Fatalf("payload byte %d = %q", i, c)
			}
		}
		if tc.cfg.Bytes > 0 && int64(len(got)) != tc.cfg.Bytes {
			t.Errorf("sent %d bytes, want %d", len(got), tc.cfg.Bytes)
		}
	}
}
