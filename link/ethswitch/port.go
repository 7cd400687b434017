package ethswitch

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/link/internal/frameq"
)

// PortStats counts one port's traffic.
type PortStats struct {
	// Sent counts frames sent into the switch through this port;
	// SentBytes their bytes.
	Sent, SentBytes uint64
	// Received counts frames taken from this port; ReceivedBytes their
	// bytes.
	Received, ReceivedBytes uint64
	// Dropped counts frames for this port that its full or closed receive
	// queue dropped.
	Dropped uint64
	// TooLong counts frames refused with link.ErrFrameTooLong.
	TooLong uint64
}

// Port is one port of a switch, as seen by the host plugged into it. It
// implements link.Link and link.Poller.
type Port struct {
	sw     *Switch
	id     int
	mac    net.HardwareAddr
	rx     *frameq.Queue
	closed atomic.Bool

	sent, sentBytes, tooLong atomic.Uint64
}

// NewPort adds a port to the switch. Its MAC address (the address of the
// host using the port) is locally administered and derived from the port
// number: 02:00:00:00:hi:lo with the 1-based port number in the last two
// bytes. Use NewPortMAC to choose it.
func (s *Switch) NewPort() *Port {
	return s.newPort(nil)
}

// NewPortMAC adds a port whose host uses the given MAC address. It panics
// if mac is not 6 bytes long.
func (s *Switch) NewPortMAC(mac net.HardwareAddr) *Port {
	if len(mac) != 6 {
		panic(fmt.Sprintf("ethswitch: NewPortMAC: %v is not a 6-byte Ethernet address", mac))
	}
	return s.newPort(mac)
}

func (s *Switch) newPort(mac net.HardwareAddr) *Port {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	if mac == nil {
		mac = net.HardwareAddr{0x02, 0, 0, 0, byte(s.nextID >> 8), byte(s.nextID)}
	}
	p := &Port{
		sw:  s,
		id:  s.nextID,
		mac: append(net.HardwareAddr(nil), mac...),
		rx:  frameq.New(s.queueLen, s.maxFrame, s.clock),
	}
	s.ports = append(s.ports, p)
	return p
}

// ID reports the port's 1-based number.
func (p *Port) ID() int { return p.id }

// Kind reports link.Ethernet.
func (p *Port) Kind() link.Kind { return link.Ethernet }

// MTU reports the switch's MTU.
func (p *Port) MTU() int { return p.sw.mtu }

// HardwareAddr reports the MAC address of the host on this port.
func (p *Port) HardwareAddr() net.HardwareAddr { return p.mac }

// Send hands frame to the switch, which learns its source address and
// copies it to the destination port(s), due after the switch's delay.
func (p *Port) Send(frame []byte) error {
	if p.closed.Load() {
		return link.ErrClosed
	}
	if len(frame) > p.sw.maxFrame {
		p.tooLong.Add(1)
		return link.ErrFrameTooLong
	}
	p.sent.Add(1)
	p.sentBytes.Add(uint64(len(frame)))
	p.sw.forward(p, frame)
	return nil
}

// Receive blocks until a frame for this port is due and copies it into
// buf. It waits in real time; under a virtual clock use TryReceive.
func (p *Port) Receive(buf []byte) (int, error) { return p.rx.Pop(buf) }

// TryReceive copies the next frame that is due by the switch's clock.
func (p *Port) TryReceive(buf []byte) (int, bool) { return p.rx.TryPop(buf, p.sw.clock.Now()) }

// NextDue reports when the next frame queued for this port becomes due.
func (p *Port) NextDue() (time.Duration, bool) { return p.rx.NextDue() }

// Close unplugs the port: it leaves the switch, the addresses learned on it
// are forgotten and Receive returns link.ErrClosed.
func (p *Port) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.sw.detach(p)
	p.rx.Close()
	return nil
}

// Stats returns the port's counters.
func (p *Port) Stats() PortStats {
	q := p.rx.Stats()
	return PortStats{
		Sent:          p.sent.Load(),
		SentBytes:     p.sentBytes.Load(),
		Received:      q.Popped,
		ReceivedBytes: q.PoppedBytes,
		Dropped:       q.Dropped,
		TooLong:       p.tooLong.Load(),
	}
}

var (
	_ link.Link   = (*Port)(nil)
	_ link.Poller = (*Port)(nil)
)
