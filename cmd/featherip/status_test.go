package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/link/pipe"
)

// TestStatusPage serves the status page on one host and fetches it from
// another over a pipe, as HTML and as JSON.
func TestStatusPage(t *testing.T) {
	ea, eb := pipe.New(pipe.Config{})
	srv, err := featherip.New(featherip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := featherip.New(featherip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := srv.AddInterface(ea, featherip.InterfaceConfig{Name: "tst0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AddInterface(eb, featherip.InterfaceConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	extraCalls := 0
	stop, err := startStatus(srv, func() any {
		extraCalls++
		return struct{ Services services }{services{EchoDatagrams: 42}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	tr := &http.Transport{DialContext: cli.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(path string) (string, string) {
		t.Helper()
		resp, err := client.Get("http://10.0.0.2" + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
		}
		return string(b), resp.Header.Get("Content-Type")
	}

	body, ct := get("/stats.json")
	if !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("stats.json: %v\n%s", err, body)
	}
	if st.Memory.Goroutines == 0 || st.Memory.HeapAlloc == 0 || st.Memory.Sys < st.Memory.HeapAlloc {
		t.Errorf("memory %+v: want goroutines, heap and OS memory", st.Memory)
	}
	gcBody, _ := get("/stats.json?gc=1")
	var gcSt Status
	if err := json.Unmarshal([]byte(gcBody), &gcSt); err != nil {
		t.Fatal(err)
	}
	if gcSt.Memory.GCs <= st.Memory.GCs || gcSt.Memory.HeapLive == 0 {
		t.Errorf("?gc=1: GCs %d after %d, live heap %d: want a collection and the live heap", gcSt.Memory.GCs, st.Memory.GCs, gcSt.Memory.HeapLive)
	}
	if len(st.Interfaces) == 0 || st.Interfaces[len(st.Interfaces)-1].Name != "tst0" {
		t.Errorf("interfaces %+v, want tst0", st.Interfaces)
	}
	found := false
	for _, i := range st.Interfaces {
		for _, a := range i.Addrs {
			found = found || a == "10.0.0.2/24"
		}
	}
	if !found {
		t.Errorf("10.0.0.2/24 not among the addresses: %+v", st.Interfaces)
	}
	if !hasRoute(st.Routes, "10.0.0.0/24") {
		t.Errorf("connected route missing: %+v", st.Routes)
	}
	if !hasNeighbor(st.Neighbors, "10.0.0.1") {
		t.Errorf("the client is not in the neighbor table: %+v", st.Neighbors)
	}
	// our own request's connection and the listener
	var listen, estab bool
	for _, c := range st.Connections {
		listen = listen || (c.State == "LISTEN" && strings.HasSuffix(c.Local, ":80"))
		estab = estab || (c.State == "ESTABLISHED" && strings.HasPrefix(c.Remote, "10.0.0.1:"))
	}
	if !listen || !estab {
		t.Errorf("connections %+v: want the listener on :80 and our connection", st.Connections)
	}
	if st.Stats["Services.EchoDatagrams"] != 42 {
		t.Errorf("extra counters missing: Services.EchoDatagrams = %d", st.Stats["Services.EchoDatagrams"])
	}
	if _, ok := st.Stats["Pool.InUse"]; !ok {
		t.Error("Pool.InUse missing")
	}
	if st.Stats["Shell.FramesIn"] == 0 || len(st.Stats) < 20 {
		t.Errorf("host counters missing: Shell.FramesIn %d, %d counters", st.Stats["Shell.FramesIn"], len(st.Stats))
	}

	html, ct := get("/")
	if !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{"<h2>Interfaces</h2>", "tst0", "10.0.0.2/24", "10.0.0.0/24", "ESTABLISHED", "EchoDatagrams", "Shell.FramesIn"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if extraCalls < 2 {
		t.Errorf("extra counters asked %d times", extraCalls)
	}
	resp, err := client.Get("http://10.0.0.2/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing: %d", resp.StatusCode)
	}
}

func hasRoute(rs []StatusRoute, dst string) bool {
	for _, r := range rs {
		if r.Dst == dst {
			return true
		}
	}
	return false
}

func hasNeighbor(ns []StatusNeigh, ip string) bool {
	for _, n := range ns {
		if n.IP == ip {
			return true
		}
	}
	return false
}

// BenchmarkStatusHTML renders the status page (no network), to see what
// one request costs under a load test.
func BenchmarkStatusHTML(b *testing.B) {
	h, err := featherip.New(featherip.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	s := &statusServer{h: h, start: time.Now(), extra: func() any { return services{} }}
	req := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.serveHTML(w, req)
	}
}
