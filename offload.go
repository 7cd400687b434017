package featherip

import (
	"errors"
	"time"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// Offloads: a link that implements link.OffloadLink with GSOMaxSize > 0
// (a TAP opened with tap.Config.VnetHdr) is handed to the stack wrapped in
// gsoLink, a stack.GSOLink, so TCP builds super-segments the kernel
// segments (TSO). A link that implements link.BatchReceiver is read by
// batchReadLoop: one wake-up reads every frame already queued (up to
// rxBatch), the core lock is taken once for the batch, each frame goes in
// with its offload metadata (stack.InputMeta), except that on an Ethernet
// link runs of in-order TCP segments without metadata are coalesced first
// (software GRO, gro.go). The frames go in as one input batch
// (stack.BeginBatch: TCP acknowledges a batch's in-order data once per
// connection, also across flows GRO does not merge); the timer goroutine
// is re-armed once, and the sockets the batch made readable or writable
// are woken once the lock is released (Host.wakeLocked). When the link
// also combines writes (writeHolder), the frames the stack sends while it
// handles a batch are written together at the end of the batch.

// writeHolder is a link that can combine the writes of a batch (tap.Link
// and pipe.End: HoldWrites and FlushWrites): batchReadLoop holds writes
// while the stack handles a batch of two or more frames, so the answers
// of the whole batch are written in one pass of the link's write lock,
// and flushes them before it releases the core lock.
type writeHolder interface {
	HoldWrites()
	FlushWrites() error
}

// rxBatch is how many frames one wake-up of the reader hands to the core.
const rxBatch = 16

// gsoLink adapts a link.OffloadLink to stack.GSOLink.
type gsoLink struct {
	link.OffloadLink
	max int
}

func (g gsoLink) GSOMaxSize() int { return g.max }

// SetMulticast passes the stack's multicast filter on to the link when it
// has one (stack.MulticastFilter); a link without a filter passes every
// multicast frame, a superset of what the stack asks for, so there is
// nothing to do.
func (g gsoLink) SetMulticast(macs []wire.MAC) error {
	if f, ok := g.OffloadLink.(stack.MulticastFilter); ok {
		return f.SetMulticast(macs)
	}
	return nil
}

func (g gsoLink) SendGSO(frame []byte, f stack.GSOFrame) error {
	lg := link.GSO{HdrLen: f.HdrLen, Size: f.Size, CsumStart: f.CsumStart, CsumOffset: f.CsumOffset}
	if f.Segment {
		lg.Type = link.GSOTCPv4
		if f.IPv6 {
			lg.Type = link.GSOTCPv6
		}
	}
	return g.OffloadLink.SendGSO(frame, lg)
}

// stackLink returns what the stack sends through for l.
func stackLink(l link.Link) stack.Link {
	if ol, ok := l.(link.OffloadLink); ok {
		if off := ol.Offloads(); off.GSOMaxSize > 0 && off.TxChecksum {
			return gsoLink{ol, off.GSOMaxSize}
		}
	}
	return l
}

// freeHolder reports whether l is a writeHolder whose holding costs no
// copy beyond the one Send makes anyway (pipe.End, which also swaps
// buffers on receive: held frames go to the peer by exchanging buffers).
// Holding then pays off for any burst, also the segments a single ACK
// releases, and for an application's Write.
func freeHolder(l link.Link) bool {
	_, wh := l.(writeHolder)
	_, sw := l.(swapReceiver)
	return wh && sw
}

// holdWritesLocked holds the writes of every free holder (h.mu held),
// until flushWritesLocked, so that the segments one Write or Recved
// releases go over together.
func (h *Host) holdWritesLocked() {
	for _, wh := range h.holders {
		wh.HoldWrites()
	}
}

// flushWritesLocked ends holdWritesLocked (h.mu held).
func (h *Host) flushWritesLocked() {
	for _, wh := range h.holders {
		wh.FlushWrites() // a failed deferred write is counted by the link
	}
}

// swapReceiver is a link.BatchReceiver that can hand frames over without
// a copy (pipe.End.ReceiveBatchSwap): it exchanges bufs[i] for its own
// buffer holding frame i and keeps the one passed in. batchReadLoop uses
// it when the link has it; the stack keeps no reference to a frame after
// Input returns, so the buffers may change hands between batches.
type swapReceiver interface {
	ReceiveBatchSwap(bufs [][]byte, sizes []int) (int, error)
}

// batchReadLoop is readLoop for a link.BatchReceiver.
func (h *Host) batchReadLoop(br link.BatchReceiver, l link.Link, nic stack.NIC, bufLen int) {
	defer h.wg.Done()
	if ol, ok := l.(link.OffloadLink); ok && ol.Offloads().GRO {
		bufLen = max(bufLen, link.MaxGROFrameLen)
	}
	bufs := make([][]byte, rxBatch)
	for i := range bufs {
		bufs[i] = make([]byte, bufLen)
	}
	sizes := make([]int, rxBatch)
	metas := make([]link.RxMeta, rxBatch)
	wh, _ := l.(writeHolder)
	sr, _ := l.(swapReceiver) // no offload metadata: metas stay zero
	free := freeHolder(l)
	frames := make([][]byte, rxBatch)
	var merge []byte // coalesced frames (gro.go), made on first use
	kind := l.Kind()
	wakes := make([]chan struct{}, 0, maxDeferredWakes)
	backoff := minErrorBackoff
	for {
		var n int
		var err error
		if sr != nil {
			n, err = sr.ReceiveBatchSwap(bufs, sizes)
		} else {
			n, err = br.ReceiveBatch(bufs, sizes, metas)
		}
		if err != nil {
			if errors.Is(err, link.ErrClosed) {
				return
			}
			select {
			case <-h.done:
				return
			default:
			}
			h.stats.receiveErrors.Add(1)
			t := time.NewTimer(backoff)
			select {
			case <-h.done:
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, maxErrorBackoff)
			continue
		}
		backoff = minErrorBackoff
		h.mu.Lock()
		h.deferWakesLocked()
		hold := wh != nil && (n > 1 || free)
		if hold {
			wh.HoldWrites()
		}
		if n > 1 {
			h.s.BeginBatch() // one ACK per connection for the batch (stack/batch.go)
		}
		h.stats.framesIn.Add(uint64(n))
		var bytes uint64
		for i := 0; i < n; i++ {
			bytes += uint64(sizes[i])
			frames[i] = bufs[i][:sizes[i]]
		}
		h.stats.bytesIn.Add(bytes)
		if n > 1 && kind == link.Ethernet {
			if merge == nil {
				merge = make([]byte, link.MaxGROFrameLen)
			}
			h.groInput(nic, frames[:n], metas[:n], merge)
		} else {
			for i := 0; i < n; i++ {
				h.inputMeta(nic, frames[i], &metas[i])
			}
		}
		h.s.EndBatch()
		if hold {
			// A failed deferred write is counted by the link (the stack
			// counted the frame as sent when it was deferred), as an
			// error of a frame the device dropped later would be.
			wh.FlushWrites()
		}
		h.rearmLocked()
		wakes = h.takeWakesLocked(wakes)
		h.mu.Unlock()
		sendWakes(wakes)
	}
}
