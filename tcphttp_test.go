package featherip

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/testcert"
)

// TestTCPHTTPInProcess runs net/http's server and client over featherip.
func TestTCPHTTPInProcess(t *testing.T) {
	a, b := newTCPPair(t)
	ln, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("featherip ", 10000) // 100 kB, several windows
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s\n%s", r.Method, r.URL.Path, body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	tr := &http.Transport{DialContext: a.DialContext, MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				path := fmt.Sprintf("/p%d/%d", i, j)
				resp, err := client.Post("http://10.0.0.2"+path, "text/plain", strings.NewReader(strings.Repeat("x", 5000)))
				if err != nil {
					t.Errorf("POST %s: %v", path, err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != "POST "+path+"\n"+body {
					t.Errorf("POST %s: %d bytes, %v", path, len(got), err)
				}
			}
		}()
	}
	wg.Wait()
}

// TestTCPTLSInProcess runs crypto/tls over featherip connections, with
// HTTPS on top, verifying the certificate.
func TestTCPTLSInProcess(t *testing.T) {
	a, b := newTCPPair(t)
	cert, pool := testcert.New(t, addrB.Addr().String())

	ln, err := b.Listen("tcp", ":443")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %x %s", r.TLS.Version, r.URL.Path)
	})}
	go srv.Serve(tln)
	defer srv.Close()

	// a raw TLS conn: handshake, then a large echo-free exchange
	raw, err := a.DialContext(context.Background(), "tcp", "10.0.0.2:443")
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "10.0.0.2"})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	if tc.ConnectionState().Version != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3", tc.ConnectionState().Version)
	}
	fmt.Fprintf(tc, "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := io.ReadAll(tc)
	if err != nil || !strings.Contains(string(resp), "tls 304 /raw") {
		t.Fatalf("response over TLS: %q, %v", resp, err)
	}
	tc.Close()

	tr := &http.Transport{DialContext: a.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range 3 {
		r, err := client.Get(fmt.Sprintf("https://10.0.0.2/%d", i))
		if err != nil {
			t.Fatalf("GET https: %v", err)
		}
		got, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if want := fmt.Sprintf("tls 304 /%d", i); string(got) != want {
			t.Errorf("GET https = %q, want %q", got, want)
		}
	}
}
