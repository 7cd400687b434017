package udp_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
	"github.com/featherip/featherip/wire"
)

func TestLimitedBroadcastRouting(t *testing.T) {
	n := newNet(t)
	_, r := listen(t, n.b.u, "0.0.0.0:6110", false)
	// A wildcard pcb with no interface and no default route: no way out.
	w := mustPCB(t, n.a.u)
	w.SetBroadcast(true)
	if err := w.SendTo([]byte("x"), ap("255.255.255.255:6110")); !errors.Is(err, stack.ErrNoRoute) {
		t.Errorf("limited broadcast from a wildcard pcb without interface: %v, want stack.ErrNoRoute", err)
	}
	// Bound to 10.0.0.1: leaves by that address's interface (as Linux).
	c := mustPCB(t, n.a.u)
	mustBind(t, c, "10.0.0.1:0")
	c.SetBroadcast(true)
	if err := c.SendTo([]byte("bound"), ap("255.255.255.255:6110")); err != nil {
		t.Fatalf("limited broadcast from a bound pcb: %v", err)
	}
	n.Pump()
	if len(r.data) != 1 || string(r.data[0]) != "bound" || r.infos[0].Src.Addr() != n.a.Addr {
		t.Fatalf("got %q %+v", r.data, r.infos)
	}
}

func TestTTLAndTOS(t *testing.T) {
	n := newNet(t)
	_, r := listen(t, n.b.u, "0.0.0.0:6120", false)
	c := mustPCB(t, n.a.u)
	c.SetTTL(17)
	c.SetTOS(0xb8)
	if err := c.SendTo([]byte("x"), ap("10.0.0.2:6120")); err != nil {
		t.Fatal(err)
	}
	n.Pump()
	if len(r.infos) != 1 || r.infos[0].TTL != 17 || r.infos[0].TOS != 0xb8 {
		t.Fatalf("infos %+v, want TTL 17 TOS 0xb8", r.infos)
	}
}

func TestHandleICMPErrorMapping(t *testing.T) {
	n := newNet(t)
	c := mustPCB(t, n.a.u)
	mustBind(t, c, "0.0.0.0:4000")
	if err := c.Connect(ap("10.0.0.2:53")); err != nil {
		t.Fatal(err)
	}
	var got []error
	c.OnError(func(_ *udp.PCB, err error) { got = append(got, err) })
	quote := func(sport, dport uint16) []byte {
		q := make([]byte, 8)
		binary.BigEndian.PutUint16(q[0:], sport)
		binary.BigEndian.PutUint16(q[2:], dport)
		return q
	}
	e := func(typ, code uint8) *stack.ICMPError {
		return &stack.ICMPError{Type: typ, Code: code, From: n.b.Addr, Src: n.a.Addr, Dst: n.b.Addr,
			Protocol: wire.ProtoUDP, Quoted: quote(4000, 53)}
	}
	cases := []struct {
		typ, code uint8
		want      error
	}{
		{wire.ICMPv4DestUnreachable, wire.ICMPv4PortUnreachable, udp.ErrConnRefused},
		{wire.ICMPv4DestUnreachable, wire.ICMPv4ProtoUnreachable, udp.ErrConnRefused},
		{wire.ICMPv4DestUnreachable, wire.ICMPv4HostUnreachable, udp.ErrHostUnreachable},
		{wire.ICMPv4DestUnreachable, wire.ICMPv4NetUnreachable, udp.ErrNetUnreachable},
		{wire.ICMPv4DestUnreachable, wire.ICMPv4FragNeeded, udp.ErrMessageTooLong},
		{wire.ICMPv4DestUnreachable, 13, udp.ErrHostUnreachable}, // administratively prohibited
		{wire.ICMPv4TimeExceeded, 0, udp.ErrHostUnreachable},
		{wire.ICMPv4ParamProblem, 0, udp.ErrProtocol},
	}
	for _, tc := range cases {
		got = got[:0]
		n.a.u.HandleICMPError(e(tc.typ, tc.code))
		if len(got) != 1 || !errors.Is(got[0], tc.want) {
			t.Errorf("ICMP %d/%d: got %v, want %v", tc.typ, tc.code, got, tc.want)
		}
	}
	// Errors that do not match the pcb are ignored.
	got = got[:0]
	for _, x := range []*stack.ICMPError{
		{Type: 3, Code: 3, Src: n.a.Addr, Dst: n.b.Addr, Protocol: wire.ProtoUDP, Quoted: quote(4001, 53)},
		{Type: 3, Code: 3, Src: n.a.Addr, Dst: n.b.Addr, Protocol: wire.ProtoUDP, Quoted: quote(4000, 54)},
		{Type: 3, Code: 3, Src: n.a.Addr, Dst: netip.MustParseAddr("10.0.0.3"), Protocol: wire.ProtoUDP, Quoted: quote(4000, 53)},
		{Type: 3, Code: 3, Src: netip.MustParseAddr("127.0.0.1"), Dst: n.b.Addr, Protocol: wire.ProtoUDP, Quoted: quote(4000, 53)},
		{Type: 3, Code: 3, Src: n.a.Addr, Dst: n.b.Addr, Protocol: wire.ProtoUDPLite, Quoted: quote(4000, 53)},
		{Type: 3, Code: 3, Src: n.a.Addr, Dst: n.b.Addr, Protocol: wire.ProtoUDP, Quoted: []byte{0x0f}},
		{Type: 4, Code: 0, Src: n.a.Addr, Dst: n.b.Addr, Protocol: wire.ProtoUDP, Quoted: quote(4000, 53)},
	} {
		n.a.u.HandleICMPError(x)
	}
	if len(got) != 0 {
		t.Errorf("non-matching ICMP errors delivered: %v", got)
	}
	// After Disconnect the pcb gets no errors.
	c.Disconnect()
	n.a.u.HandleICMPError(e(3, 3))
	if len(got) != 0 {
		t.Errorf("unconnected pcb got %v", got)
	}
}
