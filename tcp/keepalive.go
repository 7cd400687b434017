package tcp

import "time"

// keepOpts are a connection's keepalive settings when they differ from
// the protocol's (Config.KeepIdle, KeepInterval, KeepCount). Most
// connections use the defaults and carry only a nil pointer. A keepOpts is
// never modified once made, so PCBs share them: accepted connections
// share their listener's, and SetKeepAlive reuses the Protocol's most
// recent one when the values are the same (applications tend to set the
// same values on every connection).
type keepOpts struct {
	idle, intvl time.Duration
	count       int
}

// setKeepOpts applies SetKeepAlive's idle, interval and count; zero or
// negative values keep the current settings.
func (c *PCB) setKeepOpts(idle, interval time.Duration, count int) {
	k := keepOpts{c.keepIdle(), c.keepIntvl(), c.keepCount()}
	if idle > 0 {
		k.idle = idle
	}
	if interval > 0 {
		k.intvl = interval
	}
	if count > 0 {
		k.count = count
	}
	p := c.p
	switch {
	case k == keepOpts{p.cfg.KeepIdle, p.cfg.KeepInterval, p.cfg.KeepCount}:
		c.keep = nil
	case c.keep != nil && *c.keep == k:
	case p.lastKeep != nil && *p.lastKeep == k:
		c.keep = p.lastKeep
	default:
		c.keep = &k
		p.lastKeep = c.keep
	}
}

// keepIdle is the idle time before the first keepalive probe.
func (c *PCB) keepIdle() time.Duration {
	if c.keep != nil {
		return c.keep.idle
	}
	return c.p.cfg.KeepIdle
}

// keepIntvl is the time between keepalive probes.
func (c *PCB) keepIntvl() time.Duration {
	if c.keep != nil {
		return c.keep.intvl
	}
	return c.p.cfg.KeepInterval
}

// keepCount is the number of unanswered probes that fail the connection.
func (c *PCB) keepCount() int {
	if c.keep != nil {
		return c.keep.count
	}
	return c.p.cfg.KeepCount
}
