//go:build !linux

package tap

import (
	"errors"
	"fmt"
)

// Open opens a TAP device; it needs Linux.
func Open(cfg Config) (*Link, error) {
	return nil, fmt.Errorf("tap: TAP devices need Linux: %w", errors.ErrUnsupported)
}
