package stack

// IPv6Stats counts IPv6 activity (RFC 4293 ipSystemStats for ipv6, Linux Ip6* names).
type IPv6Stats struct {
	InReceives           uint64 // packets received (before any check)
	InHdrErrors          uint64 // bad version, length, header chain, options, martian source
	InTooBigErrors       uint64 // packet too big messages that lowered a path MTU (we do not forward)
	InAddrErrors         uint64 // destination not ours (or tentative), a group not joined, bad scope
	InUnknownProtos      uint64 // no transport or raw handler for the upper-layer protocol
	InTruncatedPkts      uint64 // packets shorter than their payload length or header chain
	InDiscards           uint64 // dropped for lack of resources, or IPv6 disabled
	InDelivers           uint64 // packets handed to ICMPv6, transports or raw handlers
	InMcastPkts          uint64 // multicast packets accepted
	InMartians           uint64 // impossible source or destination (also in InHdrErrors)
	InExtChainTooLong    uint64 // header chains beyond MaxExtensionHeaders / MaxExtensionBytes (also in InHdrErrors)
	InUnknownOptions     uint64 // packets dropped for an unrecognized option (RFC 8200 4.2)
	InRoutingRefused     uint64 // routing headers with segments left (type 0 included, RFC 5095) refused
	InAtomicFrags        uint64 // atomic fragments processed in isolation (RFC 6946)
	InTinyFragments      uint64 // first fragments without the whole header chain (RFC 7112)
	InSourceFiltered     uint64 // multicast packets dropped by the interface's source filter (RFC 3810 4.2)
	OutRequests          uint64 // packets handed to IPv6 output
	OutDiscards          uint64 // output packets dropped (resources, NDP failure, bad args)
	OutNoRoutes          uint64 // output packets without a route
	OutMcastPkts         uint64 // multicast packets sent
	ReasmReqds           uint64 // fragments received that needed reassembly
	ReasmOKs             uint64 // packets reassembled
	ReasmFails           uint64 // reassembly failures (timeouts, overlaps, budget, bad fragments)
	ReasmTimeouts        uint64 // reassemblies abandoned on timeout (also in ReasmFails)
	ReasmOverlaps        uint64 // datagrams dropped for overlapping fragments, RFC 5722 (also in ReasmFails)
	ReasmDuplicates      uint64 // exact duplicate fragments ignored
	ReasmEvictions       uint64 // datagrams evicted to stay within the budget (also in ReasmFails)
	FragOKs              uint64 // packets fragmented at the source
	FragFails            uint64 // packets that needed fragmenting but could not
	FragCreates          uint64 // fragments created
	PMTUUpdates          uint64 // path MTU estimates lowered (RFC 8201)
	PMTUEvictions        uint64 // live path MTU entries replaced because the cache was full
	ForwDatagrams        uint64 // packets forwarded to a next hop (forward6.go)
	ForwHopLimitExceeded uint64 // packets not forwarded: hop limit exhausted (time exceeded sent; also in InHdrErrors)
	ForwBeyondScope      uint64 // packets with a link-local source not forwarded off their link (RFC 4443 3.1 code 2)
	ForwTooBigs          uint64 // packets not forwarded: larger than the next hop's MTU (packet too big sent)
}

// ICMPv6Stats counts ICMPv6 messages (RFC 4293 icmpStatsTable / Linux Icmp6* names).
type ICMPv6Stats struct {
	InMsgs, InErrors, InCsumErrors                            uint64
	InDestUnreachs, InPktTooBigs, InTimeExcds, InParmProblems uint64
	InEchos, InEchoReplies                                    uint64
	InGroupMembQueries, InGroupMembResponses                  uint64
	InGroupMembReductions, InMLDv2Reports                     uint64
	InRouterSolicits, InRouterAdvertisements                  uint64
	InNeighborSolicits, InNeighborAdvertisements, InRedirects uint64
	InErrorsIgnored                                           uint64 // errors not about us, with a bad quote, or of unknown type
	OutMsgs, OutErrors                                        uint64
	OutDestUnreachs, OutPktTooBigs, OutTimeExcds              uint64
	OutParmProblems, OutEchos, OutEchoReplies                 uint64
	OutGroupMembQueries, OutGroupMembResponses                uint64
	OutGroupMembReductions, OutMLDv2Reports                   uint64
	OutRouterSolicits, OutRouterAdvertisements                uint64
	OutNeighborSolicits, OutNeighborAdvertisements            uint64
	OutRedirects                                              uint64
	RateLimited                                               uint64 // errors suppressed by the rate limit
}

// NDPStats counts IPv6 neighbor discovery (RFC 4861) activity.
type NDPStats struct {
	InInvalid          uint64 // NDP messages failing the checks of RFC 4861 6.1, 7.1 (hop limit, code, options, target)
	InIgnored          uint64 // valid solicitations for other targets, advertisements without a cache entry
	DuplicateAddrs     uint64 // advertisements from another node for an address we use
	OutSolicits        uint64 // neighbor solicitations sent (resolution and probes)
	OutAdverts         uint64 // neighbor advertisements sent
	CacheEvictions     uint64 // entries evicted because the cache was full
	CacheFull          uint64 // entries refused because every slot is static
	QueueDrops         uint64 // packets dropped from or refused by resolution queues
	ResolutionFailures uint64 // resolutions abandoned (INCOMPLETE timed out)
	Unreachable        uint64 // entries removed after unanswered probes (PROBE timed out)
	RouterToHost       uint64 // default routers removed because an advertisement cleared their router flag (RFC 4861 7.2.5)
}
