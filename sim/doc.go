// Package sim is featherip's deterministic network for tests and for users:
// several stacks, each with its own UDP and raw protocols, plugged into an
// in-memory learning Ethernet switch (link/ethswitch), optionally through
// fault-injection wrappers (link/fault) for loss, duplication, reordering
// and corruption, all under one virtual clock and seeded random sources.
//
// Nothing runs on its own: no goroutines, no wall clock. [Network.Run] and
// [Network.RunUntil] move frames from the links into the stacks
// ([link.Poller.TryReceive] then [stack.Stack.Input]), call
// [stack.Stack.Poll], and jump the virtual clock straight to the next
// deadline of any stack or link. An hour of virtual time with idle timers
// takes microseconds; the same seed gives the same run, frame for frame.
//
// Application code (pcb callbacks) runs inside those calls, on the caller's
// goroutine, so tests can use the stacks and pcbs directly between runs:
//
//	n, _ := sim.New(sim.Config{Seed: 1})
//	a, _ := n.AddHost(sim.HostConfig{Name: "a", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}})
//	b, _ := n.AddHost(sim.HostConfig{Name: "b", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}})
//	// ... set up pcbs on a.UDP and b.UDP, send ...
//	n.RunUntil(func() bool { return replied }, 10*time.Second)
package sim
