package isn

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Cookie layout (32 bits, the ISN of the SYN-ACK), after RFC 4987 section
// 3.6 and the Bernstein/Linux design:
//
//	bits 31..27  t mod 32, t = now / CookieSlot
//	bits 26..24  index into MSSTable
//	bits 23..0   low 24 bits of SipHash-2-4(key; tuple, client ISN, t, index)
//
// The MAC covers the full (not truncated) time counter and the MSS index, so
// changing either field, the tuple or the client ISN invalidates the cookie.
const (
	// CookieSlot is the period of the cookie time counter. A cookie is
	// accepted in the slot it was made in and in the next one, so it lives
	// between CookieSlot and 2*CookieSlot.
	CookieSlot = 64 * time.Second

	timeBits = 5
	mssBits  = 3
	macBits  = 32 - timeBits - mssBits
	macMask  = 1<<macBits - 1
)

// MSSTable holds the MSS values a SYN cookie can encode (3 bits). The cookie
// carries the largest entry that does not exceed the client's MSS (536 when
// the client's MSS is below every entry: RFC 9293's default send MSS).
var MSSTable = [1 << mssBits]uint16{536, 1220, 1360, 1400, 1440, 1460, 4312, 8960}

// mssIndex returns the index of the largest MSSTable entry <= mss, or 0.
func mssIndex(mss uint16) int {
	idx := 0
	for i, v := range MSSTable {
		if v <= mss {
			idx = i
		}
	}
	return idx
}

func (g *Generator) cookieMAC(local, remote netip.AddrPort, clientISN uint32, t uint64, idx int) uint32 {
	var buf [tupleLen]byte
	n := tuple(&buf, domainCookie, local, remote)
	binary.BigEndian.PutUint32(buf[n:], clientISN)
	binary.BigEndian.PutUint32(buf[n+4:], uint32(t)<<mssBits|uint32(idx))
	return uint32(sipHash24(g.k0, g.k1, buf[:n+8])) & macMask
}

// Cookie returns a SYN cookie to use as the ISN of a SYN-ACK sent from local
// to remote in answer to a SYN with sequence number clientISN and MSS option
// mss (pass 536 when the SYN had none). The connection state is not stored:
// CheckCookie recovers the encoded MSS from the returning ACK.
func (g *Generator) Cookie(local, remote netip.AddrPort, clientISN uint32, mss uint16, now time.Duration) uint32 {
	t := slot(now)
	idx := mssIndex(mss)
	return uint32(t%(1<<timeBits))<<(32-timeBits) | uint32(idx)<<macBits | g.cookieMAC(local, remote, clientISN, t, idx)
}

// CheckCookie validates the cookie echoed by the ACK that completes a
// cookie handshake: for an ACK with sequence number SEG.SEQ and
// acknowledgment SEG.ACK, pass clientISN = SEG.SEQ-1 and cookie = SEG.ACK-1.
// It returns the encoded MSS and ok=true when the MAC matches and the
// cookie was made in the current or the previous CookieSlot; otherwise
// (forged, altered, other tuple, stale) it returns ok=false.
func (g *Generator) CheckCookie(local, remote netip.AddrPort, clientISN uint32, cookie uint32, now time.Duration) (mss uint16, ok bool) {
	cur := slot(now)
	ct := uint64(cookie >> (32 - timeBits))
	idx := int(cookie>>macBits) & (1<<mssBits - 1)
	// Reconstruct the full counter: the newest t <= cur with t mod 32 == ct.
	age := (cur - ct) % (1 << timeBits)
	if age > 1 || age > cur {
		return 0, false
	}
	t := cur - age
	if g.cookieMAC(local, remote, clientISN, t, idx) != cookie&macMask {
		return 0, false
	}
	return MSSTable[idx], true
}

func slot(now time.Duration) uint64 {
	if now < 0 {
		return 0
	}
	return uint64(now / CookieSlot)
}
