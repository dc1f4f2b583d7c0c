package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
)

// cacheKey is the SHA-256 of everything that changes an answer.
type cacheKey [32]byte

// cacheKeyFor decides whether a request's answer may be cached and, if so,
// derives its key. Only deterministic requests are cacheable:
//
//   - embeddings (/api/embed, /api/embeddings, /v1/embeddings): always, a
//     model maps an input to one vector;
//   - generation (/api/generate, /api/chat, /v1/chat/completions,
//     /v1/completions): greedy decoding (temperature 0) or a fixed seed
//     (≥ 0; Ollama's -1 means random), and no tools. Ollama's default
//     temperature is 0.8, so a request that sets neither is sampled and
//     never cached. A request that offers tools is never cached: the bridge
//     cannot tell a lookup from a payment, and a replayed tool call would
//     make the client act again on a decision it did not ask for anew.
//
// The key covers the tenant (never the credential), the route (endpoint and
// protocol), streamed or not (the wire format differs), the normalised
// model, and the whole body in canonical form (keys sorted, whitespace
// dropped, numbers as written) without the fields that do not change the
// answer: model (normalised above), stream (above) and keep_alive. Keeping
// every other field (messages, prompt, system, template, raw, images,
// format, options, tools…) errs on the side of a miss, never of a wrong
// hit.
func cacheKeyFor(rt *route, stream bool, model, tenant string, body []byte) (cacheKey, bool) {
	if !rt.cacheable() {
		return cacheKey{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return cacheKey{}, false
	}
	if !rt.embeds() && !deterministic(m, rt.openai) {
		return cacheKey{}, false
	}
	delete(m, "model")
	delete(m, "stream")
	delete(m, "keep_alive")
	canon, err := json.Marshal(m) // map keys come out sorted
	if err != nil {
		return cacheKey{}, false
	}
	h := sha256.New()
	s := byte(0)
	if stream {
		s = 1
	}
	for _, part := range [][]byte{[]byte("dsbridge-cache-v1"), []byte(tenant), []byte(rt.name), {s}, []byte(model), canon} {
		// Length-prefixed, so no two different part lists hash alike.
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
		h.Write(part)
	}
	var k cacheKey
	h.Sum(k[:0])
	return k, true
}

// deterministic applies the rule above to a decoded body. Native requests
// carry temperature and seed in options, OpenAI ones at the top level.
func deterministic(m map[string]any, openai bool) bool {
	if tools, ok := m["tools"].([]any); ok && len(tools) > 0 {
		return false
	}
	if _, ok := m["functions"]; ok && openai { // OpenAI's legacy tools
		return false
	}
	opts := m
	if !openai {
		o, ok := m["options"].(map[string]any)
		if !ok {
			return false
		}
		opts = o
	}
	if t, ok := number(opts["temperature"]); ok && t == 0 {
		return true
	}
	s, ok := number(opts["seed"])
	return ok && s >= 0
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// cacheable says whether answers on this route may be cached at all.
func (r *route) cacheable() bool {
	switch r.name {
	case "generate", "chat", "embed", "embeddings", "v1_chat", "v1_completions", "v1_embeddings":
		return true
	}
	return false
}

// embeds says whether the route computes embeddings (deterministic).
func (r *route) embeds() bool {
	return r.name == "embed" || r.name == "embeddings" || r.name == "v1_embeddings"
}
