package link

// Offloads says which work a link's device does for the stack, in the
// model of virtio-net (the virtio 1.x specification, section 5.1.6) that
// Linux TAP devices speak with IFF_VNET_HDR.
type Offloads struct {
	// RxChecksum: received frames may carry RxMeta.CsumValid (the
	// transport checksum was checked) or RxMeta.CsumPartial (the frame
	// comes from the local kernel and its transport checksum field holds
	// only the pseudo-header sum; see RxMeta).
	RxChecksum bool
	// TxChecksum: SendGSO accepts frames whose transport checksum is left
	// partial (GSO.CsumStart/CsumOffset); the device completes it.
	TxChecksum bool
	// GSOMaxSize is the largest IP packet SendGSO accepts as one TCP
	// super-frame (the device segments it, TSO); 0 when it does not.
	GSOMaxSize int
	// GRO: received TCP frames may be coalesced super-frames longer than
	// the MTU, described by RxMeta.GSO and RxMeta.GSOSize.
	GRO bool
}

// GSOType says how a super-frame is to be segmented.
type GSOType uint8

// GSO types (virtio's VIRTIO_NET_HDR_GSO_*).
const (
	GSONone  GSOType = iota // not a super-frame
	GSOTCPv4                // TCP over IPv4 (TSO4)
	GSOTCPv6                // TCP over IPv6 (TSO6)
)

// RxMeta describes one received frame.
type RxMeta struct {
	// CsumValid: the device verified the frame's transport checksum.
	CsumValid bool
	// CsumPartial: the checksum at CsumStart+CsumOffset (offsets from the
	// start of the frame) holds the pseudo-header sum only; the ones'
	// complement sum of the bytes from CsumStart to the end completes it.
	// The frame comes from the local kernel and was never on a wire.
	CsumPartial bool
	// CsumStart and CsumOffset place the partial checksum.
	CsumStart, CsumOffset int
	// GSO is the segmentation type of a coalesced super-frame (GRO/LRO),
	// GSONone for an ordinary frame. GSOSize is the payload size of its
	// segments (the MSS the sender used).
	GSO     GSOType
	GSOSize int
}

// GSO describes a super-frame handed to SendGSO: a TCP segment with one
// header and up to Offloads.GSOMaxSize bytes that the device cuts into
// segments of Size payload bytes each (the last may be shorter), with the
// sequence numbers advanced, PSH and FIN only on the last segment and CWR
// only on the first, as Linux's TSO does.
type GSO struct {
	// Type is GSOTCPv4 or GSOTCPv6; GSONone sends an ordinary frame whose
	// checksum is partial.
	Type GSOType
	// HdrLen is the length of the link, IP and TCP headers together.
	HdrLen int
	// Size is the payload bytes per segment (the MSS less TCP options).
	Size int
	// CsumStart is the offset of the TCP header in the frame and
	// CsumOffset that of the checksum field in it (16). The checksum field
	// holds the folded, not complemented, pseudo-header sum computed with
	// the super-frame's TCP length (as Linux's CHECKSUM_PARTIAL).
	CsumStart, CsumOffset int
}

// OffloadLink is implemented by links whose device offloads checksums and
// segmentation (a TAP device opened with a virtio-net header).
type OffloadLink interface {
	Link
	// Offloads reports what the device does; all false when the link was
	// opened without offloads.
	Offloads() Offloads
	// ReceiveMeta is Receive with the frame's offload metadata. buf
	// should hold MaxGROFrameLen bytes when Offloads().GRO is set.
	ReceiveMeta(buf []byte) (int, RxMeta, error)
	// SendGSO transmits one frame described by g.
	SendGSO(frame []byte, g GSO) error
}

// BatchReceiver is implemented by links that can hand over several frames
// per wake-up.
type BatchReceiver interface {
	// ReceiveBatch blocks until at least one frame arrives, then reads the
	// frames already waiting, up to len(bufs), without blocking again.
	// Frame i goes into bufs[i], its length into sizes[i] and its metadata
	// into metas[i] (metas may be nil). It returns the number of frames.
	ReceiveBatch(bufs [][]byte, sizes []int, metas []RxMeta) (int, error)
}

// MaxGROFrameLen is the longest frame a link with GRO may deliver: an
// Ethernet header, two VLAN tags and the largest IPv6 packet without
// jumbogram (a 40-byte header and 65535 bytes of payload).
const MaxGROFrameLen = EthernetHeaderLen + 8 + 40 + 65535
