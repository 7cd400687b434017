package interop

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/featherip/featherip/stack"
)

// TestV6PingLinuxToFeatherip: `ping -6` from Linux to featherip's
// link-local address (with the %fip0 zone) and to its static global
// address, with 56 bytes and with 4000 (fragmented both ways: Linux
// fragments the request, featherip the reply, RFC 8200 4.5), all
// answered with the right data.
func TestV6PingLinuxToFeatherip(t *testing.T) {
	requireTool(t, "ping", "iputils-ping")
	e := setup6(t, v6Options{})
	ll := e.linkLocal(t)
	t.Logf("featherip's link-local address: %v", ll)
	for _, dst := range []string{ll.String() + "%" + tapName, featherIP6} {
		for _, size := range []int{56, 4000} {
			ping6(t, e.ns, dst, size)
		}
	}
	var st stack.Stats
	e.host.Do(func(s *stack.Stack) { st = s.Stats() })
	if st.ICMPv6.InEchos < 16 || st.ICMPv6.OutEchoReplies < 16 {
		t.Errorf("ICMPv6 InEchos %d OutEchoReplies %d, want >= 16", st.ICMPv6.InEchos, st.ICMPv6.OutEchoReplies)
	}
	if st.IPv6.ReasmOKs < 8 || st.IPv6.FragOKs < 8 {
		t.Errorf("IPv6 ReasmOKs %d FragOKs %d, want >= 8 each (the 4000-byte pings)", st.IPv6.ReasmOKs, st.IPv6.FragOKs)
	}
	if mac := kernelNeighborMAC(e.ns, featherIP6); mac != e.tap.HardwareAddr().String() {
		t.Errorf("the kernel resolved %s to %q, want featherip's %v", featherIP6, mac, e.tap.HardwareAddr())
	}
}

// TestV6PingFeatheripToLinux: featherip sends ICMPv6 echo requests of 56
// and 4000 bytes (fragmented) to the kernel's global and link-local
// addresses through a raw ICMPv6 pcb; each reply carries the same data.
func TestV6PingFeatheripToLinux(t *testing.T) {
	e := setup6(t, v6Options{})
	e.linkLocal(t)
	kll := kernelLinkLocal(t, e)
	p := newPinger6(t, e)
	seq := uint16(0)
	for _, dst := range []netip.Addr{netip.MustParseAddr(kernelIP6), kll} {
		for _, size := range []int{56, 4000} {
			for i := 0; i < 3; i++ {
				seq++
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				err := p.ping(ctx, dst, seq, size)
				cancel()
				if err != nil {
					t.Fatalf("featherip pings %v with %d bytes (#%d): %v", dst, size, i, err)
				}
			}
		}
	}
	var st stack.Stats
	e.host.Do(func(s *stack.Stack) { st = s.Stats() })
	if st.IPv6.FragOKs < 6 || st.IPv6.ReasmOKs < 6 {
		t.Errorf("IPv6 FragOKs %d ReasmOKs %d, want >= 6 each (the 4000-byte pings)", st.IPv6.FragOKs, st.IPv6.ReasmOKs)
	}
}

// kernelLinkLocal returns the kernel side's link-local address (with the
// zone featherip's stack expects none of: the pcb sends on the only link).
func kernelLinkLocal(t *testing.T, e *env6) netip.Addr {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := e.ns.Try("ip", "-6", "-o", "addr", "show", "dev", tapName, "scope", "link")
		if m := llRe.FindStringSubmatch(string(out)); m != nil && !containsWord(string(out), "tentative") {
			return netip.MustParseAddr(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel has no usable link-local address on %s: %s", tapName, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
