package ollamasim

import (
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Profile is how one model behaves in time. The zero value of a field means
// "no delay" for durations; rates of zero mean "infinitely fast".
type Profile struct {
	// LoadTime is a cold load: weights from disk into (V)RAM, runner start.
	LoadTime Duration `yaml:"load_time" json:"load_time"`
	// TTFT is the fixed part of time to first token (sampling set-up,
	// first decode step), on top of prefill.
	TTFT Duration `yaml:"ttft" json:"ttft"`
	// PrefillPerToken is the prompt-evaluation time per prompt token.
	PrefillPerToken Duration `yaml:"prefill_per_token" json:"prefill_per_token"`
	// TokensPerSecond is the decode speed of one stream alone on the model.
	TokensPerSecond float64 `yaml:"tokens_per_second" json:"tokens_per_second"`
	// BatchSlowdown is how much each extra concurrent stream slows every
	// stream on the model: per-stream rate = TokensPerSecond / (1 +
	// BatchSlowdown*(busy-1)). 0 means streams do not affect each other.
	BatchSlowdown float64 `yaml:"batch_slowdown" json:"batch_slowdown"`
	// PrefillSlowdown is how much each other busy stream on the model
	// lengthens a new request's prefill (TTFT and prompt evaluation): the
	// runner evaluates a prompt in the same batches as the other streams'
	// next tokens and the other new prompts. prefill = (TTFT + prompt
	// tokens × PrefillPerToken) × (1 + PrefillSlowdown*(busy-1)).
	PrefillSlowdown float64 `yaml:"prefill_slowdown" json:"prefill_slowdown"`
	// MinOutputTokens and MaxOutputTokens bound the length of an answer
	// when the request sets no num_predict (the "natural" length, drawn
	// deterministically from the request).
	MinOutputTokens int `yaml:"min_output_tokens" json:"min_output_tokens"`
	MaxOutputTokens int `yaml:"max_output_tokens" json:"max_output_tokens"`
	// ContextLength is num_ctx by default; prompts are truncated to it.
	ContextLength int `yaml:"context_length" json:"context_length"`
	// EmbeddingLength is the model's embedding size (/api/embed vectors);
	// 0 derives it from the model's parameter count.
	EmbeddingLength int `yaml:"embedding_length" json:"embedding_length"`
	// Model describes the model's file (family, size, quantization,
	// capabilities); nil derives it from the model's name.
	Model *ModelSpec `yaml:"model" json:"model,omitempty"`
}

// DefaultProfile is a 7B model (Q4_K_M, ~4.7 GB) served by Ollama on one
// GPU. Published llama.cpp figures for 7B–8B models, which Ollama runs:
//   - ggml-org/llama.cpp#3776 (llama-batched-bench, 7B on CUDA): at batch 1
//     prompt processing ≈ 2080 t/s and generation ≈ 63 t/s (≈ 50 t/s with a
//     3200-token context);
//   - ggml-org/llama.cpp#4766: Tesla P40, llama 7B Q4_0: pp512 ≈ 910 t/s,
//     tg128 ≈ 57 t/s;
//   - dmatora/LLM-inference-speed-benchmarks#10: RTX 4090, llama3 8B Q6:
//     prompt ≈ 4670 t/s, generation ≈ 93 t/s.
//
// So: decode 60 tokens/s per stream alone, prefill 0.5 ms per prompt token
// (2000 t/s) plus 30 ms fixed time to first token (Ollama's request
// handling, sampling set-up). Load 3 s: Ollama's "llama runner started in
// 2–4 s" for a 7B model from page cache. Batched decode is memory-bound,
// so streams sharing a model slow each other: each extra stream costs every
// stream 35 % here (4 streams ≈ 2× the single-stream aggregate), a
// modelling choice in line with the batched-decode tables of #3776.
func DefaultProfile() Profile {
	return Profile{
		LoadTime:        Duration(3 * time.Second),
		TTFT:            Duration(30 * time.Millisecond),
		PrefillPerToken: Duration(500 * time.Microsecond),
		TokensPerSecond: 60,
		BatchSlowdown:   0.35,
		MinOutputTokens: 32,
		MaxOutputTokens: 256,
		ContextLength:   4096,
		EmbeddingLength: 0, // from the model: 3584 for a 7B (qwen2), 3072 for a 3B (llama3.2)
	}
}

// smallModelProfile is DefaultProfile for a 3B model (llama3.2:3b, ~2 GB):
// roughly half the weights to read per token and to load.
func smallModelProfile() Profile {
	p := DefaultProfile()
	p.LoadTime = Duration(1500 * time.Millisecond)
	p.TokensPerSecond = 110
	p.PrefillPerToken = Duration(250 * time.Microsecond)
	return p
}

// InstantProfile has no modelled delay at all: what benchmarks of the
// things in front of the simulator use.
func InstantProfile() Profile {
	p := DefaultProfile()
	p.LoadTime, p.TTFT, p.PrefillPerToken = 0, 0, 0
	p.TokensPerSecond, p.BatchSlowdown, p.PrefillSlowdown = 0, 0, 0
	return p
}

// ProfileFile is the YAML profile format: a default profile and per-model
// overrides (fields left out keep the default's value).
//
//	default: {load_time: 2s, tokens_per_second: 80}
//	models:
//	  "llama3.2:3b": {load_time: 1s, tokens_per_second: 140}
type ProfileFile struct {
	Base    string               `yaml:"base"` // "default", "instant" or "tiny-cpu": where unset fields come from
	Default yaml.Node            `yaml:"default"`
	Models  map[string]yaml.Node `yaml:"models"`
}

// Profiles is the resolved timing of every model.
type Profiles struct {
	Default Profile
	Models  map[string]Profile
}

// For returns the profile of model name.
func (p Profiles) For(name string) Profile {
	if m, ok := p.Models[name]; ok {
		return m
	}
	return p.Default
}

// LoadProfiles resolves --profile: "default", "instant", or a YAML file.
func LoadProfiles(nameOrFile string) (Profiles, error) {
	switch nameOrFile {
	case "", "default", "realistic":
		return Profiles{Default: DefaultProfile(), Models: map[string]Profile{"llama3.2:3b": smallModelProfile()}}, nil
	case "instant":
		return Profiles{Default: InstantProfile()}, nil
	case "tiny-cpu":
		return Profiles{Default: TinyCPUProfile()}, nil
	}
	b, err := os.ReadFile(nameOrFile)
	if err != nil {
		return Profiles{}, fmt.Errorf("profile %q is neither a built-in (default, instant, tiny-cpu) nor a readable file: %w", nameOrFile, err)
	}
	return ParseProfiles(b)
}

// ParseProfiles parses the YAML profile format (see ProfileFile).
func ParseProfiles(b []byte) (Profiles, error) {
	var f ProfileFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Profiles{}, fmt.Errorf("profile file: %w", err)
	}
	var out Profiles
	switch f.Base {
	case "", "default":
		out.Default = DefaultProfile()
	case "instant":
		out.Default = InstantProfile()
	case "tiny-cpu":
		out.Default = TinyCPUProfile()
	default:
		return Profiles{}, fmt.Errorf("profile file: base %q: want default, instant or tiny-cpu", f.Base)
	}
	if f.Default.Kind != 0 {
		out.Default.Model = out.Default.Model.clone()
		if err := decodeStrict(&f.Default, &out.Default); err != nil {
			return Profiles{}, fmt.Errorf("profile file: default: %w", err)
		}
	}
	out.Models = map[string]Profile{}
	for name, node := range f.Models {
		p := out.Default
		p.Model = p.Model.clone() // decoding fills it in place
		if err := decodeStrict(&node, &p); err != nil {
			return Profiles{}, fmt.Errorf("profile file: model %q: %w", name, err)
		}
		out.Models[NormalizeName(name)] = p
	}
	return out, nil
}

// decodeStrict decodes node onto p, rejecting unknown keys (a typo in a
// profile should fail loudly, not silently keep a default).
func decodeStrict(node *yaml.Node, p *Profile) error {
	b, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	return dec.Decode(p)
}

// Duration is a time.Duration that reads "1.5s" (or a number of seconds)
// from YAML and JSON.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts "250ms", "2s" or a bare number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON accepts "250ms", "2s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" || s == "null" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err == nil {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("invalid duration %q (want e.g. 250ms, 2s, or seconds)", s)
}

// Config is everything a Server needs. Zero fields get Ollama's defaults
// (see New).
type Config struct {
	// Models served, in /api/tags order (the first is the one load
	// generators default to). Names get ":latest" when they have no tag.
	Models []string
	// Parallel is OLLAMA_NUM_PARALLEL: concurrent streams per model.
	Parallel int
	// MaxQueue is OLLAMA_MAX_QUEUE: pending requests while a model is being
	// scheduled (loaded) before 503.
	MaxQueue int
	// StrictQueue also bounds the requests waiting for a slot of a loaded
	// model by MaxQueue (what a fixed Ollama would do; ollama#7758).
	StrictQueue bool
	// MaxLoadedModels is OLLAMA_MAX_LOADED_MODELS (idle models are evicted).
	MaxLoadedModels int
	// KeepAlive is OLLAMA_KEEP_ALIVE: how long an idle model stays loaded;
	// negative means forever, 0 unloads at once, nil is Ollama's 5m.
	KeepAlive *time.Duration
	// Origins is OLLAMA_ORIGINS: browser origins allowed beyond Ollama's
	// defaults (localhost, 127.0.0.1, 0.0.0.0 on any port, app schemes).
	Origins []string
	// Seed makes the generated text and the fault dice repeatable.
	Seed uint64
	// Profiles holds the per-model timings.
	Profiles Profiles
	// Exit ends the process (the crash fault). nil: os.Exit.
	Exit func(code int)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// DefaultModels are served when Config.Models is empty: a 7B reasoning
// model (the fleet's main model) first, then a small general one.
func DefaultModels() []string { return []string{"deepseek-r1:7b", "llama3.2:3b"} }

// NormalizeName adds Ollama's default tag: "tiny" is "tiny:latest".
func NormalizeName(n string) string {
	n = strings.TrimSpace(n)
	if n == "" {
		return n
	}
	if i := strings.LastIndexByte(n, ':'); i < 0 || strings.Contains(n[i:], "/") {
		return n + ":latest"
	}
	return n
}
