package labels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
)

// TestFastQRIsBoombulersSymbol: for every version it handles and for random
// URLs and bytes, the fast encoder writes exactly the symbol boombuler/barcode
// does (same version, same mask, every module), and it leaves what it does
// not handle to boombuler.
func TestFastQRIsBoombulersSymbol(t *testing.T) {
	var inputs []string
	// every length from 1 to past version 10's capacity: every version, every
	// padding
	for n := 1; n <= 220; n++ {
		s := "h" + strings.Repeat("ab9/", n)
		inputs = append(inputs, s[:n])
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		b := make([]byte, 1+rng.IntN(210))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(b))
		inputs = append(inputs, fmt.Sprintf("https://returns.example.com/portal/shop-%d/r/R-%04X-%04X?t=%x", rng.IntN(1000), rng.IntN(65536), rng.IntN(65536), rng.Uint64()))
	}
	inputs = append(inputs, "R-7KQ4-M2XD", "12345", "HTTPS://X.EXAMPLE/R/ABC") // alphanumeric and numeric: not ours
	fast, versions := 0, map[int]bool{}
	for _, s := range inputs {
		bc, err := qr.Encode(s, qr.M, qr.Auto)
		if err != nil {
			t.Fatal(err)
		}
		want := toMatrix(bc, qrQuiet)
		got, ok := fastQR(s)
		if !ok {
			continue
		}
		fast++
		versions[(got.w-17)/4] = true
		if got.w != want.w || got.h != want.h {
			t.Fatalf("%q: got %dx%d modules, want %dx%d", s, got.w, got.h, want.w, want.h)
		}
		for i := range want.dark {
			if got.dark[i] != want.dark[i] {
				t.Fatalf("%q (%d modules a side): module (%d, %d) differs", s, want.w, i%want.w, i/want.w)
			}
		}
	}
	if fast < len(inputs)/2 || len(versions) != len(qrVersionsM) {
		t.Fatalf("the fast encoder took %d of %d inputs in versions %v, want most, in every version", fast, len(inputs), versions)
	}
	for _, s := range []string{"R-7KQ4-M2XD", "12345", strings.Repeat("x", 214)} {
		if _, ok := fastQR(s); ok {
			t.Errorf("%q: the fast encoder took it, want it left to boombuler", s)
		}
	}
}
