package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
)

// errPrivilege explains in one line what privilege is missing.
var errPrivilege = errors.New("need CAP_NET_ADMIN to use /dev/net/tun and configure the device: run as root (sudo featherip up) or grant the capability (sudo setcap cap_net_admin+ep featherip)")

// ipCmd runs ip(8) with args and returns its error with its output.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "Operation not permitted") {
			return errPrivilege
		}
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("ip (from the iproute2 package) not found in PATH: %w", err)
		}
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}

// configureKernel gives the kernel side of the TAP device its address,
// unless host is the zero prefix (--host-addr none). tap.Open has already
// set the MTU and brought the device up.
func configureKernel(dev string, host netip.Prefix) error {
	if !host.IsValid() || kernelHasAddr(dev, host) {
		return nil
	}
	return ipCmd("addr", "add", host.String(), "dev", dev)
}

// kernelHasAddr reports whether dev already has the address host.
func kernelHasAddr(dev string, host netip.Prefix) bool {
	out, err := exec.Command("ip", "-o", "-4", "addr", "show", "dev", dev).Output()
	if err != nil {
		return false
	}
	return strings.Contains(string(out), " "+host.String()+" ")
}

// deviceExists reports whether a network interface called name exists in
// this network namespace.
func deviceExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}
