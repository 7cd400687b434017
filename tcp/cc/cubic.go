package cc

import (
	"math"
	"time"
)

// CUBIC constants of RFC 9438 section 4.
const (
	// CubicC is the constant C that scales the cubic function (segments/s^3).
	CubicC = 0.4
	// CubicBeta is beta_cubic, the multiplicative decrease factor.
	CubicBeta = 0.7
	// CubicAlpha is alpha_cubic = 3*(1-beta_cubic)/(1+beta_cubic), the
	// additive increase factor of the Reno-friendly estimate (section 4.3).
	CubicAlpha = 3 * (1 - CubicBeta) / (1 + CubicBeta)
)

// Cubic is CUBIC congestion control per RFC 9438.
//
// Below ssthresh it does slow start exactly like Reno (with RFC 3465 byte
// counting, L = 2*SMSS). In congestion avoidance the window follows
//
//	W_cubic(t) = C*(t-K)^3 + W_max                       (RFC 9438 eq. 1)
//	K = cubic_root((W_max - cwnd_epoch)/C)               (eq. 2)
//
// with t the time since the start of the congestion avoidance stage (taken
// from Sample.Now). On each ACK the target is W_cubic(t+RTT) clamped to
// [cwnd, 1.5*cwnd] and cwnd grows by (target-cwnd)/cwnd per acknowledged
// segment (section 4.4, 4.5). The Reno-friendly estimate W_est (section
// 4.3) grows by alpha_cubic per window of ACKs, and by 1 once it reaches
// the window before the last reduction; when W_cubic(t) < W_est, cwnd
// follows W_est (never decreasing on an ACK). On congestion ssthresh =
// max(FlightSize*beta_cubic, 2*SMSS) (section 4.6) and W_max is reduced
// further with fast convergence (section 4.7). After a timeout the next
// stage starts with K = 0 and W_max = cwnd_epoch (section 4.8).
//
// Windows are kept in bytes as float64; the cubic term is computed in
// segments and scaled by SMSS. Nothing allocates.
type Cubic struct {
	mss      int
	cwnd     float64 // bytes
	ssthresh int

	wMax       float64 // bytes, window before the last reduction (reduced by fast convergence)
	cwndPrior  float64 // bytes, cwnd before the last reduction
	k          float64 // seconds
	wEst       float64 // bytes, Reno-friendly estimate
	cwndEpoch  float64 // bytes
	epochStart time.Duration
	srtt       time.Duration
	inEpoch    bool // a congestion avoidance stage is running
	fromRTO    bool // the next stage follows a timeout: K = 0, W_max = cwnd_epoch
	timedOut   bool // an RTO fired and no new data has been ACKed since

	// FastConvergence enables RFC 9438 section 4.7 (default true). It comes
	// last so that the flags share one word.
	FastConvergence bool
}

// NewCubic returns a CUBIC Algorithm with fast convergence. Call Init
// before use.
func NewCubic() Algorithm { return &Cubic{FastConvergence: true} }

// Name returns "cubic".
func (c *Cubic) Name() string { return "cubic" }

// Init resets the state: the RFC 6928 initial window, infinite ssthresh, no
// W_max yet.
func (c *Cubic) Init(mss int) {
	*c = Cubic{FastConvergence: c.FastConvergence, mss: mss,
		cwnd: float64(InitialWindow(mss)), ssthresh: InfiniteSSThresh}
}

// Resume resets the state as Init does, then keeps ssthresh and starts from
// the restart window min(IW, cwnd) of RFC 5681 section 4.1: for a
// connection that sends again after an idle period longer than the RTO,
// whose algorithm state was not kept in between. W_max is forgotten, so the
// next congestion avoidance stage starts with K = 0.
func (c *Cubic) Resume(mss, cwnd, ssthresh int) {
	c.Init(mss)
	c.cwnd = float64(max(min(cwnd, InitialWindow(mss)), mss))
	c.ssthresh = ssthresh
}

// CongestionWindow returns cwnd in bytes.
func (c *Cubic) CongestionWindow() int { return int(c.cwnd) }

// SlowStartThreshold returns ssthresh in bytes.
func (c *Cubic) SlowStartThreshold() int { return c.ssthresh }

// SetMSS sets the SMSS used when a Sample carries none.
func (c *Cubic) SetMSS(mss int) {
	if mss > 0 {
		c.mss = mss
	}
}

func (c *Cubic) smss(s Sample) float64 {
	if s.MSS > 0 {
		return float64(s.MSS)
	}
	return float64(c.mss)
}

// K returns the current K of RFC 9438 eq. 2 (the time from the start of
// the congestion avoidance stage until W_cubic reaches W_max).
func (c *Cubic) K() time.Duration { return time.Duration(c.k * float64(time.Second)) }

// WMax returns W_max in bytes.
func (c *Cubic) WMax() int { return int(c.wMax) }

// wCubic evaluates RFC 9438 eq. 1 in bytes at t seconds.
func (c *Cubic) wCubic(t, mss float64) float64 {
	d := t - c.k
	return CubicC*d*d*d*mss + c.wMax
}

// rtt is the RTT estimate used for the W_cubic(t+RTT) target.
func (c *Cubic) rtt(s Sample) time.Duration {
	if c.srtt > 0 {
		return c.srtt
	}
	return s.MinRTT
}

// OnAck grows cwnd for acked newly acknowledged bytes (RFC 9438 section 4).
func (c *Cubic) OnAck(acked int, s Sample) {
	if acked <= 0 {
		return
	}
	c.timedOut = false
	if s.RTT > 0 {
		if c.srtt == 0 {
			c.srtt = s.RTT
		} else {
			c.srtt = (7*c.srtt + s.RTT) / 8
		}
	}
	mss := c.smss(s)
	if mss <= 0 || c.cwnd <= 0 {
		return // not initialised
	}
	if int(c.cwnd) < c.ssthresh {
		w, left := slowStart(int(c.cwnd), c.ssthresh, acked, int(mss))
		c.cwnd = math.Max(c.cwnd, float64(w))
		if left == 0 {
			return
		}
		acked = left
	}
	if !c.inEpoch {
		c.startEpoch(s.Now, mss)
	}
	t := (s.Now - c.epochStart).Seconds()
	a := float64(acked)

	// Reno-friendly estimate (section 4.3), in bytes:
	// W_est += alpha * segments_acked / cwnd_segments.
	alpha := CubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * a * mss / c.cwnd

	if c.wCubic(t, mss) < c.wEst {
		c.cwnd = math.Max(c.cwnd, c.wEst) // Reno-friendly region
		return
	}
	// Concave or convex region (sections 4.4, 4.5).
	target := c.wCubic(t+c.rtt(s).Seconds(), mss)
	target = math.Min(math.Max(target, c.cwnd), 1.5*c.cwnd)
	c.cwnd += (target - c.cwnd) / c.cwnd * a
}

// startEpoch begins a congestion avoidance stage at now.
func (c *Cubic) startEpoch(now time.Duration, mss float64) {
	c.inEpoch = true
	c.epochStart = now
	c.cwndEpoch = c.cwnd
	c.wEst = c.cwnd
	if c.fromRTO || c.cwnd >= c.wMax {
		// After a timeout (section 4.8), or when slow start went past
		// W_max (or there was no congestion event yet): K = 0, W_max = cwnd.
		c.wMax = c.cwnd
		c.k = 0
	} else {
		c.k = math.Cbrt((c.wMax - c.cwndEpoch) / mss / CubicC)
	}
	c.fromRTO = false
}

// reduce records W_max with fast convergence (section 4.7) and computes
// the new ssthresh (section 4.6).
func (c *Cubic) reduce(s Sample, mss float64) {
	if c.FastConvergence && c.cwnd < c.wMax {
		c.wMax = c.cwnd * (1 + CubicBeta) / 2
	} else {
		c.wMax = c.cwnd
	}
	c.cwndPrior = c.cwnd
	flight := float64(s.FlightSize)
	if flight <= 0 {
		flight = c.cwnd
	}
	c.ssthresh = int(math.Max(flight*CubicBeta, 2*mss))
	c.inEpoch = false
}

// OnCongestion is the multiplicative decrease of RFC 9438 section 4.6:
// ssthresh = max(FlightSize*beta_cubic, 2*SMSS), cwnd = ssthresh, with W_max
// set (and reduced by fast convergence) from the cwnd before the reduction.
func (c *Cubic) OnCongestion(s Sample) {
	mss := c.smss(s)
	c.reduce(s, mss)
	c.cwnd = float64(c.ssthresh)
}

// OnRecoveryExit sets cwnd at the end of fast recovery as RFC 6582 does:
// cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). The next ACK starts a
// new congestion avoidance stage.
func (c *Cubic) OnRecoveryExit(s Sample) {
	mss := c.smss(s)
	c.cwnd = math.Min(float64(c.ssthresh), math.Max(float64(s.FlightSize), mss)+mss)
	c.inEpoch = false
}

// OnTimeout follows Reno (cwnd = 1 SMSS) but sets ssthresh with
// beta_cubic (RFC 9438 section 4.8); the congestion avoidance stage after
// the timeout starts with K = 0 and W_max = cwnd_epoch. A repeated timeout
// without new ACKed data holds ssthresh (RFC 5681 section 3.1).
func (c *Cubic) OnTimeout(s Sample) {
	mss := c.smss(s)
	if !c.timedOut {
		c.reduce(s, mss)
	}
	c.cwnd = mss
	c.inEpoch = false
	c.fromRTO = true
	c.timedOut = true
}

// OnIdleRestart applies the RFC 5681 section 4.1 restart window,
// cwnd = min(IW, cwnd), and ends the current congestion avoidance stage so
// the cubic curve restarts from the new window instead of jumping by the
// idle time.
func (c *Cubic) OnIdleRestart(s Sample) {
	c.cwnd = math.Min(c.cwnd, float64(InitialWindow(int(c.smss(s)))))
	c.inEpoch = false
}
