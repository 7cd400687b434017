package featherip

import (
	"errors"
	"testing"

	"github.com/featherip/featherip/link"
	"github.com/featherip/featherip/stack"
	"github.com/featherip/featherip/wire"
)

// filterLink is an offload link with a multicast filter that records what
// it is given.
type filterLink struct {
	link.OffloadLink
	got []wire.MAC
	err error
}

func (f *filterLink) SetMulticast(macs []wire.MAC) error {
	f.got = append([]wire.MAC(nil), macs...)
	return f.err
}

func TestGSOLinkPassesMulticastFilter(t *testing.T) {
	inner := &filterLink{err: errors.New("refused")}
	var mf stack.MulticastFilter = gsoLink{OffloadLink: inner, max: 65536}
	macs := []wire.MAC{{0x01, 0x00, 0x5e, 0, 0, 1}, {0x33, 0x33, 0, 0, 0, 1}}
	if err := mf.SetMulticast(macs); err != inner.err {
		t.Fatalf("SetMulticast error = %v, want the link's %v", err, inner.err)
	}
	if len(inner.got) != 2 || inner.got[0] != macs[0] || inner.got[1] != macs[1] {
		t.Fatalf("link got %v, want %v", inner.got, macs)
	}
	// A link without a filter: accepted, nothing to do.
	var plain stack.MulticastFilter = gsoLink{max: 65536}
	if err := plain.SetMulticast(macs); err != nil {
		t.Fatalf("SetMulticast on a link without a filter = %v", err)
	}
}
