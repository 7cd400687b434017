// Package udp implements UDP (RFC 768, RFC 1122 section 4.1) and UDP-Lite
// (RFC 3828) protocol control blocks with lwIP's callback ("raw") API, on
// top of a featherip stack.Stack.
//
// A Protocol registers itself with a stack for wire.ProtoUDP and
// wire.ProtoUDPLite. Each PCB is bound to a local address and port and
// optionally connected to a remote one; received datagrams are handed to
// the PCB's OnRecv callback, which sees the payload in place (zero copy,
// valid only during the callback). Sending copies the caller's bytes into
// a pooled packet buffer (Send, SendTo) or takes ownership of a buffer the
// caller filled in place (NewBuf, SendBufTo).
//
// Demultiplexing picks the best match for a unicast datagram: a connected
// PCB whose 4-tuple matches exactly beats a PCB bound to the destination
// address, which beats a PCB bound to the wildcard address. Broadcast and
// multicast datagrams go to every PCB bound to the destination port whose
// local address is the wildcard or the destination (Linux semantics).
// Datagrams nobody wants are answered with ICMP port unreachable (unicast
// destinations only; the stack rate limits).
//
// Wildcards and families (Linux's semantics, with package net's choices on
// top): a bind to 0.0.0.0 is the IPv4 wildcard (an AF_INET socket: IPv4
// only); a bind to :: or to the zero Addr is the dual-stack wildcard (an
// AF_INET6 socket without IPV6_V6ONLY: both families, IPv4 peers shown as
// IPv4); after SetV6Only(true) it is the IPv6-only wildcard (IPV6_V6ONLY:
// it neither receives IPv4, IPv4-mapped destinations included, nor sends
// or connects to it). A one-family wildcard PCB is not offered datagrams
// of the other family, and does not send or connect to that family.
//
// Port rules (Linux's SO_REUSEADDR semantics for UDP, inet_rcv_saddr_equal
// with IPV6_V6ONLY): two binds of a port conflict when they share an
// address. The dual wildcard shares one with every bind of the port; a
// one-family wildcard with every wildcard and address of its family (so the
// IPv4 and the IPv6-only wildcard coexist, as package net's "udp4" and
// "udp6" sockets do, and each takes its own family); specific addresses
// only with themselves (IPv4-mapped ones count as IPv4). Conflicting binds
// are allowed when both PCBs set ReuseAddr; PCBs sharing a port with
// ReuseAddr may connect to distinct remotes. Port 0 selects a random
// ephemeral port (RFC 6056 algorithm 1, "simple port randomization", with
// the stack's injected random source). UDP and UDP-Lite have separate port
// spaces.
//
// Over IPv4 a zero checksum field means the sender computed none and is
// accepted (RFC 768); a computed checksum of zero is sent as 0xffff;
// SetChecksum(false) sends zero. UDP-Lite always carries a checksum over
// the coverage set with SetChecksumCoverage (RFC 3828 section 3.1).
//
// Like the rest of the core, nothing here is safe for concurrent use: the
// stack and its transports run under one lock (or on one goroutine), and
// the send and receive paths allocate nothing in steady state.
package udp
