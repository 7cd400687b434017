package tcp

import (
	"bytes"
	"testing"

	"github.com/featherip/featherip/stack"
)

// TestBatchDefersACKs: inside an input batch (stack.BeginBatch) in-order
// full-sized segments get one ACK at the end of the batch instead of one
// per two segments; an out-of-order segment still gets its duplicate ACK
// at once; outside a batch every second segment is acknowledged.
func TestBatchDefersACKs(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(synOpts(), 1000)
	mss := int(k.c.advMSS)
	seg := bytes.Repeat([]byte("d"), mss)

	e.s.BeginBatch()
	for range 6 {
		k.send(fACK, seg)
	}
	e.none() // no ACK inside the batch
	e.s.EndBatch()
	if a := e.one(); a.flags != fACK || a.ack != k.peerSeq {
		t.Fatalf("end of batch: want one ACK of %d, got %v", k.peerSeq, a)
	}
	e.s.EndBatch() // nothing owed: nothing sent
	e.none()

	// out of order inside a batch: the duplicate ACK goes at once, and
	// the ACK owed before it is what it carries
	e.s.BeginBatch()
	k.send(fACK, seg)
	k.send(fACK, seg)
	hole := k.peerSeq
	k.peerSeq += uint32(mss)
	k.send(fACK, seg)
	if a := e.one(); a.ack != hole || a.opts.NumSACK != 1 {
		t.Fatalf("out of order in a batch: want an immediate duplicate ACK of %d with SACK, got %v", hole, a)
	}
	e.s.EndBatch()
	e.none() // the duplicate ACK carried everything in order

	// data sent in the meantime carries the deferred ACK
	k.peerSeq = hole
	k.send(fACK, seg) // fills the hole: immediate ACK
	k.peerSeq += uint32(mss)
	if a := e.one(); a.ack != k.peerSeq {
		t.Fatalf("hole filled: want ACK of %d, got %v", k.peerSeq, a)
	}
	e.s.BeginBatch()
	k.send(fACK, seg)
	k.send(fACK, seg)
	if _, err := k.c.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if a := e.one(); a.ack != k.peerSeq || len(a.data) != 5 {
		t.Fatalf("reply in a batch: %v", a)
	}
	e.s.EndBatch()
	e.none()

	// outside a batch: an ACK every second segment
	k.send(fACK, seg)
	e.none()
	k.send(fACK, seg)
	if a := e.one(); a.ack != k.peerSeq {
		t.Fatalf("outside a batch: want ACK of %d, got %v", k.peerSeq, a)
	}
}

// TestCoalescedSegmentCounts: a super-frame coalesced from wire segments
// (GRO, stack.InputMeta) counts as the segments it was in InSegs and the
// connection's counters, as Linux counts gso_segs, and is acknowledged at
// once as two or more full-sized segments are.
func TestCoalescedSegmentCounts(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(synOpts(), 1000)
	mss := int(k.c.advMSS)
	before, segsBefore := e.p.Stats().InSegs, k.c.Stats().SegsIn
	s := k.seg(fACK, bytes.Repeat([]byte("g"), 3*mss-100))
	e.s.InputMeta(e.nic, ethFrame(ourMAC, peerMAC, buildTCP(s, peerIP, ourIP)), stack.RxMeta{CsumValid: true, GSO: true, GSOSize: mss})
	k.peerSeq += uint32(len(s.data))
	if got := e.p.Stats().InSegs - before; got != 3 {
		t.Fatalf("InSegs grew by %d for a frame of 3 wire segments", got)
	}
	if got := k.c.Stats().SegsIn - segsBefore; got != 3 {
		t.Fatalf("connection SegsIn grew by %d, want 3", got)
	}
	if a := e.one(); a.ack != k.peerSeq {
		t.Fatalf("want an immediate ACK of %d, got %v", k.peerSeq, a)
	}
}
