package udp_test

import (
	"net/netip"
	"testing"

	"github.com/featherip/featherip/internal/testnet"
	"github.com/featherip/featherip/udp"
)

// vclock is a virtual clock the test advances by hand.
type vclock = testnet.Clock

// host is one stack of the test network with its UDP protocol.
type host struct {
	*testnet.Host
	u *udp.Protocol
}

// testNet is two stacks, 10.0.0.1/24 (a) and 10.0.0.2/24 (b), on one
// Ethernet link that is pumped by hand (see internal/testnet).
type testNet struct {
	*testnet.Net
	a, b *host
}

func newNet(t testing.TB) *testNet { return newNetCfg(t, udp.Config{}) }

func newNetCfg(t testing.TB, ucfg udp.Config) *testNet {
	t.Helper()
	var us []*udp.Protocol
	n := testnet.New(t, func(h *testnet.Host) {
		u, err := udp.New(h.S, ucfg)
		if err != nil {
			t.Fatalf("udp.New: %v", err)
		}
		us = append(us, u)
	})
	return &testNet{Net: n, a: &host{n.A, us[0]}, b: &host{n.B, us[1]}}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// udpOffset returns the offset of the UDP header in an Ethernet frame
// carrying an unfragmented IPv4 UDP or UDP-Lite datagram, or -1.
func udpOffset(frame []byte, proto uint8) int { return testnet.UDPOffset(frame, proto) }
