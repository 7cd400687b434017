// Package rtt implements the TCP retransmission timer computation of RFC 6298
// ("Computing TCP's Retransmission Timer").
//
// An Estimator keeps SRTT and RTTVAR and derives the retransmission timeout
// (RTO) from them, clamped to the [min, max] range of a Bounds, with the
// exponential backoff of RFC 6298 section 5.5. The Bounds are configuration
// shared by every connection of a protocol instance, so an Estimator (one per
// connection) holds only the per-connection state. It holds no clock: the caller
// measures round-trip times with its own (injected) clock and passes them to
// Sample.
//
// Karn's algorithm (RFC 6298 section 3, [KP87]) is the caller's job: RTT
// samples MUST NOT be taken from segments that were retransmitted (unless the
// TCP timestamps option, RFC 7323, disambiguates the echo). The Estimator
// trusts every sample it is given.
//
// All arithmetic is integer nanoseconds (time.Duration); Estimator and Bounds
// are small value types with no allocation and no global state.
package rtt

import "time"

// Default values, used by NewBounds when an argument is zero or negative.
const (
	// DefaultMinRTO is the lower bound the core uses (Linux's 200 ms; RFC 6298
	// 2.4 suggests 1 s, which modern stacks relax).
	DefaultMinRTO = 200 * time.Millisecond
	// DefaultMaxRTO is the upper bound (RFC 6298 2.5: at least 60 s).
	DefaultMaxRTO = 60 * time.Second
	// DefaultInitialRTO is the RTO before any sample (RFC 6298 2.1: 1 s).
	DefaultInitialRTO = time.Second
	// DefaultGranularity is the clock granularity G of RFC 6298 section 2.
	DefaultGranularity = time.Millisecond
	// K is the RTTVAR multiplier of RFC 6298 (2.2, 2.3).
	K = 4
)

// maxShift bounds the backoff exponent so that shifting never overflows.
const maxShift = 30

// Bounds is the configuration of RTO computation: the [min, max] range, the
// RTO before the first sample, and the clock granularity G. Build one with
// NewBounds.
type Bounds struct {
	minRTO, maxRTO time.Duration
	initialRTO     time.Duration
	g              time.Duration
}

// NewBounds returns Bounds whose RTO is initialRTO until the first sample
// (RFC 6298 2.1) and is always kept within [minRTO, maxRTO] (RFC 6298 2.4,
// 2.5). A zero or negative argument selects the corresponding default
// (DefaultMinRTO, DefaultMaxRTO, DefaultInitialRTO). If maxRTO < minRTO,
// maxRTO is raised to minRTO. The clock granularity G is DefaultGranularity
// (1 ms); change it with SetGranularity.
func NewBounds(minRTO, maxRTO, initialRTO time.Duration) Bounds {
	if minRTO <= 0 {
		minRTO = DefaultMinRTO
	}
	if maxRTO <= 0 {
		maxRTO = DefaultMaxRTO
	}
	if maxRTO < minRTO {
		maxRTO = minRTO
	}
	if initialRTO <= 0 {
		initialRTO = DefaultInitialRTO
	}
	return Bounds{minRTO: minRTO, maxRTO: maxRTO, initialRTO: initialRTO, g: DefaultGranularity}
}

// SetGranularity sets the clock granularity G used in RFC 6298 (2.2) and
// (2.3): RTO = SRTT + max(G, K*RTTVAR). A zero or negative g selects
// DefaultGranularity.
func (b *Bounds) SetGranularity(g time.Duration) {
	if g <= 0 {
		g = DefaultGranularity
	}
	b.g = g
}

func (b *Bounds) clamp(d time.Duration) time.Duration {
	if d < b.minRTO {
		return b.minRTO
	}
	if d > b.maxRTO {
		return b.maxRTO
	}
	return d
}

// Estimator is the per-connection state of an RFC 6298 RTO estimator. The
// zero value is ready for use: no sample yet, no backoff.
type Estimator struct {
	srtt, rttvar time.Duration
	backoff      uint8 // number of doublings since the last reset
	hasSample    bool
}

// Sample feeds one round-trip time measurement R (RFC 6298 section 2).
//
// The first sample sets SRTT = R and RTTVAR = R/2 (2.2). Later samples update
// RTTVAR = (1 - beta)*RTTVAR + beta*|SRTT - R| and then
// SRTT = (1 - alpha)*SRTT + alpha*R with alpha = 1/8 and beta = 1/4 (2.3),
// RTTVAR using the SRTT from before the update, as the RFC requires.
//
// A valid sample also clears the timer backoff: RFC 6298 section 5 (note
// after 5.7) recomputes the RTO from the formula once a new sample is taken
// after a backoff. Negative samples are ignored; per Karn's algorithm the
// caller must not pass samples of retransmitted segments.
func (e *Estimator) Sample(r time.Duration) {
	if r < 0 {
		return
	}
	if !e.hasSample {
		e.srtt = r
		e.rttvar = r / 2
		e.hasSample = true
	} else {
		d := e.srtt - r
		if d < 0 {
			d = -d
		}
		e.rttvar = (3*e.rttvar + d) / 4
		e.srtt = (7*e.srtt + r) / 8
	}
	e.backoff = 0
}

// baseRTO is the RTO before backoff, clamped to b.
func (e *Estimator) baseRTO(b *Bounds) time.Duration {
	rto := b.initialRTO
	if e.hasSample {
		v := K * e.rttvar
		if v < b.g {
			v = b.g
		}
		rto = e.srtt + v
	}
	return b.clamp(rto)
}

// RTO returns the current retransmission timeout: SRTT + max(G, K*RTTVAR)
// (or the initial RTO before the first sample), doubled once per Backoff
// since the last sample or ResetBackoff, and clamped to b's [min, max].
func (e *Estimator) RTO(b *Bounds) time.Duration {
	rto := e.baseRTO(b)
	for i := uint8(0); i < e.backoff; i++ {
		if rto >= b.maxRTO/2 {
			return b.maxRTO
		}
		rto *= 2
	}
	return b.clamp(rto)
}

// Backoff doubles the RTO after a retransmission timeout (RFC 6298 5.5). The
// doubling is bounded: once the RTO has reached the maximum, further calls
// leave it there.
func (e *Estimator) Backoff(b *Bounds) {
	if e.backoff < maxShift && e.RTO(b) < b.maxRTO {
		e.backoff++
	}
}

// ResetBackoff cancels the doublings of Backoff, so RTO is again computed
// from SRTT and RTTVAR (or the initial RTO).
func (e *Estimator) ResetBackoff() { e.backoff = 0 }

// Backoffs returns how many times the RTO is currently doubled.
func (e *Estimator) Backoffs() int { return int(e.backoff) }

// SRTT returns the smoothed round-trip time, or 0 before the first sample.
func (e *Estimator) SRTT() time.Duration { return e.srtt }

// RTTVar returns the round-trip time variation, or 0 before the first sample.
func (e *Estimator) RTTVar() time.Duration { return e.rttvar }

// HasSample reports whether at least one RTT sample has been taken.
func (e *Estimator) HasSample() bool { return e.hasSample }

// Reset forgets all samples and the backoff (RFC 6298 5.7 allows
// re-initialising after a failed handshake).
func (e *Estimator) Reset() { *e = Estimator{} }
