package tcp

// State is a connection state of RFC 9293 §3.3.2.
type State uint8

// The states of RFC 9293 §3.3.2.
const (
	Closed State = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
)

var stateNames = [...]string{"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"}

// String returns the RFC name of the state, e.g. "ESTABLISHED".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "INVALID"
}

// synchronized reports whether the state is past the handshake (RFC 9293
// calls SYN_RCVD and later "synchronized").
func (s State) synchronized() bool { return s >= SynReceived }

// canSend reports whether the application may still queue data.
func (s State) canSend() bool {
	return s == SynSent || s == SynReceived || s == Established || s == CloseWait
}

// setState moves c to st and keeps the CurrEstab gauge and the timestamps.
func (c *PCB) setState(st State) {
	old := c.state
	if old == st {
		return
	}
	wasEst := old == Established || old == CloseWait
	isEst := st == Established || st == CloseWait
	if wasEst && !isEst {
		c.p.stats.CurrEstab--
	} else if !wasEst && isEst {
		c.p.stats.CurrEstab++
	}
	if old == TimeWait {
		c.p.twUnlink(c)
	}
	c.state = st
	if st == TimeWait {
		c.p.twAppend(c)
	}
}

// The TIME_WAIT list links the PCBs in TIME_WAIT in the order they entered
// it, so the oldest (the first reclaim frees) is at its head without a
// scan of every PCB.

func (p *Protocol) twAppend(c *PCB) {
	c.twPrev, c.twNext = p.twTail, nil
	if p.twTail != nil {
		p.twTail.twNext = c
	} else {
		p.twHead = c
	}
	p.twTail = c
}

func (p *Protocol) twUnlink(c *PCB) {
	if c.twPrev != nil {
		c.twPrev.twNext = c.twNext
	} else if p.twHead == c {
		p.twHead = c.twNext
	}
	if c.twNext != nil {
		c.twNext.twPrev = c.twPrev
	} else if p.twTail == c {
		p.twTail = c.twPrev
	}
	c.twPrev, c.twNext = nil, nil
}
