// Package tap is the Linux TAP driver: featherip's Ethernet link to the
// kernel through /dev/net/tun (IFF_TAP|IFF_NO_PI, see the kernel's
// Documentation/networking/tuntap.rst).
//
// Open creates the named TAP device, or attaches to an existing one, sets
// its MTU and brings it up with ioctls (no external commands). The kernel
// side of the device has its own MAC address; featherip uses another one on
// the same wire (Config.MAC, random locally administered by default), as if
// the kernel and featherip were two hosts on one Ethernet segment.
//
// Multicast: the Link implements stack.MulticastFilter (SetMulticast) with
// the device's transmit filter (TUNSETTXFILTER), so the kernel passes only
// frames to featherip's MAC, to broadcast and to the joined groups' MACs.
// Until the first SetMulticast the device passes every frame.
//
// Offloads (Config.VnetHdr): the device is opened with IFF_VNET_HDR, a
// 10-byte legacy virtio_net_hdr (TUNSETVNETHDRSZ) in native byte order,
// and TUNSETOFFLOAD with TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6. The kernel then
// hands featherip TCP super-frames up to 64 KiB (its TSO, our GRO) and
// frames with partial checksums (ReceiveMeta reports both), and takes
// super-frames from featherip that it segments itself (SendGSO, TSO). The
// kernel trusts partial checksums and never checks them, so featherip's
// must be right: the stack tests and the interop tests complete them and
// check. Plain Receive completes partial checksums itself.
//
// Batching, and what it means for a TAP device. A TAP file descriptor
// carries exactly one frame per read(2) and per write(2): readv and writev
// gather the pieces of one frame (the vnet header and the frame), never
// several frames, and a character device has no recvmmsg or sendmmsg. The
// kernel's own batched path into a TAP (tun_sendmsg with a batch of XDP
// buffers) is reachable only from inside the kernel, by vhost-net. So:
//
//   - ReceiveBatch reads every frame already queued, up to the batch, in
//     one wake-up of the runtime poller: one read per frame, one hand-off
//     for the batch.
//   - SendBatch writes a batch with one write (writev with the vnet header)
//     per frame, but takes the write lock, enters the runtime poller and
//     updates the counters once per batch instead of once per frame.
//   - HoldWrites and FlushWrites combine writes: frames sent in between are
//     copied into a 16-frame queue and written as one SendBatch. The root
//     package's reader holds writes while the stack handles a batch of two
//     or more received frames, so the answers of a batch go out together.
//   - With the vnet header, TSO is the batching that saves writes: one
//     super-frame of up to 64 KiB (SendGSO) replaces some 45 frames.
//
// Measured with BenchmarkSend's "paired" sub-benchmarks (Send, SendBatch
// and the held path interleaved, medians; a 2-vCPU VM, Linux 6.18): per
// frame, SendBatch costs 7-16% less than Send (60 to 130 ns of some 500
// to 1300), the held path 5-13% less for 60-byte frames and 3-4% less
// for 1514-byte ones (it copies each frame, hence the 1536-byte limit on
// what it defers). Submitting the 16 writes of a batch through io_uring,
// one io_uring_enter(2) for all, cost 0-2% less than SendBatch (measured
// with a prototype, not kept): the kernel's work per frame (tun_get_user
// and the receive path it runs in the writing thread), not the system
// call, dominates a TAP write, so there is no io_uring path.
//
// The file descriptor is non-blocking and served by the Go runtime's
// poller, so a blocked Receive costs no thread and Close unblocks it.
// A device created inside another network namespace (for example with
// internal/netns) stays there; its Link works from any thread.
package tap

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"

	"github.com/featherip/featherip/link"
)

// Config says which device to open.
type Config struct {
	// Name is the device name (at most 15 bytes). Empty lets the kernel
	// pick one (tap0, tap1, ...); Name() reports it.
	Name string
	// MTU is set on the device when not 0; otherwise the device's current
	// MTU is used (1500 for a new device).
	MTU int
	// MAC is the address featherip uses on the link; nil means a random
	// locally administered unicast address. It must differ from the
	// kernel side's address.
	MAC net.HardwareAddr
	// VnetHdr opens the device with a virtio-net header (IFF_VNET_HDR)
	// and negotiates the offloads (TUNSETOFFLOAD with TUN_F_CSUM,
	// TUN_F_TSO4 and TUN_F_TSO6): see the package documentation. Plain
	// Send and Receive keep working and hide the header.
	VnetHdr bool
}

// Stats counts a TAP link's traffic.
type Stats struct {
	// Sent counts frames written; SentBytes their bytes.
	Sent, SentBytes uint64
	// Received counts frames read; ReceivedBytes their bytes.
	Received, ReceivedBytes uint64
	// SendErrors counts failed writes; TooLong frames refused as too long.
	SendErrors, TooLong uint64
	// GSOSent counts super-frames sent for the kernel to segment (TSO);
	// GROReceived coalesced super-frames received.
	GSOSent, GROReceived uint64
	// CsumPartialIn counts received frames with a partial checksum,
	// CsumValidIn those whose checksum the kernel had verified.
	CsumPartialIn, CsumValidIn uint64
	// BadVnetHdr counts received frames dropped for a virtio-net header
	// featherip did not negotiate (UDP segmentation, for instance) or too
	// short to hold one.
	BadVnetHdr uint64
}

// Link is an open TAP device. It implements link.Link.
type Link struct {
	f         *os.File
	name      string
	mtu       int
	maxFrame  int
	mac       net.HardwareAddr
	kernelMAC net.HardwareAddr
	created   bool
	closed    atomic.Bool

	io ioState // reads and writes (io_linux.go)

	sent, sentBytes, received, receivedBytes, sendErrors, tooLong atomic.Uint64
	gsoSent, groReceived, csumPartialIn, csumValidIn, badVnetHdr  atomic.Uint64
}

// MaxMulticastFilter is the number of multicast groups SetMulticast lists
// for the kernel; with more it lets every multicast frame through
// (TUN_FLT_ALLMULTI).
const MaxMulticastFilter = 64

// ErrInUse is returned (wrapped) when the named device is already attached
// to another file descriptor.
var ErrInUse = errors.New("tap: device in use")

// Name reports the device's name.
func (l *Link) Name() string { return l.name }

// Created reports whether Open created the device (it disappears on
// Close) rather than attaching to an existing persistent one.
func (l *Link) Created() bool { return l.created }

// KernelAddr reports the MAC address of the kernel's side of the device.
func (l *Link) KernelAddr() net.HardwareAddr { return l.kernelMAC }

// Kind reports link.Ethernet.
func (l *Link) Kind() link.Kind { return link.Ethernet }

// MTU reports the device's MTU.
func (l *Link) MTU() int { return l.mtu }

// HardwareAddr reports the MAC address featherip uses on the link (not the
// kernel side's; see KernelAddr).
func (l *Link) HardwareAddr() net.HardwareAddr { return l.mac }

// Close closes the file descriptor, unblocking Receive. A device that Open
// created is removed by the kernel; an attached persistent device stays.
func (l *Link) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	return l.f.Close()
}

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	return Stats{
		Sent:          l.sent.Load(),
		SentBytes:     l.sentBytes.Load(),
		Received:      l.received.Load(),
		ReceivedBytes: l.receivedBytes.Load(),
		SendErrors:    l.sendErrors.Load(),
		TooLong:       l.tooLong.Load(),
		GSOSent:       l.gsoSent.Load(),
		GROReceived:   l.groReceived.Load(),
		CsumPartialIn: l.csumPartialIn.Load(),
		CsumValidIn:   l.csumValidIn.Load(),
		BadVnetHdr:    l.badVnetHdr.Load(),
	}
}

// RandomMAC returns a random locally administered unicast MAC address.
func RandomMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	rand.Read(m)
	m[0] = m[0]&^0x01 | 0x02
	return m
}

func (c Config) validate() error {
	if len(c.Name) > 15 {
		return fmt.Errorf("tap: Config.Name %q is longer than 15 bytes", c.Name)
	}
	if c.MTU < 0 {
		return fmt.Errorf("tap: Config.MTU %d is negative; use 0 to keep the device's MTU", c.MTU)
	}
	if c.MAC != nil && (len(c.MAC) != 6 || c.MAC[0]&1 != 0) {
		return fmt.Errorf("tap: Config.MAC %v is not a 6-byte unicast Ethernet address", c.MAC)
	}
	return nil
}

var (
	_ link.Link          = (*Link)(nil)
	_ link.OffloadLink   = (*Link)(nil)
	_ link.BatchReceiver = (*Link)(nil)
)
