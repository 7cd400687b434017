package link

import (
	"testing"
	"time"
)

func TestMonotonicClock(t *testing.T) {
	c := MonotonicClock()
	a := c.Now()
	time.Sleep(5 * time.Millisecond)
	b := c.Now()
	if a < 0 || a > time.Second {
		t.Fatalf("fresh clock reads %v, want near 0", a)
	}
	if b-a < 5*time.Millisecond {
		t.Fatalf("clock advanced %v over a 5ms sleep", b-a)
	}
}

func TestMaxFrameLen(t *testing.T) {
	if got := MaxFrameLen(Ethernet, 1500); got != 1514 {
		t.Fatalf("Ethernet: %d", got)
	}
	if got := MaxFrameLen(IP, 1500); got != 1500 {
		t.Fatalf("IP: %d", got)
	}
}
