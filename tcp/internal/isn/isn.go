// Package isn generates TCP initial sequence numbers per RFC 6528, SYN
// cookies in the style of RFC 4987 section 3.6, and keyed connection hashes
// for RFC 6056 ephemeral port selection and pcb hash tables.
//
// All three are built on SipHash-2-4, implemented locally, keyed with a
// 128-bit secret that the stack draws from its injected random source. Every
// use mixes a distinct domain byte into the hashed message, so an ISN, a
// cookie and a port hash of the same tuple are unrelated. The Generator reads
// no clock: callers pass the current (monotonic, injected) time. Nothing
// allocates: addresses are serialized into a stack array.
package isn

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Domain separation bytes, the first byte of every hashed message.
const (
	domainISN    = 1
	domainCookie = 2
	domainHash   = 3
)

// ISNTick is the period of the RFC 6528 timer M (and of RFC 793's ISN clock).
const ISNTick = 4 * time.Microsecond

// Generator derives ISNs, SYN cookies and connection hashes from a secret
// key. It is immutable after NewGenerator and safe for concurrent use.
type Generator struct {
	k0, k1 uint64
}

// NewGenerator returns a Generator keyed with key, which must come from a
// cryptographically strong random source (RFC 6528 section 3: the secret
// key "should be of at least 128 bits").
func NewGenerator(key [16]byte) *Generator {
	return &Generator{
		k0: binary.LittleEndian.Uint64(key[0:8]),
		k1: binary.LittleEndian.Uint64(key[8:16]),
	}
}

// tupleLen is the serialized size: domain byte, two 16-byte addresses, two
// ports, plus room for up to 8 bytes of extra input.
const tupleLen = 1 + 16 + 2 + 16 + 2 + 8

// tuple serializes (domain, local, remote) into buf and returns the length
// used. IPv4 addresses are written in their IPv4-mapped IPv6 form, so an
// address hashes the same whether or not the caller unmapped it. Zones are
// ignored.
func tuple(buf *[tupleLen]byte, domain byte, local, remote netip.AddrPort) int {
	buf[0] = domain
	la := local.Addr().As16()
	ra := remote.Addr().As16()
	copy(buf[1:17], la[:])
	binary.BigEndian.PutUint16(buf[17:19], local.Port())
	copy(buf[19:35], ra[:])
	binary.BigEndian.PutUint16(buf[35:37], remote.Port())
	return 37
}

// ISN returns the initial sequence number for a connection from local to
// remote, per RFC 6528 section 3:
//
//	ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//
// where M is now counted in 4-microsecond ticks (modulo 2^32) and F is the
// low 32 bits of SipHash-2-4 over the 4-tuple. Successive connections of one
// tuple thus get increasing ISNs, while ISNs of other tuples are unguessable.
func (g *Generator) ISN(local, remote netip.AddrPort, now time.Duration) uint32 {
	var buf [tupleLen]byte
	n := tuple(&buf, domainISN, local, remote)
	f := uint32(sipHash24(g.k0, g.k1, buf[:n]))
	m := uint32(uint64(now) / uint64(ISNTick))
	return m + f
}

// Hash returns a keyed 64-bit hash of the 4-tuple, for RFC 6056 ephemeral
// port selection (algorithm 3, "Simple Hash-Based Port Selection": offset =
// F(local, remote, key)) and for hashing pcbs into buckets. The order of the
// arguments matters (Hash(a, b) != Hash(b, a) in general).
func (g *Generator) Hash(local, remote netip.AddrPort) uint64 {
	var buf [tupleLen]byte
	n := tuple(&buf, domainHash, local, remote)
	return sipHash24(g.k0, g.k1, buf[:n])
}
