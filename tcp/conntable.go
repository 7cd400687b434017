package tcp

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// connTable is the Protocol's table of connected PCBs (SYN_SENT ..
// TIME_WAIT), keyed by the 4-tuple. It is an open-addressing hash table
// with linear probing whose slots hold only the PCB pointers: the key is
// read from the PCB itself (local, remote), so an entry costs 8 bytes per
// slot, about 11 to 21 bytes per connection at the table's load of 3/8 to
// 3/4, where a Go map keyed by the two netip.AddrPorts spent some 170.
// Lookups, inserts and deletes are O(1) on average and allocation-free;
// the slot array doubles when the load passes 3/4 and halves when it falls
// below 3/16 (both only when a connection is added or removed, never per
// segment). Deletion shifts later entries back (no tombstones).
//
// The hash is keyed with secrets from the stack's random source, so a peer
// that does not know them cannot aim many 4-tuples at one probe chain.
type connTable struct {
	slots  []*PCB // len a power of two, or nil while empty
	n      int
	k0, k1 uint64
}

// minConnSlots is the smallest slot array: 16 slots, 128 bytes.
const minConnSlots = 16

// hash mixes the 4-tuple with the table's keys (a multiply-fold mix in
// the style of wyhash over the addresses' 16-byte forms and the ports).
func (t *connTable) hash(local, remote netip.AddrPort) uint64 {
	la, ra := local.Addr().As16(), remote.Addr().As16()
	ports := uint64(local.Port())<<16 | uint64(remote.Port())
	h := mix(binary.LittleEndian.Uint64(la[:8])^t.k0, binary.LittleEndian.Uint64(la[8:])^t.k1)
	h = mix(binary.LittleEndian.Uint64(ra[:8])^h, binary.LittleEndian.Uint64(ra[8:])^t.k0)
	return mix(ports^t.k1, h^0x9e3779b97f4a7c15)
}

// mix is the 128-bit multiply folded to 64 bits.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// get returns the connection local-remote, or nil.
func (t *connTable) get(local, remote netip.AddrPort) *PCB {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := int(t.hash(local, remote)) & mask; ; i = (i + 1) & mask {
		c := t.slots[i]
		if c == nil {
			return nil
		}
		if c.local == local && c.remote == remote {
			return c
		}
	}
}

// put adds c under its addresses; the caller made sure that none is there.
func (t *connTable) put(c *PCB) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(minConnSlots, 2*len(t.slots)))
	}
	t.insert(c)
	t.n++
}

func (t *connTable) insert(c *PCB) {
	mask := len(t.slots) - 1
	i := int(t.hash(c.local, c.remote)) & mask
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = c
}

// remove takes c out of the table, if it is there.
func (t *connTable) remove(c *PCB) {
	if t.n == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := int(t.hash(c.local, c.remote)) & mask
	for t.slots[i] != c {
		if t.slots[i] == nil {
			return
		}
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move each later entry of the probe run
	// into the hole when its home slot does not lie between the hole and
	// its position (cyclically), so every entry stays reachable.
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		home := int(t.hash(t.slots[j].local, t.slots[j].remote)) & mask
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	switch {
	case t.n == 0:
		t.slots = nil
	case len(t.slots) > minConnSlots && t.n*16 < len(t.slots)*3:
		t.resize(len(t.slots) / 2)
	}
}

// resize rehashes every entry into n slots.
func (t *connTable) resize(n int) {
	old := t.slots
	t.slots = make([]*PCB, n)
	for _, c := range old {
		if c != nil {
			t.insert(c)
		}
	}
}
