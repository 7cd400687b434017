package tap

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/internal/netns"
	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/wire"
)

// completeCsum fills in a partial checksum as the device would (virtio
// 1.x §5.1.6.2): the folded sum from CsumStart on, complemented, stored at
// CsumStart+CsumOffset over the pseudo-header sum already there.
func completeCsum(f []byte, m link.RxMeta) {
	if !m.CsumPartial {
		return
	}
	binary.BigEndian.PutUint16(f[m.CsumStart+m.CsumOffset:], wire.Checksum(f[m.CsumStart:], 0))
}

var (
	vnetKernIP = netip.MustParseAddr("192.168.7.1")
	vnetOurIP  = netip.MustParseAddr("192.168.7.2")
)

// tcpFrame builds an Ethernet/IPv4/TCP frame from us to the kernel with a
// complete checksum, or with the partial (pseudo-header) one when partial.
func tcpFrame(l *Link, h wire.TCPHeader, opts []byte, data []byte, partial bool) []byte {
	h.SrcPort, h.DstPort = 40000, 5001
	h.OptionsLen = len(opts)
	tl := wire.TCPMinHeaderLen + len(opts) + len(data)
	f := make([]byte, 14+20+tl)
	wire.PutEthernet(f, wire.MAC(l.KernelAddr()), wire.MAC(l.HardwareAddr()), wire.EtherTypeIPv4)
	ip := wire.IPv4Header{TotalLength: 20 + tl, ID: 1, TTL: 64, Protocol: wire.ProtoTCP, Src: vnetOurIP, Dst: vnetKernIP, Flags: wire.IPv4FlagDF}
	ip.Encode(f[14:])
	seg := f[34:]
	h.Encode(seg)
	copy(seg[20:], opts)
	copy(seg[20+len(opts):], data)
	if partial {
		binary.BigEndian.PutUint16(seg[16:], ^wire.Fold(wire.PseudoHeaderSum(vnetOurIP, vnetKernIP, wire.ProtoTCP, tl)))
	} else {
		wire.SetTCPChecksum(seg, vnetOurIP, vnetKernIP)
	}
	return f
}

// rxTCP is a received TCP segment from the kernel, checksum completed.
type rxTCP struct {
	seq, ack uint32
	flags    uint8
	data     []byte
	meta     link.RxMeta
	frameLen int
}

// readTCP returns the next TCP segment from the kernel's port 5001, after
// checking (and, when partial, completing) its checksum.
func readTCP(t *testing.T, l *Link, buf []byte, deadline time.Time) rxTCP {
	t.Helper()
	for time.Now().Before(deadline) {
		n, m, err := l.ReceiveMeta(buf)
		if err != nil {
			t.Fatalf("ReceiveMeta: %v", err)
		}
		f := buf[:n]
		if n < 54 || binary.BigEndian.Uint16(f[12:]) != wire.EtherTypeIPv4 || f[23] != wire.ProtoTCP {
			continue
		}
		ipv, err := wire.ParseIPv4(f[14:])
		if err != nil || !ipv.ChecksumValid() {
			t.Fatalf("bad IPv4 header from the kernel: %v", err)
		}
		if m.CsumPartial && m.CsumStart != 34 || m.CsumPartial && m.CsumOffset != 16 {
			t.Fatalf("partial checksum at %d+%d, want 34+16", m.CsumStart, m.CsumOffset)
		}
		completeCsum(f, m)
		seg, err := wire.ParseTCP(ipv.Payload())
		if err != nil || !seg.ChecksumValid(vnetKernIP, vnetOurIP) {
			t.Fatalf("TCP segment with a bad checksum after completion (meta %+v): %v", m, err)
		}
		if seg.SrcPort() != 5001 {
			continue
		}
		return rxTCP{seq: seg.Seq(), ack: seg.Ack(), flags: seg.Flags(), data: append([]byte(nil), seg.Payload()...), meta: m, frameLen: n}
	}
	t.Fatal("no TCP segment from the kernel in time")
	return rxTCP{}
}

// TestVnetTCPOffloads speaks TCP with the kernel by hand over a TAP with a
// virtio-net header: the kernel's segments arrive with partial checksums
// that complete to valid ones, its bulk data arrives coalesced (TSO from
// the kernel's side, GRO for us) in frames longer than the MTU, and a
// super-frame we send is segmented or taken whole by the kernel (TSO).
func TestVnetTCPOffloads(t *testing.T) {
	ns := netns.New(t)
	l, err := openIn(t, ns, Config{Name: "fipv0", VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	off := l.Offloads()
	if !off.RxChecksum || !off.TxChecksum || !off.GRO || off.GSOMaxSize < 60000 {
		t.Fatalf("offloads %+v", off)
	}
	ns.Run("ip", "addr", "add", "192.168.7.1/24", "dev", "fipv0")
	ns.Run("ip", "neigh", "replace", "192.168.7.2", "lladdr", l.HardwareAddr().String(), "dev", "fipv0", "nud", "permanent")
	var ln net.Listener
	if err := ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", "192.168.7.1:5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	buf := make([]byte, link.MaxGROFrameLen)
	deadline := time.Now().Add(10 * time.Second)
	const iss = 1000
	mss := []byte{2, 4, 0x05, 0xb4} // MSS 1460
	if err := l.Send(tcpFrame(l, wire.TCPHeader{Seq: iss, Flags: wire.TCPFlagSYN, Window: 65535}, mss, nil, false)); err != nil {
		t.Fatal(err)
	}
	synack := readTCP(t, l, buf, deadline)
	if synack.flags != wire.TCPFlagSYN|wire.TCPFlagACK || synack.ack != iss+1 {
		t.Fatalf("want SYN-ACK, got flags %#x ack %d", synack.flags, synack.ack)
	}
	rcvNxt := synack.seq + 1
	sndNxt := uint32(iss + 1)
	l.Send(tcpFrame(l, wire.TCPHeader{Seq: sndNxt, Ack: rcvNxt, Flags: wire.TCPFlagACK, Window: 65535}, nil, nil, false))
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("kernel did not accept")
	}
	defer conn.Close()

	// Our super-frame: 3.5 segments of 1000 bytes, partial checksum.
	out := make([]byte, 3500)
	for i := range out {
		out[i] = byte(rand.Uint32())
	}
	f := tcpFrame(l, wire.TCPHeader{Seq: sndNxt, Ack: rcvNxt, Flags: wire.TCPFlagACK | wire.TCPFlagPSH, Window: 65535}, nil, out, true)
	if err := l.SendGSO(f, link.GSO{Type: link.GSOTCPv4, HdrLen: 54, Size: 1000, CsumStart: 34, CsumOffset: 16}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(out))
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, out) {
		t.Fatalf("kernel read %v; data equal %v", err, bytes.Equal(got, out))
	}
	sndNxt += uint32(len(out))
	if st := l.Stats(); st.GSOSent != 1 {
		t.Fatalf("GSOSent %d", st.GSOSent)
	}

	// The kernel's bulk data: coalesced frames longer than the MTU.
	in := make([]byte, 60000)
	for i := range in {
		in[i] = byte(rand.Uint32())
	}
	go conn.Write(in)
	var recv []byte
	sawGRO := false
	for len(recv) < len(in) {
		s := readTCP(t, l, buf, deadline)
		if s.meta.GSO != link.GSONone {
			if s.meta.GSO != link.GSOTCPv4 || s.meta.GSOSize <= 0 || s.meta.GSOSize > 1460 {
				t.Fatalf("GRO meta %+v", s.meta)
			}
			if s.frameLen > 1514 {
				sawGRO = true
			}
		}
		if s.seq == rcvNxt {
			recv = append(recv, s.data...)
			rcvNxt += uint32(len(s.data))
		}
		l.Send(tcpFrame(l, wire.TCPHeader{Seq: sndNxt, Ack: rcvNxt, Flags: wire.TCPFlagACK, Window: 65535}, nil, nil, false))
	}
	if !bytes.Equal(recv, in) {
		t.Fatal("data from the kernel differs")
	}
	if !sawGRO {
		t.Fatal("no coalesced frame longer than the MTU from the kernel")
	}
	st := l.Stats()
	if st.GROReceived == 0 || st.CsumPartialIn == 0 || st.BadVnetHdr != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Close unblocks and later calls fail cleanly.
	l.Close()
	if _, _, err := l.ReceiveMeta(buf); err != link.ErrClosed {
		t.Fatalf("ReceiveMeta after Close: %v", err)
	}
	if err := l.SendGSO(f, link.GSO{Type: link.GSOTCPv4, HdrLen: 54, Size: 1000}); err != link.ErrClosed {
		t.Fatalf("SendGSO after Close: %v", err)
	}
}

// TestVnetPlainLinkAndBatch checks that a vnet link works through plain
// Send/Receive (the header is hidden) and that ReceiveBatch returns several
// frames from one wake-up.
func TestVnetPlainLinkAndBatch(t *testing.T) {
	ns := netns.New(t)
	l, err := openIn(t, ns, Config{Name: "fipv1", VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Run("ip", "addr", "add", "192.168.7.1/24", "dev", "fipv1")
	ns.Run("ip", "neigh", "replace", "192.168.7.2", "lladdr", l.HardwareAddr().String(), "dev", "fipv1", "nud", "permanent")
	// Non-GSO SendGSO needs no vnet header when checksums are complete;
	// on a plain link partial checksums are refused.
	plain, err := openIn(t, ns, Config{Name: "fipv2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.SendGSO(make([]byte, 60), link.GSO{Type: link.GSOTCPv4, HdrLen: 54, Size: 1000}); err == nil {
		t.Fatal("GSO on a link without vnet header accepted")
	}
	if off := plain.Offloads(); off != (link.Offloads{}) {
		t.Fatalf("plain link offloads %+v", off)
	}
	// ARP through plain Send/Receive on the vnet link.
	if err := l.Send(arpRequest(l.HardwareAddr(), net.IPv4(192, 168, 7, 2), net.IPv4(192, 168, 7, 1))); err != nil {
		t.Fatal(err)
	}
	// The kernel sends 20 UDP datagrams at once; a batch read gets more
	// than one, each with a checksum that completes to a valid one.
	if err := ns.Do(func() error {
		c, err := net.Dial("udp4", "192.168.7.2:9")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 20; i++ {
			c.Write(bytes.Repeat([]byte{byte(i)}, 100+i))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, 32)
	for i := range bufs {
		bufs[i] = make([]byte, link.MaxGROFrameLen)
	}
	sizes := make([]int, 32)
	metas := make([]link.RxMeta, 32)
	udp, maxBatch, sawARP := 0, 0, false
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			l.Close()
		}
	}()
	for udp < 20 {
		n, err := l.ReceiveBatch(bufs, sizes, metas)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", udp, err)
		}
		maxBatch = max(maxBatch, n)
		for i := 0; i < n; i++ {
			f := bufs[i][:sizes[i]]
			if binary.BigEndian.Uint16(f[12:]) == 0x0806 {
				sawARP = true
				continue
			}
			if binary.BigEndian.Uint16(f[12:]) != wire.EtherTypeIPv4 || f[23] != wire.ProtoUDP {
				continue
			}
			completeCsum(f, metas[i])
			ipv, _ := wire.ParseIPv4(f[14:])
			if wire.Checksum(ipv.Payload(), wire.PseudoHeaderSum(vnetKernIP, vnetOurIP, wire.ProtoUDP, len(ipv.Payload()))) != 0 {
				t.Fatalf("UDP datagram with a bad checksum (meta %+v)", metas[i])
			}
			if len(ipv.Payload()) != 8+100+udp {
				t.Fatalf("datagram %d: %d bytes", udp, len(ipv.Payload()))
			}
			udp++
		}
	}
	if !sawARP {
		t.Error("no ARP reply through the vnet link")
	}
	if maxBatch < 2 {
		t.Errorf("ReceiveBatch never returned more than one frame (max %d)", maxBatch)
	}
	// Plain Receive completes a partial checksum itself.
	partialBefore := l.Stats().CsumPartialIn
	ns.Do(func() error {
		c, err := net.Dial("udp4", "192.168.7.2:9")
		if err == nil {
			c.Write([]byte("plain receive"))
			c.Close()
		}
		return err
	})
	for {
		n, err := l.Receive(bufs[0])
		if err != nil {
			t.Fatal(err)
		}
		f := bufs[0][:n]
		if binary.BigEndian.Uint16(f[12:]) != wire.EtherTypeIPv4 || f[23] != wire.ProtoUDP {
			continue
		}
		ipv, _ := wire.ParseIPv4(f[14:])
		if wire.Checksum(ipv.Payload(), wire.PseudoHeaderSum(vnetKernIP, vnetOurIP, wire.ProtoUDP, len(ipv.Payload()))) != 0 {
			t.Fatal("plain Receive returned a partial checksum")
		}
		if l.Stats().CsumPartialIn == partialBefore {
			t.Log("the kernel sent a complete checksum; completion path not exercised")
		}
		break
	}
}
