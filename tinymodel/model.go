// Package tinymodel generates a tiny, deterministic, random-weight
// llama-architecture model as a GGUF file that real Ollama loads with
// `ollama create` and runs on a CPU in a few tens of MiB. With it, tests and
// CI run real Ollama without downloading weights.
//
// The weights are random, drawn from a seeded generator, except for the
// output layer: only the rows of words and punctuation are non-zero, so the
// model writes readable word salad and never emits control or byte tokens.
// It almost never stops by itself: responses end by num_predict, a stop
// string, or Ollama's repeat rule.
package tinymodel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/dsbridge/dsbridge/internal/gguf"
)

// Config sets the model's sizes. A zero size or name means Default's;
// Seed is used as given (0 is a seed like any other).
type Config struct {
	Name      string // general.name
	Seed      uint64 // the same seed and sizes give the same bytes
	Embedding int    // embedding length (hidden size)
	Blocks    int    // transformer blocks
	Heads     int    // attention heads; also KV heads (no grouped-query attention)
	FF        int    // feed-forward length
	Context   int    // context length in tokens
}

// Default is the model README.md and the conformance suite use: 187K
// parameters, ~380 KB.
var Default = Config{Name: "tiny", Seed: 1, Embedding: 64, Blocks: 2, Heads: 4, FF: 256, Context: 512}

// withDefaults fills zero fields from Default.
func (c Config) withDefaults() Config {
	d := Default
	if c.Name == "" {
		c.Name = d.Name
	}
	if c.Embedding == 0 {
		c.Embedding = d.Embedding
	}
	if c.Blocks == 0 {
		c.Blocks = d.Blocks
	}
	if c.Heads == 0 {
		c.Heads = d.Heads
	}
	if c.FF == 0 {
		c.FF = d.FF
	}
	if c.Context == 0 {
		c.Context = d.Context
	}
	return c
}

// validate rejects sizes llama.cpp or Ollama would refuse or crash on.
func (c Config) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"embedding", c.Embedding}, {"blocks", c.Blocks}, {"heads", c.Heads}, {"ff", c.FF}, {"context", c.Context}} {
		if f.v < 1 || f.v > 1<<16 {
			errs = append(errs, fmt.Errorf("%s %d out of range 1…65536", f.name, f.v))
		}
	}
	if c.Heads > 0 && c.Embedding%c.Heads != 0 {
		errs = append(errs, fmt.Errorf("embedding %d is not a multiple of heads %d", c.Embedding, c.Heads))
	} else if c.Heads > 0 && (c.Embedding/c.Heads)%2 != 0 {
		// RoPE rotates pairs of dimensions within a head.
		errs = append(errs, fmt.Errorf("head size %d (embedding/heads) must be even for RoPE", c.Embedding/c.Heads))
	}
	return errors.Join(errs...)
}

// Generate builds the model for c as a GGUF file in memory.
func Generate(c Config) (*gguf.File, error) {
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("tinymodel: %w", err)
	}
	v := newVocab()
	n := len(v.tokens)
	// PCG with a fixed second word: the seed alone picks the stream.
	rng := rand.New(rand.NewPCG(c.Seed, 0x746e796d6f64656c)) // "tnymodel"
	e, ff := c.Embedding, c.FF

	var tensors []gguf.Tensor
	add := func(name string, t gguf.Tensor) {
		t.Name = name
		tensors = append(tensors, t)
	}
	// Embeddings ~ N(0,1); matrices ~ N(0, 1/fan_in) so activations keep
	// their scale through the blocks; norms are 1 (the identity).
	add("token_embd.weight", normal(rng, e, n, 1))
	for b := 0; b < c.Blocks; b++ {
		p := fmt.Sprintf("blk.%d.", b)
		add(p+"attn_norm.weight", ones(e))
		add(p+"attn_q.weight", normal(rng, e, e, 1/math.Sqrt(float64(e))))
		add(p+"attn_k.weight", normal(rng, e, e, 1/math.Sqrt(float64(e))))
		add(p+"attn_v.weight", normal(rng, e, e, 1/math.Sqrt(float64(e))))
		add(p+"attn_output.weight", normal(rng, e, e, 1/math.Sqrt(float64(e))))
		add(p+"ffn_norm.weight", ones(e))
		add(p+"ffn_gate.weight", normal(rng, e, ff, 1/math.Sqrt(float64(e))))
		add(p+"ffn_up.weight", normal(rng, e, ff, 1/math.Sqrt(float64(e))))
		add(p+"ffn_down.weight", normal(rng, ff, e, 1/math.Sqrt(float64(ff))))
	}
	add("output_norm.weight", ones(e))
	// The output layer: a row per token; only emitting tokens get weights,
	// scaled so the logits of a normalised hidden state have a spread of a
	// few units — peaked enough to vary, never stuck on one token.
	out := make([]float32, e*n)
	for tok := 0; tok < n; tok++ {
		if !v.emitting[tok] {
			continue
		}
		for i := 0; i < e; i++ {
			out[tok*e+i] = float32(rng.NormFloat64() * 0.7)
		}
	}
	add("output.weight", f16(out, e, n))

	var params uint64
	for i := range tensors {
		params += tensors[i].Elements()
	}
	headDim := uint32(e / c.Heads)
	kv := []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: c.Name},
		{Key: "general.file_type", Value: uint32(1)}, // LLAMA_FTYPE_MOSTLY_F16
		{Key: "general.parameter_count", Value: params},
		{Key: "general.alignment", Value: uint32(gguf.DefaultAlignment)},
		{Key: "llama.context_length", Value: uint32(c.Context)},
		{Key: "llama.embedding_length", Value: uint32(e)},
		{Key: "llama.block_count", Value: uint32(c.Blocks)},
		{Key: "llama.feed_forward_length", Value: uint32(ff)},
		{Key: "llama.attention.head_count", Value: uint32(c.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(c.Heads)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "llama.rope.dimension_count", Value: headDim},
		{Key: "llama.rope.freq_base", Value: float32(10000)},
		{Key: "llama.vocab_size", Value: uint32(n)},
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.pre", Value: "default"},
		{Key: "tokenizer.ggml.tokens", Value: v.tokens},
		{Key: "tokenizer.ggml.scores", Value: v.scores},
		{Key: "tokenizer.ggml.token_type", Value: v.types},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(bosID)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(eosID)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(unkID)},
		{Key: "tokenizer.ggml.add_bos_token", Value: true},
		{Key: "tokenizer.ggml.add_eos_token", Value: false},
		{Key: "tokenizer.chat_template", Value: chatTemplate},
	}
	return &gguf.File{KV: kv, Tensors: tensors}, nil
}

// Write generates the model for c and writes it to w as GGUF.
func Write(w io.Writer, c Config) error {
	f, err := Generate(c)
	if err != nil {
		return err
	}
	return gguf.Write(w, f)
}

// normal returns a rows×cols F16 matrix (cols rows of length rows, in ggml's
// dims {rows, cols}) of N(0, std²) draws.
func normal(rng *rand.Rand, rowLen, nrows int, std float64) gguf.Tensor {
	x := make([]float32, rowLen*nrows)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
	return f16(x, rowLen, nrows)
}

// f16 packs x as an F16 matrix of nrows rows of rowLen.
func f16(x []float32, rowLen, nrows int) gguf.Tensor {
	b := make([]byte, 2*len(x))
	for i, f := range x {
		binary.LittleEndian.PutUint16(b[2*i:], gguf.Float16(f))
	}
	return gguf.Tensor{Dims: []uint64{uint64(rowLen), uint64(nrows)}, Type: gguf.F16, Data: b}
}

// ones is an F32 norm weight of 1s: norms stay in F32, as llama.cpp's
// converter writes them, because ggml's CPU norm kernels expect F32.
func ones(n int) gguf.Tensor {
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(1))
	}
	return gguf.Tensor{Dims: []uint64{uint64(n)}, Type: gguf.F32, Data: b}
}
