package iperf

import (
	"encoding/binary"
	"errors"
	"time"
)

// Client header flags (iperf 2 include/payloads.h). The top bits say which
// parts of the header are present; RunNow distinguishes the dual test
// (both directions at once) from the tradeoff test (one after the other).
const (
	FlagVersion1 = 0x80000000 // the version-1 header (24 bytes) carries a test request
	FlagExtend   = 0x40000000 // an extension (iperf 2.1+) follows the version-1 header
	FlagUDPTests = 0x20000000 // UDP test settings follow (UDP only)
	FlagSeqNo64  = 0x08000000 // 64-bit UDP sequence numbers
	FlagVersion2 = 0x04000000 // version-2 header
	FlagLenBit   = 0x00010000 // the header length is in the bits of FlagLenMask
	FlagLenMask  = 0x000001FE // the header length in bytes when FlagLenBit is set
	FlagRunNow   = 0x00000001 // dual test: the server starts sending at once

	// Extension lower flags (iperf 2.1 HEADER_REVERSE, HEADER_FULLDUPLEX).
	ExtReverse    = 0x0400
	ExtFullDuplex = 0x0800
)

// Header lengths.
const (
	// HeaderV1Len is the length of the version-1 client header.
	HeaderV1Len = 24
	// HeaderExtLen is the length of the version-1 header plus the part of
	// the extension this package reads (type, length, flags, version).
	HeaderExtLen = 44
	// MaxHeaderLen bounds a header's declared length (iperf's
	// MAX_HEADER_LEN).
	MaxHeaderLen = 256
)

// ErrShortHeader is returned by ParseHeader when b is too short for the
// header its flags announce.
var ErrShortHeader = errors.New("iperf: client header truncated")

// Header is an iperf 2 client header: the test settings at the start of
// a TCP test stream. All words are big-endian on the wire.
type Header struct {
	// Flags is the first word: Flag* bits.
	Flags uint32
	// NumThreads is the client's number of parallel streams (-P).
	NumThreads int32
	// Port is the port the client listens on for dual and tradeoff tests.
	Port int32
	// BufLen is the client's buffer length (-l); 0 for the default.
	BufLen int32
	// WinBand is the TCP window (-w) or UDP bandwidth (-b); 0 for default.
	WinBand int32
	// Amount is the test length: positive is bytes (-n), negative is time in
	// units of 10 ms (-t).
	Amount int32

	// Extended reports that the extension was present (FlagExtend) and the
	// fields below were read.
	Extended bool
	// UpperFlags and LowerFlags are the extension's flags (Ext*).
	UpperFlags, LowerFlags uint16
	// VersionU and VersionL are the client's version: major<<16|minor and
	// patch<<16|kind (e.g. 0x00020001 and 0x00080003 for 2.1.8 final).
	VersionU, VersionL uint32
}

// HasHeader reports whether b starts with a client header rather than
// payload: whether its first word has one of the header flags set. An iperf
// 2.0 client without -d/-r sends the payload pattern straight away, whose
// first word ("0123") has none of them. It needs 4 bytes.
func HasHeader(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	return binary.BigEndian.Uint32(b)&(FlagVersion1|FlagExtend|FlagVersion2) != 0
}

// NeededLen returns how many bytes ParseHeader needs to parse the header
// that starts with the flags word flags: HeaderV1Len, or HeaderExtLen with
// FlagExtend.
func NeededLen(flags uint32) int {
	if flags&FlagExtend != 0 {
		return HeaderExtLen
	}
	return HeaderV1Len
}

// ParseHeader reads a client header from the start of b. It returns
// ErrShortHeader when b holds fewer bytes than the header's flags need
// (NeededLen). It never reads past b and accepts any flag values: unknown
// flags are kept for the caller to ignore.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderV1Len {
		return h, ErrShortHeader
	}
	be := binary.BigEndian
	h.Flags = be.Uint32(b[0:])
	if len(b) < NeededLen(h.Flags) {
		return Header{}, ErrShortHeader
	}
	h.NumThreads = int32(be.Uint32(b[4:]))
	h.Port = int32(be.Uint32(b[8:]))
	h.BufLen = int32(be.Uint32(b[12:]))
	h.WinBand = int32(be.Uint32(b[16:]))
	h.Amount = int32(be.Uint32(b[20:]))
	if h.Flags&FlagExtend != 0 {
		h.Extended = true
		// b[24:32] is the type and length of the extension, unused for TCP
		h.UpperFlags = be.Uint16(b[32:])
		h.LowerFlags = be.Uint16(b[34:])
		h.VersionU = be.Uint32(b[36:])
		h.VersionL = be.Uint32(b[40:])
	}
	return h, nil
}

// Len returns the header's length on the wire as Encode writes it:
// HeaderV1Len, or HeaderExtLen when Extended.
func (h *Header) Len() int {
	if h.Extended {
		return HeaderExtLen
	}
	return HeaderV1Len
}

// Encode writes the header to the start of b and returns the number of
// bytes written (Len). FlagExtend is set in the flags word exactly when
// Extended is. It returns 0 when b is too short.
func (h *Header) Encode(b []byte) int {
	n := h.Len()
	if len(b) < n {
		return 0
	}
	be := binary.BigEndian
	flags := h.Flags &^ FlagExtend
	if h.Extended {
		flags |= FlagExtend
	}
	be.PutUint32(b[0:], flags)
	be.PutUint32(b[4:], uint32(h.NumThreads))
	be.PutUint32(b[8:], uint32(h.Port))
	be.PutUint32(b[12:], uint32(h.BufLen))
	be.PutUint32(b[16:], uint32(h.WinBand))
	be.PutUint32(b[20:], uint32(h.Amount))
	if h.Extended {
		clear(b[24:32])
		be.PutUint16(b[32:], h.UpperFlags)
		be.PutUint16(b[34:], h.LowerFlags)
		be.PutUint32(b[36:], h.VersionU)
		be.PutUint32(b[40:], h.VersionL)
	}
	return n
}

// Dual reports a dual test request (iperf -d): the server should connect
// back to the client at once and send while receiving.
func (h *Header) Dual() bool { return h.Flags&FlagVersion1 != 0 && h.Flags&FlagRunNow != 0 }

// Tradeoff reports a tradeoff test request (iperf -r): the server should
// connect back after this test ends.
func (h *Header) Tradeoff() bool { return h.Flags&FlagVersion1 != 0 && h.Flags&FlagRunNow == 0 }

// Reverse reports an iperf 2.1 reverse (-R) or full-duplex test request:
// the server should send on this connection.
func (h *Header) Reverse() bool {
	return h.Extended && h.LowerFlags&(ExtReverse|ExtFullDuplex) != 0
}

// NeedsServerSend reports whether the client asked for a mode in which the
// server sends data (dual, tradeoff, reverse, full duplex); this package's
// server does not, it only receives.
func (h *Header) NeedsServerSend() bool { return h.Dual() || h.Tradeoff() || h.Reverse() }

// AmountBytes returns the requested byte count (-n) when Amount is
// positive; AmountTime the requested duration (-t) when it is negative.
func (h *Header) AmountBytes() (int64, bool) { return int64(h.Amount), h.Amount > 0 }

// AmountTime returns the requested test time when Amount is negative (in
// units of 10 ms on the wire).
func (h *Header) AmountTime() (time.Duration, bool) {
	if h.Amount >= 0 {
		return 0, false
	}
	return time.Duration(-int64(h.Amount)) * 10 * time.Millisecond, true
}
