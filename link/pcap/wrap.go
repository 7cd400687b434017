package pcap

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/featherip/featherip/link"
)

// Options configures a capture.
type Options struct {
	// Clock stamps the packets; nil means the wall clock. A link.Clock
	// counts from an arbitrary origin: its readings are added to Origin.
	Clock link.Clock
	// Origin is the wall time at which Clock read zero; the zero value
	// means the Unix epoch. Unused without Clock.
	Origin time.Time
	// SnapLen cuts longer frames in the file (default DefaultSnapLen).
	SnapLen int
	// Nanosecond writes nanosecond-resolution timestamps.
	Nanosecond bool
}

// Stats counts a capture's work.
type Stats struct {
	// Captured counts frames written to the file.
	Captured uint64
	// Failed counts frames not written because the writer failed.
	Failed uint64
}

// Link is a link wrapped by a capture. Wrap returns it (or a PollLink
// around it, which also implements link.Poller).
type Link struct {
	l      link.Link
	clock  link.Clock
	origin time.Duration

	mu    sync.Mutex
	w     *Writer
	dst   io.Writer
	err   error
	stats Stats
}

// PollLink is a capture around a link that implements link.Poller.
type PollLink struct {
	*Link
	p link.Poller
}

// Wrap returns l with every frame sent and received appended to w in
// classic pcap format. The file header is written at once. Write errors
// never fail the link: the first one stops the capture and is reported by
// Err. Close closes l and, when w has a Flush() error method (a
// bufio.Writer), flushes w; it never closes w.
//
// The result implements link.Poller when l does.
func Wrap(l link.Link, w io.Writer, opts Options) link.Link {
	c := &Link{l: l, clock: opts.Clock, dst: w}
	if opts.Clock != nil && !opts.Origin.IsZero() {
		c.origin = time.Duration(opts.Origin.UnixNano())
	}
	lt := LinkTypeEthernet
	if l.Kind() == link.IP {
		lt = LinkTypeRaw
	}
	c.w, c.err = NewWriter(w, lt, opts.SnapLen, opts.Nanosecond)
	if p, ok := l.(link.Poller); ok {
		return &PollLink{Link: c, p: p}
	}
	return c
}

func (c *Link) now() time.Duration {
	if c.clock == nil {
		return time.Duration(time.Now().UnixNano())
	}
	return c.origin + c.clock.Now()
}

func (c *Link) capture(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		c.stats.Failed++
		return
	}
	if err := c.w.WritePacket(c.now(), frame); err != nil {
		c.err = err
		c.stats.Failed++
		return
	}
	c.stats.Captured++
}

// Err reports the first error writing the capture, if any.
func (c *Link) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats returns the capture's counters.
func (c *Link) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Unwrap returns the wrapped link.
func (c *Link) Unwrap() link.Link { return c.l }

// Kind reports the wrapped link's kind.
func (c *Link) Kind() link.Kind { return c.l.Kind() }

// MTU reports the wrapped link's MTU.
func (c *Link) MTU() int { return c.l.MTU() }

// HardwareAddr reports the wrapped link's MAC address.
func (c *Link) HardwareAddr() net.HardwareAddr { return c.l.HardwareAddr() }

// Send sends frame on the wrapped link and captures it if that succeeded.
func (c *Link) Send(frame []byte) error {
	err := c.l.Send(frame)
	if err == nil {
		c.capture(frame)
	}
	return err
}

// Receive receives from the wrapped link and captures the frame (as far as
// it fit in buf).
func (c *Link) Receive(buf []byte) (int, error) {
	n, err := c.l.Receive(buf)
	if err == nil {
		c.capture(buf[:n])
	}
	return n, err
}

// Close closes the wrapped link and flushes the writer if it can be.
func (c *Link) Close() error {
	err := c.l.Close()
	if f, ok := c.dst.(interface{ Flush() error }); ok {
		c.mu.Lock()
		ferr := f.Flush()
		c.mu.Unlock()
		if err == nil {
			err = ferr
		}
	}
	return err
}

// TryReceive takes a due frame from the wrapped link and captures it.
func (c *PollLink) TryReceive(buf []byte) (int, bool) {
	n, ok := c.p.TryReceive(buf)
	if ok {
		c.capture(buf[:n])
	}
	return n, ok
}

// NextDue reports the wrapped link's NextDue.
func (c *PollLink) NextDue() (time.Duration, bool) { return c.p.NextDue() }

var (
	_ link.Link   = (*Link)(nil)
	_ link.Link   = (*PollLink)(nil)
	_ link.Poller = (*PollLink)(nil)
)
