package cc

// Reno is NewReno congestion control: RFC 5681 slow start and congestion
// avoidance, with appropriate byte counting (RFC 3465) in both phases, the
// RFC 6928 initial window and the RFC 6582 window at the end of fast
// recovery. The recovery procedure itself (retransmissions, partial ACKs,
// window inflation or RFC 6675 pipe) is the TCP core's.
//
// OnAck grows cwnd whenever it is called; a core that follows RFC 7661 does
// not report ACKs while the connection is application-limited.
type Reno struct {
	mss        int
	cwnd       int
	ssthresh   int
	bytesAcked int  // RFC 3465 bytes_acked, congestion avoidance only
	timedOut   bool // an RTO fired and no new data has been ACKed since
}

// NewReno returns a NewReno Algorithm. Call Init before use.
func NewReno() Algorithm { return &Reno{} }

// Name returns "reno".
func (r *Reno) Name() string { return "reno" }

// Init sets cwnd to the RFC 6928 initial window and ssthresh to infinity.
func (r *Reno) Init(mss int) {
	*r = Reno{mss: mss, cwnd: InitialWindow(mss), ssthresh: InfiniteSSThresh}
}

// Resume resets the state as Init does, then keeps ssthresh and starts from
// the restart window min(IW, cwnd) of RFC 5681 section 4.1: for a
// connection that sends again after an idle period longer than the RTO,
// whose algorithm state was not kept in between.
func (r *Reno) Resume(mss, cwnd, ssthresh int) {
	r.Init(mss)
	r.cwnd = max(min(cwnd, InitialWindow(mss)), mss)
	r.ssthresh = ssthresh
}

// CongestionWindow returns cwnd in bytes.
func (r *Reno) CongestionWindow() int { return r.cwnd }

// SlowStartThreshold returns ssthresh in bytes.
func (r *Reno) SlowStartThreshold() int { return r.ssthresh }

// SetMSS sets the SMSS used when a Sample carries none.
func (r *Reno) SetMSS(mss int) {
	if mss > 0 {
		r.mss = mss
	}
}

func (r *Reno) smss(s Sample) int {
	if s.MSS > 0 {
		return s.MSS
	}
	return r.mss
}

// OnAck grows cwnd for acked newly acknowledged bytes. In slow start
// (cwnd < ssthresh) cwnd grows by min(acked, 2*SMSS) (RFC 3465 L = 2*SMSS),
// but not beyond ssthresh. In congestion avoidance the acknowledged bytes
// are counted, and each time they reach cwnd, cwnd grows by one SMSS
// (RFC 3465 section 2.1, RFC 5681 equation 3): about one SMSS per RTT.
func (r *Reno) OnAck(acked int, s Sample) {
	if acked <= 0 {
		return
	}
	r.timedOut = false
	mss := r.smss(s)
	if r.cwnd < r.ssthresh {
		r.cwnd, acked = slowStart(r.cwnd, r.ssthresh, acked, mss)
		if acked == 0 {
			return
		}
	}
	r.bytesAcked += acked
	if r.bytesAcked >= r.cwnd {
		r.bytesAcked -= r.cwnd
		r.cwnd += mss
	}
}

// OnCongestion enters fast recovery (RFC 5681 section 3.2 step 2, RFC 6582):
// ssthresh = max(FlightSize/2, 2*SMSS) and cwnd = ssthresh. Any window
// inflation during recovery is the core's.
func (r *Reno) OnCongestion(s Sample) {
	mss := r.smss(s)
	r.ssthresh = max(s.FlightSize/2, 2*mss)
	r.cwnd = r.ssthresh
	r.bytesAcked = 0
}

// OnRecoveryExit deflates the window on the full ACK that ends recovery,
// RFC 6582 section 3.2 step 3 option (1):
// cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
func (r *Reno) OnRecoveryExit(s Sample) {
	mss := r.smss(s)
	r.cwnd = min(r.ssthresh, max(s.FlightSize, mss)+mss)
	r.bytesAcked = 0
}

// OnTimeout applies RFC 5681 section 3.1 equation (4) and the loss window:
// ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS. When the timer fires
// again before any new data is acknowledged (the retransmission itself was
// lost), ssthresh is held constant as RFC 5681 requires. RFC 3465 resets
// bytes_acked.
func (r *Reno) OnTimeout(s Sample) {
	mss := r.smss(s)
	if !r.timedOut {
		r.ssthresh = max(s.FlightSize/2, 2*mss)
	}
	r.cwnd = mss
	r.bytesAcked = 0
	r.timedOut = true
}

// OnIdleRestart applies the restart window of RFC 5681 section 4.1:
// cwnd = min(IW, cwnd) with IW from RFC 6928. ssthresh is unchanged.
func (r *Reno) OnIdleRestart(s Sample) {
	r.cwnd = min(r.cwnd, InitialWindow(r.smss(s)))
	r.bytesAcked = 0
}
