package tcp

import (
	"testing"
	"unsafe"
)

// TestPCBSize keeps the PCB within the 896-byte allocation size class: an
// idle connection is mostly this struct, and state only needed while data
// is in flight or out of order lives outside it (active.go).
func TestPCBSize(t *testing.T) {
	if n := unsafe.Sizeof(PCB{}); n > 896 {
		t.Fatalf("PCB is %d bytes, more than the 896-byte size class", n)
	}
}
