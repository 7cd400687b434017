package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/pipe"
)

func TestRunCommands(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"version"}, 0, "featherip ", ""},
		{[]string{"help"}, 0, "featherip up", ""},
		{[]string{"--help"}, 0, "Examples:", ""},
		{nil, 2, "", "Usage:"},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"up", "--help"}, 0, "", "--tap"},
		{[]string{"up", "--mtu", "20"}, 2, "", "--mtu 20"},
		{[]string{"up", "--addr", "nonsense"}, 2, "", "192.168.7.2/24"},
		{[]string{"up", "--host-addr", "1.2.3.4"}, 2, "", "--host-addr"},
		{[]string{"up", "--gateway", "::1"}, 2, "", "--gateway"},
		{[]string{"up", "--tap", "a/b"}, 2, "", "--tap"},
		{[]string{"up", "--addr", "192.168.7.1/24"}, 2, "", "kernel's address"},
		{[]string{"up", "extra"}, 2, "", "unexpected argument"},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("featherip %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)",
				tc.args, code, tc.code, out.String(), tc.out, errb.String(), tc.err)
		}
	}
}

func TestUpHelpHasExamples(t *testing.T) {
	var errb bytes.Buffer
	run([]string{"up", "-h"}, &bytes.Buffer{}, &errb)
	for _, want := range []string{"--tap", "-host-addr", "-addr", "-gateway", "-mtu", "-pcap", "Examples:", "ping 192.168.7.2", "socat"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("up --help lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestParseUpDefaults(t *testing.T) {
	o, err := parseUp(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.tap != "fip0" || o.mtu != 1500 || o.hostPfx != netip.MustParsePrefix("192.168.7.1/24") ||
		len(o.addrs) != 1 || o.addrs[0] != netip.MustParsePrefix("192.168.7.2/24") || o.gateway.IsValid() || o.pcapFile != "" {
		t.Fatalf("defaults: %+v", o)
	}
	o, err = parseUp([]string{"--tap", "t1", "--addr", "10.0.0.2/24", "--addr", "10.0.1.2/24", "--host-addr", "none",
		"--gateway", "10.0.0.1", "--mtu", "9000", "--pcap", "x.pcap"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.tap != "t1" || o.mtu != 9000 || o.hostPfx.IsValid() || len(o.addrs) != 2 ||
		o.gateway != netip.MustParseAddr("10.0.0.1") || o.pcapFile != "x.pcap" {
		t.Fatalf("parsed: %+v", o)
	}
}

func TestPrintCounters(t *testing.T) {
	type inner struct {
		InA, InB uint64
		Table    [3]uint32
	}
	type outer struct {
		IP   inner
		Sock struct{ Open int }
	}
	var b bytes.Buffer
	printCounters(&b, outer{IP: inner{InA: 1, InB: 2, Table: [3]uint32{4, 5, 6}}, Sock: struct{ Open int }{7}})
	want := "[IP]\nIP.InA 1\nIP.InB 2\nIP.Table[0] 4\nIP.Table[1] 5\nIP.Table[2] 6\n[Sock]\nSock.Open 7\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestReadyLine(t *testing.T) {
	o, err := parseUp([]string{"--addr", "10.0.0.2/24", "--addr", "10.0.1.2/24", "--host-addr", "10.0.0.1/24"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := pipe.New(pipe.Config{})
	line := readyLine(o, []link.Link{a}, nil)
	want := "ready fip0 10.0.0.2/24 10.0.1.2/24 mac 02:00:00:00:00:01 host 10.0.0.1/24  tcp: echo 7, discard 9, chargen 19, iperf 5001  status: http://10.0.0.2/  try: ping 10.0.0.2; echo hi | socat - udp:10.0.0.2:7; iperf -c 10.0.0.2"
	if line != want {
		t.Fatalf("ready line\n%q\nwant\n%q", line, want)
	}
	if strings.Contains(line, "\n") {
		t.Fatal("ready line spans lines")
	}
}
