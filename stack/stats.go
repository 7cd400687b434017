package stack

// Stats is a snapshot of the stack's counters, one struct per layer, named
// after the MIB-2 objects (RFC 1213, RFC 4293 for IP, RFC 4292/826 style
// for ARP) where such an object exists.
type Stats struct {
	Link     LinkStats
	ARP      ARPStats
	IP       IPStats
	ICMP     ICMPStats
	IGMP     IGMPStats
	Autoconf AutoconfStats // IPv6 router discovery, SLAAC, DAD, redirects (ra.go, slaac.go)
	MLD      MLDStats      // MLD host (mld.go)
	IPv6     IPv6Stats     // IPv6 (ipv6_*.go; RFC 4293 ipv6 names)
	ICMPv6   ICMPv6Stats   // ICMPv6 (icmpv6.go)
	NDP      NDPStats      // neighbor discovery (ndp.go)
	Offload  OffloadStats  // checksum and segmentation offloads (offload.go)
}

// LinkStats counts frames at the link layer (all interfaces together).
type LinkStats struct {
	FramesIn, FramesOut   uint64 // frames received by Input / handed to a Link
	BytesIn, BytesOut     uint64 // their bytes
	TooShort              uint64 // frames too short for their link header
	UnknownEtherType      uint64 // Ethernet frames of a type we do not handle (incl. IPv6 for now)
	NotForUs              uint64 // Ethernet frames to another unicast MAC
	NoInterface           uint64 // frames for an unknown NIC or one that is down
	SendErrors            uint64 // Link.Send returned an error
	PoolExhausted         uint64 // packet buffers unavailable (pool empty)
	LoopbackQueued        uint64 // datagrams put on the loopback queue
	LoopbackDrops         uint64 // datagrams dropped because the loopback queue was full
	MulticastFilterErrors uint64 // MulticastFilter.SetMulticast calls that failed
}

// ARPStats counts ARP (RFC 826) activity.
type ARPStats struct {
	InRequests, InReplies   uint64 // valid requests / replies received
	OutRequests, OutReplies uint64 // requests (incl. retries and announcements) / replies sent
	InErrors                uint64 // malformed or unsupported ARP packets
	InIgnored               uint64 // ARP from our own MAC, a group MAC, or sender IP 0 / broadcast / multicast
	Conflicts               uint64 // ARP from another MAC claiming one of our addresses
	Announcements           uint64 // gratuitous ARP announcements sent (RFC 5227)
	CacheEvictions          uint64 // entries evicted because the cache was full
	CacheFull               uint64 // new entries refused because every slot is static
	QueueDrops              uint64 // packets dropped from or refused by the resolution queue
	ResolutionFailures      uint64 // resolutions abandoned after the last retry
	Expired                 uint64 // resolved entries removed by aging
}

// IPStats counts IPv4 activity (RFC 4293 ipSystemStats names).
type IPStats struct {
	InReceives       uint64 // datagrams received (before any check)
	InHdrErrors      uint64 // bad version, IHL, length, checksum, options, martian source
	InAddrErrors     uint64 // destination not ours and not forwarded (forwarding off, martian, link broadcast)
	InUnknownProtos  uint64 // no transport or raw handler for the protocol
	InDiscards       uint64 // dropped for lack of resources
	InDelivers       uint64 // datagrams handed to ICMP, IGMP, transports or raw handlers
	InMartians       uint64 // dropped because of an impossible source (also in InHdrErrors) or, when forwarding, destination (also in InAddrErrors) address
	ForwDatagrams    uint64 // datagrams forwarded to a next hop (RFC 1812)
	InSourceRouted   uint64 // source-routed datagrams not forwarded (also in InDiscards)
	InSourceFiltered uint64 // multicast datagrams dropped by the interface's source filter (RFC 3376 3.2)
	OutRequests      uint64 // datagrams handed to IPv4 output by us or by transports
	OutDiscards      uint64 // output datagrams dropped (resources, ARP failure, bad args)
	OutNoRoutes      uint64 // output datagrams without a route, forwarded ones included
	ReasmReqds       uint64 // fragments received that needed reassembly
	ReasmOKs         uint64 // datagrams reassembled
	ReasmFails       uint64 // reassembly failures (timeouts, overlaps, budget, bad fragments)
	ReasmTimeouts    uint64 // reassemblies abandoned on timeout (also in ReasmFails)
	ReasmOverlaps    uint64 // datagrams dropped because fragments overlapped (also in ReasmFails)
	ReasmDuplicates  uint64 // exact duplicate fragments ignored
	ReasmEvictions   uint64 // datagrams evicted to stay within MaxBytes / MaxDatagrams (also in ReasmFails)
	FragOKs          uint64 // datagrams fragmented on output
	FragFails        uint64 // datagrams that needed fragmenting but could not (DF, no buffer)
	FragCreates      uint64 // fragments created
}

// ICMPStats counts ICMPv4 (RFC 792) messages (MIB-2 icmp group names).
type ICMPStats struct {
	InMsgs, InErrors, InCsumErrors                           uint64
	InDestUnreachs, InTimeExcds, InParmProbs, InSrcQuenchs   uint64
	InRedirects, InEchos, InEchoReps                         uint64
	InErrorsIgnored                                          uint64 // ICMP errors not about us or with a bad quote
	OutMsgs, OutErrors                                       uint64
	OutDestUnreachs, OutTimeExcds, OutParmProbs, OutEchoReps uint64
	OutEchos                                                 uint64 // echo requests sent by raw sockets
	OutRedirects                                             uint64 // redirects sent by the forwarding path (RFC 1812 5.2.7.2)
	RateLimited                                              uint64 // ICMP errors suppressed by the rate limit
}

// IGMPStats counts IGMP (RFC 2236, RFC 3376) messages of the host side.
type IGMPStats struct {
	InMsgs         uint64 // IGMP messages received (every delivered datagram of protocol 2)
	InErrors       uint64 // malformed messages: too short, bad length, bad records, bad checksum
	InCsumErrors   uint64 // messages with a bad checksum (also in InErrors)
	InUnknownTypes uint64 // messages of a type hosts ignore (RFC 3376 4)
	InQueries      uint64 // valid membership queries (any version)
	InReports      uint64 // membership reports of other hosts (v1, v2, v3)
	InIgnored      uint64 // valid messages ignored (a general query not sent to 224.0.0.1, a query for a group we are not in)
	OutReports     uint64 // reports sent (v1, v2, v3; a v3 report carrying a leave included)
	OutLeaves      uint64 // IGMPv2 leave group messages sent
}

// Stats returns a snapshot of all counters.
func (s *Stack) Stats() Stats { return s.stats }
