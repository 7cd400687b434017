package tcp

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestConnTableModel checks the connection table against a map through
// random inserts and deletes (growth, shrinking and backward-shift
// deletion across wrapping probe runs), with IPv4 and IPv6 tuples.
func TestConnTableModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tab := connTable{k0: r.Uint64(), k1: r.Uint64()}
	type key struct{ l, r netip.AddrPort }
	model := map[key]*PCB{}
	var live []*PCB
	addr := func() netip.Addr {
		if r.IntN(2) == 0 {
			return netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(4))})
		}
		return netip.AddrFrom16([16]byte{0xfd, 15: byte(r.IntN(4))})
	}
	for step := range 20000 {
		if len(live) == 0 || r.IntN(3) != 0 && len(live) < 3000 {
			c := &PCB{local: netip.AddrPortFrom(addr(), uint16(r.IntN(64))), remote: netip.AddrPortFrom(addr(), 80)}
			k := key{c.local, c.remote}
			if model[k] != nil {
				continue
			}
			tab.put(c)
			model[k] = c
			live = append(live, c)
		} else {
			i := r.IntN(len(live))
			c := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			tab.remove(c)
			delete(model, key{c.local, c.remote})
			if tab.get(c.local, c.remote) != nil {
				t.Fatalf("step %d: removed entry still found", step)
			}
		}
		if tab.n != len(model) || tab.n > 0 && tab.n*4 > len(tab.slots)*3 {
			t.Fatalf("step %d: n %d, model %d, slots %d", step, tab.n, len(model), len(tab.slots))
		}
		if step%500 == 0 {
			for k, c := range model {
				if got := tab.get(k.l, k.r); got != c {
					t.Fatalf("step %d: get(%v, %v) = %p, want %p", step, k.l, k.r, got, c)
				}
			}
		}
	}
	for _, c := range live {
		tab.remove(c)
	}
	if tab.n != 0 || tab.slots != nil {
		t.Fatalf("emptied table keeps n %d, %d slots", tab.n, len(tab.slots))
	}
}
