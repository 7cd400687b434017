package tap

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"unsafe"

	"github.com/featherip/featherip/link"
	"golang.org/x/sys/unix"
)

// Open opens the TAP device cfg.Name, creating it when it does not exist,
// sets its MTU when cfg.MTU is not 0 and brings it up.
//
// Errors say what is missing: errors.Is(err, os.ErrPermission) when the
// process may not open /dev/net/tun or lacks CAP_NET_ADMIN, ErrInUse when
// another process holds the device.
func Open(cfg Config) (*Link, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("tap: opening /dev/net/tun: %w (run as root or grant CAP_NET_ADMIN and access to /dev/net/tun)", err)
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("tap: opening /dev/net/tun: %w (load the tun module: modprobe tun)", err)
		}
		return nil, fmt.Errorf("tap: opening /dev/net/tun: %w", err)
	}
	l, err := setup(fd, cfg)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	l.f = os.NewFile(uintptr(fd), "/dev/net/tun:"+l.name)
	rc, err := l.f.SyscallConn()
	if err != nil {
		l.f.Close()
		return nil, fmt.Errorf("tap %s: %w", l.name, err)
	}
	l.io.rc = rc
	return l, nil
}

func setup(fd int, cfg Config) (*Link, error) {
	name, created, err := setIff(fd, cfg.Name, cfg.VnetHdr)
	if err != nil {
		return nil, err
	}
	l := &Link{name: name, created: created}
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tap %s: socket for ioctls: %w", name, err)
	}
	defer unix.Close(sock)

	if l.kernelMAC, err = hwaddr(sock, name); err != nil {
		return nil, err
	}
	l.mac = cfg.MAC
	if l.mac == nil {
		for l.mac = RandomMAC(); bytes.Equal(l.mac, l.kernelMAC); l.mac = RandomMAC() {
		}
	} else if bytes.Equal(l.mac, l.kernelMAC) {
		return nil, fmt.Errorf("tap %s: Config.MAC %v is the kernel side's own address; featherip needs a different one (leave it nil for a random one)", name, cfg.MAC)
	}
	l.mac = append(net.HardwareAddr(nil), l.mac...)

	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	if cfg.MTU != 0 {
		ifr.SetUint32(uint32(cfg.MTU))
		if err := unix.IoctlIfreq(sock, unix.SIOCSIFMTU, ifr); err != nil {
			return nil, fmt.Errorf("tap %s: setting MTU %d: %w", name, cfg.MTU, err)
		}
	}
	if err := unix.IoctlIfreq(sock, unix.SIOCGIFMTU, ifr); err != nil {
		return nil, fmt.Errorf("tap %s: reading MTU: %w", name, err)
	}
	l.mtu = int(ifr.Uint32())
	l.maxFrame = link.MaxFrameLen(link.Ethernet, l.mtu)
	if err := l.initIO(fd, cfg.VnetHdr); err != nil {
		return nil, err
	}

	if err := unix.IoctlIfreq(sock, unix.SIOCGIFFLAGS, ifr); err != nil {
		return nil, fmt.Errorf("tap %s: reading flags: %w", name, err)
	}
	if flags := ifr.Uint16(); flags&unix.IFF_UP == 0 {
		ifr.SetUint16(flags | unix.IFF_UP)
		if err := unix.IoctlIfreq(sock, unix.SIOCSIFFLAGS, ifr); err != nil {
			return nil, fmt.Errorf("tap %s: bringing up: %w", name, err)
		}
	}
	return l, nil
}

// setIff binds fd to the TAP device: first creating it exclusively, then
// attaching to an existing one.
func setIff(fd int, name string, vnet bool) (string, bool, error) {
	try := func(flags uint16) (string, error) {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return "", err
		}
		ifr.SetUint16(flags)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return "", err
		}
		return ifr.Name(), nil
	}
	base := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if vnet {
		base |= unix.IFF_VNET_HDR
	}
	got, err := try(base | unix.IFF_TUN_EXCL)
	if err == nil {
		return got, true, nil
	}
	if errors.Is(err, unix.EBUSY) && name != "" {
		got, err = try(base)
		if err == nil {
			return got, false, nil
		}
	}
	switch {
	case errors.Is(err, os.ErrPermission):
		return "", false, fmt.Errorf("tap: creating or attaching TAP device %q needs CAP_NET_ADMIN (run as root, or create it persistent for this user with `ip tuntap add dev NAME mode tap user USER`): %w", name, err)
	case errors.Is(err, unix.EBUSY):
		return "", false, fmt.Errorf("%w: %q is already attached to another file descriptor: %w", ErrInUse, name, err)
	case errors.Is(err, unix.EINVAL):
		return "", false, fmt.Errorf("tap: %q exists and is not a TAP device (a TUN device or another kind?): %w", name, err)
	}
	return "", false, fmt.Errorf("tap: TUNSETIFF %q: %w", name, err)
}

// ifreqHW is struct ifreq with ifr_hwaddr (a struct sockaddr) in the union.
type ifreqHW struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte
}

func hwaddr(sock int, name string) (net.HardwareAddr, error) {
	var r ifreqHW
	copy(r.name[:], name)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(sock), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&r))); errno != 0 {
		return nil, fmt.Errorf("tap %s: reading the kernel side's MAC: %w", name, errno)
	}
	return append(net.HardwareAddr(nil), r.data[:6]...), nil
}
