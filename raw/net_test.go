package raw_test

import (
	"net/netip"
	"testing"

	"github.com/featherip/featherip/internal/testnet"
	"github.com/featherip/featherip/raw"
)

// host is one stack of the test network with its raw protocol.
type host struct {
	*testnet.Host
	r *raw.Protocol
}

// testNet is two stacks, 10.0.0.1/24 (a) and 10.0.0.2/24 (b), on one
// Ethernet link that is pumped by hand (see internal/testnet).
type testNet struct {
	*testnet.Net
	a, b *host
}

func newNet(t testing.TB) *testNet {
	t.Helper()
	var rs []*raw.Protocol
	n := testnet.New(t, func(h *testnet.Host) {
		r, err := raw.New(h.S, raw.Config{})
		if err != nil {
			t.Fatalf("raw.New: %v", err)
		}
		rs = append(rs, r)
	})
	return &testNet{Net: n, a: &host{n.A, rs[0]}, b: &host{n.B, rs[1]}}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
