package stack

import (
	"testing"

	"github.com/featherip/featherip/wire"
)

// TestTransportTable registers, unregisters and re-registers transports
// and checks each protocol maps to its own, freed slots are reused, and
// the rules (one per protocol, none for ICMP or ProtoAny) hold.
func TestTransportTable(t *testing.T) {
	e := newEnv(t, nil)
	a, b, c := &stubTransport{}, &stubTransport{}, &stubTransport{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.s.RegisterTransport(wire.ProtoUDP, a))
	must(e.s.RegisterTransport(wire.ProtoTCP, b))
	if err := e.s.RegisterTransport(wire.ProtoUDP, c); err != ErrExists {
		t.Fatalf("second UDP transport: %v", err)
	}
	if err := e.s.RegisterTransport(wire.ProtoICMP, c); err != ErrExists {
		t.Fatalf("ICMP transport: %v", err)
	}
	if err := e.s.RegisterTransport(ProtoAny, c); err != ErrInvalid {
		t.Fatalf("ProtoAny transport: %v", err)
	}
	must(e.s.UnregisterTransport(wire.ProtoUDP))
	if err := e.s.UnregisterTransport(wire.ProtoUDP); err != ErrNotFound {
		t.Fatalf("unregistering twice: %v", err)
	}
	must(e.s.RegisterTransport(132, c))
	if len(e.s.tlist) != 2 {
		t.Fatalf("freed slot not reused: %d slots", len(e.s.tlist))
	}
	for _, x := range []struct {
		proto uint8
		want  Transport
	}{{wire.ProtoUDP, nil}, {wire.ProtoTCP, b}, {132, c}, {0, nil}, {255, nil}} {
		if got := e.s.transport(x.proto); got != x.want {
			t.Errorf("transport(%d) = %v, want %v", x.proto, got, x.want)
		}
	}
	must(e.s.RegisterTransport(wire.ProtoUDP, a))
	if e.s.transport(wire.ProtoUDP) != a || e.s.transport(132) != c || e.s.transport(wire.ProtoTCP) != b {
		t.Fatal("re-registered UDP disturbed the others")
	}
}

// orderRaw records the order in which raw handlers see a datagram.
type orderRaw struct {
	name string
	log  *[]string
}

func (r *orderRaw) DeliverRaw(*Packet) { *r.log = append(*r.log, r.name) }

// TestRawHandlerOrder checks a datagram reaches its protocol's raw
// handlers, then ProtoAny's, each in registration order, and that removed
// handlers see nothing.
func TestRawHandlerOrder(t *testing.T) {
	e := newEnv(t, nil)
	var log []string
	h := func(n string) *orderRaw { return &orderRaw{n, &log} }
	any1, udp1, tcp1, udp2, any2 := h("any1"), h("udp1"), h("tcp1"), h("udp2"), h("any2")
	e.s.AddRawHandler(ProtoAny, any1)
	e.s.AddRawHandler(wire.ProtoUDP, udp1)
	e.s.AddRawHandler(wire.ProtoTCP, tcp1)
	e.s.AddRawHandler(wire.ProtoUDP, udp2)
	e.s.AddRawHandler(ProtoAny, any2)
	check := func(proto uint8, want string) {
		t.Helper()
		log = log[:0]
		got := e.s.deliverRaw(&Packet{Protocol: proto})
		s := ""
		for _, n := range log {
			s += n + " "
		}
		if s != want || got != (want != "") {
			t.Fatalf("protocol %d: %q (%v), want %q", proto, s, got, want)
		}
	}
	check(wire.ProtoUDP, "udp1 udp2 any1 any2 ")
	check(wire.ProtoTCP, "tcp1 any1 any2 ")
	check(ProtoAny, "any1 any2 ")
	e.s.RemoveRawHandler(wire.ProtoUDP, udp1)
	e.s.RemoveRawHandler(wire.ProtoTCP, udp2) // wrong protocol: stays
	e.s.RemoveRawHandler(ProtoAny, any1)
	check(wire.ProtoUDP, "udp2 any2 ")
	e.s.RemoveRawHandler(wire.ProtoUDP, udp2)
	e.s.RemoveRawHandler(ProtoAny, any2)
	e.s.RemoveRawHandler(wire.ProtoTCP, tcp1)
	check(wire.ProtoUDP, "")
}
