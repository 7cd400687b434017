package tcp

import (
	"net/netip"
	"testing"
)

// TestDefaultBuffersHoldFourSegments: on a route with a jumbo MTU a
// connection's default buffers grow to four full-sized segments (and the
// window scale covers them); buffers the Config or SetRecvBuffer chose
// stay as chosen, and at MTU 1500 the defaults are already larger.
func TestDefaultBuffersHoldFourSegments(t *testing.T) {
	const four65535 = 4 * (65535 - 40) // four segments at the jumbo MTU's MSS
	for _, tc := range []struct {
		name           string
		mtu            int
		cfg            Config
		set            int // SetRecvBuffer before Connect, 0 for none
		wantSnd, wantR int
	}{
		{"jumbo default", 65535, Config{}, 0, four65535, max(four65535, DefaultRecvBuffer)},
		{"jumbo, Config sets", 65535, Config{RecvBuffer: 64 << 10, SendBuffer: 64 << 10}, 0, 64 << 10, 64 << 10},
		{"jumbo, SetRecvBuffer", 65535, Config{}, 64 << 10, four65535, 64 << 10},
		{"MTU 1500", 1500, Config{}, 0, DefaultSendBuffer, DefaultRecvBuffer},
	} {
		e := newEnvWith(t, tc.cfg, envOpts{mtu: tc.mtu})
		c, err := e.p.NewPCB()
		if err != nil {
			t.Fatal(err)
		}
		if tc.set != 0 {
			c.SetRecvBuffer(tc.set)
		}
		if err := c.Connect(netip.AddrPortFrom(peerIP, 80)); err != nil {
			t.Fatal(err)
		}
		syn := e.one()
		if c.SendBuffer() != tc.wantSnd || c.RecvBuffer() != tc.wantR {
			t.Errorf("%s: buffers %d to send, %d to receive; want %d, %d", tc.name, c.SendBuffer(), c.RecvBuffer(), tc.wantSnd, tc.wantR)
		}
		if !syn.opts.HasWScale || 65535<<syn.opts.WScale < c.RecvBuffer() {
			t.Errorf("%s: window scale %d cannot cover %d", tc.name, syn.opts.WScale, c.RecvBuffer())
		}
	}
}
