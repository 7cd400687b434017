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
	sackBlock    = sack.Block
	scoreboard   = sack.Scoreboard
	isnGenerator = isn.Generator
)

func newCC(name string) (ccAlgorithm, bool) {
	f, ok := cc.ByName(name)
	if !ok {
		return nil, false
	}
	return f(), true
}

var (
	newRTT          = rtt.New
	newISNGenerator = isn.NewGenerator
)
