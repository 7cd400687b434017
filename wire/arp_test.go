package wire

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func TestPutARPGopacket(t *testing.T) {
	for _, op := range []uint16{ARPRequest, ARPReply} {
		b := make([]byte, ARPLen)
		PutARP(b, op, testMAC1, testSrc4, MAC{}, testDst4)
		p := decode(t, b, layers.LayerTypeARP)
		a := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if a.Operation != op || a.AddrType != layers.LinkTypeEthernet || a.Protocol != layers.EthernetTypeIPv4 ||
			!bytes.Equal(a.SourceHwAddress, testMAC1[:]) || !bytes.Equal(a.SourceProtAddress, testSrc4.AsSlice()) ||
			!bytes.Equal(a.DstHwAddress, make([]byte, 6)) || !bytes.Equal(a.DstProtAddress, testDst4.AsSlice()) {
			t.Errorf("gopacket sees %+v", a)
		}
	}
}

func TestParseARPGopacket(t *testing.T) {
	ga := &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPReply, SourceHwAddress: net.HardwareAddr(testMAC2[:]), SourceProtAddress: testDst4.AsSlice(),
		DstHwAddress: net.HardwareAddr(testMAC1[:]), DstProtAddress: testSrc4.AsSlice(),
	}
	b := serialize(t, ga)
	b = append(b, make([]byte, 18)...) // Ethernet padding is ignored
	a, err := ParseARP(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.Op() != ARPReply || a.SenderMAC() != testMAC2 || a.SenderIP() != testDst4 || a.TargetMAC() != testMAC1 || a.TargetIP() != testSrc4 {
		t.Errorf("parsed %d %v %v %v %v", a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
	}
	if len(a.Bytes()) != ARPLen {
		t.Errorf("Bytes len %d", len(a.Bytes()))
	}
	// Round trip: rebuilding from the accessors gives the same bytes.
	c := make([]byte, ARPLen)
	PutARP(c, a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
	if !bytes.Equal(c, b[:ARPLen]) {
		t.Errorf("round trip\n%x\n%x", c, b[:ARPLen])
	}
	checkShort(t, b, ARPLen, ErrTooShort, func(b []byte) error { _, err := ParseARP(b); return err })
}

func TestParseARPUnsupported(t *testing.T) {
	good := make([]byte, ARPLen)
	PutARP(good, ARPRequest, testMAC1, testSrc4, MAC{}, testDst4)
	for _, tc := range []struct {
		name string
		off  int
		val  byte
	}{{"htype", 1, 6}, {"ptype", 2, 0x86}, {"hlen", 4, 8}, {"plen", 5, 16}} {
		b := append([]byte(nil), good...)
		b[tc.off] = tc.val
		if _, err := ParseARP(b); err != ErrUnsupported {
			t.Errorf("%s: got %v, want ErrUnsupported", tc.name, err)
		}
	}
}

func TestARPZeroAllocs(t *testing.T) {
	b := make([]byte, ARPLen)
	var sink netip.Addr
	checkZeroAllocs(t, "build", func() { PutARP(b, ARPRequest, testMAC1, testSrc4, MAC{}, testDst4) })
	checkZeroAllocs(t, "parse", func() {
		a, err := ParseARP(b)
		if err != nil {
			panic(err)
		}
		sink = a.TargetIP()
		_ = a.SenderMAC()
	})
	_ = sink
}
