package featherip

import (
	"bytes"
	"encoding/binary"

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
	ip      wire.IPv4
	tcp     wire.TCP
	payload int    // TCP payload length
	seq     uint32 // TCP sequence number
	psh     bool
}

// parseGRO reports whether frame is an Ethernet IPv4 TCP data segment
// without IP options, padding or fragmentation, carrying only ACK (and
// maybe PSH), with a valid IP header checksum; it does not check the TCP
// checksum.
func parseGRO(frame []byte) (groSeg, bool) {
	if len(frame) < wire.EthernetHeaderLen || binary.BigEndian.Uint16(frame[12:14]) != wire.EtherTypeIPv4 {
		return groSeg{}, false
	}
	ip, err := wire.ParseIPv4(frame[wire.EthernetHeaderLen:])
	if err != nil || ip.HeaderLen() != wire.IPv4MinHeaderLen || ip.TotalLength() != len(frame)-wire.EthernetHeaderLen ||
		ip.IsFragment() || ip.Protocol() != wire.ProtoTCP || !ip.ChecksumValid() {
		return groSeg{}, false
	}
	tcp, err := wire.ParseTCP(ip.Payload())
	flags := tcp.Flags()
	if err != nil || len(tcp.Payload()) == 0 ||
		flags&^(wire.TCPFlagACK|wire.TCPFlagPSH) != 0 || flags&wire.TCPFlagACK == 0 {
		return groSeg{}, false
	}
	return groSeg{frame: frame, ip: ip, tcp: tcp, payload: len(tcp.Payload()), seq: tcp.Seq(), psh: flags&wire.TCPFlagPSH != 0}, true
}

// tcpChecksumOK verifies a parsed segment's TCP checksum.
func (g *groSeg) tcpChecksumOK() bool { return g.tcp.ChecksumValid(g.ip.Src(), g.ip.Dst()) }

// follows reports whether n can be appended to the run that first starts
// and last ends, size being the run's segment payload size.
func (first *groSeg) follows(last, n *groSeg, size, total int) bool {
	if last.psh || last.payload != size || n.payload > size || n.tcp.HeaderLen() != first.tcp.HeaderLen() ||
		n.seq != last.seq+uint32(last.payload) || total+n.payload > groMax {
		return false
	}
	a, b := first, n
	return bytes.Equal(a.frame[:wire.EthernetHeaderLen], b.frame[:wire.EthernetHeaderLen]) &&
		a.ip.TOS() == b.ip.TOS() && a.ip.Flags() == b.ip.Flags() && a.ip.TTL() == b.ip.TTL() &&
		a.ip.Src() == b.ip.Src() && a.ip.Dst() == b.ip.Dst() &&
		a.tcp.SrcPort() == b.tcp.SrcPort() && a.tcp.DstPort() == b.tcp.DstPort() &&
		a.tcp.Ack() == b.tcp.Ack() && a.tcp.Window() == b.tcp.Window() &&
		bytes.Equal(a.tcp.Options(), b.tcp.Options()) // timestamps included
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
		if !ok || i+1 == len(frames) || !h.s.IsLocal(first.ip.Dst()) ||
			!first.tcpChecksumOK() {
			h.s.Input(nic, frames[i])
			i++
			continue
		}
		// Extend the run while the next frame follows.
		size := first.payload
		total := wire.IPv4MinHeaderLen + first.tcp.HeaderLen() + first.payload
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
		hl := wire.EthernetHeaderLen + wire.IPv4MinHeaderLen + first.tcp.HeaderLen()
		m := copy(merge, frames[i][:hl])
		for k := i; k < j; k++ {
			m += copy(merge[m:], frames[k][hl:])
		}
		ip := merge[wire.EthernetHeaderLen:m]
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
