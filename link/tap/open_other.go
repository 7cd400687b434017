//go:build !linux

package tap

import (
	"errors"
	"fmt"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/wire"
)

// Open opens a TAP device; it needs Linux.
func Open(cfg Config) (*Link, error) {
	return nil, fmt.Errorf("tap: TAP devices need Linux: %w", errors.ErrUnsupported)
}

type ioState struct{}

// Offloads reports no offloads.
func (l *Link) Offloads() link.Offloads { return link.Offloads{} }

// Send fails: TAP devices need Linux.
func (l *Link) Send([]byte) error { return errors.ErrUnsupported }

// SendGSO fails: TAP devices need Linux.
func (l *Link) SendGSO([]byte, link.GSO) error { return errors.ErrUnsupported }

// SendBatch fails: TAP devices need Linux.
func (l *Link) SendBatch([][]byte, []link.GSO) (int, error) { return 0, errors.ErrUnsupported }

// HoldWrites does nothing: TAP devices need Linux.
func (l *Link) HoldWrites() {}

// FlushWrites fails: TAP devices need Linux.
func (l *Link) FlushWrites() error { return errors.ErrUnsupported }

// Receive fails: TAP devices need Linux.
func (l *Link) Receive([]byte) (int, error) { return 0, errors.ErrUnsupported }

// ReceiveMeta fails: TAP devices need Linux.
func (l *Link) ReceiveMeta([]byte) (int, link.RxMeta, error) {
	return 0, link.RxMeta{}, errors.ErrUnsupported
}

// ReceiveBatch fails: TAP devices need Linux.
func (l *Link) ReceiveBatch([][]byte, []int, []link.RxMeta) (int, error) {
	return 0, errors.ErrUnsupported
}

// SetMulticast fails: TAP devices need Linux.
func (l *Link) SetMulticast([]wire.MAC) error { return errors.ErrUnsupported }
