package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mix is a weighted set of request kinds, read from YAML by ParseMix:
//
//	requests:
//	  - name: chat            # optional, shown in reports
//	    weight: 8             # relative share; default 1
//	    endpoint: /api/chat   # see Endpoint
//	    model: tiny           # "" = the server's first model (GET /api/tags)
//	    stream: true          # default true for generation, false for embeddings
//	    prompt_tokens: {dist: uniform, min: 16, max: 256}
//	    max_tokens: 64        # a bare number is a fixed value
//	  - endpoint: /api/embed
//	    prompt_tokens: {dist: normal, mean: 100, stddev: 20}
//
// Distributions: fixed (value), uniform (min, max), normal (mean, stddev),
// lognormal (mean, stddev of the underlying normal in log space), each
// clamped to [min, max] when those are given, and to at least 1.
type Mix struct {
	Requests []MixEntry `yaml:"requests"`
}

// MixEntry is one kind of request in a Mix.
type MixEntry struct {
	Name         string   `yaml:"name"`
	Weight       float64  `yaml:"weight"`
	Endpoint     Endpoint `yaml:"endpoint"`
	Model        string   `yaml:"model"`
	Stream       *bool    `yaml:"stream"`
	PromptTokens Dist     `yaml:"prompt_tokens"`
	MaxTokens    Dist     `yaml:"max_tokens"`
}

// Endpoint is an Ollama API path the load generator knows how to drive.
type Endpoint string

// The endpoints loadgen can send, native and OpenAI-compatible.
const (
	EndpointChat             Endpoint = "/api/chat"
	EndpointGenerate         Endpoint = "/api/generate"
	EndpointEmbed            Endpoint = "/api/embed"
	EndpointEmbeddings       Endpoint = "/api/embeddings"
	EndpointOpenAIChat       Endpoint = "/v1/chat/completions"
	EndpointOpenAICompletion Endpoint = "/v1/completions"
	EndpointOpenAIEmbeddings Endpoint = "/v1/embeddings"
)

// Format says how a response body is framed.
type Format int

// Response framings.
const (
	FormatJSON   Format = iota // one JSON object (not streamed, embeddings)
	FormatNDJSON               // Ollama native stream: a JSON object per line, the last with "done":true
	FormatSSE                  // OpenAI stream: "data: {…}" events, ending "data: [DONE]"
)

func (e Endpoint) valid() bool {
	switch e {
	case EndpointChat, EndpointGenerate, EndpointEmbed, EndpointEmbeddings,
		EndpointOpenAIChat, EndpointOpenAICompletion, EndpointOpenAIEmbeddings:
		return true
	}
	return false
}

func (e Endpoint) embedding() bool {
	return e == EndpointEmbed || e == EndpointEmbeddings || e == EndpointOpenAIEmbeddings
}

func (e Endpoint) openai() bool { return strings.HasPrefix(string(e), "/v1/") }

// Dist is a distribution of token counts.
type Dist struct {
	Kind   string  `yaml:"dist"` // fixed, uniform, normal, lognormal
	Value  float64 `yaml:"value"`
	Min    float64 `yaml:"min"`
	Max    float64 `yaml:"max"`
	Mean   float64 `yaml:"mean"`
	Stddev float64 `yaml:"stddev"`
}

// Fixed returns the distribution that always yields n.
func Fixed(n int) Dist { return Dist{Kind: "fixed", Value: float64(n)} }

// UnmarshalYAML accepts a bare number as a fixed distribution.
func (d *Dist) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var v float64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: want a number or a distribution: %w", n.Line, err)
		}
		*d = Dist{Kind: "fixed", Value: v}
		return nil
	}
	type plain Dist // no UnmarshalYAML: no recursion
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*d = Dist(p)
	return nil
}

func (d Dist) zero() bool { return d == Dist{} }

func (d Dist) validate() error {
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e7 }
	for _, f := range []float64{d.Value, d.Min, d.Max, d.Mean, d.Stddev} {
		if bad(f) {
			return fmt.Errorf("values must be between 0 and 1e7")
		}
	}
	switch d.Kind {
	case "fixed", "":
	case "uniform":
		if d.Max < d.Min {
			return fmt.Errorf("uniform: max %g < min %g", d.Max, d.Min)
		}
	case "normal", "lognormal":
		if d.Max != 0 && d.Max < d.Min {
			return fmt.Errorf("%s: max %g < min %g", d.Kind, d.Max, d.Min)
		}
	default:
		return fmt.Errorf("unknown dist %q (fixed, uniform, normal, lognormal)", d.Kind)
	}
	return nil
}

// Sample draws a count (at least 1) from d with r.
func (d Dist) Sample(r *rand.Rand) int {
	var v float64
	switch d.Kind {
	case "uniform":
		v = d.Min + r.Float64()*(d.Max-d.Min+1) // inclusive of max after truncation
	case "normal":
		v = d.Mean + r.NormFloat64()*d.Stddev
	case "lognormal":
		v = math.Exp(d.Mean + r.NormFloat64()*d.Stddev)
	default:
		v = d.Value
	}
	if d.Kind != "fixed" && d.Kind != "" {
		if v < d.Min {
			v = d.Min
		}
		if d.Max > 0 && v > d.Max {
			v = d.Max
		}
	}
	if v > 1e7 || math.IsNaN(v) {
		v = 1e7
	}
	if v < 1 {
		return 1
	}
	return int(v)
}

// Defaults used when a mix entry leaves them out.
const (
	DefaultPromptTokens = 32
	DefaultMaxTokens    = 32
)

// DefaultMix is DESIGN.md's default: streamed /api/chat against model ("" =
// the server's first model).
func DefaultMix(model string, promptTokens, maxTokens int) *Mix {
	t := true
	return &Mix{Requests: []MixEntry{{
		Name: "chat", Weight: 1, Endpoint: EndpointChat, Model: model, Stream: &t,
		PromptTokens: Fixed(promptTokens), MaxTokens: Fixed(maxTokens),
	}}}
}

// ParseMix reads and validates a mix file. Unknown keys are errors, so a
// typo does not silently fall back to a default.
func ParseMix(data []byte) (*Mix, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Mix
	if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) { // empty: "no requests" below
		return nil, fmt.Errorf("mix: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate fills in defaults and checks every entry. ParseMix and Run call
// it; a harness that embeds a Mix in its own YAML can call it to fail early.
func (m *Mix) Validate() error {
	if len(m.Requests) == 0 {
		return errors.New("mix: no requests")
	}
	if len(m.Requests) > 1000 {
		return errors.New("mix: more than 1000 entries")
	}
	var total float64
	for i := range m.Requests {
		e := &m.Requests[i]
		if e.Endpoint == "" {
			e.Endpoint = EndpointChat
		}
		if !e.Endpoint.valid() {
			return fmt.Errorf("mix: request %d: unknown endpoint %q", i+1, e.Endpoint)
		}
		if e.Weight == 0 {
			e.Weight = 1
		}
		if e.Weight < 0 || math.IsNaN(e.Weight) || math.IsInf(e.Weight, 0) {
			return fmt.Errorf("mix: request %d: weight must be positive", i+1)
		}
		if e.Stream == nil {
			s := !e.Endpoint.embedding()
			e.Stream = &s
		}
		if *e.Stream && e.Endpoint.embedding() {
			return fmt.Errorf("mix: request %d: %s cannot stream", i+1, e.Endpoint)
		}
		if e.PromptTokens.zero() {
			e.PromptTokens = Fixed(DefaultPromptTokens)
		}
		if e.MaxTokens.zero() {
			e.MaxTokens = Fixed(DefaultMaxTokens)
		}
		if err := e.PromptTokens.validate(); err != nil {
			return fmt.Errorf("mix: request %d: prompt_tokens: %w", i+1, err)
		}
		if err := e.MaxTokens.validate(); err != nil {
			return fmt.Errorf("mix: request %d: max_tokens: %w", i+1, err)
		}
		if e.Name == "" {
			e.Name = strings.TrimPrefix(string(e.Endpoint), "/")
		}
		total += e.Weight
	}
	if total <= 0 || math.IsInf(total, 0) {
		return errors.New("mix: weights must add up to a positive number")
	}
	return nil
}

// Format returns how e's responses are framed.
func (e MixEntry) Format() Format {
	switch {
	case e.Stream == nil || !*e.Stream:
		return FormatJSON
	case e.Endpoint.openai():
		return FormatSSE
	default:
		return FormatNDJSON
	}
}

// pick returns the entry a uniform u in [0,1) selects by weight.
func (m *Mix) pick(u float64) *MixEntry {
	var total float64
	for i := range m.Requests {
		total += m.Requests[i].Weight
	}
	x := u * total
	for i := range m.Requests {
		x -= m.Requests[i].Weight
		if x < 0 {
			return &m.Requests[i]
		}
	}
	return &m.Requests[len(m.Requests)-1]
}

// vocabulary is what prompts are made of: short common words that
// tokenizers mostly map to one token each, so N words ≈ N prompt tokens.
const vocabulary = "the sky is blue why does light scatter in air a model answers short " +
	"questions about many things you ask please explain how it works and what we see today"

// prompt returns n words of vocab drawn with r.
func prompt(r *rand.Rand, vocab []string, n int) string {
	var b strings.Builder
	b.Grow(n * 6)
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocab[r.IntN(len(vocab))])
	}
	return b.String()
}
