package stack

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"testing"
	"time"
)

func TestHangHunt(t *testing.T) {
	seeds := fuzzSeeds(t)
	r := rand.New(rand.NewPCG(5, 6))
	var f *testing.F
	_ = f
	for iter := 0; iter < 200000; iter++ {
		s := append([]byte(nil), seeds[r.IntN(len(seeds))]...)
		for k := r.IntN(8); k >= 0; k-- {
			switch r.IntN(3) {
			case 0:
				s[r.IntN(len(s))] = byte(r.Uint32())
			case 1:
				s = append(s, seeds[r.IntN(len(seeds))]...)
			case 2:
				i := r.IntN(len(s))
				s = s[:i]
				if len(s) == 0 {
					s = []byte{0}
				}
			}
		}
		done := make(chan bool)
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				os.WriteFile("/tmp/hang.bin", s, 0644)
				pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
				os.Exit(3)
			}
		}()
		runFuzzOnce(t, s)
		close(done)
	}
	fmt.Println("no hang")
}
