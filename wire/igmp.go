package wire

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// IGMP message types (RFC 1112, RFC 2236, RFC 3376).
const (
	IGMPMembershipQuery    = 0x11 // query, all versions
	IGMPv1MembershipReport = 0x12 // RFC 1112
	IGMPv2MembershipReport = 0x16 // RFC 2236
	IGMPv2LeaveGroup       = 0x17 // RFC 2236
	IGMPv3MembershipReport = 0x22 // RFC 3376
)

// IGMPv3 group record types (RFC 3376 §4.2.12).
const (
	IGMPv3ModeIsInclude   = 1
	IGMPv3ModeIsExclude   = 2
	IGMPv3ChangeToInclude = 3
	IGMPv3ChangeToExclude = 4
	IGMPv3AllowNewSources = 5
	IGMPv3BlockOldSources = 6
)

// Lengths of IGMP messages and parts.
const (
	IGMPHeaderLen           = 8  // v1/v2 messages, v3 report header
	IGMPv3QueryMinLen       = 12 // v3 query without sources
	IGMPv3GroupRecordMinLen = 8  // group record without sources and aux data
)

// IGMP is a view of an IGMP message. Make one with ParseIGMP.
type IGMP struct {
	b       []byte
	version uint8
}

// ParseIGMP checks b, the whole IP payload, as an IGMP message.
//
// Fewer than 8 bytes give ErrTooShort. A query's version follows RFC 3376
// §7.1: 8 bytes and Max Resp Code 0 is IGMPv1, 8 bytes and a non-zero code
// is IGMPv2, 12 bytes or more is IGMPv3 (its sources must fit, else
// ErrBadLength); 9 to 11 bytes give ErrBadLength (such queries are to be
// ignored). A v3 report's group records, with their sources and auxiliary
// data, must all fit in b, else ErrBadLength. Other message types give
// ErrUnsupported (RFC 3376 §4: unrecognized types are ignored). The
// checksum is not verified: see ChecksumValid.
func ParseIGMP(b []byte) (IGMP, error) {
	if len(b) < IGMPHeaderLen {
		return IGMP{}, ErrTooShort
	}
	switch b[0] {
	case IGMPMembershipQuery:
		switch {
		case len(b) == IGMPHeaderLen && b[1] == 0:
			return IGMP{b: b, version: 1}, nil
		case len(b) == IGMPHeaderLen:
			return IGMP{b: b, version: 2}, nil
		case len(b) < IGMPv3QueryMinLen:
			return IGMP{}, ErrBadLength
		}
		n := int(binary.BigEndian.Uint16(b[10:12]))
		if IGMPv3QueryMinLen+4*n > len(b) {
			return IGMP{}, ErrBadLength
		}
		return IGMP{b: b, version: 3}, nil
	case IGMPv1MembershipReport:
		return IGMP{b: b, version: 1}, nil
	case IGMPv2MembershipReport, IGMPv2LeaveGroup:
		return IGMP{b: b, version: 2}, nil
	case IGMPv3MembershipReport:
		n := int(binary.BigEndian.Uint16(b[6:8]))
		off := IGMPHeaderLen
		for i := 0; i < n; i++ {
			l, ok := igmpRecordLen(b[off:])
			if !ok {
				return IGMP{}, ErrBadLength
			}
			off += l
		}
		return IGMP{b: b, version: 3}, nil
	}
	return IGMP{}, ErrUnsupported
}

// igmpRecordLen returns the length of the group record at the start of b
// and whether it fits in b.
func igmpRecordLen(b []byte) (int, bool) {
	if len(b) < IGMPv3GroupRecordMinLen {
		return 0, false
	}
	l := IGMPv3GroupRecordMinLen + 4*int(b[1]) + 4*int(binary.BigEndian.Uint16(b[2:4]))
	return l, l <= len(b)
}

// Type returns the message type.
func (m IGMP) Type() uint8 { return m.b[0] }

// Version returns the IGMP version of the message (1, 2 or 3): for a
// query as told by RFC 3376 §7.1, for reports by their type.
func (m IGMP) Version() int { return int(m.version) }

// MaxRespCode returns the raw Max Resp Code byte (unused in v1, so 0 in
// IGMPv1 messages).
func (m IGMP) MaxRespCode() uint8 { return m.b[1] }

// MaxRespTime returns a query's maximum response time: 10 s for an IGMPv1
// query (RFC 2236 §4), the code in tenths of a second for IGMPv2, and the
// decoded code (IGMPDecodeCode) in tenths of a second for IGMPv3. It is 0
// for other messages.
func (m IGMP) MaxRespTime() time.Duration {
	if m.b[0] != IGMPMembershipQuery {
		return 0
	}
	switch m.version {
	case 1:
		return 10 * time.Second
	case 2:
		return time.Duration(m.b[1]) * 100 * time.Millisecond
	}
	return time.Duration(IGMPDecodeCode(m.b[1])) * 100 * time.Millisecond
}

// Checksum returns the checksum field.
func (m IGMP) Checksum() uint16 { return binary.BigEndian.Uint16(m.b[2:4]) }

// ChecksumValid reports whether the checksum over the whole message
// verifies.
func (m IGMP) ChecksumValid() bool { return Checksum(m.b, 0) == 0 }

// Group returns the group address of a query (unspecified 0.0.0.0 in a
// general query), a v1/v2 report or a leave. It returns the zero Addr for
// a v3 report, whose groups are in its records.
func (m IGMP) Group() netip.Addr {
	if m.b[0] == IGMPv3MembershipReport {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(m.b[4:8]))
}

// Bytes returns the whole message.
func (m IGMP) Bytes() []byte { return m.b }

// SFlag returns the Suppress Router-Side Processing flag of a v3 query.
func (m IGMP) SFlag() bool { return m.isV3Query() && m.b[8]&0x08 != 0 }

// QRV returns the Querier's Robustness Variable of a v3 query (0 for
// other messages).
func (m IGMP) QRV() uint8 {
	if !m.isV3Query() {
		return 0
	}
	return m.b[8] & 0x07
}

// QQIC returns the raw Querier's Query Interval Code of a v3 query.
func (m IGMP) QQIC() uint8 {
	if !m.isV3Query() {
		return 0
	}
	return m.b[9]
}

// QueryInterval returns the decoded QQIC of a v3 query (RFC 3376
// §4.1.7), in seconds as a Duration.
func (m IGMP) QueryInterval() time.Duration {
	return time.Duration(IGMPDecodeCode(m.QQIC())) * time.Second
}

// NumSources returns the number of source addresses of a v3 query (0
// for other messages).
func (m IGMP) NumSources() int {
	if !m.isV3Query() {
		return 0
	}
	return int(binary.BigEndian.Uint16(m.b[10:12]))
}

// Source returns source address i of a v3 query, or the zero Addr when i
// is out of range.
func (m IGMP) Source(i int) netip.Addr {
	if i < 0 || i >= m.NumSources() {
		return netip.Addr{}
	}
	o := IGMPv3QueryMinLen + 4*i
	return netip.AddrFrom4([4]byte(m.b[o : o+4]))
}

func (m IGMP) isV3Query() bool { return m.version == 3 && m.b[0] == IGMPMembershipQuery }

// NumGroupRecords returns the number of group records of a v3 report (0
// for other messages).
func (m IGMP) NumGroupRecords() int {
	if m.b[0] != IGMPv3MembershipReport {
		return 0
	}
	return int(binary.BigEndian.Uint16(m.b[6:8]))
}

// ForEachGroupRecord calls fn for each group record of a v3 report, in
// order, until fn returns false. ParseIGMP has checked that all records
// fit.
func (m IGMP) ForEachGroupRecord(fn func(r IGMPGroupRecord) bool) {
	n := m.NumGroupRecords()
	off := IGMPHeaderLen
	for i := 0; i < n; i++ {
		l, ok := igmpRecordLen(m.b[off:])
		if !ok {
			return
		}
		if !fn(IGMPGroupRecord{b: m.b[off : off+l]}) {
			return
		}
		off += l
	}
}

// GroupRecordsLen returns the number of bytes the group records of a v3
// report take after the 8-byte header (0 for other messages).
func (m IGMP) GroupRecordsLen() int {
	n := 0
	m.ForEachGroupRecord(func(r IGMPGroupRecord) bool { n += len(r.b); return true })
	return n
}

// IGMPGroupRecord is a view of one group record of an IGMPv3 report
// (RFC 3376 §4.2.4), obtained from IGMP.ForEachGroupRecord.
type IGMPGroupRecord struct {
	b []byte
}

// Type returns the record type (IGMPv3ModeIsInclude ...).
func (r IGMPGroupRecord) Type() uint8 { return r.b[0] }

// AuxDataLen returns the auxiliary data length in bytes.
func (r IGMPGroupRecord) AuxDataLen() int { return 4 * int(r.b[1]) }

// NumSources returns the number of source addresses.
func (r IGMPGroupRecord) NumSources() int { return int(binary.BigEndian.Uint16(r.b[2:4])) }

// Group returns the multicast address.
func (r IGMPGroupRecord) Group() netip.Addr { return netip.AddrFrom4([4]byte(r.b[4:8])) }

// Source returns source address i, or the zero Addr when i is out of
// range.
func (r IGMPGroupRecord) Source(i int) netip.Addr {
	if i < 0 || i >= r.NumSources() {
		return netip.Addr{}
	}
	o := IGMPv3GroupRecordMinLen + 4*i
	return netip.AddrFrom4([4]byte(r.b[o : o+4]))
}

// AuxData returns the auxiliary data.
func (r IGMPGroupRecord) AuxData() []byte {
	return r.b[IGMPv3GroupRecordMinLen+4*r.NumSources():]
}

// Bytes returns the whole record.
func (r IGMPGroupRecord) Bytes() []byte { return r.b }

// IGMPDecodeCode decodes an IGMPv3 Max Resp Code or QQIC (RFC 3376
// §4.1.1, §4.1.7): values below 128 are literal, others a floating-point
// number (mant | 0x10) << (exp + 3).
func IGMPDecodeCode(c uint8) int {
	if c < 128 {
		return int(c)
	}
	mant := int(c & 0x0f)
	exp := int(c>>4) & 0x07
	return (mant | 0x10) << (exp + 3)
}

// IGMPEncodeCode encodes v as an IGMPv3 Max Resp Code or QQIC, rounding
// down to the nearest representable value; values above 31744 encode as
// 0xff (31744).
func IGMPEncodeCode(v int) uint8 {
	if v < 128 {
		return uint8(max(v, 0))
	}
	if v > 31744 {
		return 0xff
	}
	exp := 0
	for v>>(exp+3) > 0x1f {
		exp++
	}
	mant := (v >> (exp + 3)) & 0x0f
	return 0x80 | uint8(exp)<<4 | uint8(mant)
}

// SetIGMPChecksum computes the checksum over the whole message msg and
// stores it.
func SetIGMPChecksum(msg []byte) {
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], Checksum(msg, 0))
}

// PutIGMP writes an 8-byte IGMPv1/v2 message at b[0:8] with its checksum
// and returns 8: a query (IGMPMembershipQuery; maxRespCode 0 makes an
// IGMPv1 query, group 0.0.0.0 a general query), a v1 or v2 report, or a
// v2 leave. group must be an IPv4 address.
func PutIGMP(b []byte, typ, maxRespCode uint8, group netip.Addr) int {
	_ = b[IGMPHeaderLen-1]
	b[0], b[1], b[2], b[3] = typ, maxRespCode, 0, 0
	g := group.As4()
	copy(b[4:8], g[:])
	SetIGMPChecksum(b[:IGMPHeaderLen])
	return IGMPHeaderLen
}

// IGMPv3QueryLen returns the length of a v3 query with n sources.
func IGMPv3QueryLen(n int) int { return IGMPv3QueryMinLen + 4*n }

// PutIGMPv3Query writes an IGMPv3 query (RFC 3376 §4.1) at the start of b
// with its checksum and returns its length, IGMPv3QueryLen(len(sources)).
// qrv above 7 is written as 0 (RFC 3376 §4.1.6: the receiver then uses
// its default). group and sources must be IPv4 addresses.
func PutIGMPv3Query(b []byte, maxRespCode uint8, group netip.Addr, sFlag bool, qrv, qqic uint8, sources []netip.Addr) int {
	n := IGMPv3QueryLen(len(sources))
	_ = b[n-1]
	b[0], b[1], b[2], b[3] = IGMPMembershipQuery, maxRespCode, 0, 0
	g := group.As4()
	copy(b[4:8], g[:])
	if qrv > 7 {
		qrv = 0
	}
	b[8] = qrv
	if sFlag {
		b[8] |= 0x08
	}
	b[9] = qqic
	binary.BigEndian.PutUint16(b[10:12], uint16(len(sources)))
	for i, s := range sources {
		a := s.As4()
		copy(b[IGMPv3QueryMinLen+4*i:], a[:])
	}
	SetIGMPChecksum(b[:n])
	return n
}

// PutIGMPv3ReportHeader writes the 8-byte header of an IGMPv3 report
// (RFC 3376 §4.2) with a zero checksum and returns 8. Write numRecords
// group records after it with PutIGMPv3GroupRecord, then call
// SetIGMPChecksum over the whole report.
func PutIGMPv3ReportHeader(b []byte, numRecords int) int {
	_ = b[IGMPHeaderLen-1]
	b[0], b[1], b[2], b[3], b[4], b[5] = IGMPv3MembershipReport, 0, 0, 0, 0, 0
	binary.BigEndian.PutUint16(b[6:8], uint16(numRecords))
	return IGMPHeaderLen
}

// IGMPv3GroupRecordLen returns the length of a group record with n
// sources and no auxiliary data.
func IGMPv3GroupRecordLen(n int) int { return IGMPv3GroupRecordMinLen + 4*n }

// PutIGMPv3GroupRecord writes a group record (RFC 3376 §4.2.4) without
// auxiliary data at the start of b and returns its length,
// IGMPv3GroupRecordLen(len(sources)).
func PutIGMPv3GroupRecord(b []byte, recordType uint8, group netip.Addr, sources []netip.Addr) int {
	n := IGMPv3GroupRecordLen(len(sources))
	_ = b[n-1]
	b[0], b[1] = recordType, 0
	binary.BigEndian.PutUint16(b[2:4], uint16(len(sources)))
	g := group.As4()
	copy(b[4:8], g[:])
	for i, s := range sources {
		a := s.As4()
		copy(b[IGMPv3GroupRecordMinLen+4*i:], a[:])
	}
	return n
}
