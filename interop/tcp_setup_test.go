package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// TCP service ports of the featherip side in the TCP tests.
const (
	tcpEchoPort = 7
	tcpSinkPort = 9
)

// bigTransfers is set by FEATHERIP_BIG=1: the bulk transfers move 1 GiB
// instead of 64 MiB.
var bigTransfers = os.Getenv("FEATHERIP_BIG") == "1"

// transferSize is the size of each bulk transfer.
func transferSize() int64 {
	if bigTransfers {
		return 1 << 30
	}
	return 64 << 20
}

// transferTimeout bounds one bulk transfer.
func transferTimeout() time.Duration {
	if bigTransfers {
		return 15 * time.Minute
	}
	return 90 * time.Second
}

// tcpEnv is the TCP tests' world: like env (a namespace, a TAP device,
// featherip at 192.168.7.2) with featherip's TCP configured by cfg, a TCP
// echo service on port 7 and a sink on port 9 that hashes what it
// receives and, at the client's FIN, answers with the hex SHA-256 and a
// newline, then closes.
type tcpEnv struct {
	ns   *netns.NS
	host *featherip.Host
	// under the host lock:
	echoConns, sinkConns int
	echoBytes, sinkBytes int64
	errs                 []error
}

func setupTCP(t *testing.T, cfg tcp.Config) *tcpEnv {
	t.Helper()
	return setupTCPVnet(t, cfg, vnetOn())
}

// setupTCPVnet is setupTCP with the TAP's virtio-net header and offloads
// on or off.
func setupTCPVnet(t *testing.T, cfg tcp.Config, vnet bool) *tcpEnv {
	t.Helper()
	return setupTCPWrap(t, cfg, vnet, nil)
}

// setupTCPWrap is setupTCPVnet with the TAP link wrapped by wrap (when not
// nil) before the host gets it.
func setupTCPWrap(t *testing.T, cfg tcp.Config, vnet bool, wrap func(*tap.Link) link.Link) *tcpEnv {
	t.Helper()
	return setupTCPLink(t, cfg, tap.Config{Name: tapName, VnetHdr: vnet}, wrap)
}

// setupTCPLink is setupTCPWrap with the TAP device as tc describes.
func setupTCPLink(t *testing.T, cfg tcp.Config, tc tap.Config, wrap func(*tap.Link) link.Link) *tcpEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop tests need root (network namespaces and /dev/net/tun): run sudo go test ./interop/")
	}
	ns := netns.New(t)
	e := &tcpEnv{ns: ns}
	var tp *tap.Link
	if err := ns.Do(func() error {
		var err error
		tp, err = tap.Open(tc)
		return err
	}); err != nil {
		t.Fatalf("opening TAP %s in %s: %v", tapName, ns.Name, err)
	}
	ns.Run("ip", "addr", "add", kernelPfx, "dev", tapName)
	ns.Run("ip", "link", "set", "dev", tapName, "up")
	h, err := featherip.New(featherip.Config{TCP: cfg})
	if err != nil {
		tp.Close()
		t.Fatal(err)
	}
	e.host = h
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Host.Close: %v", err)
		}
	})
	var l link.Link = tp
	if wrap != nil {
		l = wrap(tp)
	}
	if _, err := h.AddInterface(l, featherip.InterfaceConfig{Name: tapName, Addrs: []netip.Prefix{netip.MustParsePrefix(featherPfx)}}); err != nil {
		tp.Close()
		t.Fatal(err)
	}
	h.Do(func(*stack.Stack) {
		e.listen(t, tcpEchoPort, e.acceptEcho)
		e.listen(t, tcpSinkPort, e.acceptSink)
	})
	return e
}

func (e *tcpEnv) listen(t *testing.T, port uint16, accept func(l, c *tcp.PCB)) {
	l, err := e.host.TCP().NewPCB()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, port), 128); err != nil {
		t.Fatal(err)
	}
	l.OnAccept(accept)
}

func (e *tcpEnv) onError(c *tcp.PCB, err error) { e.errs = append(e.errs, err) }

// acceptEcho serves RFC 862 echo with backpressure: bytes the send buffer
// does not take wait un-Recved, so the client's window closes.
func (e *tcpEnv) acceptEcho(_, c *tcp.PCB) {
	e.echoConns++
	var pending []byte
	fin := false
	flush := func(c *tcp.PCB) {
		if len(pending) == 0 {
			return
		}
		n, err := c.Write(pending)
		if err != nil && !errors.Is(err, tcp.ErrBufferFull) {
			e.errs = append(e.errs, err)
			c.Abort()
			return
		}
		pending = pending[:copy(pending, pending[n:])]
		c.Recved(n)
		if len(pending) == 0 && fin {
			c.Close()
		}
	}
	c.OnRecv(func(c *tcp.PCB, data []byte) {
		if data == nil {
			fin = true
			if len(pending) == 0 {
				c.Close()
			}
			return
		}
		e.echoBytes += int64(len(data))
		pending = append(pending, data...)
		flush(c)
	})
	c.OnSent(func(c *tcp.PCB, _ int) { flush(c) })
	c.OnError(e.onError)
}

// acceptSink hashes what the client sends; at its FIN it answers with the
// hash (the client half-closed and still reads) and closes.
func (e *tcpEnv) acceptSink(_, c *tcp.PCB) {
	e.sinkConns++
	h := sha256.New()
	c.SetAutoRecved(true)
	c.OnRecv(func(c *tcp.PCB, data []byte) {
		if data == nil {
			reply := hex.EncodeToString(h.Sum(nil)) + "\n"
			if _, err := c.Write([]byte(reply)); err != nil {
				e.errs = append(e.errs, err)
			}
			c.Close()
			return
		}
		e.sinkBytes += int64(len(data))
		h.Write(data)
	})
	c.OnError(e.onError)
}

// dialKernel connects from inside the namespace (the kernel's TCP) to
// addr. The connection may be used from any goroutine afterwards.
func (e *tcpEnv) dialKernel(addr string) (net.Conn, error) {
	return nsDial(e.ns, "tcp4", addr)
}

// stream is a reproducible pseudo-random byte stream.
type stream struct {
	r *rand.ChaCha8
	h hash.Hash
}

func newStream(seed byte) *stream {
	var s [32]byte
	s[0] = seed
	return &stream{r: rand.NewChaCha8(s), h: sha256.New()}
}

// fill fills b with the next bytes of the stream and hashes them.
func (s *stream) fill(b []byte) {
	s.r.Read(b)
	s.h.Write(b)
}

func (s *stream) sum() string { return hex.EncodeToString(s.h.Sum(nil)) }

// rate formats a throughput.
func rate(n int64, d time.Duration) string {
	return fmt.Sprintf("%.1f Mbit/s", float64(n)*8/d.Seconds()/1e6)
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
