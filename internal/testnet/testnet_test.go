package testnet

import (
	"bytes"
	"testing"
	"time"
)

// TestLinkCopiesTapsAndDrains checks the link between the hosts: a sent
// frame is copied onto the peer's queue, a tap returning false drops it,
// and Drain empties the queue.
func TestLinkCopiesTapsAndDrains(t *testing.T) {
	n := New(t, nil)
	if n.A.Sent == 0 || n.B.Sent == 0 {
		t.Fatalf("no announcements while setting up: sent %d, %d", n.A.Sent, n.B.Sent)
	}
	if len(n.A.Inq) != 0 || len(n.B.Inq) != 0 {
		t.Fatalf("queues not empty after New: %d, %d", len(n.A.Inq), len(n.B.Inq))
	}
	frame := bytes.Repeat([]byte{0xab}, 60)
	sent := n.A.Sent
	if err := (link{n.A}).Send(frame); err != nil {
		t.Fatal(err)
	}
	frame[0] = 0 // the queued copy must not alias the sender's buffer
	if n.A.Sent != sent+1 || len(n.B.Inq) != 1 || !bytes.Equal(n.B.Inq[0], bytes.Repeat([]byte{0xab}, 60)) {
		t.Fatalf("sent %d, B's queue %x", n.A.Sent, n.B.Inq)
	}
	n.B.Drain()
	if len(n.B.Inq) != 0 {
		t.Fatalf("Drain left %d frames", len(n.B.Inq))
	}
	n.A.Tap = func([]byte) bool { return false }
	if err := (link{n.A}).Send(frame); err != nil {
		t.Fatal(err)
	}
	if len(n.B.Inq) != 0 {
		t.Fatal("a frame the tap dropped was queued")
	}
}

// TestAdvance checks that Advance moves the virtual clock by at least d.
func TestAdvance(t *testing.T) {
	n := New(t, nil)
	start := n.Clock.Now()
	n.Advance(95 * time.Millisecond)
	if got := n.Clock.Now() - start; got < 95*time.Millisecond || got >= 105*time.Millisecond {
		t.Fatalf("advanced %v, want 95ms rounded up to a 10ms step", got)
	}
}

// TestUDPOffset checks UDPOffset on a frame that is not IPv4.
func TestUDPOffset(t *testing.T) {
	if off := UDPOffset(make([]byte, 60), 17); off != -1 {
		t.Fatalf("offset %d in a frame of zeros, want -1", off)
	}
}
