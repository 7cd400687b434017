package featherip

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestParseTCPAddr(t *testing.T) {
	for _, tc := range []struct {
		network, addr string
		dial          bool
		want          string // "" = error
	}{
		{"tcp", "10.0.0.2:80", true, "10.0.0.2:80"},
		{"tcp", ":80", true, "127.0.0.1:80"},
		{"tcp6", ":80", true, "[::1]:80"},
		{"tcp", ":80", false, "invalid AddrPort"},
		{"tcp4", ":80", false, "0.0.0.0:80"},
		{"tcp6", ":80", false, "[::]:80"},
		{"tcp", "localhost:8080", true, "127.0.0.1:8080"},
		{"tcp6", "localhost:8080", true, "[::1]:8080"},
		{"tcp", "[::ffff:10.0.0.2]:80", true, "10.0.0.2:80"},
		{"tcp", "[fd00::2]:443", true, "[fd00::2]:443"},
		{"tcp4", "[fd00::2]:443", true, ""},
		{"tcp6", "10.0.0.2:443", true, ""},
		{"tcp", "10.0.0.2", true, ""},
		{"tcp", "10.0.0.2:http", true, ""},
		{"tcp", "10.0.0.2:65536", true, ""},
		{"tcp", "example.com:80", true, ""},
	} {
		got, err := parseTCPAddr(tc.network, tc.addr, tc.dial)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseTCPAddr(%q, %q) = %v, want an error", tc.network, tc.addr, got)
		case tc.want != "" && err != nil:
			t.Errorf("parseTCPAddr(%q, %q): %v", tc.network, tc.addr, err)
		case tc.want != "" && got.String() != tc.want:
			t.Errorf("parseTCPAddr(%q, %q) = %v, want %s", tc.network, tc.addr, got, tc.want)
		}
	}
	var dnsErr *net.DNSError
	if _, err := parseTCPAddr("tcp", "example.com:80", true); !errors.As(err, &dnsErr) {
		t.Errorf("a host name gives %T, want *net.DNSError", err)
	}
}

func TestTCPAddrPortConversion(t *testing.T) {
	if ap, err := tcpAddrPort(nil); err != nil || ap.Addr().IsValid() || ap.Port() != 0 {
		t.Errorf("nil: %v, %v", ap, err)
	}
	if ap, err := tcpAddrPort(&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5}); err != nil || ap != netip.MustParseAddrPort("10.0.0.1:5") {
		t.Errorf("IPv4-in-16: %v, %v", ap, err)
	}
	if _, err := tcpAddrPort(&net.TCPAddr{IP: net.IP{1, 2, 3}, Port: 5}); err == nil {
		t.Error("a 3-byte IP accepted")
	}
	if _, err := tcpAddrPort(&net.TCPAddr{Port: 70000}); err == nil {
		t.Error("port 70000 accepted")
	}
	if tcpAddrOrNil(netip.AddrPort{}) != nil {
		t.Error("the zero AddrPort is not a nil net.Addr")
	}
}

// FuzzParseTCPAddr: no panic; a parsed address formats to a string that
// parses back to the same address.
func FuzzParseTCPAddr(f *testing.F) {
	for _, s := range []string{"10.0.0.2:80", ":0", "[::1]:8080", "localhost:1", "[fe80::1%eth0]:22", "1.2.3.4:", "[::ffff:1.2.3.4]:9"} {
		f.Add("tcp", s, true)
	}
	f.Fuzz(func(t *testing.T, network, addr string, dial bool) {
		ap, err := parseTCPAddr(network, addr, dial)
		if err != nil {
			return
		}
		if a := ap.Addr(); a.IsValid() && a.Is4In6() {
			t.Fatalf("%q: IPv4-mapped address %v not unmapped", addr, a)
		}
		if !ap.Addr().IsValid() {
			return // the dual-stack wildcard
		}
		back, err := parseTCPAddr(network, ap.String(), dial)
		if err != nil || back != ap {
			t.Fatalf("%q -> %v -> %v, %v", addr, ap, back, err)
		}
	})
}
