package bench

import (
	"errors"
	"os"
	"testing"
)

// TestTAPFigures runs each TAP figure once, one second each, for both
// stacks and both directions: the numbers must be rates, or, where the
// machine cannot run them, the reason (never a number). Root and iperf 2
// are needed for numbers.
func TestTAPFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, dir := range []TAPDir{TAPIn, TAPOut} {
		for _, off := range []bool{false, true} {
			for name, side := range map[string]Side{"featherip": FipTAP(dir, off, 1), "gVisor": GvTAP(dir, off, 1)} {
				m, err := side()
				if os.Geteuid() != 0 {
					if !errors.Is(err, ErrUnavailable) {
						t.Fatalf("%s without root: %v, want ErrUnavailable", name, err)
					}
					continue
				}
				if errors.Is(err, ErrUnavailable) {
					t.Skip(err)
				}
				if err != nil {
					t.Fatalf("%s dir %d offloads %v: %v", name, dir, off, err)
				}
				if m[mMbits] <= 0 {
					t.Fatalf("%s dir %d offloads %v: %v Mbit/s", name, dir, off, m[mMbits])
				}
				t.Logf("%s dir %d offloads %v: %.0f Mbit/s", name, dir, off, m[mMbits])
			}
		}
	}
}
