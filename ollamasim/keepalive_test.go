package ollamasim_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// ps reads /api/ps.
func ps(t *testing.T, base string) api.ProcessResponse {
	t.Helper()
	resp, err := http.Get(base + "/api/ps")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.ProcessResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadedNames(r api.ProcessResponse) []string {
	var out []string
	for _, m := range r.Models {
		out = append(out, m.Name)
	}
	return out
}

// TestKeepAlive: load and unload calls, keep_alive durations as /api/ps
// shows them, expiry, and a cold load after it.
func TestKeepAlive(t *testing.T) {
	const load = 600 * time.Millisecond
	p := startSim(t, "--profile", "instant", "--load-time", load.String())
	base := p.URL
	const m = "deepseek-r1:7b"

	if got := ps(t, base).Models; len(got) != 0 {
		t.Fatalf("ps at start: %v", got)
	}
	// A load call: no prompt.
	code, _, b := post(t, base+"/api/generate", `{"model":"`+m+`"}`)
	if r := mustJSON(t, b); code != 200 || r["done_reason"] != "load" || r["done"] != true {
		t.Fatalf("load call: %d %s", code, b)
	}
	if got := ps(t, base).Models; len(got) != 1 || time.Until(got[0].ExpiresAt) < 4*time.Minute || time.Until(got[0].ExpiresAt) > 5*time.Minute+time.Second {
		t.Fatalf("ps after load: %+v; want expiry in ~5m", got)
	}
	// keep_alive as a string duration shows in expires_at (transcript 56).
	post(t, base+"/api/chat", `{"model":"`+m+`","messages":[{"role":"user","content":"hi"}],"stream":false,"keep_alive":"10s","options":{"num_predict":2}}`)
	if got := ps(t, base).Models; len(got) != 1 || time.Until(got[0].ExpiresAt) > 11*time.Second || time.Until(got[0].ExpiresAt) < 8*time.Second {
		t.Fatalf("ps after keep_alive 10s: %+v", got)
	}
	// Negative: forever.
	post(t, base+"/api/chat", `{"model":"`+m+`","messages":[],"keep_alive":-1}`)
	if got := ps(t, base).Models; len(got) != 1 || time.Until(got[0].ExpiresAt) < 24*365*time.Hour {
		t.Fatalf("ps after keep_alive -1: %+v", got)
	}
	// keep_alive 0 with nothing to do: unload (transcripts 53, 54).
	code, _, b = post(t, base+"/api/generate", `{"model":"`+m+`","keep_alive":0}`)
	if r := mustJSON(t, b); code != 200 || r["done_reason"] != "unload" {
		t.Fatalf("unload call: %d %s", code, b)
	}
	if got := ps(t, base).Models; len(got) != 0 {
		t.Fatalf("ps after unload: %v", loadedNames(ps(t, base)))
	}
	// A short keep_alive expires by itself; the next request loads again.
	_, _, b = post(t, base+"/api/chat", `{"model":"`+m+`","messages":[{"role":"user","content":"hi"}],"stream":false,"keep_alive":"200ms","options":{"num_predict":1}}`)
	if ld := mustJSON(t, b)["load_duration"].(float64); time.Duration(ld) < load {
		t.Fatalf("first load_duration %v; want ≥ %v", time.Duration(ld), load)
	}
	_, _, b = post(t, base+"/api/chat", `{"model":"`+m+`","messages":[{"role":"user","content":"hi"}],"stream":false,"keep_alive":"200ms","options":{"num_predict":1}}`)
	if ld := mustJSON(t, b)["load_duration"].(float64); time.Duration(ld) >= load {
		t.Fatalf("warm load_duration %v; want < %v", time.Duration(ld), load)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(ps(t, base).Models) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("model still loaded 5s after keep_alive 200ms: %v", loadedNames(ps(t, base)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _, b = post(t, base+"/api/chat", `{"model":"`+m+`","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":1}}`)
	if ld := mustJSON(t, b)["load_duration"].(float64); time.Duration(ld) < load {
		t.Fatalf("load_duration after expiry %v; want a cold load", time.Duration(ld))
	}
}

// TestMaxLoadedModels: loading a model beyond the limit evicts an idle one.
func TestMaxLoadedModels(t *testing.T) {
	p := startSim(t, "--profile", "instant", "--max-loaded-models", "1")
	post(t, p.URL+"/api/generate", `{"model":"deepseek-r1:7b"}`)
	post(t, p.URL+"/api/generate", `{"model":"llama3.2:3b"}`)
	if got := loadedNames(ps(t, p.URL)); len(got) != 1 || got[0] != "llama3.2:3b" {
		t.Fatalf("loaded %v; want only llama3.2:3b", got)
	}
}

// TestNumCtxReload: a request for another context length reloads the
// model (Ollama's needsReload), and /api/ps shows the new context_length.
func TestNumCtxReload(t *testing.T) {
	const load = 600 * time.Millisecond
	p := startSim(t, "--profile", "instant", "--load-time", load.String())
	req := func(opts string) time.Duration {
		_, _, b := post(t, p.URL+"/api/chat", `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":1`+opts+`}}`)
		return time.Duration(mustJSON(t, b)["load_duration"].(float64))
	}
	if d := req(""); d < load {
		t.Fatalf("cold load_duration %v", d)
	}
	if d := req(""); d >= load {
		t.Fatalf("warm load_duration %v", d)
	}
	if d := req(`,"num_ctx":2048`); d < load {
		t.Fatalf("load_duration after a num_ctx change %v; want a reload", d)
	}
	if got := ps(t, p.URL).Models; len(got) != 1 || got[0].ContextLength != 2048 {
		t.Fatalf("ps %+v; want context_length 2048", got)
	}
	if d := req(""); d >= load {
		t.Fatalf("a request without num_ctx reloaded (%v)", d)
	}
}
