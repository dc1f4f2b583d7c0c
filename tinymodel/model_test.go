package tinymodel

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/dsbridge/dsbridge/internal/gguf"
)

func write(t *testing.T, c Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDeterministicBySeed(t *testing.T) {
	a, b := write(t, Config{Seed: 7}), write(t, Config{Seed: 7})
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave different bytes")
	}
	c := write(t, Config{Seed: 8})
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same bytes")
	}
	if len(a) != len(c) {
		t.Errorf("sizes differ by seed: %d and %d", len(a), len(c))
	}
}

// The default model is the one README.md describes: 187K parameters,
// 438 tokens, the keys and tensors Ollama's llama loader needs.
func TestDefaultModelStructure(t *testing.T) {
	b := write(t, Default)
	if len(b) != 387392 {
		t.Errorf("size %d bytes, want 387392", len(b))
	}
	f, err := gguf.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"general.architecture":                   "llama",
		"general.name":                           "tiny",
		"general.file_type":                      uint32(1),
		"general.parameter_count":                uint64(187456),
		"general.alignment":                      uint32(32),
		"llama.context_length":                   uint32(512),
		"llama.embedding_length":                 uint32(64),
		"llama.block_count":                      uint32(2),
		"llama.feed_forward_length":              uint32(256),
		"llama.attention.head_count":             uint32(4),
		"llama.attention.head_count_kv":          uint32(4),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"llama.rope.dimension_count":             uint32(16),
		"llama.vocab_size":                       uint32(438),
		"tokenizer.ggml.model":                   "llama",
		"tokenizer.ggml.bos_token_id":            uint32(1),
		"tokenizer.ggml.eos_token_id":            uint32(2),
		"tokenizer.ggml.add_bos_token":           true,
	}
	for k, w := range want {
		if got, ok := f.Get(k); !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
	tokAny, _ := f.Get("tokenizer.ggml.tokens")
	toks, _ := tokAny.([]string)
	typAny, _ := f.Get("tokenizer.ggml.token_type")
	types, _ := typAny.([]int32)
	scAny, _ := f.Get("tokenizer.ggml.scores")
	scores, _ := scAny.([]float32)
	if len(toks) != 438 || len(types) != 438 || len(scores) != 438 {
		t.Fatalf("%d tokens, %d types, %d scores; want 438 each", len(toks), len(types), len(scores))
	}
	for i, w := range []string{"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<0x00>"} {
		if toks[i] != w {
			t.Errorf("token %d = %q, want %q", i, toks[i], w)
		}
	}
	if toks[5+0x41] != "<0x41>" || types[5+0x41] != 6 || toks[260] != "<0xFF>" {
		t.Errorf("byte tokens misplaced: %q (type %d), %q", toks[5+0x41], types[5+0x41], toks[260])
	}
	if types[0] != 2 || types[3] != 3 || types[261] != 1 {
		t.Errorf("token types %d %d %d, want 2 (unknown) 3 (control) 1 (normal)", types[0], types[3], types[261])
	}
	tmplAny, _ := f.Get("tokenizer.chat_template")
	if tmpl, _ := tmplAny.(string); !strings.Contains(tmpl, "<|im_start|>assistant") {
		t.Errorf("chat template is not ChatML: %q", tmpl)
	}

	names := []string{"token_embd.weight"}
	for _, blk := range []string{"blk.0.", "blk.1."} {
		for _, n := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"} {
			names = append(names, blk+n+".weight")
		}
	}
	names = append(names, "output_norm.weight", "output.weight")
	var got []string
	for _, ts := range f.Tensors {
		got = append(got, ts.Name)
		wantType := gguf.F16
		if strings.HasSuffix(ts.Name, "norm.weight") {
			wantType = gguf.F32
		}
		if ts.Type != wantType {
			t.Errorf("%s is %s, want %s", ts.Name, ts.Type, wantType)
		}
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("tensors %v\nwant %v", got, names)
	}
	if d := f.Tensor("blk.0.ffn_down.weight").Dims; !reflect.DeepEqual(d, []uint64{256, 64}) {
		t.Errorf("ffn_down dims %v, want [256 64]", d)
	}
}

// Only the output rows of words and punctuation are non-zero, so the model
// never emits control, byte or letter tokens.
func TestOutputRowsOnlyForEmittingTokens(t *testing.T) {
	f, err := Generate(Default)
	if err != nil {
		t.Fatal(err)
	}
	out := f.Tensor("output.weight")
	v := newVocab()
	row := 2 * 64
	for tok, emit := range v.emitting {
		nonzero := bytes.Count(out.Data[tok*row:(tok+1)*row], []byte{0}) < row
		if nonzero != emit {
			t.Errorf("token %d %q: non-zero row %v, want %v", tok, v.tokens[tok], nonzero, emit)
		}
	}
}

func TestSizesFromConfig(t *testing.T) {
	f, err := Generate(Config{Embedding: 32, Blocks: 3, Heads: 2, FF: 64, Context: 128, Name: "small"})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Tensor("blk.2.ffn_up.weight"); n == nil || !reflect.DeepEqual(n.Dims, []uint64{32, 64}) {
		t.Errorf("blk.2.ffn_up.weight = %+v", n)
	}
	if v, _ := f.Get("llama.rope.dimension_count"); v != uint32(16) {
		t.Errorf("rope dims %v, want 16", v)
	}
	if v, _ := f.Get("general.name"); v != "small" {
		t.Errorf("name %v", v)
	}
}

func TestRejectsBadSizes(t *testing.T) {
	for _, c := range []Config{
		{Heads: 3},                // 64 not a multiple of 3
		{Embedding: 12, Heads: 4}, // head size 3 is odd: RoPE needs pairs
		{Embedding: -1},           // negative
		{Context: 1 << 20},        // beyond the bound
	} {
		if _, err := Generate(c); err == nil {
			t.Errorf("Generate(%+v) succeeded", c)
		}
	}
}

// The shared reference model (ollama-golden/tiny.gguf, not part of the
// repository) was made from the same description: ours must match its
// structure — keys and their types, tensor names, shapes and types — though
// not its random values.
func TestStructureMatchesReference(t *testing.T) {
	path := os.Getenv("DSBRIDGE_GOLDEN_GGUF")
	if path == "" {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..")
		for _, p := range []string{"../shared/ollama-golden/tiny.gguf", "../../shared/ollama-golden/tiny.gguf"} {
			if _, err := os.Stat(filepath.Join(root, p)); err == nil {
				path = filepath.Join(root, p)
				break
			}
		}
	}
	if path == "" {
		// CI clones beside ../shared, so there a missing reference is a failure.
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal("no reference tiny.gguf beside the clone and DSBRIDGE_REQUIRE_TOOLS is set (set DSBRIDGE_GOLDEN_GGUF)")
		}
		t.Skip("no reference tiny.gguf beside the clone (set DSBRIDGE_GOLDEN_GGUF to compare)")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := gguf.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := Generate(Default)
	if len(ref.KV) != len(ours.KV) {
		t.Errorf("%d keys, reference has %d", len(ours.KV), len(ref.KV))
	}
	for _, kv := range ref.KV {
		v, ok := ours.Get(kv.Key)
		switch {
		case !ok:
			t.Errorf("missing key %s", kv.Key)
		case reflect.TypeOf(v) != reflect.TypeOf(kv.Value):
			t.Errorf("%s is %T, reference %T", kv.Key, v, kv.Value)
		case reflect.ValueOf(v).Kind() == reflect.Slice && reflect.ValueOf(v).Len() != reflect.ValueOf(kv.Value).Len():
			t.Errorf("%s has %d elements, reference %d", kv.Key, reflect.ValueOf(v).Len(), reflect.ValueOf(kv.Value).Len())
		}
	}
	for _, k := range []string{"tokenizer.ggml.token_type", "tokenizer.chat_template", "llama.context_length", "general.parameter_count"} {
		a, _ := ours.Get(k)
		b, _ := ref.Get(k)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs from the reference", k)
		}
	}
	for i, rt := range ref.Tensors {
		if i >= len(ours.Tensors) {
			t.Fatalf("we have %d tensors, reference %d", len(ours.Tensors), len(ref.Tensors))
		}
		ot := ours.Tensors[i]
		if ot.Name != rt.Name || ot.Type != rt.Type || !reflect.DeepEqual(ot.Dims, rt.Dims) {
			t.Errorf("tensor %d: %s %v %s, reference %s %v %s", i, ot.Name, ot.Dims, ot.Type, rt.Name, rt.Dims, rt.Type)
		}
	}
}
