package ollamasim

import (
	"math"
	"testing"
)

// TestEmbedding: deterministic, unit length when normalised, raw otherwise.
func TestEmbedding(t *testing.T) {
	v := embedding(1, "m", "x", 64, true)
	w := embedding(1, "m", "x", 64, true)
	var sum float64
	for i := range v {
		if v[i] != w[i] {
			t.Fatal("not deterministic")
		}
		sum += float64(v[i]) * float64(v[i])
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Fatalf("|v|² = %v", sum)
	}
	raw := embedding(1, "m", "x", 64, false)
	if raw[0] == v[0] {
		t.Fatal("raw vector is normalised")
	}
}
