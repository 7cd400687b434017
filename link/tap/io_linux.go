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
	wframes [][]byte   // the batch being written
	wgsos   []link.GSO // its descriptions; nil for ordinary frames
	wn      int        // frames of the batch written so far
	werr    error
	writeFn func(fd uintptr) bool
	wone    [1][]byte
	wgone   [1]link.GSO

	// write combining (HoldWrites, FlushWrites), under wmu
	held  bool
	hbuf  [][]byte   // holdQueueLen slot buffers of holdFrameMax bytes, made on first use
	hq    [][]byte   // the deferred frames, hq[i] in hbuf[i]
	hgsos []link.GSO // their descriptions (zero: an ordinary frame)
	hn    int        // frames deferred
	herr  error      // the first error writing deferred frames since HoldWrites
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
	s.writeFn = l.writeSome
	return nil
}

// Offloads reports the negotiated offloads: checksums both ways, TSO up to
// 64 KiB and coalesced receive, or nothing without Config.VnetHdr.
func (l *Link) Offloads() link.Offloads { return l.io.off }

// Send writes one Ethernet frame to the kernel.
func (l *Link) Send(frame []byte) error { return l.sendOne(frame, nil) }

// SendGSO writes a frame with a partial checksum, or a TCP super-frame the
// kernel segments (TSO). Without a vnet header it fails for anything but
// an ordinary frame (g.Type GSONone and no partial checksum).
func (l *Link) SendGSO(frame []byte, g link.GSO) error { return l.sendOne(frame, &g) }

// SendBatch writes frames to the kernel in order, frame i described by
// gsos[i] as in SendGSO (gsos nil: every frame is an ordinary one, as in
// Send). It takes the write lock and enters the runtime poller once for
// the whole batch; each frame is still its own write(2) or writev(2), as
// a TAP device takes one frame per write (see the package documentation).
// It returns the number of frames written: on an error, frames[n] is the
// one that failed (refused as too long or for its GSO metadata, or by the
// write), and the frames after it were not written. The link keeps none
// of the frames after SendBatch returns.
func (l *Link) SendBatch(frames [][]byte, gsos []link.GSO) (int, error) {
	if gsos != nil && len(gsos) < len(frames) {
		return 0, fmt.Errorf("tap %s: SendBatch: %d GSO descriptions for %d frames", l.name, len(gsos), len(frames))
	}
	k, verr := len(frames), error(nil)
	for i, f := range frames {
		var g *link.GSO
		if gsos != nil {
			g = &gsos[i]
		}
		if err := l.checkFrame(f, g); err != nil {
			k, verr = i, err
			break
		}
	}
	if gsos != nil {
		gsos = gsos[:k]
	}
	s := &l.io
	s.wmu.Lock()
	if s.held {
		l.flushHeldLocked() // what was deferred leaves first
	}
	n, err := l.writeLocked(frames[:k], gsos)
	s.wmu.Unlock()
	if err == nil {
		err = verr
	}
	return n, err
}

func (l *Link) sendOne(frame []byte, g *link.GSO) error {
	if err := l.checkFrame(frame, g); err != nil {
		return err
	}
	s := &l.io
	s.wmu.Lock()
	if s.held {
		if len(frame) <= holdFrameMax && (g == nil || g.Type == link.GSONone) {
			if s.hn == holdQueueLen {
				l.flushHeldLocked()
			}
			l.holdLocked(frame, g)
			s.wmu.Unlock()
			return nil
		}
		l.flushHeldLocked() // what was deferred leaves first
	}
	s.wone[0] = frame
	var gsos []link.GSO
	if g != nil {
		s.wgone[0] = *g
		gsos = s.wgone[:]
	}
	_, err := l.writeLocked(s.wone[:], gsos)
	s.wone[0] = nil
	s.wmu.Unlock()
	return err
}

// Write combining: see HoldWrites.
const (
	// holdQueueLen is how many frames HoldWrites defers at most; one more
	// writes the queue out first. It is the root package's receive batch,
	// so a batch of input answered frame for frame fits.
	holdQueueLen = 16
	// holdFrameMax is the longest frame HoldWrites defers (copies): an
	// Ethernet frame around a 1500-byte packet, with room for VLAN tags.
	// Longer frames are written at once: at 1514 bytes the copy already
	// takes most of the 60-130 ns per frame that deferring saves.
	holdFrameMax = 1536
)

// HoldWrites starts write combining, until FlushWrites: Send and SendGSO
// copy each frame of up to 1536 bytes that is not a TCP super-frame into
// the link's write queue (16 frames) and return nil at once; FlushWrites
// then writes the queue in one SendBatch, paying the write lock and the
// runtime poller's hand-off once for all of them instead of once per
// frame. A longer frame or a super-frame, and a frame that finds the
// queue full, first writes the queue out (so does SendBatch), so frames
// reach the kernel in the order they were sent. Each frame is still its own write(2) (see the
// package documentation). While writes are held, an error writing a
// deferred frame is not returned by the Send that deferred it but by
// FlushWrites (and counted in Stats.SendErrors). The root package's
// reader holds writes while the stack handles one batch of received
// frames (ReceiveBatch) and flushes before it releases the core lock.
// HoldWrites while writes are held does nothing.
func (l *Link) HoldWrites() {
	s := &l.io
	s.wmu.Lock()
	s.held = true
	s.wmu.Unlock()
}

// FlushWrites writes the frames deferred since HoldWrites, each as its own
// write, and ends write combining. It returns the first error writing a
// deferred frame since HoldWrites (a frame that failed is dropped, and the
// frames after it are still written, as separate Sends would have been),
// or link.ErrClosed when the link was closed with frames deferred.
func (l *Link) FlushWrites() error {
	s := &l.io
	s.wmu.Lock()
	l.flushHeldLocked()
	err := s.herr
	s.held, s.herr = false, nil
	s.wmu.Unlock()
	return err
}

// holdLocked copies a checked frame into the write queue, which has room.
func (l *Link) holdLocked(frame []byte, g *link.GSO) {
	s := &l.io
	if s.hbuf == nil {
		s.hbuf = make([][]byte, holdQueueLen)
		buf := make([]byte, holdQueueLen*holdFrameMax)
		for i := range s.hbuf {
			s.hbuf[i] = buf[i*holdFrameMax : (i+1)*holdFrameMax : (i+1)*holdFrameMax]
		}
		s.hq = make([][]byte, holdQueueLen)
		s.hgsos = make([]link.GSO, holdQueueLen)
	}
	s.hq[s.hn] = s.hbuf[s.hn][:copy(s.hbuf[s.hn], frame)]
	s.hgsos[s.hn] = link.GSO{}
	if g != nil {
		s.hgsos[s.hn] = *g
	}
	s.hn++
}

// flushHeldLocked writes the deferred frames, skipping one that fails,
// and keeps the first error in herr.
func (l *Link) flushHeldLocked() {
	s := &l.io
	for done := 0; done < s.hn; {
		n, err := l.writeLocked(s.hq[done:s.hn], s.hgsos[done:s.hn])
		done += n
		if err == nil {
			continue
		}
		if s.herr == nil {
			s.herr = err
		}
		if err == link.ErrClosed {
			break
		}
		done++ // drop the frame that failed, write the rest
	}
	s.hn = 0
}

// checkFrame refuses a frame the link cannot send (g nil: an ordinary
// frame), counting it.
func (l *Link) checkFrame(frame []byte, g *link.GSO) error {
	if l.closed.Load() {
		return link.ErrClosed
	}
	gso := g != nil && g.Type != link.GSONone
	if g != nil && !l.io.vnet && (gso || g.CsumStart != 0) {
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
	return nil
}

// writeLocked writes checked frames under wmu in one pass of the runtime
// poller and counts them. It returns the number written.
func (l *Link) writeLocked(frames [][]byte, gsos []link.GSO) (int, error) {
	s := &l.io
	s.wframes, s.wgsos, s.wn, s.werr = frames, gsos, 0, nil
	err := s.rc.Write(s.writeFn)
	n := s.wn
	if err == nil {
		err = s.werr
	}
	s.wframes, s.wgsos = nil, nil
	var sent, bytes, gso uint64
	for i, f := range frames[:n] {
		if len(f) == 0 {
			continue
		}
		sent++
		bytes += uint64(len(f))
		if gsos != nil && gsos[i].Type != link.GSONone {
			gso++
		}
	}
	if sent > 0 {
		l.sent.Add(sent)
		l.sentBytes.Add(bytes)
	}
	if gso > 0 {
		l.gsoSent.Add(gso)
	}
	if err != nil {
		l.sendErrors.Add(1)
		if errors.Is(err, os.ErrClosed) || l.closed.Load() {
			return n, link.ErrClosed
		}
		return n, fmt.Errorf("tap %s: write: %w", l.name, err)
	}
	return n, nil
}

// putVnet fills h for a frame described by g (nil: an ordinary frame with
// a complete checksum).
func putVnet(h *[vnetHdrLen]byte, g *link.GSO) {
	*h = [vnetHdrLen]byte{}
	if g == nil {
		return
	}
	gso := g.Type != link.GSONone
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

// writeSome is the poller callback of a write: one write, or one writev
// (the vnet header and the frame), per frame, from frame s.wn on (empty
// frames are skipped). A TAP write never blocks and never writes part of
// a frame; EAGAIN (no memory) waits for the poller like any non-blocking
// write, and the batch resumes where it stopped.
func (l *Link) writeSome(fd uintptr) bool {
	s := &l.io
	for s.wn < len(s.wframes) {
		f := s.wframes[s.wn]
		if len(f) == 0 {
			s.wn++
			continue
		}
		var errno syscall.Errno
		if s.vnet {
			var g *link.GSO
			if s.wgsos != nil {
				g = &s.wgsos[s.wn]
			}
			putVnet(&s.whdr, g)
			s.wiov[0].Base = &s.whdr[0]
			s.wiov[0].SetLen(vnetHdrLen)
			s.wiov[1].Base = &f[0]
			s.wiov[1].SetLen(len(f))
			_, _, errno = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&s.wiov[0])), 2)
		} else {
			_, _, errno = unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&f[0])), uintptr(len(f)))
		}
		switch errno {
		case 0:
			s.wn++
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			s.werr = errno
			return true
		}
	}
	return true
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
