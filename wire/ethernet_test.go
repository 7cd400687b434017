package wire

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestParseEthernetGopacket(t *testing.T) {
	payload := []byte("hello, ethernet payload that is longer than the 46-byte minimum")
	tests := []struct {
		name    string
		tags    []*layers.Dot1Q
		outerTP layers.EthernetType
		wantVID uint16
		wantTag bool
		hdrLen  int
	}{
		{name: "untagged", hdrLen: 14},
		{name: "dot1q", tags: []*layers.Dot1Q{{VLANIdentifier: 42, Priority: 5}}, outerTP: layers.EthernetTypeDot1Q, wantVID: 42, wantTag: true, hdrLen: 18},
		{name: "qinq", tags: []*layers.Dot1Q{{VLANIdentifier: 100}, {VLANIdentifier: 4095}}, outerTP: layers.EthernetTypeQinQ, wantVID: 100, wantTag: true, hdrLen: 22},
		{name: "double-8100", tags: []*layers.Dot1Q{{VLANIdentifier: 7}, {VLANIdentifier: 8}}, outerTP: layers.EthernetTypeDot1Q, wantVID: 7, wantTag: true, hdrLen: 22},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(testMAC1[:]), DstMAC: net.HardwareAddr(testMAC2[:]), EthernetType: layers.EthernetTypeIPv4}
			ls := []gopacket.SerializableLayer{eth}
			if len(tc.tags) > 0 {
				eth.EthernetType = tc.outerTP
				for i, tag := range tc.tags {
					tag.Type = layers.EthernetTypeDot1Q
					if i == len(tc.tags)-1 {
						tag.Type = layers.EthernetTypeIPv4
					}
					ls = append(ls, tag)
				}
			}
			ls = append(ls, gopacket.Payload(payload))
			frame := serialize(t, ls...)
			e, err := ParseEthernet(frame)
			if err != nil {
				t.Fatal(err)
			}
			if e.Src() != testMAC1 || e.Dst() != testMAC2 {
				t.Errorf("addrs %v %v", e.Src(), e.Dst())
			}
			if e.EtherType() != EtherTypeIPv4 {
				t.Errorf("EtherType %#x", e.EtherType())
			}
			if e.HeaderLen() != tc.hdrLen {
				t.Errorf("HeaderLen %d, want %d", e.HeaderLen(), tc.hdrLen)
			}
			id, ok := e.VLAN()
			if id != tc.wantVID || ok != tc.wantTag {
				t.Errorf("VLAN %d %v, want %d %v", id, ok, tc.wantVID, tc.wantTag)
			}
			if !bytes.Equal(e.Payload(), payload) {
				t.Errorf("payload %q", e.Payload())
			}
			// Every prefix shorter than the header is rejected.
			checkShort(t, frame, tc.hdrLen, ErrTooShort, func(b []byte) error { _, err := ParseEthernet(b); return err })
		})
	}
}

func TestPutEthernetRoundTrip(t *testing.T) {
	b := make([]byte, 64)
	PutEthernet(b, BroadcastMAC, testMAC1, EtherTypeARP)
	p := decode(t, b, layers.LayerTypeEthernet)
	ge := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if ge.DstMAC.String() != "ff:ff:ff:ff:ff:ff" || ge.SrcMAC.String() != testMAC1.String() || ge.EthernetType != layers.EthernetTypeARP {
		t.Errorf("gopacket sees %v %v %v", ge.DstMAC, ge.SrcMAC, ge.EthernetType)
	}
	e, err := ParseEthernet(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dst() != BroadcastMAC || e.Src() != testMAC1 || e.EtherType() != EtherTypeARP || len(e.Payload()) != 50 {
		t.Errorf("round trip: %v %v %#x %d", e.Dst(), e.Src(), e.EtherType(), len(e.Payload()))
	}
	if _, ok := e.VLAN(); ok {
		t.Error("untagged frame reports a VLAN")
	}
}

func TestMAC(t *testing.T) {
	for _, m := range []MAC{testMAC1, BroadcastMAC, {0xde, 0xad, 0xbe, 0xef, 0x0a, 0x9b}, {}} {
		if got, want := m.String(), net.HardwareAddr(m[:]).String(); got != want {
			t.Errorf("String %q, want %q", got, want)
		}
	}
	if !BroadcastMAC.IsBroadcast() || !BroadcastMAC.IsMulticast() {
		t.Error("broadcast flags")
	}
	if testMAC1.IsMulticast() || testMAC1.IsBroadcast() {
		t.Error("unicast reported as group")
	}
	mc := MAC{0x01, 0x00, 0x5e, 0, 0, 1}
	if !mc.IsMulticast() || mc.IsBroadcast() {
		t.Error("multicast flags")
	}
}

func TestIPv4MulticastMAC(t *testing.T) {
	for _, tc := range []struct {
		g    string
		want MAC
	}{
		{"224.0.0.1", MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}},
		{"224.0.0.251", MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}},
		{"239.255.255.250", MAC{0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa}},
		{"224.128.1.2", MAC{0x01, 0x00, 0x5e, 0x00, 0x01, 0x02}}, // bit 24 dropped
	} {
		if got := IPv4MulticastMAC(netip.MustParseAddr(tc.g)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.g, got, tc.want)
		}
	}
}

func TestEthernetZeroAllocs(t *testing.T) {
	b := make([]byte, 60)
	PutEthernet(b, testMAC2, testMAC1, EtherTypeIPv4)
	var sink uint16
	checkZeroAllocs(t, "parse", func() {
		e, err := ParseEthernet(b)
		if err != nil {
			panic(err)
		}
		id, _ := e.VLAN()
		sink += e.EtherType() + id + uint16(e.Dst()[0]) + uint16(len(e.Payload()))
	})
	checkZeroAllocs(t, "build", func() { PutEthernet(b, testMAC2, testMAC1, EtherTypeIPv4) })
	checkZeroAllocs(t, "mcastmac", func() { sink += uint16(IPv4MulticastMAC(testDst4)[5]) })
	_ = sink
}
