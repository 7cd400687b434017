package wire

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Lengths of MLD messages and parts (RFC 2710 §3, RFC 3810 §5), ICMPv6
// header included.
const (
	MLDv1Len                 = 24 // MLDv1 query, report and done
	MLDv2QueryMinLen         = 28 // MLDv2 query without sources
	MLDv2ReportHeaderLen     = 8  // MLDv2 report before its records
	MLDv2AddressRecordMinLen = 20 // address record without sources and aux data
)

// MLDv2 multicast address record types (RFC 3810 §5.2.12); the same
// values as IGMPv3's.
const (
	MLDv2ModeIsInclude   = 1
	MLDv2ModeIsExclude   = 2
	MLDv2ChangeToInclude = 3
	MLDv2ChangeToExclude = 4
	MLDv2AllowNewSources = 5
	MLDv2BlockOldSources = 6
)

// MLD is a view of a Multicast Listener Discovery message: MLDv1 query,
// report or done (RFC 2710), MLDv2 query or report (RFC 3810). Make one
// with ParseMLD.
type MLD struct {
	b       []byte
	version uint8
}

// ParseMLD checks b, the whole ICMPv6 message, as an MLD message.
//
// Fewer than 8 bytes give ErrTooShort. A query's version follows RFC 3810
// §8.1: 24 bytes is MLDv1, 28 bytes or more MLDv2 (its sources must fit,
// else ErrBadLength), 25 to 27 bytes ErrBadLength and fewer than 24
// ErrTooShort. MLDv1 reports and dones need 24 bytes (else ErrTooShort).
// An MLDv2 report's address records, with their sources and auxiliary
// data, must all fit in b, else ErrBadLength. Other ICMPv6 types give
// ErrUnsupported. The checksum is not verified: see ChecksumValid.
func ParseMLD(b []byte) (MLD, error) {
	if len(b) < MLDv2ReportHeaderLen {
		return MLD{}, ErrTooShort
	}
	switch b[0] {
	case ICMPv6MLDQuery:
		switch {
		case len(b) < MLDv1Len:
			return MLD{}, ErrTooShort
		case len(b) == MLDv1Len:
			return MLD{b: b, version: 1}, nil
		case len(b) < MLDv2QueryMinLen:
			return MLD{}, ErrBadLength
		}
		n := int(binary.BigEndian.Uint16(b[26:28]))
		if MLDv2QueryMinLen+16*n > len(b) {
			return MLD{}, ErrBadLength
		}
		return MLD{b: b, version: 2}, nil
	case ICMPv6MLDv1Report, ICMPv6MLDv1Done:
		if len(b) < MLDv1Len {
			return MLD{}, ErrTooShort
		}
		return MLD{b: b, version: 1}, nil
	case ICMPv6MLDv2Report:
		n := int(binary.BigEndian.Uint16(b[6:8]))
		off := MLDv2ReportHeaderLen
		for i := 0; i < n; i++ {
			l, ok := mldRecordLen(b[off:])
			if !ok {
				return MLD{}, ErrBadLength
			}
			off += l
		}
		return MLD{b: b, version: 2}, nil
	}
	return MLD{}, ErrUnsupported
}

// mldRecordLen returns the length of the address record at the start of b
// and whether it fits in b.
func mldRecordLen(b []byte) (int, bool) {
	if len(b) < MLDv2AddressRecordMinLen {
		return 0, false
	}
	l := MLDv2AddressRecordMinLen + 4*int(b[1]) + 16*int(binary.BigEndian.Uint16(b[2:4]))
	return l, l <= len(b)
}

// Type returns the ICMPv6 type (ICMPv6MLDQuery ...).
func (m MLD) Type() uint8 { return m.b[0] }

// Version returns the MLD version of the message (1 or 2): for a query
// as told by RFC 3810 §8.1, for reports by their type.
func (m MLD) Version() int { return int(m.version) }

// Checksum returns the checksum field.
func (m MLD) Checksum() uint16 { return binary.BigEndian.Uint16(m.b[2:4]) }

// ChecksumValid reports whether the checksum over the IPv6 pseudo-header
// of src and dst and the whole message verifies.
func (m MLD) ChecksumValid(src, dst netip.Addr) bool {
	return Checksum(m.b, PseudoHeaderSum(src, dst, ProtoICMPv6, len(m.b))) == 0
}

// MaxRespCode returns the raw 16-bit Maximum Response Code (MLDv2) or
// Maximum Response Delay (MLDv1) field; 0 for an MLDv2 report, where the
// field is reserved.
func (m MLD) MaxRespCode() uint16 {
	if m.b[0] == ICMPv6MLDv2Report {
		return 0
	}
	return binary.BigEndian.Uint16(m.b[4:6])
}

// MaxRespDelay returns a query's maximum response delay: the field in
// milliseconds for MLDv1, the decoded code (MLDDecodeCode) in
// milliseconds for MLDv2. It is 0 for other messages.
func (m MLD) MaxRespDelay() time.Duration {
	if m.b[0] != ICMPv6MLDQuery {
		return 0
	}
	c := binary.BigEndian.Uint16(m.b[4:6])
	if m.version == 1 {
		return time.Duration(c) * time.Millisecond
	}
	return time.Duration(MLDDecodeCode(c)) * time.Millisecond
}

// Group returns the multicast address of a query (unspecified :: in a
// general query), an MLDv1 report or a done. It returns the zero Addr for
// an MLDv2 report, whose groups are in its records.
func (m MLD) Group() netip.Addr {
	if m.b[0] == ICMPv6MLDv2Report {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(m.b[8:24]))
}

// Bytes returns the whole message.
func (m MLD) Bytes() []byte { return m.b }

func (m MLD) isV2Query() bool { return m.version == 2 && m.b[0] == ICMPv6MLDQuery }

// SFlag returns the Suppress Router-Side Processing flag of an MLDv2 query.
func (m MLD) SFlag() bool { return m.isV2Query() && m.b[24]&0x08 != 0 }

// QRV returns the Querier's Robustness Variable of an MLDv2 query (0 for
// other messages).
func (m MLD) QRV() uint8 {
	if !m.isV2Query() {
		return 0
	}
	return m.b[24] & 0x07
}

// QQIC returns the raw Querier's Query Interval Code of an MLDv2 query
// (0 for other messages).
func (m MLD) QQIC() uint8 {
	if !m.isV2Query() {
		return 0
	}
	return m.b[25]
}

// QueryInterval returns the decoded QQIC of an MLDv2 query (RFC 3810
// §5.1.9, the encoding of IGMPDecodeCode), in seconds as a Duration.
func (m MLD) QueryInterval() time.Duration {
	return time.Duration(IGMPDecodeCode(m.QQIC())) * time.Second
}

// NumSources returns the number of source addresses of an MLDv2 query (0
// for other messages).
func (m MLD) NumSources() int {
	if !m.isV2Query() {
		return 0
	}
	return int(binary.BigEndian.Uint16(m.b[26:28]))
}

// Source returns source address i of an MLDv2 query, or the zero Addr
// when i is out of range.
func (m MLD) Source(i int) netip.Addr {
	if i < 0 || i >= m.NumSources() {
		return netip.Addr{}
	}
	o := MLDv2QueryMinLen + 16*i
	return netip.AddrFrom16([16]byte(m.b[o : o+16]))
}

// NumAddressRecords returns the number of multicast address records of
// an MLDv2 report (0 for other messages).
func (m MLD) NumAddressRecords() int {
	if m.b[0] != ICMPv6MLDv2Report {
		return 0
	}
	return int(binary.BigEndian.Uint16(m.b[6:8]))
}

// ForEachAddressRecord calls fn for each multicast address record of an
// MLDv2 report, in order, until fn returns false. ParseMLD has checked
// that all records fit.
func (m MLD) ForEachAddressRecord(fn func(r MLDAddressRecord) bool) {
	n := m.NumAddressRecords()
	off := MLDv2ReportHeaderLen
	for i := 0; i < n; i++ {
		l, ok := mldRecordLen(m.b[off:])
		if !ok || !fn(MLDAddressRecord{b: m.b[off : off+l]}) {
			return
		}
		off += l
	}
}

// MLDAddressRecord is a view of one multicast address record of an MLDv2
// report (RFC 3810 §5.2.4), obtained from MLD.ForEachAddressRecord.
type MLDAddressRecord struct {
	b []byte
}

// Type returns the record type (MLDv2ModeIsInclude ...).
func (r MLDAddressRecord) Type() uint8 { return r.b[0] }

// AuxDataLen returns the auxiliary data length in bytes.
func (r MLDAddressRecord) AuxDataLen() int { return 4 * int(r.b[1]) }

// NumSources returns the number of source addresses.
func (r MLDAddressRecord) NumSources() int { return int(binary.BigEndian.Uint16(r.b[2:4])) }

// Group returns the multicast address.
func (r MLDAddressRecord) Group() netip.Addr { return netip.AddrFrom16([16]byte(r.b[4:20])) }

// Source returns source address i, or the zero Addr when i is out of range.
func (r MLDAddressRecord) Source(i int) netip.Addr {
	if i < 0 || i >= r.NumSources() {
		return netip.Addr{}
	}
	o := MLDv2AddressRecordMinLen + 16*i
	return netip.AddrFrom16([16]byte(r.b[o : o+16]))
}

// AuxData returns the auxiliary data.
func (r MLDAddressRecord) AuxData() []byte {
	return r.b[MLDv2AddressRecordMinLen+16*r.NumSources():]
}

// Bytes returns the whole record.
func (r MLDAddressRecord) Bytes() []byte { return r.b }

// MLDDecodeCode decodes an MLDv2 Maximum Response Code (RFC 3810
// §5.1.3) to milliseconds: values below 32768 are literal, others a
// floating-point number (mant | 0x1000) << (exp + 3).
func MLDDecodeCode(c uint16) int {
	if c < 0x8000 {
		return int(c)
	}
	mant := int(c & 0x0fff)
	exp := int(c>>12) & 0x07
	return (mant | 0x1000) << (exp + 3)
}

// MLDMaxCodeValue is the largest delay, in milliseconds, an MLDv2
// Maximum Response Code represents (code 0xffff).
const MLDMaxCodeValue = 0x1fff << 10

// MLDEncodeCode encodes v milliseconds as an MLDv2 Maximum Response
// Code, rounding down to the nearest representable value; values above
// MLDMaxCodeValue encode as 0xffff.
func MLDEncodeCode(v int) uint16 {
	if v < 0x8000 {
		return uint16(max(v, 0))
	}
	if v > MLDMaxCodeValue {
		return 0xffff
	}
	exp := 0
	for v>>(exp+3) > 0x1fff {
		exp++
	}
	mant := (v >> (exp + 3)) & 0x0fff
	return 0x8000 | uint16(exp)<<12 | uint16(mant)
}

// PutMLDv1 writes a 24-byte MLDv1 message (RFC 2710 §3) with a zero
// checksum and returns 24: a query (ICMPv6MLDQuery, group :: for a
// general query, maxDelay in milliseconds), a report
// (ICMPv6MLDv1Report) or a done (ICMPv6MLDv1Done, maxDelay 0). Call
// SetICMPv6Checksum after it. Send it with hop limit 1 and a router
// alert option (PutIPv6OptionsHeader).
func PutMLDv1(b []byte, typ uint8, maxDelay uint16, group netip.Addr) int {
	_ = b[MLDv1Len-1]
	PutICMPv6(b, typ, 0, uint32(maxDelay)<<16)
	g := group.As16()
	copy(b[8:24], g[:])
	return MLDv1Len
}

// MLDv2QueryLen returns the length of an MLDv2 query with n sources.
func MLDv2QueryLen(n int) int { return MLDv2QueryMinLen + 16*n }

// PutMLDv2Query writes an MLDv2 query (RFC 3810 §5.1) with a zero
// checksum and returns MLDv2QueryLen(len(sources)). qrv above 7 is
// written as 0 (RFC 3810 §5.1.8). Call SetICMPv6Checksum after it.
func PutMLDv2Query(b []byte, maxRespCode uint16, group netip.Addr, sFlag bool, qrv, qqic uint8, sources []netip.Addr) int {
	n := MLDv2QueryLen(len(sources))
	_ = b[n-1]
	PutICMPv6(b, ICMPv6MLDQuery, 0, uint32(maxRespCode)<<16)
	g := group.As16()
	copy(b[8:24], g[:])
	if qrv > 7 {
		qrv = 0
	}
	b[24] = qrv
	if sFlag {
		b[24] |= 0x08
	}
	b[25] = qqic
	binary.BigEndian.PutUint16(b[26:28], uint16(len(sources)))
	for i, s := range sources {
		a := s.As16()
		copy(b[MLDv2QueryMinLen+16*i:], a[:])
	}
	return n
}

// PutMLDv2ReportHeader writes the 8-byte header of an MLDv2 report
// (RFC 3810 §5.2) with a zero checksum and returns 8. Write numRecords
// records after it with PutMLDv2AddressRecord, then call
// SetICMPv6Checksum over the whole report.
func PutMLDv2ReportHeader(b []byte, numRecords int) int {
	PutICMPv6(b, ICMPv6MLDv2Report, 0, uint32(uint16(numRecords)))
	return MLDv2ReportHeaderLen
}

// MLDv2AddressRecordLen returns the length of an address record with n
// sources and no auxiliary data.
func MLDv2AddressRecordLen(n int) int { return MLDv2AddressRecordMinLen + 16*n }

// PutMLDv2AddressRecord writes a multicast address record (RFC 3810
// §5.2.4) without auxiliary data and returns
// MLDv2AddressRecordLen(len(sources)).
func PutMLDv2AddressRecord(b []byte, recordType uint8, group netip.Addr, sources []netip.Addr) int {
	n := MLDv2AddressRecordLen(len(sources))
	_ = b[n-1]
	b[0], b[1] = recordType, 0
	binary.BigEndian.PutUint16(b[2:4], uint16(len(sources)))
	g := group.As16()
	copy(b[4:20], g[:])
	for i, s := range sources {
		a := s.As16()
		copy(b[MLDv2AddressRecordMinLen+16*i:], a[:])
	}
	return n
}
