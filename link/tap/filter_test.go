package tap

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/wire"
	"golang.org/x/sys/unix"
)

// kernelSender is a packet socket in ns on the kernel side of a TAP: what
// it writes goes out through the device's transmit path (tun_net_xmit),
// where the TUNSETTXFILTER filter applies, to featherip.
type kernelSender struct {
	t  *testing.T
	fd int
}

func newKernelSender(t *testing.T, ns *netns.NS, dev string) *kernelSender {
	t.Helper()
	ks := &kernelSender{t: t, fd: -1}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		ks.fd = fd
		return nil
	})
	if err != nil {
		t.Skipf("packet socket on %s: %v", dev, err)
	}
	t.Cleanup(func() { unix.Close(ks.fd) })
	return ks
}

// filterTestType is the EtherType of the test frames (IEEE 802 local experimental).
const filterTestType = 0x88b5

// send writes a test frame to dst whose payload carries tag.
func (ks *kernelSender) send(dst []byte, tag uint32) {
	ks.t.Helper()
	f := make([]byte, 60)
	copy(f[0:6], dst)
	copy(f[6:12], []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55})
	binary.BigEndian.PutUint16(f[12:14], filterTestType)
	binary.BigEndian.PutUint32(f[14:18], tag)
	if _, err := unix.Write(ks.fd, f); err != nil {
		ks.t.Fatalf("packet socket write: %v", err)
	}
}

// TestMulticastFilterKernel checks SetMulticast against the kernel: frames
// to a joined group's MAC (IPv4 and IPv6), to our MAC and to broadcast
// arrive; frames to other groups and other unicast addresses do not.
func TestMulticastFilterKernel(t *testing.T) {
	ns := netns.New(t)
	l, err := openIn(t, ns, Config{Name: "fipm0"})
	if err != nil {
		t.Fatal(err)
	}
	ks := newKernelSender(t, ns, "fipm0")
	frames, errc := receiver(l)
	own := []byte(l.HardwareAddr())
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	joined4 := wire.IPv4MulticastMAC(netipMust("239.1.2.3"))
	joined6 := wire.IPv6MulticastMAC(netipMust("ff02::1:ff00:42"))
	other4 := wire.IPv4MulticastMAC(netipMust("239.9.9.9"))
	other6 := wire.IPv6MulticastMAC(netipMust("ff0e::1234"))
	otherUni := []byte{0x02, 0x99, 0x99, 0x99, 0x99, 0x99}
	dsts := [][]byte{own, bcast, joined4[:], joined6[:], other4[:], other6[:], otherUni}
	// phase sends one frame to each destination, tagged phase*100+index,
	// then a sentinel to our MAC, and returns the indexes received.
	tag := uint32(0)
	phase := func(p uint32) map[int]bool {
		t.Helper()
		for i, d := range dsts {
			ks.send(d, p*100+uint32(i))
		}
		sentinel := p*100 + 99
		ks.send(own, sentinel)
		got := map[int]bool{}
		deadline := time.After(5 * time.Second)
		for {
			select {
			case f := <-frames:
				if len(f) < 18 || binary.BigEndian.Uint16(f[12:14]) != filterTestType {
					continue
				}
				tag = binary.BigEndian.Uint32(f[14:18])
				if tag == sentinel {
					return got
				}
				if tag/100 == p {
					got[int(tag%100)] = true
				}
			case err := <-errc:
				t.Fatalf("Receive: %v", err)
			case <-deadline:
				t.Fatalf("phase %d: sentinel not received", p)
			}
		}
	}
	// No filter yet: everything passes (the injection path works).
	if got := phase(1); len(got) != len(dsts) {
		t.Fatalf("without a filter: received %v of %d", got, len(dsts))
	}
	if err := l.SetMulticast([]wire.MAC{joined4, joined6}); err != nil {
		t.Fatal(err)
	}
	got := phase(2)
	for i, want := range []bool{true, true, true, true, false, false, false} {
		if got[i] != want {
			t.Fatalf("with the filter: frame to %x received %v, want %v", dsts[i], got[i], want)
		}
	}
	// Leaving the IPv6 group: its frames stop.
	if err := l.SetMulticast([]wire.MAC{joined4}); err != nil {
		t.Fatal(err)
	}
	if got := phase(3); !got[2] || got[3] || got[4] {
		t.Fatalf("after leaving the IPv6 group: %v", got)
	}
	// Too many groups: all multicast passes, other unicast still not.
	many := make([]wire.MAC, MaxMulticastFilter+1)
	for i := range many {
		many[i] = wire.MAC{0x01, 0x00, 0x5e, 0x7e, 0, byte(i)}
	}
	if err := l.SetMulticast(many); err != nil {
		t.Fatal(err)
	}
	if got := phase(4); !got[0] || !got[1] || !got[4] || !got[5] || got[6] {
		t.Fatalf("all-multicast: %v", got)
	}
	// Bad input.
	if err := l.SetMulticast([]wire.MAC{{0x02, 0, 0, 0, 0, 1}}); err == nil {
		t.Fatal("unicast address accepted as a group")
	}
	l.Close()
	if err := l.SetMulticast(nil); err == nil {
		t.Fatal("SetMulticast on a closed link succeeded")
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
