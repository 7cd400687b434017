// Package rtt implements the TCP retransmission timer computation of RFC 6298
// ("Computing TCP's Retransmission Timer").
//
// An Estimator keeps SRTT and RTTVAR, derives the retransmission timeout (RTO)
// from them, clamps it to a configured [min, max] range and applies the
// exponential backoff of RFC 6298 section 5.5. It holds no clock: the caller
// measures round-trip times with its own (injected) clock and passes them to
// Sample.
//
// Karn's algorithm (RFC 6298 section 3, [KP87]) is the caller's job: RTT
// samples MUST NOT be taken from segments that were retransmitted (unless the
// TCP timestamps option, RFC 7323, disambiguates the echo). The Estimator
// trusts every sample it is given.
//
// All arithmetic is integer nanoseconds (time.Duration); the Estimator is a
// small value type with no allocation and no global state.
package rtt

import "time"

// Default values, used by New when an argument is zero or negative.
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

// Estimator is an RFC 6298 RTO estimator. The zero value is not ready for use;
// build one with New.
type Estimator struct {
	srtt, rttvar   time.Duration
	minRTO, maxRTO time.Duration
	initialRTO     time.Duration
	g              time.Duration
	backoff        uint8 // number of doublings since the last reset
	hasSample      bool
}

// New returns an Estimator whose RTO is initialRTO until the first sample
// (RFC 6298 2.1) and is always kept within [minRTO, maxRTO] (RFC 6298 2.4,
// 2.5). A zero or negative argument selects the corresponding default
// (DefaultMinRTO, DefaultMaxRTO, DefaultInitialRTO). If maxRTO < minRTO,
// maxRTO is raised to minRTO. The clock granularity G is DefaultGranularity
// (1 ms); change it with SetGranularity.
func New(minRTO, maxRTO, initialRTO time.Duration) Estimator {
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
	return Estimator{minRTO: minRTO, maxRTO: maxRTO, initialRTO: initialRTO, g: DefaultGranularity}
}

// SetGranularity sets the clock granularity G used in RFC 6298 (2.2) and
// (2.3): RTO = SRTT + max(G, K*RTTVAR). A zero or negative g selects
// DefaultGranularity.
func (e *Estimator) SetGranularity(g time.Duration) {
	if g <= 0 {
		g = DefaultGranularity
	}
	e.g = g
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

// baseRTO is the RTO before backoff, clamped to [min, max].
func (e *Estimator) baseRTO() time.Duration {
	rto := e.initialRTO
	if e.hasSample {
		v := K * e.rttvar
		if v < e.g {
			v = e.g
		}
		rto = e.srtt + v
	}
	return e.clamp(rto)
}

func (e *Estimator) clamp(d time.Duration) time.Duration {
	if d < e.minRTO {
		return e.minRTO
	}
	if d > e.maxRTO {
		return e.maxRTO
	}
	return d
}

// RTO returns the current retransmission timeout: SRTT + max(G, K*RTTVAR)
// (or the initial RTO before the first sample), doubled once per Backoff
// since the last sample or ResetBackoff, and clamped to [min, max].
func (e *Estimator) RTO() time.Duration {
	rto := e.baseRTO()
	for i := uint8(0); i < e.backoff; i++ {
		if rto >= e.maxRTO/2 {
			return e.maxRTO
		}
		rto *= 2
	}
	return e.clamp(rto)
}

// Backoff doubles the RTO after a retransmission timeout (RFC 6298 5.5). The
// doubling is bounded: once the RTO has reached the maximum, further calls
// leave it there.
func (e *Estimator) Backoff() {
	if e.backoff < maxShift && e.RTO() < e.maxRTO {
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

// Reset forgets all samples and the backoff, keeping the configuration
// (RFC 6298 5.7 allows re-initialising after a failed handshake).
func (e *Estimator) Reset() {
	e.srtt, e.rttvar, e.backoff, e.hasSample = 0, 0, 0, false
}
