package tap

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/featherip/featherip/wire"
	"golang.org/x/sys/unix"
)

// tunFltAllMulti is TUN_FLT_ALLMULTI of <linux/if_tun.h>.
const tunFltAllMulti = 0x0001

// SetMulticast implements stack.MulticastFilter with the TAP device's
// transmit filter (TUNSETTXFILTER, struct tun_filter): from then on the
// kernel hands featherip only frames addressed to featherip's own MAC
// (Config.MAC), to the broadcast address or to one of macs, the link-layer
// groups of the multicast groups the stack has joined (01:00:5e:... for
// IPv4, RFC 1112 6.4; 33:33:... for IPv6, RFC 2464 7). Frames to other
// multicast addresses and to other unicast addresses are dropped by the
// kernel before they cost a read.
//
// The kernel matches the first 8 addresses exactly (own, broadcast and
// the first 6 groups) and the rest through a 64-bit hash, so a few frames
// to other groups may pass: the stack filters by group as well. More
// than MaxMulticastFilter groups set TUN_FLT_ALLMULTI (every multicast
// frame passes). Every address in macs must be multicast. macs is only
// read during the call.
func (l *Link) SetMulticast(macs []wire.MAC) error {
	if l.closed.Load() {
		return fmt.Errorf("tap %s: SetMulticast on a closed link", l.name)
	}
	for _, m := range macs {
		if !m.IsMulticast() {
			return fmt.Errorf("tap %s: SetMulticast: %v is not a multicast address", l.name, m)
		}
	}
	var flags uint16
	list := 2 + len(macs)
	if len(macs) > MaxMulticastFilter {
		flags, list = tunFltAllMulti, 2
	}
	// struct tun_filter { __u16 flags; __u16 count; __u8 addr[][ETH_ALEN]; }
	buf := make([]byte, 4+6*list)
	binary.NativeEndian.PutUint16(buf[0:2], flags)
	binary.NativeEndian.PutUint16(buf[2:4], uint16(list))
	a := buf[4:]
	copy(a[0:6], l.mac)
	copy(a[6:12], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if flags == 0 {
		for i, m := range macs {
			copy(a[12+6*i:], m[:])
		}
	}
	var errno unix.Errno
	err := l.io.rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, unix.TUNSETTXFILTER, uintptr(unsafe.Pointer(&buf[0])))
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return fmt.Errorf("tap %s: TUNSETTXFILTER: %w", l.name, err)
	}
	return nil
}
