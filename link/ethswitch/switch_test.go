package ethswitch

import (
	"errors"
	"testing"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/linktest"
)

var bcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// recv drains every due frame of p and returns their payload tags (byte 14).
func recv(t *testing.T, p *Port) []byte {
	t.Helper()
	var tags []byte
	buf := make([]byte, 2048)
	for {
		n, ok := p.TryReceive(buf)
		if !ok {
			return tags
		}
		if n < 15 {
			t.Fatalf("port %d got %d-byte frame", p.ID(), n)
		}
		tags = append(tags, buf[14])
	}
}

func expect(t *testing.T, p *Port, want string) {
	t.Helper()
	if got := string(recv(t, p)); got != want {
		t.Fatalf("port %d received %q, want %q", p.ID(), got, want)
	}
}

func send(t *testing.T, p *Port, dst []byte, tag byte) {
	t.Helper()
	if err := p.Send(linktest.Frame(dst, p.HardwareAddr(), 0x0800, []byte{tag})); err != nil {
		t.Fatal(err)
	}
}

func TestLearnForwardFlood(t *testing.T) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk})
	a, b, c := sw.NewPort(), sw.NewPort(), sw.NewPort()
	if a.HardwareAddr().String() == b.HardwareAddr().String() {
		t.Fatal("ports share a MAC")
	}
	send(t, a, b.HardwareAddr(), '1') // b unknown: flood
	expect(t, a, "")
	expect(t, b, "1")
	expect(t, c, "1")
	send(t, b, a.HardwareAddr(), '2') // a learned: forward
	expect(t, a, "2")
	expect(t, c, "")
	send(t, a, b.HardwareAddr(), '3') // b learned now
	expect(t, b, "3")
	expect(t, c, "")
	send(t, c, bcast, '4') // broadcast: all others
	expect(t, a, "4")
	expect(t, b, "4")
	expect(t, c, "")
	send(t, b, []byte{0x01, 0x00, 0x5e, 0, 0, 1}, '5') // multicast
	expect(t, a, "5")
	expect(t, c, "5")
	expect(t, b, "")
	if p, ok := sw.Lookup(a.HardwareAddr()); !ok || p != a {
		t.Fatal("Lookup(a) wrong")
	}
	st := sw.Stats()
	if st.Forwarded != 2 || st.Flooded != 3 || st.Learned != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMoveAndFilter(t *testing.T) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk})
	a, b, c := sw.NewPort(), sw.NewPort(), sw.NewPort()
	host := []byte{0x02, 9, 9, 9, 9, 9}
	// host talks on a, then c talks to host: goes to a only.
	a.Send(linktest.Frame(bcast, host, 0x0800, []byte{'x'}))
	recv(t, b)
	recv(t, c)
	send(t, c, host, 'y')
	expect(t, a, "y")
	expect(t, b, "")
	// a frame from a to host (learned on a) is filtered.
	a.Send(linktest.Frame(host, a.HardwareAddr(), 0x0800, []byte{'z'}))
	expect(t, b, "")
	expect(t, c, "")
	if sw.Stats().Filtered != 1 {
		t.Fatalf("Filtered = %d", sw.Stats().Filtered)
	}
	// host moves to b.
	b.Send(linktest.Frame(bcast, host, 0x0800, []byte{'m'}))
	recv(t, a)
	recv(t, c)
	send(t, c, host, 'w')
	expect(t, b, "w")
	expect(t, a, "")
}

func TestAging(t *testing.T) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk, AgingTime: time.Minute})
	a, b, c := sw.NewPort(), sw.NewPort(), sw.NewPort()
	send(t, b, bcast, '0')
	recv(t, a)
	recv(t, c)
	clk.Advance(time.Minute)
	send(t, a, b.HardwareAddr(), '1') // still learned at exactly AgingTime
	expect(t, c, "")
	expect(t, b, "1")
	clk.Advance(time.Minute + 1)
	send(t, a, b.HardwareAddr(), '2') // aged: flood
	expect(t, c, "2")
	expect(t, b, "2")
	if sw.Stats().Aged != 1 {
		t.Fatalf("Aged = %d", sw.Stats().Aged)
	}
}

func TestTableBounded(t *testing.T) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk, MaxEntries: 4})
	a, b := sw.NewPort(), sw.NewPort()
	for i := 0; i < 10; i++ {
		clk.Advance(time.Second)
		a.Send(linktest.Frame(bcast, []byte{0x02, 0, 0, 1, 0, byte(i)}, 0x0800, []byte{'x'}))
	}
	if n := sw.TableLen(); n != 4 {
		t.Fatalf("table holds %d entries, want 4", n)
	}
	if st := sw.Stats(); st.Evicted != 6 || st.Learned != 10 {
		t.Fatalf("stats %+v", st)
	}
	// The four most recent survive.
	for i := 0; i < 10; i++ {
		_, ok := sw.Lookup([]byte{0x02, 0, 0, 1, 0, byte(i)})
		if ok != (i >= 6) {
			t.Fatalf("entry %d present=%v", i, ok)
		}
	}
	_ = b
	// Group source addresses are not learned.
	a.Send(linktest.Frame(bcast, bcast, 0x0800, []byte{'x'}))
	if _, ok := sw.Lookup(bcast); ok {
		t.Fatal("learned a broadcast source")
	}
}

func TestDelayQueueRunt(t *testing.T) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk, Delay: 5 * time.Millisecond, QueueLen: 2})
	a, b := sw.NewPort(), sw.NewPort()
	for i := 0; i < 3; i++ {
		send(t, a, bcast, byte('a'+i))
	}
	if due, ok := b.NextDue(); !ok || due != 5*time.Millisecond {
		t.Fatalf("NextDue = %v %v", due, ok)
	}
	expect(t, b, "")
	clk.Advance(5 * time.Millisecond)
	expect(t, b, "ab")
	if st := b.Stats(); st.Dropped != 1 || st.Received != 2 {
		t.Fatalf("port stats %+v", st)
	}
	if err := a.Send(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if sw.Stats().Runts != 1 {
		t.Fatal("runt not counted")
	}
	if err := a.Send(make([]byte, 1515)); !errors.Is(err, link.ErrFrameTooLong) {
		t.Fatalf("long frame: %v", err)
	}
}

func TestClosePort(t *testing.T) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk})
	a, b, c := sw.NewPort(), sw.NewPort(), sw.NewPort()
	send(t, b, bcast, '0')
	recv(t, a)
	recv(t, c)
	b.Close()
	b.Close()
	if _, ok := sw.Lookup(b.HardwareAddr()); ok {
		t.Fatal("closed port's address still in table")
	}
	send(t, a, bcast, '1')
	expect(t, c, "1")
	if err := b.Send(make([]byte, 20)); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send on closed port: %v", err)
	}
	if _, err := b.Receive(make([]byte, 20)); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Receive on closed port: %v", err)
	}
}

func TestRealTime(t *testing.T) {
	sw := New(Config{Delay: 10 * time.Millisecond})
	a, b := sw.NewPort(), sw.NewPort()
	defer a.Close()
	start := time.Now()
	send(t, a, b.HardwareAddr(), 'r')
	buf := make([]byte, 2048)
	n, err := b.Receive(buf)
	if err != nil || n != 15 || buf[14] != 'r' {
		t.Fatalf("Receive = %d %v", n, err)
	}
	if el := time.Since(start); el < 10*time.Millisecond {
		t.Fatalf("arrived after %v, before the delay", el)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := b.Receive(buf)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, link.ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
}

func TestNoAllocs(t *testing.T) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk})
	a, b, _ := sw.NewPort(), sw.NewPort(), sw.NewPort()
	ab := linktest.Frame(b.HardwareAddr(), a.HardwareAddr(), 0x0800, make([]byte, 1500))
	ba := linktest.Frame(a.HardwareAddr(), b.HardwareAddr(), 0x0800, make([]byte, 1500))
	buf := make([]byte, 1514)
	a.Send(ab)
	b.Send(ba)
	b.TryReceive(buf)
	a.TryReceive(buf)
	allocs := testing.AllocsPerRun(1000, func() {
		a.Send(ab)
		b.TryReceive(buf)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per forwarded frame", allocs)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{MTU: -1}, {QueueLen: -1}, {MaxEntries: -1}, {Delay: -1}, {AgingTime: -1}} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
}

func BenchmarkForward(b *testing.B) {
	var clk linktest.Clock
	sw := New(Config{Clock: &clk})
	p, q := sw.NewPort(), sw.NewPort()
	q.Send(linktest.Frame(bcast, q.HardwareAddr(), 0x0800, nil))
	f := linktest.Frame(q.HardwareAddr(), p.HardwareAddr(), 0x0800, make([]byte, 1500))
	buf := make([]byte, 1514)
	b.ReportAllocs()
	for b.Loop() {
		p.Send(f)
		q.TryReceive(buf)
	}
}
