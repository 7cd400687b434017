package interop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// testCert makes a self-signed certificate for ip and a pool that
// trusts it.
func testCert(t *testing.T, ip string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "featherip interop " + ip},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

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
		cert, pool := testCert(t, kernelIP)
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
		cert, pool := testCert(t, featherIP)
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
