package stack

import (
	"testing"
	"time"
)

// batchPoller records the EndBatch calls it gets.
type batchPoller struct{ ends int }

func (b *batchPoller) Poll(time.Duration)                  {}
func (b *batchPoller) NextDeadline() (time.Duration, bool) { return 0, false }
func (b *batchPoller) EndBatch()                           { b.ends++ }

// TestInputBatch: EndBatch reaches the pollers that handle batches once
// per batch begun, and InBatch tells the inside of a batch.
func TestInputBatch(t *testing.T) {
	e := newEnv(t, nil)
	b := &batchPoller{}
	e.s.AddPoller(b)
	if e.s.InBatch() {
		t.Fatal("in a batch before BeginBatch")
	}
	e.s.EndBatch() // none begun
	e.s.BeginBatch()
	if !e.s.InBatch() {
		t.Fatal("not in a batch after BeginBatch")
	}
	e.s.EndBatch()
	if e.s.InBatch() || b.ends != 1 {
		t.Fatalf("after EndBatch: in batch %v, EndBatch calls %d (want 1)", e.s.InBatch(), b.ends)
	}
}
