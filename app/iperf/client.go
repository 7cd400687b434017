package iperf

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/tcp"
)

// DefaultDuration is the test length when neither Duration nor Bytes is
// set (iperf's -t default).
const DefaultDuration = 10 * time.Second

// ErrClientClosed is the Report.Err of a test stopped by Client.Close.
var ErrClientClosed = errors.New("iperf: client closed")

// ClientConfig configures a Client.
type ClientConfig struct {
	// Remote is the iperf server's address; a zero port means DefaultPort.
	Remote netip.AddrPort
	// Duration is how long to send (iperf -t). Bytes, when positive,
	// replaces it: send exactly that many bytes, header included (iperf -n).
	// Neither set means DefaultDuration.
	Duration time.Duration
	Bytes    int64
	// NoHeader sends only the payload pattern, as an iperf 2.0 client
	// without -d/-r does; by default a version-1 client header with no
	// mode flags comes first, as lwiperf sends.
	NoHeader bool
	// SendBuffer, when positive, sets the connection's send buffer in
	// bytes; 0 keeps the TCP default.
	SendBuffer int
	// OnDone, when set, is called once when the test ends: all data sent,
	// acknowledged and FIN queued, or the connection failed (Report.Err).
	OnDone func(Report)
}

// Client is one running iperf 2 TCP test as the sending side. It is also
// a stack.Poller (registered by Dial, removed when the test ends) for the
// end of a timed test.
type Client struct {
	s   *stack.Stack
	pcb *tcp.PCB
	cfg ClientConfig

	hdr     [HeaderV1Len]byte
	hdrSent int
	pattern []byte // 10 + patternLen bytes of '0'..'9', never modified

	start    time.Duration
	started  bool
	deadline time.Duration // timed test: when to stop sending
	written  int64         // bytes queued
	acked    int64
	stopping bool // no more data: FIN queued once everything is queued
	done     bool
	polling  bool
	rep      Report
}

// patternLen is the largest single WriteNoCopy (and the pattern buffer).
const patternLen = 64 << 10

// Dial starts a test: it connects to cfg.Remote over p, the TCP protocol
// of s, and sends once connected.
func Dial(s *stack.Stack, p *tcp.Protocol, cfg ClientConfig) (*Client, error) {
	if s == nil || p == nil {
		return nil, errors.New("iperf: Dial needs a stack and its TCP protocol")
	}
	if cfg.Duration < 0 || cfg.Bytes < 0 || cfg.SendBuffer < 0 {
		return nil, fmt.Errorf("iperf: ClientConfig: Duration %v, Bytes %d, SendBuffer %d: none may be negative", cfg.Duration, cfg.Bytes, cfg.SendBuffer)
	}
	if cfg.Bytes == 0 && cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Remote.Port() == 0 {
		cfg.Remote = netip.AddrPortFrom(cfg.Remote.Addr(), DefaultPort)
	}
	pcb, err := p.NewPCB()
	if err != nil {
		return nil, err
	}
	c := &Client{s: s, pcb: pcb, cfg: cfg, pattern: make([]byte, 10+patternLen)}
	for i := range c.pattern {
		c.pattern[i] = '0' + byte(i%10)
	}
	h := Header{NumThreads: 1}
	if cfg.Bytes > 0 {
		h.Amount = int32(min(cfg.Bytes, 1<<31-1))
	} else {
		h.Amount = -int32(min(cfg.Duration/(10*time.Millisecond), 1<<31-1))
	}
	h.Encode(c.hdr[:])
	if cfg.NoHeader {
		c.hdrSent = HeaderV1Len
	}
	if cfg.SendBuffer > 0 {
		pcb.SetSendBuffer(cfg.SendBuffer)
	}
	pcb.OnConnected(c.connected)
	pcb.OnSent(c.sent)
	pcb.OnRecv(c.recv)
	pcb.OnError(func(_ *tcp.PCB, err error) { c.finish(err) })
	if err := pcb.Connect(cfg.Remote); err != nil {
		pcb.Close()
		return nil, fmt.Errorf("iperf: connecting to %v: %w", cfg.Remote, err)
	}
	return c, nil
}

// Close stops the test at once (the connection is reset); OnDone reports
// ErrClientClosed if the test was still running.
func (c *Client) Close() {
	if c.done {
		return
	}
	c.pcb.Abort()
	c.finish(ErrClientClosed)
}

// Done reports whether the test ended; Report is then its result.
func (c *Client) Done() bool { return c.done }

// Report returns the test's result so far (final once Done).
func (c *Client) Report() Report {
	r := c.rep
	if !c.done {
		r.Bytes = uint64(c.acked)
		if c.started {
			r.Duration = c.s.Now() - c.start
		}
	}
	return r
}

func (c *Client) connected(pcb *tcp.PCB, err error) {
	if err != nil {
		c.finish(err)
		return
	}
	c.start, c.started = c.s.Now(), true
	c.rep.Local, c.rep.Remote = pcb.LocalAddr(), pcb.RemoteAddr()
	if c.cfg.Bytes == 0 {
		c.deadline = c.start + c.cfg.Duration
		c.s.AddPoller(c)
		c.polling = true
	}
	c.fill()
}

func (c *Client) sent(_ *tcp.PCB, n int) {
	c.acked += int64(n)
	if c.done {
		return
	}
	c.fill()
}

// recv discards what the server sends; its FIN ends the test if it comes
// before ours is acknowledged.
func (c *Client) recv(pcb *tcp.PCB, data []byte) {
	if data == nil && !c.done {
		c.stop()
		c.finish(nil)
	}
}

// fill queues as much as the send buffer takes, then, when the test's
// amount is reached, the FIN; once everything is acknowledged the test is
// done.
func (c *Client) fill() {
	if c.done {
		return
	}
	if !c.stopping && c.cfg.Bytes == 0 && c.s.Now() >= c.deadline {
		c.stop()
	}
	for !c.stopping {
		want := int64(patternLen)
		if c.cfg.Bytes > 0 {
			want = min(want, c.cfg.Bytes-c.written)
			if want <= 0 {
				c.stop()
				break
			}
		}
		var n int
		var err error
		if c.hdrSent < HeaderV1Len {
			n, err = c.pcb.Write(c.hdr[c.hdrSent:min(HeaderV1Len, c.hdrSent+int(want))])
			c.hdrSent += n
		} else {
			off := int(c.written % 10)
			n, err = c.pcb.WriteNoCopy(c.pattern[off : off+int(want)])
		}
		c.written += int64(n)
		if err != nil || n == 0 {
			if !errors.Is(err, tcp.ErrBufferFull) && err != nil {
				c.pcb.Abort()
				c.finish(err)
			}
			return
		}
	}
	if c.acked >= c.written {
		c.finish(nil)
	}
}

// stop ends the sending: FIN follows the queued data.
func (c *Client) stop() {
	if c.stopping {
		return
	}
	c.stopping = true
	c.pcb.Shutdown()
}

// finish ends the test and reports it.
func (c *Client) finish(err error) {
	if c.done {
		return
	}
	c.done = true
	if c.polling {
		c.s.RemovePoller(c)
		c.polling = false
	}
	c.rep.Bytes = uint64(c.acked)
	if c.started {
		c.rep.Duration = c.s.Now() - c.start
	}
	c.rep.Err = err
	if err == nil {
		c.pcb.Close() // FIN already queued; the PCB finishes the close alone
	}
	if c.cfg.OnDone != nil {
		c.cfg.OnDone(c.rep)
	}
}

// Poll ends a timed test at its deadline (stack.Poller).
func (c *Client) Poll(now time.Duration) {
	if !c.done && !c.stopping && c.deadline > 0 && now >= c.deadline {
		c.fill()
	}
}

// NextDeadline reports the end of a timed test still sending
// (stack.Poller).
func (c *Client) NextDeadline() (time.Duration, bool) {
	if c.done || c.stopping || c.deadline == 0 {
		return 0, false
	}
	return c.deadline, true
}
