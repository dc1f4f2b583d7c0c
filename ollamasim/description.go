package ollamasim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dsbridge/dsbridge/internal/gguf"
	"github.com/dsbridge/dsbridge/tinymodel"
	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/types/model"
)

// ModelSpec describes a model's file as Ollama reports it: /api/tags and
// /api/ps details, /api/show's model_info, tensors and capabilities. A
// profile carries one (YAML key "model"); fields left zero are derived from
// the model's name ("deepseek-r1:7b" is a 7.6B qwen2 model that thinks).
//
//	models:
//	  "mymodel:1b": {model: {family: llama, parameters: 1.2e9, quantization: Q8_0, capabilities: [completion, tools]}}
type ModelSpec struct {
	// TinyModel describes the model `dsbridge tinymodel` writes with its
	// defaults (tinymodel.Default), read from the generated file itself:
	// what real Ollama reports after `ollama create` from it. Other fields
	// are ignored.
	TinyModel bool `yaml:"tinymodel" json:"tinymodel"`
	// Family is general.architecture and details.family (llama, qwen2, gemma3).
	Family string `yaml:"family" json:"family"`
	// Parameters is general.parameter_count (details.parameter_size "7.6B").
	Parameters int64 `yaml:"parameters" json:"parameters"`
	// Quantization is details.quantization_level: F16, Q8_0, Q4_0 or Q4_K_M.
	Quantization string `yaml:"quantization" json:"quantization"`
	// ContextLength is the trained context (<arch>.context_length).
	ContextLength int `yaml:"context_length" json:"context_length"`
	// Capabilities as /api/show lists them; requests for a missing one
	// (tools, thinking) get Ollama's 400.
	Capabilities []string `yaml:"capabilities" json:"capabilities"`
}

// description is a resolved ModelSpec: what the handlers print.
type description struct {
	details    api.ModelDetails
	params     int64
	embedLen   int
	modelInfo  map[string]any
	tensors    []api.Tensor
	caps       []model.Capability
	fileSize   int64
	contextLen int // trained context, <arch>.context_length
}

// describe resolves what Ollama would say about model name under profile p.
// A model named "tiny" without a spec is the tiny test model: the name the
// project's tests, docs and golden transcripts give it.
func describe(name string, p Profile) description {
	base, _, _ := strings.Cut(name, ":")
	spec := ModelSpec{}
	if p.Model != nil {
		spec = *p.Model
	} else if base == "tiny" {
		spec.TinyModel = true
	}
	if spec.TinyModel {
		return tinyDescription()
	}
	return specDescription(name, spec, p.EmbeddingLength)
}

// tinyDescription reads the description off the tiny model's own GGUF
// metadata, so it follows tinymodel.Default if that ever changes. Generating
// the 187K random weights takes about a millisecond.
func tinyDescription() description {
	f, err := tinymodel.Generate(tinymodel.Default)
	if err != nil {
		panic(fmt.Sprintf("tinymodel.Default does not generate: %v", err)) // a bug in tinymodel, caught by its tests
	}
	info := map[string]any{}
	var d description
	for _, kv := range f.KV {
		switch kv.Key {
		case "general.name", "tokenizer.chat_template":
			continue // Ollama's GetModelInfo drops these
		case "general.parameter_count":
			d.params = int64(asFloat(kv.Value))
		case "llama.embedding_length":
			d.embedLen = int(asFloat(kv.Value))
		case "llama.context_length":
			d.contextLen = int(asFloat(kv.Value))
		}
		switch kv.Value.(type) {
		case []string, []float32, []int32:
			info[kv.Key] = nil // arrays are null unless verbose
		default:
			info[kv.Key] = kv.Value
		}
	}
	for _, t := range f.Tensors {
		d.tensors = append(d.tensors, api.Tensor{Name: t.Name, Type: t.Type.String(), Shape: slices.Clone(t.Dims)})
		d.fileSize += int64(t.Elements()) * int64(map[gguf.TensorType]int{gguf.F32: 4, gguf.F16: 2}[t.Type])
	}
	d.fileSize += 8 << 10 // header, vocabulary, alignment
	d.modelInfo = info
	d.details = api.ModelDetails{Format: "gguf", Family: "llama", Families: []string{"llama"}, ParameterSize: formatParams(d.params), QuantizationLevel: "F16"}
	// A ChatML template without tools, and no thinking: completion only.
	d.caps = []model.Capability{model.CapabilityCompletion}
	return d
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case int32:
		return float64(x)
	case float32:
		return float64(x)
	}
	return 0
}

// quantization is a quantization level's general.file_type, the type of its
// matrices and of the output layer, and its bits per weight.
func quantization(q string) (fileType int, matrix, output string, bits float64) {
	switch strings.ToUpper(q) {
	case "F32":
		return 0, "F32", "F32", 32
	case "F16":
		return 1, "F16", "F16", 16
	case "Q4_0":
		return 2, "Q4_0", "Q6_K", 4.5
	case "Q8_0":
		return 7, "Q8_0", "Q8_0", 8.5
	}
	return 15, "Q4_K", "Q6_K", 4.5 // Q4_K_M, Ollama's default
}

// specDescription fills a spec's zero fields from the name and derives a
// plausible llama-style file from it.
func specDescription(name string, spec ModelSpec, embedLen int) description {
	base, tag, _ := strings.Cut(name, ":")
	if spec.Family == "" {
		spec.Family = "llama"
		switch {
		case strings.Contains(base, "deepseek-r1"), strings.Contains(base, "qwen"):
			spec.Family = "qwen2"
		case strings.Contains(base, "gemma"):
			spec.Family = "gemma3"
		}
	}
	if spec.Parameters <= 0 {
		spec.Parameters = 7_615_616_512
		if t := strings.TrimSuffix(strings.ToLower(tag), "b"); t != tag && t != "" {
			if f, err := strconv.ParseFloat(t, 64); err == nil && f > 0 {
				spec.Parameters = int64(f * 1e9)
			}
		}
	}
	if spec.Quantization == "" {
		spec.Quantization = "Q4_K_M"
	}
	if spec.ContextLength <= 0 {
		spec.ContextLength = 131072
	}
	caps := []model.Capability{model.CapabilityCompletion}
	if spec.Capabilities != nil {
		caps = caps[:0]
		for _, c := range spec.Capabilities {
			caps = append(caps, model.Capability(c))
		}
	} else {
		// As the Ollama library's templates declare them.
		if strings.Contains(base, "qwen") || strings.Contains(base, "llama3") || strings.Contains(base, "mistral") {
			caps = append(caps, model.CapabilityTools)
		}
		if strings.Contains(base, "deepseek-r1") || strings.Contains(base, "qwen3") {
			caps = append(caps, model.CapabilityThinking)
		}
	}
	params := spec.Parameters
	if embedLen <= 0 {
		switch {
		case params < 2e9:
			embedLen = 2048
		case params < 5e9:
			embedLen = 3072
		case params < 10e9:
			embedLen = 3584
		default:
			embedLen = 5120
		}
	}
	blocks := 28
	if params > 20e9 {
		blocks = 64
	}
	heads := max(embedLen/128, 1)
	ff := int(math.Round(float64(embedLen)*5.25/256)) * 256
	const vocab = 152064
	fileType, matrix, output, bits := quantization(spec.Quantization)
	a := spec.Family
	info := map[string]any{
		"general.alignment":                     32,
		"general.architecture":                  a,
		"general.file_type":                     fileType,
		"general.parameter_count":               params,
		a + ".attention.head_count":             heads,
		a + ".attention.head_count_kv":          4,
		a + ".attention.layer_norm_rms_epsilon": 0.000001,
		a + ".block_count":                      blocks,
		a + ".context_length":                   spec.ContextLength,
		a + ".embedding_length":                 embedLen,
		a + ".feed_forward_length":              ff,
		a + ".rope.dimension_count":             128,
		a + ".rope.freq_base":                   1000000,
		a + ".vocab_size":                       vocab,
		"tokenizer.ggml.add_bos_token":          true,
		"tokenizer.ggml.add_eos_token":          false,
		"tokenizer.ggml.bos_token_id":           151646,
		"tokenizer.ggml.eos_token_id":           151643,
		"tokenizer.ggml.model":                  "gpt2",
		"tokenizer.ggml.pre":                    "default",
		"tokenizer.ggml.scores":                 nil,
		"tokenizer.ggml.token_type":             nil,
		"tokenizer.ggml.tokens":                 nil,
		"tokenizer.ggml.unknown_token_id":       0,
	}
	e, kv := uint64(embedLen), uint64(embedLen*4/heads)
	tensors := []api.Tensor{{Name: "token_embd.weight", Type: matrix, Shape: []uint64{e, vocab}}}
	for b := range blocks {
		p := fmt.Sprintf("blk.%d.", b)
		tensors = append(tensors,
			api.Tensor{Name: p + "attn_norm.weight", Type: "F32", Shape: []uint64{e}},
			api.Tensor{Name: p + "attn_q.weight", Type: matrix, Shape: []uint64{e, e}},
			api.Tensor{Name: p + "attn_k.weight", Type: matrix, Shape: []uint64{e, kv}},
			api.Tensor{Name: p + "attn_v.weight", Type: matrix, Shape: []uint64{e, kv}},
			api.Tensor{Name: p + "attn_output.weight", Type: matrix, Shape: []uint64{e, e}},
			api.Tensor{Name: p + "ffn_norm.weight", Type: "F32", Shape: []uint64{e}},
			api.Tensor{Name: p + "ffn_gate.weight", Type: matrix, Shape: []uint64{e, uint64(ff)}},
			api.Tensor{Name: p + "ffn_up.weight", Type: matrix, Shape: []uint64{e, uint64(ff)}},
			api.Tensor{Name: p + "ffn_down.weight", Type: matrix, Shape: []uint64{uint64(ff), e}})
	}
	tensors = append(tensors,
		api.Tensor{Name: "output_norm.weight", Type: "F32", Shape: []uint64{e}},
		api.Tensor{Name: "output.weight", Type: output, Shape: []uint64{e, vocab}})
	return description{
		details: api.ModelDetails{
			Format: "gguf", Family: a, Families: []string{a},
			ParameterSize: formatParams(params), QuantizationLevel: strings.ToUpper(spec.Quantization),
		},
		params: params, embedLen: embedLen, modelInfo: info, tensors: tensors, caps: caps,
		fileSize: int64(float64(params) * bits / 8), contextLen: spec.ContextLength,
	}
}

// clone returns a copy of s that shares nothing with it.
func (s *ModelSpec) clone() *ModelSpec {
	if s == nil {
		return nil
	}
	c := *s
	c.Capabilities = slices.Clone(s.Capabilities)
	return &c
}
