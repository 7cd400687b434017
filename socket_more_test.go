package featherip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/featherip/featherip/link/pipe"
	"github.com/featherip/featherip/stack"
)

// echoRequest builds an ICMP echo request with a zero identifier and
// checksum: the ping socket fills both.
func echoRequest(seq uint16, data []byte) []byte {
	m := make([]byte, 8+len(data))
	m[0] = 8
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[8:], data)
	return m
}

func TestPingSocket(t *testing.T) {
	a, _ := newPair(t)
	c, err := a.ListenPing("udp4", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, err := a.ListenPing("udp4", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if c.ID() == other.ID() {
		t.Fatalf("two ping sockets share identifier %d", c.ID())
	}
	dst := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2)}
	for i, size := range []int{0, 56, 1472, 5000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			req := echoRequest(uint16(100+i), pattern(size, i))
			orig := bytes.Clone(req)
			if n, err := c.WriteTo(req, dst); err != nil || n != len(req) {
				t.Fatalf("WriteTo = %d, %v", n, err)
			}
			if !bytes.Equal(req, orig) {
				t.Fatal("WriteTo changed the caller's buffer")
			}
			reply, from := readWithin(t, c, 5*time.Second)
			if from.String() != "10.0.0.2:0" {
				t.Errorf("reply from %v", from)
			}
			if len(reply) != len(req) || reply[0] != 0 || reply[1] != 0 {
				t.Fatalf("reply: %d bytes, type %d code %d; want an echo reply of %d bytes", len(reply), reply[0], reply[1], len(req))
			}
			if id := binary.BigEndian.Uint16(reply[4:]); id != c.ID() {
				t.Errorf("reply identifier %d, want the socket's %d", id, c.ID())
			}
			if seq := binary.BigEndian.Uint16(reply[6:]); seq != uint16(100+i) {
				t.Errorf("reply sequence %d", seq)
			}
			if !bytes.Equal(reply[8:], req[8:]) {
				t.Error("reply data differs")
			}
			chk := bytes.Clone(reply)
			setICMPChecksum(chk)
			if !bytes.Equal(chk[2:4], reply[2:4]) {
				t.Error("reply checksum is wrong")
			}
		})
	}
	// The other socket saw none of c's replies.
	expectNothing(t, other, 30*time.Millisecond)
	// And gets its own through the bound address, with *net.IPAddr too.
	if _, err := other.WriteTo(echoRequest(1, []byte("o")), &net.IPAddr{IP: net.IPv4(10, 0, 0, 2)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readWithin(t, other, 5*time.Second); !bytes.Equal(got[8:], []byte("o")) {
		t.Fatalf("other got %q", got)
	}
	expectNothing(t, c, 30*time.Millisecond)

	for _, bad := range [][]byte{nil, {8, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0}, {8, 1, 0, 0, 0, 0, 0, 0}} {
		if _, err := c.WriteTo(bad, dst); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("WriteTo(% x): %v, want EINVAL", bad, err)
		}
	}
	if _, err := c.WriteTo(echoRequest(1, make([]byte, 70000)), dst); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("huge echo: %v, want EMSGSIZE", err)
	}
	// Identifier and address binding.
	fixed, err := a.ListenPing("udp", "0.0.0.0:4242")
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Close()
	if fixed.ID() != 4242 || fixed.LocalAddr().(*net.UDPAddr).Port != 4242 {
		t.Errorf("bound identifier: ID %d, LocalAddr %v", fixed.ID(), fixed.LocalAddr())
	}
	if _, err := a.ListenPing("udp4", ":4242"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("identifier in use: %v, want EADDRINUSE", err)
	}
	if _, err := a.ListenPing("udp4", "10.0.0.77"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("foreign address: %v, want EADDRNOTAVAIL", err)
	}
	var ae *net.AddrError
	if _, err := a.ListenPing("udp6", "10.0.0.1"); !errors.As(err, &ae) {
		t.Errorf("udp6 with an IPv4 address: %v, want a *net.AddrError", err)
	}
	if _, err := a.ListenPing("udp4", "[fd00::1]:3"); !errors.As(err, &ae) {
		t.Errorf("udp4 with an IPv6 address: %v, want a *net.AddrError", err)
	}
}

func TestPingSocketClosesSharedPCB(t *testing.T) {
	a, _ := newPair(t)
	pcbs := func() int {
		var n int
		a.Do(func(*stack.Stack) { n = a.Raw().Stats().PCBs })
		return n
	}
	before := pcbs()
	c1, _ := a.ListenPing("udp4", "")
	c2, _ := a.ListenPing("udp4", "")
	if got := pcbs(); got != before+1 {
		t.Errorf("two ping sockets use %d raw pcbs, want 1", got-before)
	}
	c1.Close()
	c2.Close()
	if got := pcbs(); got != before {
		t.Errorf("after closing both, %d raw pcbs left open", got-before)
	}
}

// ipv4Header builds an IPv4 header by hand (not with package wire) for the
// header-included test.
func ipv4Header(proto uint8, src, dst netip.Addr, payloadLen int) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+payloadLen))
	h[8] = 64
	h[9] = proto
	s4, d4 := src.As4(), dst.As4()
	copy(h[12:], s4[:])
	copy(h[16:], d4[:])
	return h
}

func TestRawSocket(t *testing.T) {
	a, b := newPair(t)
	const proto = 253 // RFC 3692 experimentation
	rx, err := b.ListenPacket("ip4:253", "")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	rxc := rx.(*IPConn)
	dst := &net.IPAddr{IP: net.IPv4(10, 0, 0, 2)}

	check := func(t *testing.T, got []byte, from net.Addr, payload []byte, withHeader bool) {
		t.Helper()
		if from.String() != "10.0.0.1" {
			t.Errorf("from %v", from)
		}
		if !withHeader {
			if !bytes.Equal(got, payload) {
				t.Fatalf("payload %q, want %q", got, payload)
			}
			return
		}
		if len(got) < 20 || got[0]>>4 != 4 {
			t.Fatalf("datagram %x has no IPv4 header", got)
		}
		hl := int(got[0]&0xf) * 4
		if got[9] != proto || !bytes.Equal(got[12:16], []byte{10, 0, 0, 1}) || !bytes.Equal(got[16:20], []byte{10, 0, 0, 2}) {
			t.Errorf("header %x: wrong protocol or addresses", got[:hl])
		}
		if int(binary.BigEndian.Uint16(got[2:])) != len(got) {
			t.Errorf("total length %d for %d bytes", binary.BigEndian.Uint16(got[2:]), len(got))
		}
		if !bytes.Equal(got[hl:], payload) {
			t.Fatalf("payload %q, want %q", got[hl:], payload)
		}
	}

	t.Run("stack builds the header", func(t *testing.T) {
		tx, err := a.ListenIP(proto, false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		if _, err := tx.WriteTo([]byte("payload one"), dst); err != nil {
			t.Fatal(err)
		}
		got, from := readWithin(t, rx, 5*time.Second)
		check(t, got, from, []byte("payload one"), true) // Linux: header included on read
		rxc.SetStripHeader(true)
		defer rxc.SetStripHeader(false)
		if _, err := tx.WriteToAddr([]byte("payload two"), netip.MustParseAddr("10.0.0.2")); err != nil {
			t.Fatal(err)
		}
		got, from = readWithin(t, rx, 5*time.Second)
		check(t, got, from, []byte("payload two"), false)
	})
	t.Run("caller builds the header", func(t *testing.T) {
		tx, err := a.ListenIP(proto, true)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		payload := []byte("hand-made header")
		pkt := append(ipv4Header(proto, addrA.Addr(), addrB.Addr(), len(payload)), payload...)
		if _, err := tx.WriteTo(pkt, dst); err != nil {
			t.Fatal(err)
		}
		got, from := readWithin(t, rx, 5*time.Second)
		check(t, got, from, payload, true)
		if _, err := tx.WriteTo([]byte{1, 2, 3}, dst); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("header-included write without a header: %v, want EINVAL", err)
		}
	})
	var ae *net.AddrError
	if _, err := a.ListenPacket("ip6:253", "10.0.0.1"); !errors.As(err, &ae) {
		t.Errorf("ip6 with an IPv4 address: %v, want a *net.AddrError", err)
	}
	if _, err := a.ListenPacket("ip4:253", "::1"); !errors.As(err, &ae) {
		t.Errorf("ip4 with an IPv6 address: %v, want a *net.AddrError", err)
	}
	if _, err := a.ListenPacket("ip4:nope", ""); err == nil {
		t.Error("unknown protocol name accepted")
	}
	if _, err := a.ListenIP(300, false); err == nil {
		t.Error("protocol 300 accepted")
	}
}

// TestHostCloseEndsSockets: Host.Close wakes every blocked reader with
// net.ErrClosed, frees the queues and leaves no goroutine behind.
func TestHostCloseEndsSockets(t *testing.T) {
	before := runtime.NumGoroutine()
	ea, eb := pipe.New(pipe.Config{})
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddInterface(ea, InterfaceConfig{Addrs: []netip.Prefix{addrA}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddInterface(eb, InterfaceConfig{Addrs: []netip.Prefix{addrB}}); err != nil {
		t.Fatal(err)
	}
	u, err := a.ListenUDP("udp4", &net.UDPAddr{Port: 9000})
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Dial("udp4", "10.0.0.2:9")
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.ListenPing("udp4", "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.ListenIP(1, false)
	if err != nil {
		t.Fatal(err)
	}
	// Something queued in u, to be freed.
	bu, _ := b.ListenUDP("udp4", nil)
	bu.WriteTo([]byte("queued"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9000})
	deadline := time.Now().Add(5 * time.Second)
	for {
		u.mu.Lock()
		n := u.q.len()
		u.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("datagram not queued")
		}
		time.Sleep(time.Millisecond)
	}
	readers := []func() error{
		func() error { _, err := d.Read(make([]byte, 10)); return err },
		func() error { _, _, err := p.ReadFrom(make([]byte, 10)); return err },
		func() error { _, _, err := r.ReadFrom(make([]byte, 10)); return err },
	}
	errc := make(chan error, len(readers))
	for _, f := range readers {
		go func() { errc <- f() }()
	}
	time.Sleep(20 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for range readers {
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("blocked read after Host.Close: %v, want net.ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Host.Close did not wake a blocked read")
		}
	}
	u.mu.Lock()
	freed := u.q.buf == nil && u.q.len() == 0 && u.closed
	u.mu.Unlock()
	if !freed {
		t.Error("Host.Close did not free the queued datagram")
	}
	if _, _, err := u.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Host.Close: %v", err)
	}
	if _, err := u.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 9}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Host.Close: %v", err)
	}
	if _, err := a.ListenPacket("udp4", ":0"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listen after Host.Close: %v, want net.ErrClosed", err)
	}
	var st Stats
	a.Do(func(*stack.Stack) {})
	st = a.Stats()
	if st.UDP.PCBs != 0 {
		t.Errorf("%d UDP pcbs open after Host.Close", st.UDP.PCBs)
	}
	u.Close() // allowed after Host.Close
	b.Close()
	checkNoLeak(t, before)
}

// checkNoLeak waits for the goroutine count to fall back and for no
// featherip goroutine or deadline timer to be left.
func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for wait := time.Millisecond; ; wait *= 2 {
		dump := string(buf[:runtime.Stack(buf, true)])
		left := strings.Contains(dump, "featherip.(*") || strings.Contains(dump, "featherip.(*deadline)")
		if !left && runtime.NumGoroutine() <= before {
			return
		}
		if wait > 2*time.Second {
			t.Fatalf("%d goroutines, %d before; dump:\n%s", runtime.NumGoroutine(), before, dump)
		}
		time.Sleep(wait)
	}
}

// TestSocketRace hammers one socket from many goroutines: reads, writes,
// deadline changes and a Close in the middle. Run with -race.
func TestSocketRace(t *testing.T) {
	a, b := newPair(t)
	warmARP(t, a, b)
	peer := listenUDP(t, b, "udp4", ":9100")
	// The peer echoes until closed.
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			peer.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	for round := range 3 {
		c, err := a.ListenUDP("udp4", nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		to := netip.MustParseAddrPort("10.0.0.2:9100")
		for i := range 4 {
			wg.Add(3)
			go func() { // reader
				defer wg.Done()
				buf := make([]byte, 2000)
				for {
					_, _, err := c.ReadFrom(buf)
					if errors.Is(err, net.ErrClosed) {
						return
					}
					if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("read: %v", err)
						return
					}
				}
			}()
			go func() { // writer
				defer wg.Done()
				msg := pattern(100+i, i)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := c.WriteToUDPAddrPort(msg, to); errors.Is(err, net.ErrClosed) {
						return
					} else if err != nil && !errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("write: %v", err)
						return
					}
					runtime.Gosched()
				}
			}()
			go func() { // deadline twiddler
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), uint64(round)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					var d time.Time
					switch r.IntN(4) {
					case 0:
						d = time.Now().Add(-time.Second)
					case 1:
						d = time.Now().Add(time.Duration(r.IntN(2000)) * time.Microsecond)
					case 2:
						d = time.Time{}
					case 3:
						c.SetReadBuffer(2048 + r.IntN(8192))
						continue
					}
					if err := c.SetDeadline(d); err != nil && !errors.Is(err, net.ErrClosed) {
						t.Errorf("SetDeadline: %v", err)
					}
					time.Sleep(100 * time.Microsecond)
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		close(stop)
		c.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("goroutines did not finish after Close")
		}
	}
}

func TestSocketErrorMapping(t *testing.T) {
	for _, r := range errnoTable {
		err := opError("read", "udp", nil, nil, "recvfrom", fmt.Errorf("wrapped: %w", r.core))
		if !errors.Is(err, r.errno) {
			t.Errorf("%v: does not match %v", r.core, r.errno)
		}
		if !errors.Is(err, r.core) {
			t.Errorf("%v: lost the core sentinel", r.core)
		}
		var errno syscall.Errno
		if !errors.As(err, &errno) || errno != r.errno {
			t.Errorf("%v: errors.As errno = %v", r.core, errno)
		}
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Syscall != "recvfrom" {
			t.Errorf("%v: no *os.SyscallError naming recvfrom", r.core)
		}
		if !strings.HasSuffix(err.Error(), "recvfrom: "+r.errno.Error()) {
			t.Errorf("%v: message %q", r.core, err.Error())
		}
	}
	if err := opError("read", "udp", nil, nil, "", os.ErrDeadlineExceeded); !errors.Is(err, os.ErrDeadlineExceeded) || !err.(net.Error).Timeout() {
		t.Errorf("deadline: %v", err)
	}
	if err := opError("read", "udp", nil, nil, "", net.ErrClosed); !errors.Is(err, net.ErrClosed) || err.(net.Error).Timeout() {
		t.Errorf("closed: %v", err)
	}
	if opError("read", "udp", nil, nil, "", nil) != nil {
		t.Error("nil error wrapped")
	}
	other := errors.New("something else")
	if err := opError("read", "udp", nil, nil, "x", other); !errors.Is(err, other) {
		t.Errorf("unmapped error lost: %v", err)
	}
}

// TestUDPSocketAllocs: a steady-state request/response through the socket
// layer with the AddrPort methods allocates nothing in the shell.
func TestUDPSocketAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv, err := h.ListenUDPAddrPort("udp4", netip.MustParseAddrPort("127.0.0.1:9200"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := h.ListenUDPAddrPort("udp4", netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 200)
	buf := make([]byte, 2000)
	to := netip.MustParseAddrPort("127.0.0.1:9200")
	round := func() {
		if _, err := cli.WriteToUDPAddrPort(msg, to); err != nil {
			t.Fatal(err)
		}
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.WriteToUDPAddrPort(buf[:n], from); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cli.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		round()
	}
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Errorf("%v allocations per UDP round trip over loopback sockets, want 0", n)
	}
}
