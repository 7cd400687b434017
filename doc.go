// Package featherip is the concurrent shell around the featherip core: it
// runs one [stack.Stack] (with its UDP and raw protocols) under a single lock
// — lwIP's core locking — and drives it from goroutines, so ordinary Go
// programs can use the single-threaded, poll-driven core safely.
//
// A [Host] owns:
//
//   - the core lock: every call into the stack, and every callback the stack
//     makes (udp/raw OnRecv, OnError, ...), happens with it held;
//   - one reader goroutine per link, which blocks in [link.Link.Receive] and
//     hands each frame to [stack.Stack.Input] under the lock;
//   - one timer goroutine, which sleeps exactly until the stack's
//     [stack.Stack.NextDeadline] (there is no fixed tick) and then calls
//     [stack.Stack.Poll]; any work done under the lock that moves the deadline
//     earlier wakes it.
//
// Time comes from the machine's monotonic clock (time since [New]) and
// randomness from a ChaCha8 generator seeded from crypto/rand, so ephemeral
// ports and other security-relevant choices are not guessable. For virtual
// time and deterministic tests use package sim instead.
//
// Use [Host.Do] to reach the stack and its protocols:
//
//	h, _ := featherip.New(featherip.Config{})
//	defer h.Close()
//	nic, _ := h.AddInterface(tapLink, featherip.InterfaceConfig{
//		Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.7.2/24")},
//	})
//	h.Do(func(s *stack.Stack) {
//		pcb, _ := h.UDP().NewPCB()
//		pcb.Bind(netip.AddrPortFrom(netip.Addr{}, 7))
//		pcb.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) {
//			c.SendTo(data, info.Src) // runs under the core lock
//		})
//	})
//
// # Sockets
//
// On top of the callback API the Host offers blocking, goroutine-safe
// sockets with the standard library's interfaces, so code written for
// package net runs over featherip unchanged (lwIP's netconn/sockets layer):
//
//   - [Host.ListenPacket], [Host.ListenUDP], [Host.ListenUDPAddrPort],
//     [Host.DialContext], [Host.DialUDP] and [Dialer]: [UDPConn], a
//     net.PacketConn (and a net.Conn when connected) with deadlines,
//     SetReadBuffer, broadcast and multicast options;
//   - [Host.ListenPing]: [PingConn], an ICMP echo "ping socket" like Linux's
//     SOCK_DGRAM ICMP sockets; [Host.Ping] is built on it;
//   - [Host.ListenIP] (and ListenPacket "ip4:proto"): [IPConn], a raw IPv4
//     socket returning the whole datagram, header included, as Linux does.
//   - [Host.Listen], [Host.ListenTCP], [Host.ListenTCPAddrPort]:
//     [TCPListener], a net.Listener; [Host.DialContext] and [Dialer] with
//     "tcp", "tcp4", "tcp6", [Host.DialTCP], [Host.DialTCPAddrPort]:
//     [TCPConn], a net.Conn with half-close, deadlines, TCP options,
//     io.ReaderFrom and io.WriterTo (tcpconn.go describes the shell: a
//     bounded receive buffer whose bytes reopen the window as they are read,
//     writers woken by OnSent). TCP works over IPv4 and IPv6.
//
// Errors are *net.OpError values that match the standard library's:
// errors.Is(err, syscall.ECONNREFUSED) (and EHOSTUNREACH, ENETUNREACH,
// EADDRINUSE, EADDRNOTAVAIL, EACCES, ...), os.ErrDeadlineExceeded and
// net.ErrClosed. Callbacks under the core lock never block: they queue into
// the socket's bounded queue and wake the blocked reader (see sock.go for
// the mechanism the TCP conn shares). [Host.Close] ends every socket.
//
// UDP, ping and raw sockets work over IPv4 and IPv6 as package net does on
// Linux: "udp4"/"udp6" sockets take one family, a "udp" socket listening
// on the wildcard takes both, and IPv6 link-local addresses carry zones
// ("[fe80::1%eth0]:7").
package featherip
