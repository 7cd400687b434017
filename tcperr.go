package featherip

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/featherip/featherip/tcp"
)

// tcpErrnoTable maps the tcp package's sentinels onto the errno Linux
// reports in the same situation (see sockerr.go for the scheme).
var tcpErrnoTable = []struct {
	core  error
	errno syscall.Errno
}{
	{tcp.ErrConnRefused, syscall.ECONNREFUSED},
	{tcp.ErrConnReset, syscall.ECONNRESET},
	{tcp.ErrTimeout, syscall.ETIMEDOUT},
	{tcp.ErrConnAborted, syscall.ECONNABORTED},
	{tcp.ErrHostUnreachable, syscall.EHOSTUNREACH},
	{tcp.ErrAddrInUse, syscall.EADDRINUSE},
	{tcp.ErrNoPorts, syscall.EADDRNOTAVAIL},
	{tcp.ErrTooManyPCBs, syscall.EMFILE},
	{tcp.ErrNotConnected, syscall.ENOTCONN},
	{tcp.ErrInvalidState, syscall.EINVAL},
	{tcp.ErrInvalidAddr, syscall.EINVAL},
	{tcp.ErrBufferFull, syscall.EAGAIN},
	{tcp.ErrClosed, syscall.EPIPE},
}

// errWriteShut is a write after CloseWrite (Linux: EPIPE).
var errWriteShut error = &sysError{errno: syscall.EPIPE, core: tcp.ErrClosed}

// tcpSysErr turns a tcp sentinel into a sysError (errno plus the core
// error); other errors pass unchanged. In bind, tcp.ErrInvalidAddr is an
// address that is not the host's: EADDRNOTAVAIL, as Linux says.
func tcpSysErr(call string, err error) error {
	if err == nil {
		return nil
	}
	if call == "bind" && errors.Is(err, tcp.ErrInvalidAddr) {
		return &sysError{errno: syscall.EADDRNOTAVAIL, core: err}
	}
	for _, r := range tcpErrnoTable {
		if errors.Is(err, r.core) {
			return &sysError{errno: r.errno, core: err}
		}
	}
	return err
}

// tcpOpError wraps err the way package net does for TCP sockets.
func tcpOpError(op, network string, src, dst netip.AddrPort, call string, err error) error {
	if err == nil {
		return nil
	}
	return opError(op, network, tcpAddrOrNil(src), tcpAddrOrNil(dst), call, tcpSysErr(call, err))
}

// tcpAddrOrNil converts for OpError and LocalAddr/RemoteAddr: the zero
// AddrPort gives a nil interface (not a typed nil pointer).
func tcpAddrOrNil(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}
