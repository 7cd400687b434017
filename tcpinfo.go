package featherip

import (
	"net/netip"
	"sort"

	"github.com/featherip/featherip/tcp"
)

// TCPSocketInfo describes one TCP socket of the shell (a [TCPListener] or
// a [TCPConn]) for status pages and tests.
type TCPSocketInfo struct {
	// Local and Remote are the addresses (Remote is invalid for listeners).
	Local, Remote netip.AddrPort
	// Listener is true for a TCPListener.
	Listener bool
	// State is the TCP state ("LISTEN", "ESTABLISHED", ...), "CLOSED"
	// once the pcb is gone.
	State string
	// Buffered is the number of received bytes waiting to be read
	// (conns), or of connections waiting to be accepted (listeners).
	Buffered int
	// PCB holds the connection's TCP counters (zero for listeners and
	// closed conns).
	PCB tcp.PCBStats
}

// TCPSockets lists the host's TCP listeners and connections made through
// the socket API (pcbs of the callback API are not included; see
// tcp.Protocol.NumPCBs), sorted by local then remote address.
func (h *Host) TCPSockets() []TCPSocketInfo {
	h.mu.Lock()
	var out []TCPSocketInfo
	for s := range h.socks {
		switch v := s.(type) {
		case *TCPListener:
			out = append(out, TCPSocketInfo{Local: v.laddr, Listener: true, State: tcp.Listen.String(), Buffered: len(v.queue)})
		case *TCPConn:
			info := TCPSocketInfo{Local: v.laddr, Remote: v.raddr, State: tcp.Closed.String(), Buffered: v.rb.len()}
			if v.pcb != nil {
				info.PCB = v.pcb.Stats()
				info.State = info.PCB.State.String()
			}
			out = append(out, info)
		}
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Local.Compare(out[j].Local); c != 0 {
			return c < 0
		}
		return out[i].Remote.Compare(out[j].Remote) < 0
	})
	return out
}
