package bench

import (
	"errors"
	"testing"
)

// API names the socket API a TCP figure uses.
type API int

const (
	// APICallback is featherip's callback API (tcp PCB OnRecv/OnSent);
	// for gVisor, its event-driven tcpip.Endpoint API with waiter queues,
	// which is what gVisor offers below net.Conn.
	APICallback API = iota
	// APINetConn is the blocking net.Conn API: featherip's concurrent
	// shell, gVisor's gonet.TCPConn.
	APINetConn
)

// String names the API as the report does.
func (a API) String() string {
	if a == APINetConn {
		return "net.Conn"
	}
	return "callback"
}

// ErrNotYetMeasured is what a stack returns for a figure it cannot run
// yet; the report prints "not yet measured" for it, never a number.
var ErrNotYetMeasured = errors.New("not yet measured")

// TCPStack is what the TCP figures need from a stack. GvTCP
// and FipTCP implement it.
type TCPStack interface {
	// Bulk returns a benchmark of one-way bulk transfer over conns
	// connections at the given IP MTU: one op is one 64 KiB chunk
	// written by a sender and read by the receiver (b.SetBytes).
	Bulk(mtu, conns int, api API) (func(*testing.B), error)
	// ConnSetup returns a benchmark whose op is one connection set up
	// (connect and accept) and torn down: both ends closed, the server
	// first, and the timer stops when every FIN exchange is over (the
	// server's end in TIME_WAIT or closed, the client's closed).
	ConnSetup() (func(*testing.B), error)
	// IdleConns establishes n connections and reports the heap each costs
	// (both ends, in bytes, HeapAlloc after GC).
	IdleConns(n int) (float64, error)
	// RR times n 1-byte request/response exchanges on one connection.
	RR(api API, n int) (Latency, error)
}

// bulkChunk is the bytes one bulk op moves.
const bulkChunk = 64 << 10

// tcpPort is the port the TCP figures' servers listen on.
const tcpPort = 5001

// reportLinkStats adds the link's dropped frames and the retransmitted
// segments of a TCP run to the benchmark result: a lossless in-memory link
// should show none, and the report flags runs that do.
func reportLinkStats(b *testing.B, drops, retrans uint64) {
	b.ReportMetric(float64(drops), "linkdrops")
	b.ReportMetric(float64(retrans), "retrans")
}
