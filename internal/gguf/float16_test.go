package gguf

import (
	"math"
	"testing"
)

func TestFloat16KnownValues(t *testing.T) {
	for _, c := range []struct {
		f float32
		h uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},                  // largest finite half
		{65520, 0x7c00},                  // rounds up to +Inf
		{float32(math.Inf(1)), 0x7c00},   // stays Inf
		{6.103515625e-05, 0x0400},        // smallest normal half
		{5.960464477539063e-08, 0x0001},  // smallest subnormal half
		{2.9802322387695312e-08, 0x0000}, // half of it: tie, rounds to even (0)
		{1.0009765625, 0x3c01},           // 1 + 2^-10
		{1.00048828125, 0x3c00},          // 1 + 2^-11: tie, rounds to even
		{1.00146484375, 0x3c02},          // 1 + 3·2^-11: tie, rounds to even (up)
	} {
		if got := Float16(c.f); got != c.h {
			t.Errorf("Float16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if h := Float16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("Float16(NaN) = %#04x, not a NaN", h)
	}
}

// Every finite half converts to float32 and back to itself.
func TestFloat16RoundTripAllHalves(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := Float32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := Float16(f); got != uint16(h) {
			t.Fatalf("Float16(Float32(%#04x)=%g) = %#04x", h, f, got)
		}
	}
}
