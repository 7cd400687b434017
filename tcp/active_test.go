package tcp

import (
	"testing"
	"unsafe"
)

// TestPCBSize keeps the PCB within the 512-byte allocation size class (the
// next is 576): an idle connection is mostly this struct, and state only
// needed while data is in flight or out of order lives outside it
// (active.go).
func TestPCBSize(t *testing.T) {
	if n := unsafe.Sizeof(PCB{}); n > 512 {
		t.Fatalf("PCB is %d bytes, more than the 512-byte size class", n)
	}
}
