package tcp

import (
	"github.com/featherip/featherip/tcp/cc"
	"github.com/featherip/featherip/tcp/internal/isn"
	"github.com/featherip/featherip/tcp/internal/rtt"
	"github.com/featherip/featherip/tcp/internal/sack"
)

// The algorithms live in their own packages; these names keep the core
// independent of their spelling.
type (
	ccSample     = cc.Sample
	ccAlgorithm  = cc.Algorithm
	rttEstimator = rtt.Estimator
	rtoBounds    = rtt.Bounds
	sackBlock    = sack.Block
	scoreboard   = sack.Scoreboard
	isnGenerator = isn.Generator
)

// ccResumable is a built-in algorithm, whose state a connection gives back
// while idle (active.go).
type ccResumable interface {
	ccAlgorithm
	Resume(mss, cwnd, ssthresh int)
}

func newCC(name string) (ccAlgorithm, bool) {
	f, ok := cc.ByName(name)
	if !ok {
		return nil, false
	}
	return f(), true
}

const infiniteSSThresh = cc.InfiniteSSThresh

var (
	initialWindow   = cc.InitialWindow
	newRTOBounds    = rtt.NewBounds
	newISNGenerator = isn.NewGenerator
)
