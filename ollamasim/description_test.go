package ollamasim_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/dsbridge/dsbridge/ollamasim"
	"github.com/ollama/ollama/api"
	"github.com/prometheus/client_golang/prometheus"
)

// TestTinyDescription: with the tiny-cpu profile, show and tags describe
// the model `dsbridge tinymodel` writes, as real Ollama does after `ollama
// create` (golden transcript 52_show: 187K, F16, 4 heads, 2 blocks, 438
// tokens, a llama tokenizer, completion only).
func TestTinyDescription(t *testing.T) {
	s, err := ollamasim.New(ollamasim.Config{Models: []string{"whatever"}, Profiles: ollamasim.Profiles{Default: ollamasim.TinyCPUProfile()}}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	_, _, b := post(t, ts.URL+"/api/show", `{"model":"whatever"}`)
	var show api.ShowResponse
	if err := json.Unmarshal(b, &show); err != nil {
		t.Fatal(err)
	}
	if d := show.Details; d.ParameterSize != "187K" || d.QuantizationLevel != "F16" || d.Family != "llama" {
		t.Errorf("details %+v", d)
	}
	want := map[string]any{
		"general.file_type": 1.0, "general.parameter_count": 187456.0, "llama.attention.head_count": 4.0,
		"llama.block_count": 2.0, "llama.context_length": 512.0, "llama.feed_forward_length": 256.0,
		"llama.rope.dimension_count": 16.0, "llama.rope.freq_base": 10000.0, "llama.vocab_size": 438.0,
		"tokenizer.ggml.bos_token_id": 1.0, "tokenizer.ggml.eos_token_id": 2.0, "tokenizer.ggml.model": "llama",
		"tokenizer.ggml.tokens": nil,
	}
	for k, v := range want {
		if got, ok := show.ModelInfo[k]; !ok || got != v {
			t.Errorf("model_info %s = %v, want %v", k, got, v)
		}
	}
	if _, ok := show.ModelInfo["general.name"]; ok {
		t.Error("model_info has general.name, which Ollama drops")
	}
	if len(show.Tensors) != 21 || show.Tensors[0].Type != "F16" || show.Tensors[1].Type != "F32" {
		t.Errorf("tensors %v", show.Tensors)
	}
	if len(show.Capabilities) != 1 || show.Capabilities[0] != "completion" {
		t.Errorf("capabilities %v", show.Capabilities)
	}
}

// TestProfileModelSpec: a profile file's model section sets what tags
// report and what the model can do.
func TestProfileModelSpec(t *testing.T) {
	profs, err := ollamasim.ParseProfiles([]byte(`
base: instant
models:
  "mine:1b": {model: {family: gemma3, parameters: 1200000000, quantization: Q8_0, capabilities: [completion, tools]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ollamasim.New(ollamasim.Config{Models: []string{"mine:1b", "llama3.2:3b"}, Profiles: profs}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp, b := get(t, ts.URL+"/api/tags")
	var tags api.ListResponse
	if err := json.Unmarshal(b, &tags); err != nil || resp != 200 {
		t.Fatalf("%d %s", resp, b)
	}
	if d := tags.Models[0].Details; d.Family != "gemma3" || d.ParameterSize != "1.2B" || d.QuantizationLevel != "Q8_0" {
		t.Errorf("mine:1b details %+v", d)
	}
	if d := tags.Models[1].Details; d.ParameterSize != "3.0B" || d.QuantizationLevel != "Q4_K_M" {
		t.Errorf("llama3.2:3b details %+v", d)
	}
	// mine:1b does tools; a model named tiny does not.
	code, _, b := post(t, ts.URL+"/api/chat", `{"model":"mine:1b","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"stream":false,"options":{"num_predict":2}}`)
	if code != 200 {
		t.Errorf("tools on a tools model: %d %s", code, b)
	}
}
