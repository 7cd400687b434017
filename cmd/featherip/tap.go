package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/featherip/featherip/link/tap"
)

// tapDevice is the opened TAP device and whether we created it.
type tapDevice struct {
	link    *tap.Link
	created bool
}

// openTAP opens (creating when missing) the TAP device name. Missing
// privileges give errPrivilege, in one line.
func openTAP(name string, mtu int) (*tapDevice, error) {
	if os.Geteuid() != 0 && !deviceExists(name) {
		// Creating a device needs CAP_NET_ADMIN; say so before trying, in
		// case /dev/net/tun itself is world-writable.
		if _, err := os.Stat("/dev/net/tun"); err == nil && !hasNetAdmin() {
			return nil, errPrivilege
		}
	}
	l, err := tap.Open(tap.Config{Name: name, MTU: mtu})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, errPrivilege
		}
		return nil, err
	}
	return &tapDevice{link: l, created: l.Created()}, nil
}

// remove makes sure a device we created is gone. Closing the TAP file
// descriptor removes a non-persistent device; Host.Close has done that.
func (d *tapDevice) remove() error {
	d.link.Close()
	if d.created && deviceExists(d.link.Name()) {
		if err := ipCmd("link", "del", "dev", d.link.Name()); err != nil {
			return fmt.Errorf("removing %s: %w", d.link.Name(), err)
		}
	}
	return nil
}

// hasNetAdmin reports whether the process has CAP_NET_ADMIN in its
// effective capability set (from /proc/self/status).
func hasNetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	const capNetAdmin = 12
	var eff uint64
	for _, line := range splitLines(string(b)) {
		if _, err := fmt.Sscanf(line, "CapEff:\t%x", &eff); err == nil {
			return eff&(1<<capNetAdmin) != 0
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
