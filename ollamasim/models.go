package ollamasim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/openai"
	"github.com/ollama/ollama/types/model"
)

// modelInfo is what /api/tags, /api/show and /api/ps say about a model.
type modelInfo struct {
	name       string
	arch       string
	details    api.ModelDetails
	size       int64 // on disk
	vramSize   int64 // loaded
	digest     string
	modified   time.Time
	params     int64
	blocks     int
	embedLen   int
	contextLen int
	template   string
	caps       []model.Capability
}

// newModelInfo derives plausible metadata from the model's name: family
// from the name, parameter count from a tag like "7b".
func newModelInfo(name string, p Profile, modified time.Time) *modelInfo {
	base, tag, _ := strings.Cut(name, ":")
	arch, family := "llama", "llama"
	switch {
	case strings.Contains(base, "deepseek-r1"), strings.Contains(base, "qwen"):
		arch, family = "qwen2", "qwen2"
	case strings.Contains(base, "gemma"):
		arch, family = "gemma3", "gemma3"
	case strings.Contains(base, "mistral"):
		arch, family = "llama", "llama"
	}
	params := int64(7_615_616_512)
	if t := strings.TrimSuffix(strings.ToLower(tag), "b"); t != tag && t != "" {
		if f, err := strconv.ParseFloat(t, 64); err == nil && f > 0 {
			params = int64(f * 1e9)
		}
	}
	sum := sha256.Sum256([]byte("ollamasim/" + name))
	size := params * 9 / 16 // Q4_K_M: ≈ 4.5 bits per weight
	caps := []model.Capability{model.CapabilityCompletion}
	if strings.Contains(base, "deepseek-r1") || strings.Contains(base, "qwen3") {
		caps = append(caps, model.CapabilityThinking)
	}
	blocks := 28
	if params > 20e9 {
		blocks = 64
	}
	embedLen := p.EmbeddingLength
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
	return &modelInfo{
		name: name, arch: arch,
		details: api.ModelDetails{
			ParentModel: "", Format: "gguf", Family: family, Families: []string{family},
			ParameterSize: formatParams(params), QuantizationLevel: "Q4_K_M",
		},
		size: size, vramSize: size + size/8, digest: hex.EncodeToString(sum[:]),
		modified: modified.UTC(), params: params, blocks: blocks,
		embedLen: embedLen, contextLen: p.ContextLength,
		template: "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n",
		caps:     caps,
	}
}

func formatParams(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "B"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(float64(n)/1e3, 'f', 0, 64) + "K"
}

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	if !s.simpleFaults(w, r, "/", false) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "17")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("Ollama is running"))
	}
	s.metrics.request("/", "", http.StatusOK)
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	if !s.simpleFaults(w, r, "/api/version", false) {
		return
	}
	writeJSONHead(w, r, http.StatusOK, map[string]string{"version": Version})
	s.metrics.request("/api/version", "", http.StatusOK)
}

func (s *Server) listResponse() api.ListResponse {
	out := api.ListResponse{Models: make([]api.ListModelResponse, 0, len(s.order))}
	for _, m := range s.order {
		out.Models = append(out.Models, api.ListModelResponse{
			Name: m.name, Model: m.name, ModifiedAt: m.modified, Size: m.size,
			Digest: m.digest, Details: m.details,
		})
	}
	return out
}

func (s *Server) handleTags(w http.ResponseWriter, r *http.Request) {
	if !s.simpleFaults(w, r, "/api/tags", false) {
		return
	}
	writeJSONHead(w, r, http.StatusOK, s.listResponse())
	s.metrics.request("/api/tags", "", http.StatusOK)
}

func (s *Server) handlePs(w http.ResponseWriter, r *http.Request) {
	if !s.simpleFaults(w, r, "/api/ps", false) {
		return
	}
	now := s.now()
	out := api.ProcessResponse{Models: []api.ProcessModelResponse{}}
	for _, st := range s.sched.snapshot() {
		if st.state == unloaded {
			continue
		}
		m := s.models[st.name]
		exp := st.expiresAt
		if exp.IsZero() {
			// Busy, loading, or kept forever: Ollama shows now + session.
			exp = now.Add(st.session)
		}
		out.Models = append(out.Models, api.ProcessModelResponse{
			Name: m.name, Model: m.name, Size: m.vramSize, Digest: m.digest, Details: m.details,
			ExpiresAt: exp.UTC(), SizeVRAM: m.vramSize, ContextLength: st.numCtx,
		})
	}
	writeJSON(w, http.StatusOK, out)
	s.metrics.request("/api/ps", "", http.StatusOK)
}

func (s *Server) showResponse(m *modelInfo) api.ShowResponse {
	a := m.arch
	// The key set of a llama-architecture GGUF as Ollama reports it
	// (transcript 52_show); large arrays are null unless verbose.
	info := map[string]any{
		"general.alignment":                     32,
		"general.architecture":                  a,
		"general.file_type":                     15,
		"general.parameter_count":               m.params,
		a + ".attention.head_count":             28,
		a + ".attention.head_count_kv":          4,
		a + ".attention.layer_norm_rms_epsilon": 0.000001,
		a + ".block_count":                      m.blocks,
		a + ".context_length":                   131072,
		a + ".embedding_length":                 m.embedLen,
		a + ".feed_forward_length":              18944,
		a + ".rope.dimension_count":             128,
		a + ".rope.freq_base":                   1000000,
		a + ".vocab_size":                       152064,
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
	tensors := []api.Tensor{{Name: "token_embd.weight", Type: "Q4_K", Shape: []uint64{uint64(m.embedLen), 152064}}}
	for b := range m.blocks {
		for _, t := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"} {
			typ, shape := "Q4_K", []uint64{uint64(m.embedLen), uint64(m.embedLen)}
			if strings.HasSuffix(t, "norm") {
				typ, shape = "F32", []uint64{uint64(m.embedLen)}
			}
			tensors = append(tensors, api.Tensor{Name: fmt.Sprintf("blk.%d.%s.weight", b, t), Type: typ, Shape: shape})
		}
	}
	tensors = append(tensors,
		api.Tensor{Name: "output_norm.weight", Type: "F32", Shape: []uint64{uint64(m.embedLen)}},
		api.Tensor{Name: "output.weight", Type: "Q6_K", Shape: []uint64{uint64(m.embedLen), 152064}})
	blob := "/root/.ollama/models/blobs/sha256-" + m.digest
	return api.ShowResponse{
		Modelfile: "# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM " + m.name +
			"\n\nFROM " + blob + "\nTEMPLATE \"" + m.template + "\"\nPARAMETER stop <|im_start|>\nPARAMETER stop <|im_end|>\n",
		Parameters:   "stop                           \"<|im_start|>\"\nstop                           \"<|im_end|>\"",
		Template:     m.template,
		Details:      withParent(m.details, blob),
		ModelInfo:    info,
		Tensors:      tensors,
		Capabilities: m.caps,
		ModifiedAt:   m.modified,
	}
}

func withParent(d api.ModelDetails, p string) api.ModelDetails {
	d.ParentModel = p
	return d
}

func (s *Server) handleShow(w http.ResponseWriter, r *http.Request) {
	const ep = "/api/show"
	var req api.ShowRequest
	if !s.decode(w, r, ep, &req, false) {
		return
	}
	name := req.Model
	if name == "" {
		//lint:ignore SA1019 Ollama still accepts the deprecated field (cmp.Or(r.Model, r.Name)).
		name = req.Name
	}
	if !s.simpleFaults(w, r, ep, false) {
		return
	}
	if name == "" {
		s.nativeError(w, ep, "", http.StatusBadRequest, "model is required")
		return
	}
	m, ok := s.lookup(name)
	if !ok {
		s.nativeError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", name))
		return
	}
	writeJSON(w, http.StatusOK, s.showResponse(m))
	s.metrics.request(ep, m.name, http.StatusOK)
}

func (s *Server) handleOpenAIModels(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/models"
	if !s.simpleFaults(w, r, ep, true) {
		return
	}
	writeJSONNL(w, http.StatusOK, openai.ToListCompletion(s.listResponse()))
	s.metrics.request(ep, "", http.StatusOK)
}

func (s *Server) handleOpenAIModel(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/models/{model}"
	name := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	if !s.simpleFaults(w, r, ep, true) {
		return
	}
	m, ok := s.lookup(name)
	if !ok {
		// ShowHandler's 404 through RetrieveWriter.writeError.
		s.openAIHandlerError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", name))
		return
	}
	writeJSONNL(w, http.StatusOK, openai.ToModel(api.ShowResponse{ModifiedAt: m.modified}, name))
	s.metrics.request(ep, m.name, http.StatusOK)
}
