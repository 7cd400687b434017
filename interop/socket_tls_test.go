package interop

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/testcert"
)

// TestSocketTLSWithKernel runs crypto/tls (HTTPS, TLS 1.3) over featherip
// connections with the Linux kernel as the TCP peer, both ways: a
// featherip http.Client fetches from and posts to a Go HTTPS server on
// the kernel side, and a Go HTTPS client on the kernel side does the same
// with an HTTPS server on a featherip listener. 1 MiB each way, checked
// byte for byte and by SHA-256.
func TestSocketTLSWithKernel(t *testing.T) {
	ns, h := setupSock(t)
	payload := bytes.Repeat([]byte("featherip tls! "), 1<<17)[:1<<20]

	t.Run("featherip client", func(t *testing.T) {
		cert, pool := testcert.New(t, kernelIP)
		var ln net.Listener
		if err := ns.Do(func() error {
			var err error
			ln, err = net.Listen("tcp4", kernelIP+":8443")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: hashHandler(payload)}
		go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
		defer srv.Close()
		tr := &http.Transport{DialContext: h.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		checkHTTP(t, &http.Client{Transport: tr, Timeout: 30 * time.Second}, "https://"+kernelIP+":8443", payload)
	})

	t.Run("featherip server", func(t *testing.T) {
		cert, pool := testcert.New(t, featherIP)
		ln, err := h.Listen("tcp", featherIP+":8443")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: hashHandler(payload)}
		go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
		defer srv.Close()
		// The client's sockets are the kernel's: dial from the namespace.
		dial := func(network, addr string) (net.Conn, error) { return nsDial(ns, network, addr) }
		tr := &http.Transport{Dial: dial, TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		checkHTTP(t, &http.Client{Transport: tr, Timeout: 30 * time.Second}, "https://"+featherIP+":8443", payload)
	})
}
