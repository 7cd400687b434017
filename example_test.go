package featherip_test

import (
	"fmt"
	"net/http"
	"net/netip"

	"github.com/featherip/featherip"
	"github.com/featherip/featherip/link/tap"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/udp"
)

// A host on a TAP device serving HTTP through the standard library and UDP
// echo through the callback API. (The README shows the same code.)
func Example() {
	h, err := featherip.New(featherip.Config{})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	l, err := tap.Open(tap.Config{Name: "fip0", VnetHdr: true}) // or link/pipe, link/ethswitch in memory
	if err != nil {
		panic(err)
	}
	h.AddInterface(l, featherip.InterfaceConfig{
		Addrs:   []netip.Prefix{netip.MustParsePrefix("192.168.7.2/24")},
		Gateway: netip.MustParseAddr("192.168.7.1"),
	})

	// Go's socket interfaces: net.Listener, net.Conn, net.PacketConn.
	ln, err := h.Listen("tcp", ":80")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from featherip")
	}))

	// The callback API runs under the core lock, without goroutines.
	h.Do(func(s *stack.Stack) {
		pcb, _ := h.UDP().NewPCB()
		pcb.Bind(netip.AddrPortFrom(netip.Addr{}, 7))
		pcb.OnRecv(func(c *udp.PCB, data []byte, info *udp.RecvInfo) { c.SendTo(data, info.Src) })
	})
	select {}
}
