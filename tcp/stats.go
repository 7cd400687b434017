package tcp

import "time"

// Stats are the protocol-wide counters: the MIB-2 TCP group (RFC 4022)
// under its names, Linux-style extensions, and drop reasons.
type Stats struct {
	// ActiveOpens counts transitions CLOSED -> SYN_SENT (tcpActiveOpens).
	ActiveOpens uint64
	// PassiveOpens counts transitions LISTEN -> SYN_RCVD, SYN cookie
	// connections included (tcpPassiveOpens).
	PassiveOpens uint64
	// AttemptFails counts SYN_SENT/SYN_RCVD -> CLOSED and SYN_RCVD ->
	// LISTEN transitions (tcpAttemptFails).
	AttemptFails uint64
	// EstabResets counts ESTABLISHED/CLOSE_WAIT -> CLOSED transitions by
	// reset (tcpEstabResets).
	EstabResets uint64
	// CurrEstab is the number of connections in ESTABLISHED or CLOSE_WAIT
	// (tcpCurrEstab).
	CurrEstab int
	// InSegs counts segments received, including those with errors
	// (tcpInSegs); OutSegs segments sent, excluding retransmissions
	// (tcpOutSegs); RetransSegs retransmitted segments (tcpRetransSegs).
	InSegs, OutSegs, RetransSegs uint64
	// InErrs counts segments received with errors: truncated, bad checksum,
	// bad options (tcpInErrs); InCsumErrors those with a bad checksum.
	InErrs, InCsumErrors uint64
	// OutRsts counts segments sent with RST (tcpOutRsts).
	OutRsts uint64
	// PCBs is the number of PCBs in use.
	PCBs int

	// Drop reasons.
	DropNoPCB       uint64 // segments for no connection or listener (answered with RST when allowed)
	DropBadOptions  uint64 // malformed options
	DropPAWS        uint64 // old timestamps (RFC 7323 §5)
	DropOutOfWindow uint64 // not acceptable by the window test (RFC 9293 §3.10.7.4)
	DropBadACK      uint64 // ACK outside the acceptable range (RFC 5961 §5)
	DropListenFull  uint64 // SYNs beyond a listener's backlog without SYN cookies
	DropOOOFull     uint64 // out-of-order segments beyond the queue bounds
	DropNoBuffer    uint64 // packet buffer pool exhausted on output or for the out-of-order queue
	DropAfterClose  uint64 // data arriving for a connection the application closed (answered with RST)
	DropTooManyPCBs uint64 // SYNs refused because MaxPCBs is reached

	// Protocol events.
	SynCookiesSent, SynCookiesRecv, SynCookiesFailed uint64
	ChallengeACKs, ChallengeACKsThrottled            uint64 // RFC 5961
	TimeWaitRSTIgnored                               uint64 // RFC 1337
	Reclaimed                                        uint64 // PCBs reclaimed for new ones
	FastRetransmits, SACKRecoveries, NewRenoRecovery uint64
	Timeouts                                         uint64 // retransmission timeouts
	PersistProbes, KeepaliveProbes, KeepaliveDrops   uint64
	DelayedACKs                                      uint64 // ACKs sent by the delayed-ACK timer
	ICMPErrors, PMTUUpdates                          uint64
	OOOSegments                                      uint64 // segments queued out of order
	OutErrors                                        uint64 // segments IP refused (no route, too long)
}

// Stats returns a snapshot of the protocol counters.
func (p *Protocol) Stats() Stats { return p.stats }

// PCBStats describes one connection (like Linux's tcp_info).
type PCBStats struct {
	State            State
	SRTT, RTTVar     time.Duration
	RTO              time.Duration
	MinRTT           time.Duration
	Cwnd, Ssthresh   int // bytes
	SndWnd, RcvWnd   int // bytes
	SndMSS, RcvMSS   int // bytes of payload per segment
	SndScale         uint8
	RcvScale         uint8
	SACK             bool
	Timestamps       bool
	InFlight         int // bytes sent and not acknowledged
	Unsent           int // bytes queued and not sent
	Unrecved         int // bytes delivered and not yet passed to Recved
	SegsIn           uint64
	SegsOut          uint64
	BytesSent        uint64 // data bytes sent, retransmissions included
	BytesAcked       uint64
	BytesReceived    uint64 // in-order data bytes delivered
	Retransmits      uint64 // segments retransmitted
	FastRetrans      uint64
	Timeouts         uint64
	DupACKsIn        uint64
	OOOQueued        int // bytes in the out-of-order queue
	Recoveries       uint64
	ZeroWindowProbes uint64
}

// pcbCounters are a connection's counters. As in Linux's tcp_info, byte
// counts are 64-bit and segment and event counts 32-bit (they wrap after
// 2^32, which PCBStats passes on): 56 bytes per connection instead of 88.
type pcbCounters struct {
	bytesSent, bytesAcked, bytesReceived                uint64
	segsIn, segsOut                                     uint32
	retrans, fastRetrans, timeouts, dupAcks, recoveries uint32
	probes                                              uint32
}
