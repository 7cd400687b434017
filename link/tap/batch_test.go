package tap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link"
	"golang.org/x/sys/unix"
)

// kernelTap is a packet socket in ns on the kernel side of a TAP: it sees
// every frame featherip writes to the device.
type kernelTap struct {
	t  *testing.T
	fd int
}

func newKernelTap(t *testing.T, ns *netns.NS, dev string) *kernelTap {
	t.Helper()
	kt := &kernelTap{t: t, fd: -1}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		proto := int(htons(filterTestType))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(filterTestType), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.NsecToTimeval(int64(5 * time.Second))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		kt.fd = fd
		return nil
	})
	if err != nil {
		t.Skipf("packet socket on %s: %v", dev, err)
	}
	t.Cleanup(func() { unix.Close(kt.fd) })
	return kt
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// tags reads n test frames and returns their tags and lengths.
func (kt *kernelTap) tags(n int) ([]uint32, []int) {
	kt.t.Helper()
	buf := make([]byte, 4096)
	var tags []uint32
	var lens []int
	for len(tags) < n {
		k, from, err := unix.Recvfrom(kt.fd, buf, 0)
		if err != nil {
			kt.t.Fatalf("after %v: reading frame %d of %d: %v", tags, len(tags)+1, n, err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if k < 18 || binary.BigEndian.Uint16(buf[12:]) != filterTestType {
			continue
		}
		tags = append(tags, binary.BigEndian.Uint32(buf[14:]))
		lens = append(lens, k)
	}
	return tags, lens
}

// tagged is a test frame of size bytes to another host carrying tag.
func tagged(l *Link, tag uint32, size int) []byte {
	f := make([]byte, size)
	copy(f[0:6], []byte{0x02, 0x99, 0x99, 0x99, 0x99, 0x99})
	copy(f[6:12], l.HardwareAddr())
	binary.BigEndian.PutUint16(f[12:], filterTestType)
	binary.BigEndian.PutUint32(f[14:], tag)
	return f
}

// TestSendBatchAndHoldWrites checks SendBatch and write combining against
// the kernel, without and with the vnet header: every frame arrives, in
// the order sent, whether written alone, in a batch, deferred, written
// past a deferred queue (a long frame), or deferred into a full queue;
// held frames are not written before FlushWrites; errors come where the
// documentation says.
func TestSendBatchAndHoldWrites(t *testing.T) {
	ns := netns.New(t)
	for i, vnet := range []bool{false, true} {
		t.Run(fmt.Sprintf("vnet=%v", vnet), func(t *testing.T) {
			name := fmt.Sprintf("fipw%d", i)
			l, err := openIn(t, ns, Config{Name: name, VnetHdr: vnet, MTU: 2000})
			if err != nil {
				t.Fatal(err)
			}
			kt := newKernelTap(t, ns, name)
			tag := uint32(0)
			next := func(size int) []byte { tag++; return tagged(l, tag, size) }

			if err := l.Send(next(60)); err != nil {
				t.Fatal(err)
			}
			if n, err := l.SendBatch([][]byte{next(60), next(1514), next(61)}, nil); n != 3 || err != nil {
				t.Fatalf("SendBatch: %d, %v", n, err)
			}
			if n, err := l.SendBatch(nil, nil); n != 0 || err != nil {
				t.Fatalf("empty SendBatch: %d, %v", n, err)
			}
			sent := l.Stats().Sent
			l.HoldWrites()
			l.HoldWrites() // no effect
			l.Send(next(60))
			l.Send(next(1514))
			if got := l.Stats().Sent; got != sent {
				t.Fatalf("held frames written before FlushWrites: Sent %d, want %d", got, sent)
			}
			l.Send(next(1600)) // longer than holdFrameMax: writes 5 and 6, then itself
			for range holdQueueLen + 2 {
				l.Send(next(100)) // the queue fills once and is written out
			}
			if err := l.FlushWrites(); err != nil {
				t.Fatal(err)
			}
			if err := l.FlushWrites(); err != nil { // nothing held
				t.Fatal(err)
			}
			tags, lens := kt.tags(int(tag))
			for j, got := range tags {
				if got != uint32(j+1) {
					t.Fatalf("frames arrived in the order %v", tags)
				}
			}
			if lens[5] != 1514 || lens[6] != 1600 {
				t.Fatalf("frame lengths %v", lens)
			}
			if st := l.Stats(); st.Sent != uint64(tag) || st.SendErrors != 0 {
				t.Fatalf("stats %+v after %d frames", st, tag)
			}

			// A bad frame stops a batch; the frames before it are written.
			n, err := l.SendBatch([][]byte{next(60), make([]byte, 2100), next(60)}, nil)
			if n != 1 || !errors.Is(err, link.ErrFrameTooLong) {
				t.Fatalf("SendBatch with a long frame: %d, %v", n, err)
			}
			if got, _ := kt.tags(1); got[0] != tag-1 {
				t.Fatalf("after the refused batch: frame %d arrived, want %d", got[0], tag-1)
			}
			if _, err := l.SendBatch([][]byte{next(60)}, []link.GSO{}); err == nil {
				t.Fatal("SendBatch with fewer GSO descriptions than frames succeeded")
			}
			if !vnet {
				g := []link.GSO{{Type: link.GSOTCPv4, HdrLen: 54, Size: 1000}}
				if _, err := l.SendBatch([][]byte{next(100)}, g); err == nil {
					t.Fatal("SendBatch of a super-frame without a vnet header succeeded")
				}
			}

			// Frames held when the link closes are lost: FlushWrites says so.
			l.HoldWrites()
			if err := l.Send(next(60)); err != nil {
				t.Fatal(err)
			}
			l.Close()
			if err := l.FlushWrites(); !errors.Is(err, link.ErrClosed) {
				t.Fatalf("FlushWrites after Close: %v", err)
			}
			if n, err := l.SendBatch([][]byte{next(60)}, nil); n != 0 || !errors.Is(err, link.ErrClosed) {
				t.Fatalf("SendBatch after Close: %d, %v", n, err)
			}
		})
	}
}

// TestSendZeroAllocs holds Send, SendBatch and the held path at zero
// allocations per frame (after the write queue is made).
func TestSendZeroAllocs(t *testing.T) {
	ns := netns.New(t)
	l, err := openIn(t, ns, Config{Name: "fipw9", VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	f := tagged(l, 1, 60)
	frames := [][]byte{f, f, f}
	gsos := make([]link.GSO, 3)
	l.HoldWrites()
	l.Send(f)
	l.FlushWrites()
	for name, fn := range map[string]func(){
		"Send":      func() { l.Send(f) },
		"SendGSO":   func() { l.SendGSO(f, link.GSO{}) },
		"SendBatch": func() { l.SendBatch(frames, gsos) },
		"held": func() {
			l.HoldWrites()
			l.Send(f)
			l.SendGSO(f, link.GSO{})
			l.FlushWrites()
		},
	} {
		if a := testing.AllocsPerRun(100, fn); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
	}
}
