package ollamasim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// embedding returns a deterministic pseudo-embedding of input: dims values
// drawn from a normal distribution seeded by (seed, model, input). Real
// models' raw vectors have norms of several units (see the legacy
// /api/embeddings golden transcript); normalize scales it to unit length,
// as /api/embed and /v1/embeddings do.
func embedding(seed uint64, model, input string, dims int, normalize bool) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(model))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(input))
	k := h.Sum64()
	rng := rand.New(rand.NewPCG(seed^k, k))
	v := make([]float32, dims)
	var sum float64
	for i := range v {
		x := rng.NormFloat64()
		v[i] = float32(x)
		sum += x * x
	}
	if normalize && sum > 0 {
		inv := 1 / math.Sqrt(sum)
		for i := range v {
			v[i] = float32(float64(v[i]) * inv)
		}
	}
	return v
}
