package featherip

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// Software receive coalescing (GRO), as Linux does for every NIC driver
// (napi_gro_receive): when a link reader's batch holds consecutive
// in-order TCP segments of one IPv4 flow to a local address, the reader
// hands the stack one super-frame carrying all their data instead of one
// frame per segment, with the metadata a TAP device with offloads gives
// for the same thing (stack.RxMeta GSO, and CsumValid: each segment's
// checksum was verified here). TCP then runs once per run of segments
// instead of once per segment, and acknowledges the run with one ACK
// where it would have sent one per two segments (it counts a coalesced
// segment as the segments it was, so ACK clocking is kept). What the link
// carries is unchanged: every frame is still an MTU-sized frame with its
// own checksum; only the receiving host's work shrinks.
//
// The rules are Linux's (tcp_gro_receive), kept strict so that the
// super-frame says exactly what its segments said: same Ethernet and IP
// header fields but the length and ID, no IP options or fragments, the
// same ports, ACK number, window and TCP options (timestamps included),
// only the ACK and PSH flags, contiguous sequence numbers, every segment
// but the last carrying the first one's payload size, and a PSH ends the
// run. Anything else, a segment with a bad checksum included, goes in on
// its own and the stack treats it as before.

// groMax is the longest IPv4 packet a coalesced run may make.
const groMax = 65535

// groSeg is a frame parsed as a candidate for coalescing.
type groSeg struct {
	frame   []byte
	thl     int    // TCP header length
	payload int    // TCP payload length
	seq     uint32 // TCP sequence number
	psh     bool
}

// etherLen is the length of an Ethernet header without VLAN tags.
const etherLen = 14

// parseGRO reports whether frame is an Ethernet IPv4 TCP data segment
// without IP options or fragmentation, carrying only ACK (and maybe PSH),
// with a valid IP header checksum; it does not check the TCP checksum.
func parseGRO(frame []byte) (groSeg, bool) {
	if len(frame) < etherLen+wire.IPv4MinHeaderLen+wire.TCPMinHeaderLen ||
		binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return groSeg{}, false
	}
	ip := frame[etherLen:]
	tot := int(binary.BigEndian.Uint16(ip[2:4]))
	if ip[0] != 0x45 || tot != len(ip) || binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 ||
		ip[9] != wire.ProtoTCP || wire.Checksum(ip[:wire.IPv4MinHeaderLen], 0) != 0 {
		return groSeg{}, false
	}
	tcp := ip[wire.IPv4MinHeaderLen:]
	thl := int(tcp[12]>>4) * 4
	flags := tcp[13]
	if thl < wire.TCPMinHeaderLen || thl >= len(tcp) ||
		flags&^(wire.TCPFlagACK|wire.TCPFlagPSH) != 0 || flags&wire.TCPFlagACK == 0 {
		return groSeg{}, false
	}
	return groSeg{
		frame:   frame,
		thl:     thl,
		payload: len(tcp) - thl,
		seq:     binary.BigEndian.Uint32(tcp[4:8]),
		psh:     flags&wire.TCPFlagPSH != 0,
	}, true
}

// tcpChecksumOK verifies a parsed segment's TCP checksum.
func (g *groSeg) tcpChecksumOK() bool {
	ip := g.frame[etherLen:]
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	seg := ip[wire.IPv4MinHeaderLen:]
	return wire.Checksum(seg, wire.PseudoHeaderSum(src, dst, wire.ProtoTCP, len(seg))) == 0
}

// follows reports whether n can be appended to the run that first starts
// and last ends, size being the run's segment payload size.
func (first *groSeg) follows(last, n *groSeg, size, total int) bool {
	if last.psh || last.payload != size || n.payload > size || n.thl != first.thl ||
		n.seq != last.seq+uint32(last.payload) || total+n.payload > groMax {
		return false
	}
	a, b := first.frame, n.frame
	ia, ib := a[etherLen:], b[etherLen:]
	ta, tb := ia[wire.IPv4MinHeaderLen:], ib[wire.IPv4MinHeaderLen:]
	return bytes.Equal(a[:etherLen], b[:etherLen]) &&
		ia[1] == ib[1] && ia[6] == ib[6] && ia[8] == ib[8] && // TOS, flags (DF), TTL
		bytes.Equal(ia[12:20], ib[12:20]) && // addresses
		bytes.Equal(ta[0:4], tb[0:4]) && // ports
		bytes.Equal(ta[8:12], tb[8:12]) && // ACK number
		bytes.Equal(ta[14:16], tb[14:16]) && // window
		bytes.Equal(ta[wire.TCPMinHeaderLen:first.thl], tb[wire.TCPMinHeaderLen:first.thl]) // options
}

// groInput hands frames to the stack (h.mu held), coalescing runs of TCP
// segments into super-frames built in merge (at least
// link.MaxGROFrameLen long). Frames with offload metadata of their own go
// in unchanged.
func (h *Host) groInput(nic stack.NIC, frames [][]byte, metas []link.RxMeta, merge []byte) {
	for i := 0; i < len(frames); {
		if metas[i] != (link.RxMeta{}) {
			h.inputMeta(nic, frames[i], &metas[i])
			i++
			continue
		}
		first, ok := parseGRO(frames[i])
		if !ok || i+1 == len(frames) || !h.s.IsLocal(netip.AddrFrom4([4]byte(frames[i][etherLen+16:etherLen+20]))) ||
			!first.tcpChecksumOK() {
			h.s.Input(nic, frames[i])
			i++
			continue
		}
		// Extend the run while the next frame follows.
		size := first.payload
		total := wire.IPv4MinHeaderLen + first.thl + first.payload
		last := first
		j := i + 1
		for ; j < len(frames) && metas[j] == (link.RxMeta{}); j++ {
			n, ok := parseGRO(frames[j])
			if !ok || !first.follows(&last, &n, size, total) || !n.tcpChecksumOK() {
				break
			}
			total += n.payload
			last = n
		}
		if j == i+1 {
			h.s.Input(nic, frames[i])
			i++
			continue
		}
		// Build the super-frame: the first frame's headers, then every
		// segment's data; PSH if the last had it.
		hl := etherLen + wire.IPv4MinHeaderLen + first.thl
		m := copy(merge, frames[i][:hl])
		for k := i; k < j; k++ {
			m += copy(merge[m:], frames[k][hl:])
		}
		ip := merge[etherLen:m]
		binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
		wire.SetIPv4Checksum(ip[:wire.IPv4MinHeaderLen])
		if last.psh {
			ip[wire.IPv4MinHeaderLen+13] |= wire.TCPFlagPSH
		}
		h.s.InputMeta(nic, merge[:m], stack.RxMeta{CsumValid: true, GSO: true, GSOSize: size})
		h.stats.groSegments.Add(uint64(j - i))
		i = j
	}
}

// inputMeta hands one frame with its offload metadata to the stack.
func (h *Host) inputMeta(nic stack.NIC, frame []byte, m *link.RxMeta) {
	h.s.InputMeta(nic, frame, stack.RxMeta{
		CsumValid: m.CsumValid, CsumPartial: m.CsumPartial, CsumStart: m.CsumStart, CsumOffset: m.CsumOffset,
		GSO: m.GSO != link.GSONone, GSOSize: m.GSOSize,
	})
}
