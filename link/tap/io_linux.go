package tap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/featherip/featherip/link"
	"golang.org/x/sys/unix"
)

// The virtio-net header (virtio 1.x §5.1.6, struct virtio_net_hdr) in its
// legacy 10-byte form, the TAP default, in native byte order.
const (
	vnetHdrLen = 10

	vnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetFlagDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID

	vnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	vnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	vnetGSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	vnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN

	// TUNSETOFFLOAD flags (linux/if_tun.h).
	tunFCsum = 0x01
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
)

// maxGSOFrame is the longest frame SendGSO accepts: a vnet-less
// Ethernet frame around the largest IPv6 packet.
const maxGSOFrame = link.MaxGROFrameLen

// ioState is a Link's read and write machinery. The read and write
// functions handed to the runtime poller are made once at Open, with their
// arguments in these fields under the mutexes, so the paths allocate
// nothing per frame.
type ioState struct {
	rc      syscall.RawConn
	vnet    bool
	off     link.Offloads
	readMax int // the longest frame a read may return (without vnet header)

	rmu     sync.Mutex
	rbuf    []byte // for reads into buffers shorter than readMax
	rhdr    [vnetHdrLen]byte
	riov    [2]unix.Iovec
	rbufs   [][]byte
	rsizes  []int
	rmetas  []link.RxMeta
	rn      int
	rerr    error
	readFn  func(fd uintptr) bool
	one     [1][]byte
	oneSize [1]int
	oneMeta [1]link.RxMeta

	wmu     sync.Mutex
	whdr    [vnetHdrLen]byte
	wiov    [2]unix.Iovec
	wframe  []byte
	werr    error
	writeFn func(fd uintptr) bool
}

// initIO sets up the vnet header and offloads (when vnet) on fd and the
// read and write functions.
func (l *Link) initIO(fd int, vnet bool) error {
	s := &l.io
	s.vnet = vnet
	s.readMax = l.maxFrame
	if vnet {
		if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
			return fmt.Errorf("tap %s: TUNSETVNETHDRSZ: %w", l.name, err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4|tunFTSO6); err != nil {
			return fmt.Errorf("tap %s: TUNSETOFFLOAD: %w", l.name, err)
		}
		s.off = link.Offloads{RxChecksum: true, TxChecksum: true, GSOMaxSize: 65535, GRO: true}
		s.readMax = link.MaxGROFrameLen
	}
	s.readFn = l.readSome
	s.writeFn = l.writeOne
	return nil
}

// Offloads reports the negotiated offloads: checksums both ways, TSO up to
// 64 KiB and coalesced receive, or nothing without Config.VnetHdr.
func (l *Link) Offloads() link.Offloads { return l.io.off }

// Send writes one Ethernet frame to the kernel.
func (l *Link) Send(frame []byte) error { return l.send(frame, nil) }

// SendGSO writes a frame with a partial checksum, or a TCP super-frame the
// kernel segments (TSO). Without a vnet header it fails for anything but
// an ordinary frame (g.Type GSONone and no partial checksum).
func (l *Link) SendGSO(frame []byte, g link.GSO) error { return l.send(frame, &g) }

func (l *Link) send(frame []byte, g *link.GSO) error {
	if l.closed.Load() {
		return link.ErrClosed
	}
	s := &l.io
	gso := g != nil && g.Type != link.GSONone
	if g != nil && !s.vnet && (gso || g.CsumStart != 0) {
		l.sendErrors.Add(1)
		return fmt.Errorf("tap %s: SendGSO without a vnet header (open with Config.VnetHdr)", l.name)
	}
	if gso {
		if len(frame) > maxGSOFrame || g.Size <= 0 || g.HdrLen <= 0 || g.HdrLen > len(frame) {
			l.tooLong.Add(1)
			return link.ErrFrameTooLong
		}
	} else if len(frame) > l.maxFrame {
		l.tooLong.Add(1)
		return link.ErrFrameTooLong
	}
	if len(frame) == 0 {
		return nil
	}
	s.wmu.Lock()
	if s.vnet {
		h := &s.whdr
		*h = [vnetHdrLen]byte{}
		if g != nil {
			if g.CsumStart != 0 || gso {
				h[0] = vnetFlagNeedsCsum
			}
			switch g.Type {
			case link.GSOTCPv4:
				h[1] = vnetGSOTCPv4
			case link.GSOTCPv6:
				h[1] = vnetGSOTCPv6
			}
			if gso {
				binary.NativeEndian.PutUint16(h[2:], uint16(g.HdrLen))
				binary.NativeEndian.PutUint16(h[4:], uint16(g.Size))
			}
			binary.NativeEndian.PutUint16(h[6:], uint16(g.CsumStart))
			binary.NativeEndian.PutUint16(h[8:], uint16(g.CsumOffset))
		}
	}
	s.wframe, s.werr = frame, nil
	err := s.rc.Write(s.writeFn)
	if err == nil {
		err = s.werr
	}
	s.wframe = nil
	s.wmu.Unlock()
	if err != nil {
		l.sendErrors.Add(1)
		if errors.Is(err, os.ErrClosed) || l.closed.Load() {
			return link.ErrClosed
		}
		return fmt.Errorf("tap %s: write: %w", l.name, err)
	}
	if gso {
		l.gsoSent.Add(1)
	}
	l.sent.Add(1)
	l.sentBytes.Add(uint64(len(frame)))
	return nil
}

// writeOne is the poller callback of a write: one write or writev (the
// vnet header and the frame) per frame. A TAP write never blocks; EAGAIN
// (no memory) waits for the poller like any non-blocking write.
func (l *Link) writeOne(fd uintptr) bool {
	s := &l.io
	for {
		var errno syscall.Errno
		if s.vnet {
			s.wiov[0].Base = &s.whdr[0]
			s.wiov[0].SetLen(vnetHdrLen)
			s.wiov[1].Base = &s.wframe[0]
			s.wiov[1].SetLen(len(s.wframe))
			_, _, errno = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&s.wiov[0])), 2)
		} else {
			_, _, errno = unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&s.wframe[0])), uintptr(len(s.wframe)))
		}
		switch errno {
		case 0:
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.werr = errno
		return true
	}
}

// Receive blocks until the kernel sends a frame, copies it into buf
// (truncated to len(buf)) and returns its length. Close unblocks it with
// link.ErrClosed. With a vnet header the header is dropped and a partial
// checksum is completed here, so the frame is valid on its own; a
// coalesced TCP frame (GRO) may still be up to link.MaxGROFrameLen long
// (use ReceiveMeta or ReceiveBatch to skip the checksum work).
func (l *Link) Receive(buf []byte) (int, error) {
	n, m, err := l.ReceiveMeta(buf)
	if err == nil && m.CsumPartial && m.CsumStart+m.CsumOffset+2 <= n {
		f := buf[:n]
		binary.BigEndian.PutUint16(f[m.CsumStart+m.CsumOffset:], ^foldSum(f[m.CsumStart:]))
	}
	return n, err
}

// foldSum is the folded ones' complement sum of b (RFC 1071), not
// complemented.
func foldSum(b []byte) uint16 {
	var s uint64
	for len(b) >= 8 {
		s += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// ReceiveMeta is Receive with the frame's offload metadata.
func (l *Link) ReceiveMeta(buf []byte) (int, link.RxMeta, error) {
	s := &l.io
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.one[0] = buf
	n, err := l.readBatchLocked(s.one[:], s.oneSize[:], s.oneMeta[:])
	s.one[0] = nil
	if err != nil || n == 0 {
		return 0, link.RxMeta{}, err
	}
	return s.oneSize[0], s.oneMeta[0], nil
}

// ReceiveBatch blocks until a frame arrives, then reads the frames already
// queued, up to len(bufs), in one wake-up of the runtime poller. Buffers
// shorter than the longest frame (link.MaxGROFrameLen with a vnet header,
// MTU plus Ethernet header without) get truncated frames.
func (l *Link) ReceiveBatch(bufs [][]byte, sizes []int, metas []link.RxMeta) (int, error) {
	if len(sizes) < len(bufs) || (metas != nil && len(metas) < len(bufs)) {
		return 0, fmt.Errorf("tap %s: ReceiveBatch: sizes or metas shorter than bufs", l.name)
	}
	s := &l.io
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return l.readBatchLocked(bufs, sizes, metas)
}

func (l *Link) readBatchLocked(bufs [][]byte, sizes []int, metas []link.RxMeta) (int, error) {
	if l.closed.Load() {
		return 0, link.ErrClosed
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	s := &l.io
	s.rbufs, s.rsizes, s.rmetas, s.rn, s.rerr = bufs, sizes, metas, 0, nil
	err := s.rc.Read(s.readFn)
	n := s.rn
	if err == nil {
		err = s.rerr
	}
	s.rbufs, s.rsizes, s.rmetas = nil, nil, nil
	if n > 0 {
		return n, nil // an error after frames shows again on the next call
	}
	if err != nil {
		if errors.Is(err, os.ErrClosed) || l.closed.Load() {
			return 0, link.ErrClosed
		}
		return 0, fmt.Errorf("tap %s: read: %w", l.name, err)
	}
	return 0, nil
}

// readSome is the poller callback of a read: it reads frames until the
// batch is full or the device has none left (EAGAIN). It returns false
// (wait for the poller) only while the batch is still empty.
func (l *Link) readSome(fd uintptr) bool {
	s := &l.io
	for s.rn < len(s.rbufs) {
		dst := s.rbufs[s.rn]
		short := len(dst) < s.readMax
		if short {
			if s.rbuf == nil {
				s.rbuf = make([]byte, s.readMax)
			}
			dst = s.rbuf
		}
		var (
			r     uintptr
			errno syscall.Errno
		)
		if s.vnet {
			s.riov[0].Base = &s.rhdr[0]
			s.riov[0].SetLen(vnetHdrLen)
			s.riov[1].Base = &dst[0]
			s.riov[1].SetLen(len(dst))
			r, _, errno = unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&s.riov[0])), 2)
		} else {
			r, _, errno = unix.Syscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&dst[0])), uintptr(len(dst)))
		}
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return s.rn > 0
		default:
			s.rerr = errno
			return true
		}
		n := int(r)
		var meta link.RxMeta
		if s.vnet {
			n -= vnetHdrLen
			if n <= 0 {
				l.badVnetHdr.Add(1)
				continue
			}
			var ok bool
			if meta, ok = l.parseVnet(n); !ok {
				continue
			}
		} else if n == 0 {
			continue
		}
		l.received.Add(1)
		l.receivedBytes.Add(uint64(n))
		if short {
			n = copy(s.rbufs[s.rn], dst[:n])
		}
		s.rsizes[s.rn] = n
		if s.rmetas != nil {
			s.rmetas[s.rn] = meta
		}
		s.rn++
	}
	return true
}

// parseVnet decodes the header of a received frame of n bytes.
func (l *Link) parseVnet(n int) (link.RxMeta, bool) {
	h := &l.io.rhdr
	var m link.RxMeta
	flags := h[0]
	if flags&vnetFlagNeedsCsum != 0 {
		m.CsumPartial = true
		m.CsumStart = int(binary.NativeEndian.Uint16(h[6:]))
		m.CsumOffset = int(binary.NativeEndian.Uint16(h[8:]))
		if m.CsumStart+m.CsumOffset+2 > n {
			l.badVnetHdr.Add(1)
			return m, false
		}
		l.csumPartialIn.Add(1)
	} else if flags&vnetFlagDataValid != 0 {
		m.CsumValid = true
		l.csumValidIn.Add(1)
	}
	switch h[1] &^ vnetGSOECN {
	case vnetGSONone:
	case vnetGSOTCPv4:
		m.GSO = link.GSOTCPv4
	case vnetGSOTCPv6:
		m.GSO = link.GSOTCPv6
	default:
		l.badVnetHdr.Add(1)
		return m, false
	}
	if m.GSO != link.GSONone {
		m.GSOSize = int(binary.NativeEndian.Uint16(h[4:]))
		if m.GSOSize == 0 {
			l.badVnetHdr.Add(1)
			return m, false
		}
		l.groReceived.Add(1)
	}
	return m, true
}
