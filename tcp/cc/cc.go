// Package cc holds TCP congestion control algorithms behind a small
// interface that follows the RFC 5681 framework, so that users can plug in
// their own.
//
// The TCP core owns loss detection and recovery (RFC 6675 / RFC 6582): it
// tells the Algorithm what happened (new data acknowledged, loss detected,
// recovery finished, retransmission timeout, restart after idle) and reads
// back the congestion window and slow-start threshold, in bytes.
//
// Two algorithms are provided:
//   - NewReno: RFC 5681 slow start and congestion avoidance with appropriate
//     byte counting (RFC 3465, L = 2*SMSS), the RFC 6928 initial window and
//     the RFC 6582 window after recovery.
//   - CUBIC: RFC 9438, with its Reno-friendly region, fast convergence and
//     beta_cubic = 0.7.
//
// Algorithms never read the wall clock: time comes from Sample.Now, the
// core's injected clock. No method allocates. An Algorithm is used by one
// connection at a time and is not safe for concurrent use.
package cc

import (
	"math"
	"time"
)

// Sample describes the connection at the moment of an event.
type Sample struct {
	// Now is the current time from the core's (virtual or monotonic) clock.
	Now time.Duration
	// MSS is the current sender maximum segment size (SMSS), in bytes. When
	// zero, the value from Init or SetMSS is used.
	MSS int
	// FlightSize is the number of bytes outstanding (sent but not yet
	// cumulatively acknowledged, RFC 5681 FlightSize) before this event.
	// For OnRecoveryExit pass the amount still outstanding once the full
	// ACK has been processed (RFC 6582 section 3.2 step 3).
	FlightSize int
	// RTT is a valid round-trip time sample taken from this ACK, or 0.
	RTT time.Duration
	// MinRTT is the smallest RTT seen on the connection, or 0.
	MinRTT time.Duration
}

// Algorithm is a congestion control algorithm. All windows are in bytes.
//
// The core calls Init once, then one of the On* methods per event, and reads
// CongestionWindow and SlowStartThreshold when it decides what to send.
type Algorithm interface {
	// Name returns the algorithm's name as known to ByName.
	Name() string
	// Init resets the state for a new connection with sender MSS mss: the
	// initial window of RFC 6928, min(10*MSS, max(2*MSS, 14600)), and an
	// "infinite" slow-start threshold (RFC 5681 section 3.1).
	Init(mss int)
	// CongestionWindow returns cwnd in bytes.
	CongestionWindow() int
	// SlowStartThreshold returns ssthresh in bytes (InfiniteSSThresh until
	// the first congestion event).
	SlowStartThreshold() int
	// OnAck reports that the cumulative ACK advanced by acked bytes outside
	// loss recovery.
	OnAck(acked int, s Sample)
	// OnCongestion reports loss detected by duplicate ACKs or SACK, on
	// entering fast recovery.
	OnCongestion(s Sample)
	// OnRecoveryExit reports the full ACK that ends fast recovery.
	OnRecoveryExit(s Sample)
	// OnTimeout reports a retransmission timeout (RTO expiry).
	OnTimeout(s Sample)
	// OnIdleRestart reports that the connection sends again after being
	// idle for longer than the RTO (RFC 5681 section 4.1).
	OnIdleRestart(s Sample)
	// SetMSS changes the sender MSS (after PMTU discovery, say).
	SetMSS(mss int)
}

// InfiniteSSThresh is the "arbitrarily high" initial ssthresh of RFC 5681
// section 3.1.
const InfiniteSSThresh = math.MaxInt32

// InitialWindow returns the RFC 6928 initial window for the given SMSS:
// min(10*MSS, max(2*MSS, 14600)) bytes.
func InitialWindow(mss int) int {
	return min(10*mss, max(2*mss, 14600))
}

// Factory makes a fresh Algorithm for one connection.
type Factory func() Algorithm

// ByName returns the factory of a built-in algorithm: "reno" (also
// "newreno") or "cubic".
func ByName(name string) (Factory, bool) {
	switch name {
	case "reno", "newreno":
		return NewReno, true
	case "cubic":
		return NewCubic, true
	}
	return nil, false
}

// slowStart applies RFC 5681 slow start with appropriate byte counting
// (RFC 3465 section 2.2, L = 2*SMSS) to cwnd, never growing it beyond
// ssthresh. It returns the new cwnd and the acknowledged bytes left over for
// congestion avoidance once cwnd reached ssthresh.
func slowStart(cwnd, ssthresh, acked, mss int) (int, int) {
	inc := min(acked, 2*mss)
	if cwnd+inc <= ssthresh {
		return cwnd + inc, 0
	}
	used := max(ssthresh-cwnd, 0)
	return max(cwnd, ssthresh), acked - used
}
