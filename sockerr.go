package featherip

import (
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/featherip/featherip/raw"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
)

// Error mapping, shared by every socket type of the shell (UDP, ping, raw
// IP, and the TCP conn to come).
//
// The core reports sentinel errors (udp.ErrConnRefused, stack.ErrNoRoute,
// ...). The socket layer returns them the way the standard library's net
// package does on Linux: a *net.OpError whose Err is an *os.SyscallError
// naming the system call Linux would have failed in ("bind", "connect",
// "sendto", "recvfrom", ...) around an errno. The errno is a [sysError] that
// unwraps to both the syscall.Errno and the core's sentinel, so
//
//	errors.Is(err, syscall.ECONNREFUSED)   // as with package net
//	errors.Is(err, udp.ErrConnRefused)     // the core's own sentinel
//	var errno syscall.Errno; errors.As(err, &errno)
//
// all work, and the message reads like the standard library's
// ("read udp 10.0.0.1:5000->10.0.0.2:7: recvfrom: connection refused").
// Deadlines give os.ErrDeadlineExceeded (Timeout() is true) and closed
// sockets net.ErrClosed, both unwrapped, as package net returns them.
//
// To map another transport's sentinels (TCP: tcp.ErrConnReset ->
// ECONNRESET, tcp.ErrTimeout -> ETIMEDOUT, tcp.ErrConnAborted ->
// ECONNABORTED, tcp.ErrNoPorts -> EADDRNOTAVAIL, tcp.ErrNotConnected ->
// ENOTCONN, tcp.ErrClosed -> EPIPE, ...), add rows to errnoTable.

// errnoTable maps core sentinels onto the errno Linux reports in the same
// situation. Order matters only where two rows could match one error.
var errnoTable = []struct {
	core  error
	errno syscall.Errno
}{
	{udp.ErrAddrInUse, syscall.EADDRINUSE},
	{udp.ErrAddrNotAvailable, syscall.EADDRNOTAVAIL},
	{raw.ErrAddrNotAvailable, syscall.EADDRNOTAVAIL},
	{udp.ErrConnRefused, syscall.ECONNREFUSED},
	{udp.ErrHostUnreachable, syscall.EHOSTUNREACH},
	{udp.ErrNetUnreachable, syscall.ENETUNREACH},
	{stack.ErrNoRoute, syscall.ENETUNREACH},
	{udp.ErrProtocol, syscall.EPROTO},
	{udp.ErrMessageTooLong, syscall.EMSGSIZE},
	{raw.ErrMessageTooLong, syscall.EMSGSIZE},
	{stack.ErrMessageTooLong, syscall.EMSGSIZE},
	{udp.ErrBroadcastNotAllowed, syscall.EACCES},
	{udp.ErrBufferFull, syscall.ENOBUFS},
	{raw.ErrBufferFull, syscall.ENOBUFS},
	{stack.ErrBufferFull, syscall.ENOBUFS},
	{udp.ErrTooManyPCBs, syscall.EMFILE},
	{raw.ErrTooManyPCBs, syscall.EMFILE},
	{udp.ErrNotConnected, syscall.EDESTADDRREQ},
	{udp.ErrInvalid, syscall.EINVAL},
	{raw.ErrInvalid, syscall.EINVAL},
	{stack.ErrInvalid, syscall.EINVAL},
	{stack.ErrNoSuchInterface, syscall.ENODEV},
	{stack.ErrNotFound, syscall.EADDRNOTAVAIL},
}

// sysError is an errno together with the core error it stands for.
type sysError struct {
	errno syscall.Errno
	core  error
}

// Error reads like the errno, as package net's errors do.
func (e *sysError) Error() string { return e.errno.Error() }

// Unwrap lets errors.Is and errors.As find both the errno and the core
// sentinel.
func (e *sysError) Unwrap() []error { return []error{e.errno, e.core} }

// Timeout reports whether the errno is a timeout (ETIMEDOUT, EAGAIN).
func (e *sysError) Timeout() bool { return e.errno.Timeout() }

// Temporary is the errno's (net.Error's deprecated method, kept for
// callers that still use it).
func (e *sysError) Temporary() bool { return e.errno.Temporary() }

// errnoOf returns the sysError for a core error, or nil when it has no
// errno.
func errnoOf(err error) *sysError {
	var se *sysError
	if errors.As(err, &se) {
		return se
	}
	for _, r := range errnoTable {
		if errors.Is(err, r.core) {
			return &sysError{errno: r.errno, core: err}
		}
	}
	return nil
}

// mapErr turns a core error into what package net would put in
// OpError.Err: net.ErrClosed for closed pcbs, os.ErrDeadlineExceeded as
// is, an *os.SyscallError around a [sysError] for errno-like errors, and
// anything else unchanged.
func mapErr(syscallName string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		return err
	case errors.Is(err, udp.ErrClosed), errors.Is(err, raw.ErrClosed):
		return net.ErrClosed
	}
	if se := errnoOf(err); se != nil {
		return &os.SyscallError{Syscall: syscallName, Err: se}
	}
	return err
}

// opError wraps a core or shell error in the *net.OpError package net
// returns: op is "read", "write", "dial", "listen", "set", "close" (or
// "join"/"leave" for multicast); syscallName the Linux call that fails.
// src and addr may be nil.
func opError(op, network string, src, addr net.Addr, syscallName string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: network, Source: nilAddr(src), Addr: nilAddr(addr), Err: mapErr(syscallName, err)}
}

// nilAddr turns typed nil pointers into a nil interface, so OpError's
// Error method does not print "<nil>".
func nilAddr(a net.Addr) net.Addr {
	switch v := a.(type) {
	case *net.UDPAddr:
		if v == nil {
			return nil
		}
	case *net.IPAddr:
		if v == nil {
			return nil
		}
	}
	return a
}
