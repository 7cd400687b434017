// Package tcp is featherip's TCP (RFC 9293) with lwIP's callback ("raw")
// API in Go idiom.
//
// A Protocol is the TCP layer of one stack.Stack, over IPv4 and IPv6 (a
// listener bound to the zero address or [::] takes both families; one bound
// to 0.0.0.0 only IPv4). It is single-threaded
// and poll-driven like the stack: segments come in through the stack's
// Input, timers run from the stack's Poll (New registers the protocol with
// stack.AddPoller), and every timer is an exact deadline reported through
// NextDeadline — there is no coarse periodic tick as in lwIP.
//
//	p, _ := tcp.New(s, tcp.Config{})
//	l, _ := p.NewPCB()
//	l.Listen(netip.MustParseAddrPort("0.0.0.0:80"), 16)
//	l.OnAccept(func(l, c *tcp.PCB) {
//		c.OnRecv(func(c *tcp.PCB, data []byte) {
//			if data == nil { c.Close(); return } // FIN
//			c.Write(data)                         // echo (copied)
//			c.Recved(len(data))                   // reopen the window
//		})
//	})
//
// # Data and windows
//
// Write copies into a bounded send buffer (a ring allocated at the first
// write and reused); WriteNoCopy queues references to the caller's memory,
// which must stay unchanged until OnSent has reported it acknowledged.
// OnRecv hands in-order data straight out of the received packet (valid
// during the call); the receive window stays closed by those bytes until
// Recved (lwIP's tcp_recved) or SetAutoRecved. Out-of-order segments are
// copied into pool buffers, bounded per connection in bytes and segments.
//
// # Algorithms
//
// MSS from the route MTU, clamped to the peer's; window scaling,
// timestamps, RTT measurement and PAWS (RFC 7323); SACK (RFC 2018) sent
// from the out-of-order queue, most recent block first; SACK-based loss
// recovery (RFC 6675, tcp/internal/sack); NewReno (RFC 6582) without SACK;
// the retransmission timer of RFC 6298 (tcp/internal/rtt) with Karn's
// rule and exponential backoff; congestion control from tcp/cc (CUBIC by
// default, Reno), with an initial window of 10 segments (RFC 6928) and
// limited transmit (RFC 3042); Nagle (RFC 896) unless SetNoDelay; delayed
// ACKs (RFC 1122 §4.2.3.2: at least every second segment, immediately for
// out-of-order data and holes filled); sender and receiver silly window
// avoidance (RFC 1122 §4.2.3.3/4); zero-window probes with backoff;
// keepalive (RFC 1122 §4.2.3.6).
//
// # Ports and address families
//
// Binds follow Linux with package net's choices on top. 0.0.0.0 is the IPv4
// wildcard (an AF_INET socket: IPv4 only); :: and the zero Addr are the
// wildcard of both families (an AF_INET6 socket without IPV6_V6ONLY), or of
// IPv6 only after SetV6Only(true) (IPV6_V6ONLY: no IPv4 segment reaches it,
// IPv4-mapped destinations included, and it does not connect to IPv4). A
// listener gets the SYNs for its family's addresses; one bound to the
// address beats one bound to a wildcard. Two listeners or bound PCBs of a
// port conflict (ErrAddrInUse) when they share an address (Linux's
// inet_rcv_saddr_equal): the dual wildcard shares one with every bind of the
// port, a one-family wildcard with every wildcard and address of its family
// (so the IPv4 and the IPv6-only wildcard coexist, as package net's "tcp4"
// and "tcp6" listeners do, each taking its own family), a specific address
// only with itself (IPv4-mapped addresses count as IPv4). Connections are
// told apart by their four-tuple.
//
// # Robustness
//
// ISNs per RFC 6528 and ephemeral ports per RFC 6056 (algorithm 3), both
// keyed from the stack's random source (tcp/internal/isn); RFC 5961
// protections (challenge ACKs for in-window RST and SYN, rate limited; the
// ACK acceptability check); RFC 1337 (RST ignored in TIME_WAIT); a bounded
// half-open queue per listener with SYN cookies beyond it (RFC 4987: only
// the MSS survives a cookie); RST for segments to closed ports (RFC 9293
// §3.10.7.1); ICMP destination unreachable aborts a connection in SYN_SENT
// and fragmentation needed lowers the MSS (RFC 1191), each only when the
// quoted sequence number is in flight (RFC 5927). A segment with malformed
// options (an option length below 2 or running past the header) is dropped
// whole and counted (Stats.DropBadOptions, InErrs) in every state, with no
// answer and no effect on a connection (RFC 9293 §3.1 MUST-7 asks only that
// it not crash; its suggested reset is not sent); unknown options of a
// valid length are skipped (MUST-64). Config.MaxPCBs bounds the
// PCBs; when it is reached the oldest TIME_WAIT PCB is reclaimed, then the
// oldest one the application closed that is still closing; else the new
// connection is refused.
//
// Callbacks run on the goroutine driving the stack and may call any PCB
// method. After OnError, and after Close or Abort, the PCB is dead.
package tcp
