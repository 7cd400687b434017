package stack

// Input batches. A link driver that reads several frames per wake-up (a
// TAP read in a loop, recvmmsg) can tell the stack where such a burst
// begins and ends. Protocols then answer the burst as a whole where that
// is allowed: TCP sends one acknowledgment per connection for the in-order
// data of the burst instead of one per two segments, as Linux does for
// the frames of one receive interrupt through GRO. Outside a batch every
// frame is answered on its own, as before.

// BatchHandler is a Poller with work it defers to the end of an input
// batch (TCP's acknowledgments).
type BatchHandler interface {
	// EndBatch does the deferred work of the batch that just ended.
	EndBatch()
}

// BeginBatch marks the start of a burst of frames given to Input or
// InputMeta. Every BeginBatch must be followed by EndBatch before the
// caller lets go of the stack.
func (s *Stack) BeginBatch() { s.inBatch = true }

// InBatch reports whether the stack is between BeginBatch and EndBatch.
func (s *Stack) InBatch() bool { return s.inBatch }

// EndBatch ends the burst begun by BeginBatch: the pollers that implement
// BatchHandler do what they deferred.
func (s *Stack) EndBatch() {
	if !s.inBatch {
		return
	}
	s.inBatch = false
	for _, p := range s.pollers {
		if b, ok := p.(BatchHandler); ok {
			b.EndBatch()
		}
	}
}
