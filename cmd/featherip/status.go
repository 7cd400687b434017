package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/pbuf"
	"github.com/featherip/featherip/stack"
)

// portStatus is where `featherip up` serves its status page, with net/http
// running over featherip's own TCP (the socket API).
const portStatus = 80

// Status is what the status page shows: GET / renders it as HTML, GET
// /stats.json returns it as JSON (/stats.json?gc=1 collects garbage
// first, so that Memory.HeapLive is the live heap at that moment).
type Status struct {
	Version     string         `json:"version"`
	Uptime      string         `json:"uptime"`
	Interfaces  []StatusIface  `json:"interfaces"`
	Neighbors   []StatusNeigh  `json:"neighbors"`
	Routes      []StatusRoute  `json:"routes"`
	TCPPCBs     int            `json:"tcp_pcbs"`
	Connections []StatusConn   `json:"connections"`
	Memory      StatusMemory   `json:"memory"`
	Counters    []CounterGroup `json:"-"`
	// CountersHTML is Counters rendered for the HTML page.
	CountersHTML template.HTML `json:"-"`
	// Stats maps every counter's dotted name to its value
	// ("Stack.IP.InReceives": 12, "TCP.ActiveOpens": 3, ...).
	Stats map[string]int64 `json:"counters"`
}

// StatusIface is one interface.
type StatusIface struct {
	Name  string   `json:"name"`
	NIC   int      `json:"nic"`
	MTU   int      `json:"mtu"`
	MAC   string   `json:"mac,omitempty"`
	Up    bool     `json:"up"`
	Addrs []string `json:"addrs"`
}

// StatusNeigh is one neighbor (ARP or NDP) entry.
type StatusNeigh struct {
	NIC   int    `json:"nic"`
	IP    string `json:"ip"`
	MAC   string `json:"mac"`
	State string `json:"state"`
}

// StatusRoute is one route.
type StatusRoute struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway,omitempty"`
	NIC     int    `json:"nic"`
	Metric  int    `json:"metric"`
}

// StatusConn is one TCP socket of the socket API.
type StatusConn struct {
	Local    string `json:"local"`
	Remote   string `json:"remote,omitempty"`
	State    string `json:"state"`
	Buffered int    `json:"buffered"`
	SRTT     string `json:"srtt,omitempty"`
	Cwnd     int    `json:"cwnd"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

// StatusMemory is the process's Go memory and goroutines, so that an
// operator (and the load test) can see memory return to its idle level.
type StatusMemory struct {
	// HeapLive is the heap held by live objects as of the last garbage
	// collection (runtime/metrics /gc/heap/live:bytes).
	HeapLive uint64 `json:"heap_live"`
	// HeapAlloc is the heap allocated now, garbage included.
	HeapAlloc uint64 `json:"heap_alloc"`
	// Sys is the memory obtained from the operating system.
	Sys uint64 `json:"sys"`
	// Goroutines is the number of goroutines.
	Goroutines int `json:"goroutines"`
	// GCs is the number of completed garbage collections.
	GCs uint32 `json:"gcs"`
}

// readMemory fills a StatusMemory, after garbage collection when gc is
// set (GET /stats.json?gc=1), which makes HeapLive the live heap now: two
// collections, as a sync.Pool's objects survive the first.
func readMemory(gc bool) StatusMemory {
	if gc {
		runtime.GC()
		runtime.GC()
	}
	// runtime/metrics, not runtime.ReadMemStats: no stop of the world on
	// every status request
	ms := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(ms)
	v := func(i int) uint64 {
		if ms[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return ms[i].Value.Uint64()
	}
	return StatusMemory{HeapLive: v(0), HeapAlloc: v(1), Sys: v(2), GCs: uint32(v(3)), Goroutines: runtime.NumGoroutine()}
}

// CounterGroup is one "[Group]" of counters, in printCounters order.
type CounterGroup struct {
	Name     string
	Counters []Counter
}

// Counter is one named counter.
type Counter struct {
	Name  string
	Value int64
}

// statusServer serves the status page of one host.
type statusServer struct {
	h     *featherip.Host
	start time.Time
	// extra returns more counter structs to show next to the host's
	// (services, TCP); it is called outside the core lock.
	extra func() any
	srv   *http.Server
}

// startStatus listens on port 80 of h and serves the status page until
// the returned function is called.
func startStatus(h *featherip.Host, extra func() any) (stop func(), err error) {
	ln, err := h.Listen("tcp", ":"+strconv.Itoa(portStatus))
	if err != nil {
		return nil, fmt.Errorf("status page port %d: %w", portStatus, err)
	}
	s := &statusServer{h: h, start: time.Now(), extra: extra}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveHTML)
	mux.HandleFunc("GET /stats.json", s.serveJSON)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          nil,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := s.srv.Serve(ln)
		_ = err // http.ErrServerClosed or the listener's net.ErrClosed
	}()
	return func() {
		s.srv.Close()
		<-done
	}, nil
}

// snapshot gathers the status.
func (s *statusServer) snapshot() *Status {
	st := &Status{
		Version: versionString(),
		Uptime:  time.Since(s.start).Truncate(time.Second).String(),
	}
	var pool pbuf.Stats
	s.h.Do(func(sk *stack.Stack) {
		for _, i := range sk.Interfaces() {
			v := StatusIface{Name: i.Name, NIC: int(i.NIC), MTU: i.MTU, Up: i.Up}
			if i.MAC != ([6]byte{}) {
				v.MAC = net.HardwareAddr(i.MAC[:]).String()
			}
			for _, a := range i.Addrs {
				v.Addrs = append(v.Addrs, a.String())
			}
			st.Interfaces = append(st.Interfaces, v)
		}
		for _, n := range sk.Neighbors() {
			st.Neighbors = append(st.Neighbors, StatusNeigh{NIC: int(n.NIC), IP: n.IP.String(), MAC: net.HardwareAddr(n.MAC[:]).String(), State: n.State})
		}
		for _, r := range sk.Routes() {
			v := StatusRoute{Dst: r.Dst.String(), NIC: int(r.NIC), Metric: r.Metric}
			if r.Gateway.IsValid() {
				v.Gateway = r.Gateway.String()
			}
			st.Routes = append(st.Routes, v)
		}
		st.TCPPCBs = s.h.TCP().NumPCBs()
		pool = sk.Pool().Stats()
	})
	for _, c := range s.h.TCPSockets() {
		v := StatusConn{Local: c.Local.String(), State: c.State, Buffered: c.Buffered,
			Cwnd: c.PCB.Cwnd, BytesIn: c.PCB.BytesReceived, BytesOut: c.PCB.BytesAcked}
		if c.Remote.IsValid() {
			v.Remote = c.Remote.String()
		}
		if c.PCB.SRTT > 0 {
			v.SRTT = c.PCB.SRTT.String()
		}
		st.Connections = append(st.Connections, v)
	}
	var buf bytes.Buffer
	printCounters(&buf, struct {
		Host  featherip.Stats
		Pool  pbuf.Stats
		Extra any
	}{s.h.Stats(), pool, s.extra()})
	st.Counters, st.Stats = parseCounters(buf.Bytes())
	return st
}

// parseCounters reads printCounters' "[Group]" / "Name value" lines back
// into groups and a flat map.
func parseCounters(text []byte) ([]CounterGroup, map[string]int64) {
	var groups []CounterGroup
	flat := make(map[string]int64)
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			groups = append(groups, CounterGroup{Name: line[1 : len(line)-1]})
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			continue // not a counter (a bool or a string)
		}
		name = strings.TrimPrefix(strings.TrimPrefix(name, "Host."), "Extra.")
		flat[name] = n
		if len(groups) == 0 {
			groups = append(groups, CounterGroup{})
		}
		g := &groups[len(groups)-1]
		g.Counters = append(g.Counters, Counter{Name: name, Value: n})
	}
	for i := range groups {
		groups[i].Name = strings.TrimPrefix(strings.TrimPrefix(groups[i].Name, "Host."), "Extra.")
	}
	return groups, flat
}

func (s *statusServer) serveJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	st := s.snapshot()
	st.Memory = readMemory(r.URL.Query().Get("gc") == "1")
	if err := enc.Encode(st); err != nil && !errors.Is(err, net.ErrClosed) {
		return
	}
}

// countersHTML renders the counter groups as HTML tables. There are
// thousands of counters: writing them directly, escaped with
// html.EscapeString, is many times cheaper than html/template's
// per-value reflection, which matters when the page is under load.
func countersHTML(groups []CounterGroup) template.HTML {
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "<h3>%s</h3>\n<table>", html.EscapeString(g.Name))
		for _, c := range g.Counters {
			b.WriteString("<tr><td>")
			b.WriteString(html.EscapeString(c.Name))
			b.WriteString(`</td><td class="n">`)
			b.WriteString(strconv.FormatInt(c.Value, 10))
			b.WriteString("</td></tr>")
		}
		b.WriteString("</table>\n")
	}
	return template.HTML(b.String())
}

func (s *statusServer) serveHTML(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf bytes.Buffer
	st := s.snapshot()
	st.Memory = readMemory(false)
	st.CountersHTML = countersHTML(st.Counters)
	if err := statusTmpl.Execute(&buf, st); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(buf.Bytes())
}

var statusTmpl = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>featherip status</title>
<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse;margin-bottom:1em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}td.n{text-align:right;font-family:monospace}</style>
</head><body>
<h1>featherip</h1>
<p>version {{.Version}}, up {{.Uptime}}, <a href="/stats.json">stats.json</a></p>
<h2>Interfaces</h2>
<table><tr><th>name</th><th>nic</th><th>mtu</th><th>mac</th><th>up</th><th>addresses</th></tr>
{{range .Interfaces}}<tr><td>{{.Name}}</td><td>{{.NIC}}</td><td>{{.MTU}}</td><td>{{.MAC}}</td><td>{{.Up}}</td><td>{{range .Addrs}}{{.}} {{end}}</td></tr>
{{end}}</table>
<h2>Neighbors</h2>
<table><tr><th>nic</th><th>ip</th><th>mac</th><th>state</th></tr>
{{range .Neighbors}}<tr><td>{{.NIC}}</td><td>{{.IP}}</td><td>{{.MAC}}</td><td>{{.State}}</td></tr>
{{end}}</table>
<h2>Routes</h2>
<table><tr><th>destination</th><th>gateway</th><th>nic</th><th>metric</th></tr>
{{range .Routes}}<tr><td>{{.Dst}}</td><td>{{.Gateway}}</td><td>{{.NIC}}</td><td>{{.Metric}}</td></tr>
{{end}}</table>
<h2>TCP connections</h2>
<p>{{.TCPPCBs}} TCP pcbs in all (services included); sockets:</p>
<table><tr><th>local</th><th>remote</th><th>state</th><th>buffered</th><th>srtt</th><th>cwnd</th><th>bytes in</th><th>bytes out</th></tr>
{{range .Connections}}<tr><td>{{.Local}}</td><td>{{.Remote}}</td><td>{{.State}}</td><td class="n">{{.Buffered}}</td><td>{{.SRTT}}</td><td class="n">{{.Cwnd}}</td><td class="n">{{.BytesIn}}</td><td class="n">{{.BytesOut}}</td></tr>
{{end}}</table>
<h2>Memory</h2>
<table><tr><th>live heap at last GC</th><th>heap allocated</th><th>from the OS</th><th>goroutines</th><th>GCs</th></tr>
<tr><td class="n">{{.Memory.HeapLive}}</td><td class="n">{{.Memory.HeapAlloc}}</td><td class="n">{{.Memory.Sys}}</td><td class="n">{{.Memory.Goroutines}}</td><td class="n">{{.Memory.GCs}}</td></tr></table>
<h2>Counters</h2>
{{.CountersHTML}}</body></html>
`))
