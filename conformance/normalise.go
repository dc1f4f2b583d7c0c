package conformance

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The normalisation rules: which JSON values legitimately differ between
// real Ollama and a simulator and are replaced by a placeholder that still
// records their kind. A value of the wrong type keeps a "<bad …>" marker,
// so a type difference still shows. Everything else is compared exactly.
var (
	// Wall-clock times (RFC 3339). expires_at is also given relative to
	// the response's Date header, rounded, because keep_alive sets it.
	timeKeys = map[string]bool{"created_at": true, "modified_at": true, "expires_at": true}
	// Nanosecond durations of the native API.
	durationKeys = map[string]bool{"total_duration": true, "load_duration": true, "prompt_eval_duration": true, "eval_duration": true}
	// Counts that depend on the real tokenizer, which a simulator does not
	// have. Counts of generated tokens (eval_count, completion_tokens) stay
	// exact: they follow num_predict.
	tokenCountKeys = map[string]bool{"prompt_eval_count": true, "prompt_tokens": true, "total_tokens": true, "input_tokens": true}
	// Generated text.
	textKeys = map[string]bool{"response": true, "content": true, "text": true, "thinking": true, "output_text": true}
	// Sizes of model files and of loaded models.
	sizeKeys = map[string]bool{"size": true, "size_vram": true}
	// Unix-second timestamps of the OpenAI API (/v1/responses also calls
	// them created_at, a number there, and completed_at).
	unixKeys = map[string]bool{"created": true, "completed_at": true}
	// Fields holding an id with a random part.
	idKeys = map[string]bool{"id": true, "item_id": true}

	sha256Re = regexp.MustCompile(`[0-9a-f]{64}`)
	// Blob paths name the server's models folder, which is the server's
	// configuration (OLLAMA_MODELS), not its behaviour.
	blobPathRe = regexp.MustCompile(`(/[^\s"]*)?/blobs/sha256-`)
	// OpenAI ids carry a random number or string after a fixed prefix.
	idRe = regexp.MustCompile(`^(chatcmpl|cmpl|resp|msg|rs|fc|call)[-_][0-9A-Za-z_]+$`)
)

// normaliser carries what a rule needs beyond the value: the response's
// Date, for expires_at.
type normaliser struct {
	date time.Time
}

func newNormaliser(h http.Header) normaliser {
	d, _ := http.ParseTime(h.Get("Date"))
	return normaliser{date: d}
}

// value returns v with the rules applied; key is v's field name in its
// parent object ("" for array elements and the top level).
func (n normaliser) value(key string, v any) any {
	if _, isNum := v.(json.Number); isNum && (timeKeys[key] || unixKeys[key]) {
		return placeholderInt(v, "unix")
	}
	switch {
	case timeKeys[key]:
		return n.time(key, v)
	case durationKeys[key]:
		return placeholderInt(v, "ns")
	case tokenCountKeys[key]:
		return placeholderInt(v, "count")
	case sizeKeys[key]:
		return placeholderInt(v, "bytes")
	case unixKeys[key]:
		return placeholderInt(v, "unix")
	case key == "context":
		return tokenIDs(v)
	case key == "embedding":
		return vector(v)
	case key == "embeddings":
		if a, ok := v.([]any); ok {
			out := make([]any, len(a))
			for i, x := range a {
				out[i] = vector(x)
			}
			return out
		}
		return bad("embeddings", v)
	case key == "models":
		v = orderSameSecond(v)
	case textKeys[key] || key == "delta":
		// "delta" is a string of generated text in /v1/responses events
		// (an object in chat completion chunks, compared field by field).
		if s, ok := v.(string); ok && s != "" {
			return "<text>"
		}
	case idKeys[key]:
		if s, ok := v.(string); ok {
			if m := idRe.FindStringSubmatch(s); m != nil {
				return m[1] + "-<id>"
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = n.value(k, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = n.value("", e)
		}
		return out
	case string:
		// Digests appear in tags, ps and show, inside strings too
		// ("sha256:…", blob paths in a modelfile).
		x = blobPathRe.ReplaceAllString(x, "<models>/blobs/sha256-")
		return sha256Re.ReplaceAllString(x, "<sha256>")
	}
	return v
}

// time checks an RFC 3339 time and, for expires_at, says how far after the
// response's Date it is, rounded to 10 s so that timing noise never shows.
func (n normaliser) time(key string, v any) any {
	s, ok := v.(string)
	if !ok {
		return bad("time", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return bad("time", v)
	}
	if key != "expires_at" || n.date.IsZero() {
		return "<time>"
	}
	d := t.Sub(n.date).Round(10 * time.Second)
	if d > 24*time.Hour*365 {
		// keep_alive < 0 keeps a model loaded forever: a far-future time.
		return "<time: far future>"
	}
	return fmt.Sprintf("<time: Date%+v>", d)
}

func placeholderInt(v any, what string) any {
	if num, ok := v.(json.Number); ok {
		if i, err := num.Int64(); err == nil && i >= 0 {
			return "<" + what + ">"
		}
	}
	return bad(what, v)
}

func tokenIDs(v any) any {
	a, ok := v.([]any)
	if !ok {
		return bad("token ids", v)
	}
	for _, x := range a {
		if placeholderInt(x, "id") != "<id>" {
			return bad("token ids", v)
		}
	}
	return "<token ids>"
}

// vector keeps an embedding's length and whether it has unit L2 norm
// (/api/embed normalises, the legacy /api/embeddings does not).
func vector(v any) any {
	a, ok := v.([]any)
	if !ok {
		return bad("vector", v)
	}
	var sum float64
	for _, x := range a {
		num, ok := x.(json.Number)
		if !ok {
			return bad("vector", v)
		}
		f, err := num.Float64()
		if err != nil {
			return bad("vector", v)
		}
		sum += f * f
	}
	if len(a) > 0 && math.Abs(math.Sqrt(sum)-1) < 1e-3 {
		return fmt.Sprintf("<vector[%d], unit norm>", len(a))
	}
	return fmt.Sprintf("<vector[%d]>", len(a))
}

func bad(what string, v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return fmt.Sprintf("<bad %s: %s>", what, strings.ReplaceAll(s, "\n", " "))
}

// orderSameSecond puts consecutive /api/tags entries modified in the same
// second in name order. Ollama's ListHandler reads manifests into a map (random order) and
// then sorts stably by modified_at in whole seconds, newest first, so models
// made in the same second come out in any order: only the order across
// seconds is behaviour. Entries without modified_at (/api/ps) are left alone.
func orderSameSecond(v any) any {
	a, ok := v.([]any)
	if !ok {
		return v
	}
	type entry struct {
		sec  int64
		name string
		v    any
	}
	es := make([]entry, len(a))
	for i, x := range a {
		m, ok := x.(map[string]any)
		if !ok {
			return v
		}
		ts, _ := m["modified_at"].(string)
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return v
		}
		name, _ := m["name"].(string)
		es[i] = entry{t.Unix(), name, x}
	}
	// Sort by name only within runs of the same second: the order across
	// seconds is left as the server wrote it, so it is still compared.
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].sec == es[i].sec {
			j++
		}
		slices.SortStableFunc(es[i:j], func(x, y entry) int { return cmp.Compare(x.name, y.name) })
		i = j
	}
	out := make([]any, len(es))
	for i, e := range es {
		out[i] = e.v
	}
	return out
}
