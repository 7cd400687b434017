package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
	"golang.org/x/net/nettest"
)

// setupSock is the socket tests' world: a namespace with a TAP device
// (kernel 192.168.7.1/24) and a featherip Host at 192.168.7.2/24 with a
// short TIME_WAIT, and nothing else running on it.
func setupSock(t *testing.T) (*netns.NS, *featherip.Host) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop tests need root (network namespaces and /dev/net/tun): run sudo go test ./interop/")
	}
	ns := netns.New(t)
	var tp *tap.Link
	if err := ns.Do(func() error {
		var err error
		tp, err = tap.Open(tap.Config{Name: tapName})
		return err
	}); err != nil {
		t.Fatalf("opening TAP %s in %s: %v", tapName, ns.Name, err)
	}
	ns.Run("ip", "addr", "add", kernelPfx, "dev", tapName)
	ns.Run("ip", "link", "set", "dev", tapName, "up")
	cfg := featherip.Config{TCP: tcp.Config{TimeWait: 200 * time.Millisecond}}
	cfg.Stack.SLAAC.DupAddrDetectTransmits = -1 // IPv6 addresses usable at once
	h, err := featherip.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Host.Close: %v", err)
		}
	})
	if _, err := h.AddInterface(tp, featherip.InterfaceConfig{Name: tapName, Addrs: []netip.Prefix{netip.MustParsePrefix(featherPfx)}}); err != nil {
		tp.Close()
		t.Fatal(err)
	}
	return ns, h
}

// TestSocketTCPNettestKernel runs nettest's net.Conn conformance suite on
// connections between a featherip TCPConn and a Linux socket in the
// namespace, both ways round.
func TestSocketTCPNettestKernel(t *testing.T) {
	ns, h := setupSock(t)
	ctx := context.Background()
	t.Run("FeatheripDialsKernel", func(t *testing.T) {
		nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
			var ln net.Listener
			if err := ns.Do(func() error {
				var err error
				ln, err = net.Listen("tcp4", kernelIP+":0")
				return err
			}); err != nil {
				return nil, nil, nil, err
			}
			defer ln.Close()
			acc := make(chan net.Conn, 1)
			go func() { c, _ := ln.Accept(); acc <- c }()
			c1, err = h.DialContext(ctx, "tcp", ln.Addr().String())
			if err != nil {
				return nil, nil, nil, err
			}
			c2 = <-acc
			if c2 == nil {
				c1.Close()
				return nil, nil, nil, fmt.Errorf("kernel Accept failed")
			}
			return c1, c2, func() { c1.Close(); c2.Close() }, nil
		})
	})
	t.Run("KernelDialsFeatherip", func(t *testing.T) {
		nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
			ln, err := h.Listen("tcp", featherIP+":0")
			if err != nil {
				return nil, nil, nil, err
			}
			defer ln.Close()
			acc := make(chan net.Conn, 1)
			go func() { c, _ := ln.Accept(); acc <- c }()
			if err := ns.Do(func() error {
				var err error
				c1, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
				return err
			}); err != nil {
				return nil, nil, nil, err
			}
			c2 = <-acc
			if c2 == nil {
				c1.Close()
				return nil, nil, nil, fmt.Errorf("featherip Accept failed")
			}
			return c1, c2, func() { c1.Close(); c2.Close() }, nil
		})
	})
	waitTCPIdle(t, h, 0)
}

// waitTCPIdle waits until h has want tcp pcbs and no packet buffer in use.
func waitTCPIdle(t *testing.T, h *featherip.Host, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pcbs, inUse int
		h.Do(func(s *stack.Stack) { pcbs, inUse = h.TCP().NumPCBs(), s.Pool().Stats().InUse })
		if pcbs == want && inUse == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not idle: %d tcp pcbs (want %d), %d pool buffers in use", pcbs, want, inUse)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSocketTCPHTTPClientToKernel fetches from a Go HTTP server running
// in the namespace (Linux TCP) with an http.Client whose transport dials
// over featherip, and posts to it.
func TestSocketTCPHTTPClientToKernel(t *testing.T) {
	ns, h := setupSock(t)
	var ln net.Listener
	if err := ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", kernelIP+":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	srv := &http.Server{Handler: hashHandler(payload)}
	go srv.Serve(ln)
	defer srv.Close()
	tr := &http.Transport{DialContext: h.DialContext}
	defer tr.CloseIdleConnections()
	checkHTTP(t, &http.Client{Transport: tr, Timeout: 30 * time.Second}, "http://"+kernelIP+":8080", payload)
}

// statusRun is `featherip up` running in a namespace.
type statusRun struct {
	ns  *netns.NS
	url string
}

// startUp runs `featherip up` in a new namespace and waits for its ready
// line, which must name the status page.
func startUp(t *testing.T) *statusRun {
	t.Helper()
	requireTool(t, "curl", "curl")
	bin, ns := cliEnv(t)
	const dev = "fips0"
	run := startCLI(t, ns, bin, "up", "--tap", dev)
	if ready := run.ready; !strings.HasPrefix(ready, "ready "+dev) || !strings.Contains(ready, "status: http://192.168.7.2/") {
		t.Fatalf("ready line %q does not name the status page; stderr %s", ready, run.Stderr())
	}
	return &statusRun{ns: ns, url: "http://192.168.7.2/"}
}

// statusJSON is the part of /stats.json the tests read.
type statusJSON struct {
	Interfaces []struct {
		Name  string   `json:"name"`
		Addrs []string `json:"addrs"`
	} `json:"interfaces"`
	Neighbors []struct {
		IP string `json:"ip"`
	} `json:"neighbors"`
	Routes []struct {
		Dst string `json:"dst"`
	} `json:"routes"`
	Connections []struct {
		Local, Remote, State string
	} `json:"connections"`
	TCPPCBs  int              `json:"tcp_pcbs"`
	Counters map[string]int64 `json:"counters"`
	Memory   struct {
		HeapLive   int64 `json:"heap_live"`
		Goroutines int   `json:"goroutines"`
	} `json:"memory"`
}

func (r *statusRun) stats(t *testing.T) statusJSON {
	t.Helper()
	return r.statsQuery(t, "")
}

// statsGC is stats after a garbage collection in featherip's process,
// so that Memory.HeapLive is its live heap.
func (r *statusRun) statsGC(t *testing.T) statusJSON {
	t.Helper()
	return r.statsQuery(t, "?gc=1")
}

// statsQuery fetches /stats.json with query appended.
func (r *statusRun) statsQuery(t *testing.T, query string) statusJSON {
	t.Helper()
	out := r.ns.Run("curl", "-sS", "--fail", "--max-time", "10", r.url+"stats.json"+query)
	var st statusJSON
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("stats.json: %v\n%s", err, out)
	}
	return st
}

// TestSocketTCPStatusPageCurl fetches `featherip up`'s status page with
// curl from the Linux side: HTML at / and JSON at /stats.json.
func TestSocketTCPStatusPageCurl(t *testing.T) {
	r := startUp(t)
	html := string(r.ns.Run("curl", "-sS", "--fail", "--max-time", "10", "-D", "-", r.url))
	for _, want := range []string{"HTTP/1.1 200 OK", "Content-Type: text/html", "<h2>Interfaces</h2>", "fips0", "192.168.7.2/24", "192.168.7.0/24", "192.168.7.1", "ESTABLISHED", "TCP.PassiveOpens"} {
		if !strings.Contains(html, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	st := r.stats(t)
	found := false
	for _, i := range st.Interfaces {
		for _, a := range i.Addrs {
			found = found || (i.Name == "fips0" && a == featherPfx)
		}
	}
	if !found {
		t.Errorf("interfaces %+v lack fips0 %s", st.Interfaces, featherPfx)
	}
	neigh := false
	for _, n := range st.Neighbors {
		neigh = neigh || n.IP == kernelIP
	}
	if !neigh {
		t.Errorf("neighbors %+v lack the kernel %s", st.Neighbors, kernelIP)
	}
	if st.Counters["TCP.PassiveOpens"] < 2 || st.Counters["Shell.FramesIn"] == 0 {
		t.Errorf("counters: TCP.PassiveOpens %d, Shell.FramesIn %d; want our two fetches counted", st.Counters["TCP.PassiveOpens"], st.Counters["Shell.FramesIn"])
	}
	if st.TCPPCBs < 5 { // the services' four listeners and the status page's
		t.Errorf("tcp_pcbs %d, want at least 5", st.TCPPCBs)
	}
}

var (
	wrkRequestsRe = regexp.MustCompile(`(\d+) requests in`)
	wrkSocketErrs = regexp.MustCompile(`Socket errors: .*`)
)

// wrkSeconds is how long the wrk load runs: FEATHERIP_WRK_SECONDS, default
// 5.
func wrkSeconds(t *testing.T) int {
	if v := os.Getenv("FEATHERIP_WRK_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("FEATHERIP_WRK_SECONDS=%q: want a positive number of seconds", v)
		}
		return n
	}
	return 5
}

// TestSocketTCPStatusPageWrk loads the status page with wrk (100
// connections) from the Linux side: no socket errors, every response 2xx,
// and afterwards featherip's TCP pcbs and packet buffers back at their
// idle level, its goroutines as many as before and its live heap within
// 64 KiB of what it was before. A one-second run of wrk first warms up
// what the process keeps once it has been used (encoder caches, the
// grown connection tables), and the level after it is the baseline.
func TestSocketTCPStatusPageWrk(t *testing.T) {
	requireTool(t, "wrk", "wrk")
	r := startUp(t)
	fresh := r.stats(t)
	wrk := func(secs int) []byte {
		t.Helper()
		out, err := r.ns.Try("wrk", "-t", "4", "-c", "100", "-d", strconv.Itoa(secs)+"s", "--timeout", "10s", r.url)
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		return out
	}
	// idle waits until the pcbs (the listeners' and the one curl uses to
	// ask) and the buffers in use are back to what they were at start,
	// then returns the stats after garbage collection.
	idle := func() statusJSON {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			st := r.stats(t)
			if st.TCPPCBs <= fresh.TCPPCBs && st.Counters["Pool.InUse"] <= fresh.Counters["Pool.InUse"] {
				return r.statsGC(t)
			}
			if time.Now().After(deadline) {
				t.Fatalf("not idle after wrk: %d tcp pcbs, %d pool buffers in use; at start: %d, %d", st.TCPPCBs, st.Counters["Pool.InUse"], fresh.TCPPCBs, fresh.Counters["Pool.InUse"])
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	wrk(1)
	before := idle()
	secs := wrkSeconds(t)
	out := wrk(secs)
	t.Logf("wrk -c100 -d%ds:\n%s", secs, out)
	if m := wrkSocketErrs.Find(out); m != nil {
		t.Errorf("wrk reports %s", m)
	}
	if bytes.Contains(out, []byte("Non-2xx")) {
		t.Error("wrk got non-2xx responses")
	}
	m := wrkRequestsRe.FindSubmatch(out)
	if m == nil {
		t.Fatal("no request count in wrk's output")
	}
	if n, _ := strconv.Atoi(string(m[1])); n < 100 {
		t.Errorf("only %d requests in %d s", n, secs)
	}
	after := r.stats(t)
	var sb strings.Builder
	for _, k := range []string{"TCP.PassiveOpens", "TCP.RetransSegs", "TCP.Timeouts", "TCP.FastRetransmits", "TCP.DropNoBuffer",
		"TCP.DropListenFull", "TCP.SynCookiesSent", "TCP.OutRsts", "TCP.DropAfterClose", "Stack.Link.SendErrors", "Stack.Link.PoolExhausted", "Shell.ReceiveErrors"} {
		fmt.Fprintf(&sb, " %s=%d", k, after.Counters[k]-before.Counters[k])
	}
	t.Logf("featherip counters during the load:%s", sb.String())
	end := idle()
	t.Logf("idle again: %d tcp pcbs, %d pool buffers in use; live heap %d B before the load, %d B after; goroutines %d, %d",
		end.TCPPCBs, end.Counters["Pool.InUse"], before.Memory.HeapLive, end.Memory.HeapLive, before.Memory.Goroutines, end.Memory.Goroutines)
	if end.Memory.HeapLive > before.Memory.HeapLive+64<<10 {
		t.Errorf("live heap %d B after the load, %d B before: more than 64 KiB stays", end.Memory.HeapLive, before.Memory.HeapLive)
	}
	if end.Memory.Goroutines > before.Memory.Goroutines {
		t.Errorf("%d goroutines after the load, %d before", end.Memory.Goroutines, before.Memory.Goroutines)
	}
}

// TestSocketTCPIPv6Kernel exchanges data with Linux over IPv6 both ways:
// featherip dials a kernel listener, the kernel dials a featherip one.
func TestSocketTCPIPv6Kernel(t *testing.T) {
	ns, h := setupSock(t)
	ns.Run("ip", "-6", "addr", "add", "fd00:7::1/64", "dev", tapName, "nodad")
	var err error
	h.Do(func(s *stack.Stack) {
		for _, i := range s.Interfaces() {
			if i.Name == tapName {
				err = s.AddAddress(i.NIC, netip.MustParsePrefix("fd00:7::2/64"))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var kln net.Listener
	if err := ns.Do(func() error {
		var err error
		kln, err = net.Listen("tcp6", "[fd00:7::1]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer kln.Close()
	go func() {
		for {
			c, err := kln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	payload := bytes.Repeat([]byte("v6 "), 100000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp6", kln.Addr().String())
	if err != nil {
		t.Fatalf("featherip dials the kernel over IPv6: %v", err)
	}
	go func() { c.Write(payload); c.(*featherip.TCPConn).CloseWrite() }()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echo over IPv6 from the kernel: %d bytes, %v; want %d", len(got), err, len(payload))
	}

	fln, err := h.Listen("tcp6", "[fd00:7::2]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fln.Close()
	go func() {
		c, err := fln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	var kc net.Conn
	if err := ns.Do(func() error {
		var err error
		kc, err = net.DialTimeout("tcp6", fln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("the kernel dials featherip over IPv6: %v", err)
	}
	go func() { kc.Write(payload); kc.(*net.TCPConn).CloseWrite() }()
	kc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err = io.ReadAll(kc)
	kc.Close()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echo over IPv6 from featherip: %d bytes, %v; want %d", len(got), err, len(payload))
	}
}
