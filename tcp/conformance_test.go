package tcp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// Tests of RFC behaviour as it shows on the wire: every assertion is about
// the segments the stack sends (or does not send) in answer to segments
// and time steps driven by hand.

// TestReceiverSWSAvoidance: after the window closed, consuming less than
// min(RcvBuf/2, MSS) does not move the advertised right edge (no window
// update, and a probe is answered with the old edge); reaching that amount
// sends an update that moves the edge by all of it (RFC 1122 §4.2.3.3,
// RFC 9293 §3.8.6.2.2).
func TestReceiverSWSAvoidance(t *testing.T) {
	for _, tc := range []struct {
		buf, threshold int
	}{
		{8000, 1460}, // the MSS is the smaller
		{2000, 1000}, // half the buffer is the smaller
	} {
		t.Run(fmt.Sprintf("buf%d", tc.buf), func(t *testing.T) {
			e := newEnv(t, Config{RecvBuffer: tc.buf})
			k := e.accept(mssOnly(), 1)
			k.c.SetAutoRecved(false)
			// the peer fills the whole window
			for n := tc.buf; n > 0; {
				m := min(n, 1460)
				k.send(fACK, make([]byte, m))
				n -= m
			}
			e.advance(time.Second)
			o := e.out()
			if len(o) == 0 || len(k.recv) != tc.buf {
				t.Fatalf("got %d bytes, segments %v", len(k.recv), fmtSegs(o))
			}
			last := o[len(o)-1]
			if last.ack != k.peerSeq || last.wnd != 0 {
				t.Fatalf("want the window closed at %d, got %v", k.peerSeq, last)
			}
			edge := last.ack + uint32(last.wnd)
			// a zero-window probe from the peer is answered with the window
			probe := func() tseg {
				t.Helper()
				e.inject(k.seg(fACK, []byte{'x'}))
				a := e.one()
				if a.ack != k.peerSeq || len(k.recv) != tc.buf {
					t.Fatalf("probe answered with %v, %d bytes taken", a, len(k.recv))
				}
				return a
			}
			probe()
			k.c.Recved(tc.threshold - 1)
			e.none() // no update for a silly window
			e.advance(time.Second)
			e.none()
			if a := probe(); a.ack+uint32(a.wnd) != edge {
				t.Fatalf("right edge moved by %d after Recved(%d) < %d: %v", a.ack+uint32(a.wnd)-edge, tc.threshold-1, tc.threshold, a)
			}
			k.c.Recved(1)
			u := e.one()
			if u.flags != fACK || u.ack+uint32(u.wnd) != edge+uint32(tc.threshold) {
				t.Fatalf("want a window update to edge+%d, got %v (edge %d)", tc.threshold, u, edge)
			}
		})
	}
}

// TestSenderSWSAvoidance: with a usable window below an MSS and below half
// the largest window the peer offered, a partial segment waits for the
// persist timer's override (RFC 9293 §3.8.6.2.1, RFC 1122 §4.2.3.4); a full
// segment, a segment of at least half the largest window, or all the queued
// data goes at once. Nagle is off so that only SWS avoidance holds data.
func TestSenderSWSAvoidance(t *testing.T) {
	const mss = 1460
	// setup dials with the peer's SYN-ACK window synWnd, then has the peer
	// announce wnd, and writes n bytes.
	setup := func(t *testing.T, synWnd, wnd uint16, n int) (*env, *conn) {
		e := newEnv(t, Config{})
		k := e.dialWnd(mssOnly(), 100, synWnd)
		k.c.SetNoDelay(true)
		if wnd != synWnd {
			s := k.seg(fACK, nil)
			s.wnd = wnd
			e.inject(s)
			e.none()
		}
		if w, err := k.c.Write(make([]byte, n)); w != n || err != nil {
			t.Fatalf("write: %d %v", w, err)
		}
		return e, k
	}
	t.Run("small window waits for the override", func(t *testing.T) {
		e, k := setup(t, 65535, 1000, 3000)
		e.none()
		override := k.c.Stats().RTO // the persist timer runs on the RTO
		e.advance(override - time.Millisecond)
		e.none()
		e.advance(time.Millisecond)
		d := e.one()
		if d.seq != k.ourSeq || len(d.data) != 1000 {
			t.Fatalf("override after %v: want 1000 bytes at %d (the peer's window), got %v", override, k.ourSeq, d)
		}
		// the peer opens its window: the rest goes at once
		k.ourSeq += 1000
		k.send(fACK, nil)
		sent := 0
		for _, s := range e.out() {
			sent += len(s.data)
		}
		if sent != 2000 {
			t.Fatalf("%d bytes sent after the window opened, want 2000", sent)
		}
	})
	t.Run("full segment goes, the rest waits", func(t *testing.T) {
		e, k := setup(t, 65535, 2000, 3000)
		d := e.one()
		if len(d.data) != mss {
			t.Fatalf("want one full segment, got %v", d)
		}
		e.advance(k.c.Stats().RTO / 2)
		e.none()
	})
	// the peer never offered more than 1000: half of that is enough
	for _, tc := range []struct {
		wnd  uint16
		sent int
	}{{1000, 1000}, {500, 500}, {499, 0}} {
		t.Run(fmt.Sprintf("window %d of max 1000", tc.wnd), func(t *testing.T) {
			e, _ := setup(t, 1000, tc.wnd, 3000)
			o := e.out()
			sent := 0
			for _, s := range o {
				sent += len(s.data)
			}
			if len(o) > 1 || sent != tc.sent {
				t.Fatalf("want %d bytes sent at once, got %v", tc.sent, fmtSegs(o))
			}
		})
	}
	t.Run("all queued data goes", func(t *testing.T) {
		e, _ := setup(t, 65535, 1000, 300)
		if d := e.one(); len(d.data) != 300 {
			t.Fatalf("want the 300 queued bytes, got %v", d)
		}
	})
}

// TestKarnNoSampleFromRetransmission: without timestamps, the ACK of a
// retransmitted segment is ambiguous and gives no RTT sample (RFC 6298 §3,
// Karn's algorithm), whether a timeout or fast retransmit resent it; the
// next fresh segment is timed again.
func TestKarnNoSampleFromRetransmission(t *testing.T) {
	const mss = 1460
	for _, how := range []string{"timeout", "fast retransmit"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, Config{DisableTimestamps: true})
			k := e.dial(mssOnly(), 100)
			if k.c.Stats().Timestamps {
				t.Fatal("timestamps negotiated")
			}
			// exchange data with an RTT of rtt to have a sample
			exchange := func(rtt time.Duration) {
				t.Helper()
				k.c.Write(make([]byte, 100))
				if d := e.one(); len(d.data) != 100 {
					t.Fatalf("sent %v", d)
				}
				e.advance(rtt)
				k.ourSeq += 100
				k.send(fACK, nil)
			}
			exchange(100 * time.Millisecond)
			before := k.c.Stats()
			if before.SRTT == 0 {
				t.Fatalf("no RTT sample from a clean exchange: %+v", before)
			}
			// the first of four segments is lost and resent; everything is
			// acknowledged 5 ms after the retransmission
			k.c.Write(make([]byte, 4*mss))
			orig := e.out()
			if len(orig) != 4 {
				t.Fatalf("want 4 segments, got %v", fmtSegs(orig))
			}
			if how == "timeout" {
				e.advance(before.RTO)
			} else {
				e.advance(10 * time.Millisecond)
				for i := 0; i < 3; i++ {
					k.send(fACK, nil) // duplicate ACKs for segments 2..4
				}
			}
			rx := e.one()
			if rx.seq != orig[0].seq || len(rx.data) != mss {
				t.Fatalf("want a retransmission of %v, got %v", orig[0], rx)
			}
			e.advance(5 * time.Millisecond)
			k.ourSeq += 4 * mss
			k.send(fACK, nil)
			e.out()
			after := k.c.Stats()
			if after.InFlight != 0 || after.Retransmits != 1 {
				t.Fatalf("retransmission not acknowledged: %+v", after)
			}
			if after.SRTT != before.SRTT || after.RTTVar != before.RTTVar || after.MinRTT != before.MinRTT {
				t.Fatalf("the ACK of a retransmission was sampled: SRTT %v -> %v, RTTVAR %v -> %v, min %v -> %v",
					before.SRTT, after.SRTT, before.RTTVar, after.RTTVar, before.MinRTT, after.MinRTT)
			}
			// a fresh segment is timed again
			exchange(30 * time.Millisecond)
			if again := k.c.Stats(); again.SRTT == after.SRTT {
				t.Fatalf("no sample from a fresh segment after the retransmission: SRTT %v", again.SRTT)
			}
		})
	}
}

// TestMinRTO: on a link with a ~1 ms RTT the RTO formula (RFC 6298 §2)
// gives a few ms; the first retransmission comes exactly at Config.MinRTO,
// not earlier, for the default and a configured value.
func TestMinRTO(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{}, DefaultMinRTO},
		{Config{MinRTO: 2 * time.Second}, 2 * time.Second},
	} {
		t.Run(tc.want.String(), func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			k := e.dial(mssOnly(), 100)
			for i := 0; i < 3; i++ { // a few 1 ms samples
				k.c.Write([]byte("ping"))
				e.one()
				e.advance(time.Millisecond)
				k.ourSeq += 4
				k.send(fACK, nil)
			}
			if st := k.c.Stats(); st.SRTT > 2*time.Millisecond || st.RTO != tc.want {
				t.Fatalf("SRTT %v RTO %v, want RTO %v", st.SRTT, st.RTO, tc.want)
			}
			k.c.Write([]byte("lost"))
			d := e.one()
			e.advance(tc.want - time.Millisecond)
			e.none()
			e.advance(time.Millisecond)
			if r := e.one(); r.seq != d.seq || string(r.data) != "lost" {
				t.Fatalf("want the retransmission at %v, got %v", tc.want, r)
			}
		})
	}
}

// TestMSSFromRouteMTU: the MSS announced in SYN and SYN-ACK (and SYN
// cookie SYN-ACK) is the route's MTU less the IP and TCP headers: 1400-40
// over IPv4, 1400-60 over IPv6 (RFC 9293 §3.7.1, RFC 8200 §8.3).
func TestMSSFromRouteMTU(t *testing.T) {
	e := newEnvWith(t, Config{}, envOpts{mtu: 1400, v6: true})
	for _, tc := range []struct {
		peer, local netip.Addr
		want        uint16
	}{
		{peerIP, ourIP, 1360},
		{peerIP6, ourIP6, 1340},
	} {
		inject := e.inject
		if tc.peer.Is6() {
			inject = e.inject6
		}
		// active open
		c, _ := e.p.NewPCB()
		if err := c.Connect(netip.AddrPortFrom(tc.peer, 80)); err != nil {
			t.Fatal(err)
		}
		syn := e.one()
		if syn.flags != fSYN || syn.src != tc.local || !syn.opts.HasMSS || syn.opts.MSS != tc.want {
			t.Fatalf("SYN to %v: %v from %v, MSS %d, want %d", tc.peer, syn, syn.src, syn.opts.MSS, tc.want)
		}
		c.Abort()
		e.out()
		// passive open; the peer offers more
		l, _ := e.p.NewPCB()
		if err := l.Listen(netip.AddrPortFrom(netip.Addr{}, 80), 1); err != nil {
			t.Fatal(err)
		}
		inject(tseg{sport: 1000, dport: 80, seq: 1, flags: fSYN, wnd: 1000, opts: synOpts()})
		sa := e.one()
		if sa.flags != fSYN|fACK || sa.dst != tc.peer || !sa.opts.HasMSS || sa.opts.MSS != tc.want {
			t.Fatalf("SYN-ACK to %v: %v, MSS %d, want %d", tc.peer, sa, sa.opts.MSS, tc.want)
		}
		// beyond the backlog of 1: a SYN cookie, same MSS
		inject(tseg{sport: 1001, dport: 80, seq: 1, flags: fSYN, wnd: 1000, opts: synOpts()})
		ck := e.one()
		if ck.flags != fSYN|fACK || !ck.opts.HasMSS || ck.opts.MSS != tc.want || e.p.Stats().SynCookiesSent == 0 {
			t.Fatalf("SYN cookie SYN-ACK to %v: %v, MSS %d, want %d", tc.peer, ck, ck.opts.MSS, tc.want)
		}
		l.Close()
		e.out()
	}
}

// TestTimeWaitDuration: a connection stays in TIME_WAIT for Config.TimeWait
// (2*MSL, RFC 9293 §3.4.2), the default or a configured value: until then a
// retransmitted FIN is acknowledged, afterwards it meets no connection and
// is answered with RST (RFC 9293 §3.10.7.1).
func TestTimeWaitDuration(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{TimeWait: 5 * time.Second}, 5 * time.Second},
		{Config{}, DefaultTimeWait},
	} {
		t.Run(tc.want.String(), func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			k := e.dial(mssOnly(), 100)
			k.c.Shutdown()
			if f := e.one(); f.flags != fFIN|fACK {
				t.Fatalf("want FIN, got %v", f)
			}
			k.ourSeq++
			k.send(fFIN|fACK, nil)
			if a := e.one(); a.flags != fACK || a.ack != k.peerSeq || k.c.State() != TimeWait {
				t.Fatalf("want the ACK of the FIN and TIME_WAIT, got %v in %v", a, k.c.State())
			}
			pcbs := e.p.NumPCBs()
			e.advance(tc.want - time.Millisecond)
			if k.c.State() != TimeWait || e.p.NumPCBs() != pcbs {
				t.Fatalf("left TIME_WAIT before %v: %v", tc.want, k.c.State())
			}
			e.none()
			e.advance(time.Millisecond)
			if k.c.State() != Closed || e.p.NumPCBs() != pcbs-1 {
				t.Fatalf("still %v after %v (%d PCBs)", k.c.State(), tc.want, e.p.NumPCBs())
			}
			// the peer's FIN again: no connection now, so RST
			fin := tseg{sport: k.pport, dport: k.lport, seq: k.peerSeq - 1, ack: k.ourSeq, flags: fFIN | fACK, wnd: 1000}
			e.inject(fin)
			if r := e.one(); r.flags&fRST == 0 || r.seq != k.ourSeq {
				t.Fatalf("want RST for a FIN after TIME_WAIT, got %v", r)
			}
		})
	}
}

// TestMalformedOptionsEstablished: a segment with malformed options (a
// zero or one length, a length past the header, a kind without its length
// byte) that reaches an established connection is counted and dropped
// whole, unanswered: its data, ACK and window are not taken (RFC 9293 §3.1
// MUST-7: no crash on an illegal length; see doc.go). Unknown options of a
// valid length are skipped (MUST-64). The connection goes on in both
// directions.
func TestMalformedOptionsEstablished(t *testing.T) {
	e := newEnv(t, Config{})
	k := e.accept(mssOnly(), 1)
	k.c.Write([]byte("from us"))
	out := e.one()
	bad := [][]byte{
		{8, 0, 0, 0},           // zero length
		{1, 1, 2, 1},           // length 1
		{8, 44, 0, 0, 0, 0, 0}, // runs past the header
		{1, 1, 1, 5},           // no length byte
	}
	for i, raw := range bad {
		st := e.p.Stats()
		s := k.seg(fACK|fPSH, []byte("junk"))
		s.ack = out.seq + uint32(len(out.data)) // would acknowledge our data
		s.wnd = 1
		s.rawOpts = pad4(raw)
		e.inject(s)
		e.none()
		got := e.p.Stats()
		if got.DropBadOptions != st.DropBadOptions+1 || got.InErrs != st.InErrs+1 {
			t.Fatalf("options %v: drop count %d -> %d, errors %d -> %d", raw, st.DropBadOptions, got.DropBadOptions, st.InErrs, got.InErrs)
		}
		if len(k.recv) != 0 || k.sent != 0 || k.c.Stats().SndWnd != 65535 || k.c.State() != Established {
			t.Fatalf("options %v (#%d) were acted on: recv %q, acked %d, window %d, %v", raw, i, k.recv, k.sent, k.c.Stats().SndWnd, k.c.State())
		}
	}
	// an unknown option of a valid length is skipped; the segment counts
	s := k.seg(fACK|fPSH, []byte("hello"))
	s.ack = k.ourSeq + uint32(len(out.data))
	s.rawOpts = []byte{99, 4, 0xab, 0xcd}
	e.inject(s)
	k.peerSeq += 5
	k.ourSeq += uint32(len(out.data))
	e.advance(time.Second)
	if a := e.one(); a.ack != k.peerSeq || string(k.recv) != "hello" || k.sent != len(out.data) {
		t.Fatalf("segment with an unknown option: ack %v, recv %q, acked %d", a, k.recv, k.sent)
	}
	// both directions still work
	k.c.Write([]byte("more"))
	if d := e.one(); string(d.data) != "more" || d.seq != k.ourSeq {
		t.Fatalf("sent %v", d)
	}
	k.ourSeq += 4
	k.send(fACK|fPSH, []byte(" world"))
	e.advance(time.Second)
	e.out()
	if string(k.recv) != "hello world" || k.sent != len(out.data)+4 || k.c.State() != Established {
		t.Fatalf("after the bad segments: recv %q, acked %d, %v", k.recv, k.sent, k.c.State())
	}
}
