package tcp

import (
	"testing"

	"github.com/featherip/featherip/tcp/cc"
)

// TestDefaultCCEmbedded checks that a connection with the default
// congestion control (CUBIC) keeps its state inside the PCB, initialised
// as cc.NewCubic would (fast convergence on), and that another algorithm
// by name still gets its own.
func TestDefaultCCEmbedded(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.dial(synOpts(), 1000)
	if k.c.cc != &k.c.cubic {
		t.Fatalf("default congestion control %T is not the PCB's embedded CUBIC", k.c.cc)
	}
	if !k.c.cubic.FastConvergence || k.c.cc.Name() != "cubic" || k.c.cc.CongestionWindow() != cc.InitialWindow(k.c.sndMSS) {
		t.Fatalf("embedded CUBIC: fast convergence %v, name %q, cwnd %d (want %d)",
			k.c.cubic.FastConvergence, k.c.cc.Name(), k.c.cc.CongestionWindow(), cc.InitialWindow(k.c.sndMSS))
	}
	e2 := newEnv(t, Config{CongestionControl: "reno"})
	k2 := e2.dial(synOpts(), 1000)
	if k2.c.cc == &k2.c.cubic || k2.c.cc.Name() != "reno" {
		t.Fatalf("reno connection got %T %q", k2.c.cc, k2.c.cc.Name())
	}
}
