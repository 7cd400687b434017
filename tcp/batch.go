package tcp

// Acknowledgments in an input batch (stack.BeginBatch, EndBatch): while a
// link driver hands the stack a burst of frames it read at once, the ACK
// that every second full-sized in-order segment calls for (RFC 5681 §4.2)
// is deferred to the end of the burst, so a connection sends one ACK for
// all the in-order data of the burst, as Linux does for the frames GRO
// merges from one receive interrupt. The sender counts the bytes it
// acknowledges (RFC 3465), so its window grows as it would. ACKs that
// carry news at once (duplicate ACKs for out-of-order data, a filled
// hole, a FIN, window updates) are never deferred, and a segment sent in
// the meantime carries the ACK.

// deferACK asks for an ACK of c's in-order data at the end of the batch.
func (c *PCB) deferACK() {
	if c.ackDeferred {
		return
	}
	c.ackDeferred = true
	c.p.deferredACKs = append(c.p.deferredACKs, c)
}

// EndBatch implements stack.BatchHandler: it sends the ACKs deferred
// during the batch that no segment has carried since.
func (p *Protocol) EndBatch() {
	if len(p.deferredACKs) == 0 {
		return
	}
	p.now = p.s.Now()
	for i, c := range p.deferredACKs {
		p.deferredACKs[i] = nil
		if !c.ackDeferred || c.freed {
			continue
		}
		c.ackDeferred = false
		if c.state.synchronized() && c.state != TimeWait && c.lastAckSent != c.rcvNxt {
			c.sendACK()
			c.updateNext()
		}
	}
	p.deferredACKs = p.deferredACKs[:0]
}
