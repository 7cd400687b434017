package tcp

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// fuzzSteps decodes the steps of FuzzTCPInput, each from 15+ bytes: time
// step, target, flags, seq and ack deltas, window, raw options, data
// length. The target's low two bits pick what the segment goes to (see
// FuzzTCPInput), bit 2 the address family (set: IPv6).
func fuzzSteps(b []byte, fn func(step time.Duration, target, flags uint8, dseq, dack int32, wnd uint16, opts []byte, dlen int)) {
	for len(b) >= 15 {
		step := time.Duration(b[0]) * 10 * time.Millisecond
		if b[0] == 255 {
			step = time.Minute
		}
		target, flags := b[1], b[2]
		dseq := int32(binary.BigEndian.Uint32(b[3:7]))
		dack := int32(binary.BigEndian.Uint32(b[7:11]))
		wnd := binary.BigEndian.Uint16(b[11:13])
		ol := int(b[13]) % 41 &^ 3
		dlen := int(b[14]) * 8
		b = b[15:]
		ol = min(ol, len(b)&^3)
		opts := b[:ol]
		b = b[ol:]
		fn(step, target, flags, dseq, dack, wnd, opts, dlen)
	}
}

// FuzzTCPInput feeds sequences of segments, with time steps, over IPv4 and
// IPv6 into a stack holding a dual-stack listener and an established
// connection in each family, and checks that nothing panics, every segment
// sent is well formed (env.out parses both families and checks the
// checksums), and the connections' invariants hold.
func FuzzTCPInput(f *testing.F) {
	rec := func(step, target, flags byte, dseq, dack int32, wnd uint16, opts []byte, dlen byte) []byte {
		b := []byte{step, target, flags}
		b = binary.BigEndian.AppendUint32(b, uint32(dseq))
		b = binary.BigEndian.AppendUint32(b, uint32(dack))
		b = binary.BigEndian.AppendUint16(b, wnd)
		b = append(b, byte(len(opts)), dlen)
		return append(b, opts...)
	}
	cat := func(r ...[]byte) []byte {
		var b []byte
		for _, x := range r {
			b = append(b, x...)
		}
		return b
	}
	f.Add(rec(0, 0, fACK, 0, 0, 1000, nil, 10))
	f.Add(cat(rec(1, 0, fACK, 100, 0, 1000, nil, 10), rec(1, 0, fACK, 0, 0, 1000, nil, 12), rec(5, 0, fFIN|fACK, 0, 0, 0, nil, 0)))
	f.Add(cat(rec(0, 1, fSYN, 0, 0, 1000, []byte{2, 4, 5, 180, 1, 3, 3, 7}, 0), rec(1, 1, fACK, 1, 1, 1000, nil, 1)))
	f.Add(cat(rec(0, 0, fRST, 0, 0, 0, nil, 0), rec(0, 0, fRST, 5, 0, 0, nil, 0), rec(0, 0, fSYN, 0, 0, 0, nil, 0)))
	f.Add(cat(rec(0, 0, fACK, 0, 0, 0, nil, 0), rec(100, 0, fACK, 0, 0, 0, nil, 0), rec(255, 0, fACK, 0, 0, 500, nil, 0)))
	f.Add(cat(rec(0, 2, fSYN, 0, 0, 100, nil, 0), rec(0, 3, fACK, 0, 0, 100, []byte{5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1}, 3)))
	f.Add(cat(rec(0, 0, fACK, 0, 5, 1000, []byte{1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 1, 0}, 0), rec(0, 0, fACK, 0, 5, 1000, nil, 0)))
	// IPv6 (target bit 2), alone and interleaved with IPv4
	f.Add(cat(rec(1, 4, fACK, 0, 0, 1000, nil, 10), rec(1, 4, fACK, 0, 0, 1000, nil, 12), rec(5, 4, fFIN|fACK, 0, 0, 0, nil, 0)))
	f.Add(cat(rec(0, 5, fSYN, 0, 0, 1000, []byte{2, 4, 5, 160, 1, 3, 3, 7}, 0), rec(1, 5, fACK, 1, 1, 1000, nil, 1), rec(0, 6, fSYN, 9, 0, 100, nil, 0)))
	f.Add(cat(rec(0, 4, fACK, 100, 0, 1000, nil, 10), rec(0, 0, fACK, 100, 0, 1000, nil, 10), rec(0, 7, fRST, 0, 0, 0, nil, 0), rec(20, 4, fACK, 0, 0, 1000, nil, 13)))
	setup := func(k *conn) {
		k.c.SetAutoRecved(false)
		k.c.OnRecv(func(c *PCB, d []byte) {
			if d != nil {
				c.Write(d[:min(len(d), 100)]) // echo a little
				c.Recved(len(d) / 2)
			}
		})
		k.c.Write(make([]byte, 3000))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e := newEnvWith(t, Config{MaxPCBs: 16, RecvBuffer: 4096, SendBuffer: 8192, MaxOOOSegments: 4}, envOpts{v6: true})
		k4 := e.accept(synOpts(), 0x7ffffff0)
		k6 := e.acceptOn(k4.acceptedBy, synOpts(), 0x0ffffff0, true)
		if !k6.c.RemoteAddr().Addr().Is6() {
			t.Fatalf("IPv6 connection from %v", k6.c.RemoteAddr())
		}
		// later connections echo too, but are not the ones targeted
		k4.acceptedBy.OnAccept(func(l, c *PCB) { setup(&conn{e: e, c: c}) })
		setup(k4)
		setup(k6)
		e.out()
		data := make([]byte, 255*8)
		port := uint16(41000)
		fuzzSteps(b, func(step time.Duration, target, flags uint8, dseq, dack int32, wnd uint16, opts []byte, dlen int) {
			e.advance(step)
			s := tseg{flags: flags, wnd: wnd, data: data[:dlen], rawOpts: opts}
			if len(opts) == 0 {
				s.rawOpts = nil
			}
			k := k4
			if target&4 != 0 {
				k = k6
			}
			switch target % 4 {
			case 0: // the established connection, relative numbers
				s.sport, s.dport = k.pport, 80
				s.seq = k.peerSeq + uint32(dseq)
				s.ack = k.c.sndUna + uint32(dack)
			case 1: // new connections to the listener
				s.sport, s.dport = port+uint16(dseq&3), 80
				s.seq, s.ack = uint32(dseq), uint32(dack)
			case 2: // a closed port
				s.sport, s.dport = 1234, 81
				s.seq, s.ack = uint32(dseq), uint32(dack)
			case 3: // the connection, absolute numbers
				s.sport, s.dport = k.pport, 80
				s.seq, s.ack = uint32(dseq), uint32(dack)
			}
			k.inject(s)
			e.out() // parses and checks every segment sent
			if e.p.NumPCBs() > 16 {
				t.Fatalf("%d PCBs with MaxPCBs 16", e.p.NumPCBs())
			}
			var want time.Duration
			for _, c := range e.p.pcbs {
				if c.next != 0 && (want == 0 || c.next < want) {
					want = c.next
				}
			}
			if got, _ := e.p.NextDeadline(); got != want {
				t.Fatalf("NextDeadline %v, PCBs say %v", got, want)
			}
			for _, c := range e.p.pcbs {
				if c.freed || !c.state.synchronized() || c.state == TimeWait {
					continue
				}
				if seqGT(c.sndUna, c.sndNxt) || seqGT(c.sndNxt, c.sndMax) {
					t.Fatalf("%v: una %d nxt %d max %d", c.remote, c.sndUna, c.sndNxt, c.sndMax)
				}
				if c.sb.len() > 8192 || c.ooo.queued() > 4096 || c.ooo != nil && len(c.ooo.segs) > 4 || c.unrecved < 0 {
					t.Fatalf("%v: bounds: sb %d ooo %d (%+v) unrecved %d", c.remote, c.sb.len(), c.ooo.queued(), c.ooo, c.unrecved)
				}
				if int(c.sndMax-c.sndUna) > c.sb.len()+2 {
					t.Fatalf("%v: in flight %d beyond buffer %d", c.remote, c.sndMax-c.sndUna, c.sb.len())
				}
			}
		})
		e.advance(10 * time.Minute)
		e.out()
		// all timers settle: only the listener (and nothing unbounded) remains
		if e.p.NumPCBs() > 16 {
			t.Fatalf("%d PCBs", e.p.NumPCBs())
		}
		_ = netip.Addr{}
	})
}
