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
// Port rules (Linux's SO_REUSEADDR semantics for UDP): a port may be bound
// on distinct specific addresses; a wildcard bind conflicts with any other
// bind of the port unless both PCBs set ReuseAddr; PCBs sharing a port with
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
