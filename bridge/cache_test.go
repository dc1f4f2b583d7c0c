package bridge_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/dsbridge/dsbridge/internal/testproc"
	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// simCalls is how many requests a simulator answered on endpoint: the
// upstream's own count, the ground truth for "one upstream call".
func simCalls(t *testing.T, sim *testproc.Proc, endpoint string) float64 {
	t.Helper()
	return metricValue(t, sim.URL, "ollamasim_requests_total", `endpoint="`+endpoint+`"`)
}

// cachedBridge runs a real bridge with --cache backend in front of sims.
func cachedBridge(t *testing.T, backend string, sims ...*testproc.Proc) *testproc.Proc {
	t.Helper()
	var urls []string
	for _, s := range sims {
		urls = append(urls, s.URL)
	}
	b, _ := startBridge(t, upstreamsYAML(urls), "--cache", backend)
	return b
}

// postX sends body and returns status, X-Cache and the body.
func postX(t *testing.T, url, body string, hdr ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Cache"), string(b)
}

const greedyChat = `{"model":"tiny","stream":false,"messages":[{"role":"user","content":"why is the sky blue?"}],"options":{"temperature":0,"num_predict":12}}`

func TestCacheDeterministicRequestOneUpstreamCall(t *testing.T) {
	sim := startSim(t)
	b := cachedBridge(t, "memory", sim)

	code1, x1, body1 := postX(t, b.URL+"/api/chat", greedyChat)
	// The same request, keys in another order and spaced differently.
	reordered := `{ "options": {"num_predict":12, "temperature":0}, "messages":[{"role":"user","content":"why is the sky blue?"}], "stream":false, "model":"tiny"}`
	code2, x2, body2 := postX(t, b.URL+"/api/chat", reordered)
	if code1 != 200 || code2 != 200 || x1 != "MISS" || x2 != "HIT" {
		t.Fatalf("got %d %s then %d %s; want 200 MISS then 200 HIT", code1, x1, code2, x2)
	}
	if body1 != body2 {
		t.Errorf("the hit's body differs:\n%s\n%s", body1, body2)
	}
	if n := simCalls(t, sim, "/api/chat"); n != 1 {
		t.Errorf("simulator answered %v /api/chat calls; want 1", n)
	}
	// A fixed seed is deterministic too; the seed is part of the key.
	seeded := `{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}],"options":{"seed":42,"temperature":0.7}}`
	_, x1, _ = postX(t, b.URL+"/api/chat", seeded)
	_, x2, _ = postX(t, b.URL+"/api/chat", seeded)
	_, x3, _ := postX(t, b.URL+"/api/chat", strings.Replace(seeded, "42", "43", 1))
	if x1 != "MISS" || x2 != "HIT" || x3 != "MISS" {
		t.Errorf("seeded: X-Cache %s %s, other seed %s; want MISS HIT MISS", x1, x2, x3)
	}
	// Another spelling of the model shares the entry; the answer names the
	// model as this client spelt it, as Ollama would.
	_, x4, body4 := postX(t, b.URL+"/api/chat", strings.Replace(greedyChat, `"tiny"`, `"tiny:latest"`, 1))
	if x4 != "HIT" || !strings.Contains(body4, `"model":"tiny:latest"`) || strings.Contains(body4, `"model":"tiny"`) {
		t.Errorf("tiny:latest: X-Cache %s, body %s", x4, body4)
	}
	if n := metricValue(t, b.URL, "bridge_cache_lookups_total", `tier="memory"`, `result="hit"`); n != 3 {
		t.Errorf("bridge_cache_lookups_total{memory,hit} = %v; want 3", n)
	}
}

func TestCacheSampledRequestNeverCached(t *testing.T) {
	sim := startSim(t)
	b := cachedBridge(t, "memory", sim)
	sampled := `{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}],"options":{"temperature":0.8}}`
	noOptions := `{"model":"tiny","stream":false,"prompt":"hi"}` // Ollama's default temperature is 0.8
	withTools := `{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}],"options":{"temperature":0},` +
		`"tools":[{"type":"function","function":{"name":"pay","parameters":{"type":"object","properties":{}}}}]}`
	v1Sampled := `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"temperature":0.8}`
	cases := []struct{ path, body string }{
		{"/api/chat", sampled}, {"/api/generate", noOptions}, {"/api/chat", withTools}, {"/v1/chat/completions", v1Sampled},
	}
	for _, c := range cases {
		before := simCalls(t, sim, c.path)
		for i := 0; i < 3; i++ {
			code, x, body := postX(t, b.URL+c.path, c.body)
			// (The simulated model has no tool support: 400, still a call.)
			if (code != 200 && !strings.Contains(c.body, "tools")) || x != "BYPASS" {
				t.Errorf("%s %s: %d X-Cache %q: %s", c.path, c.body, code, x, body)
			}
		}
		if n := simCalls(t, sim, c.path) - before; n != 3 {
			t.Errorf("%s %s: %v upstream calls for 3 requests; want 3", c.path, c.body, n)
		}
	}
	// A client that asks for a fresh answer gets one.
	postX(t, b.URL+"/api/chat", greedyChat)
	before := simCalls(t, sim, "/api/chat")
	if _, x, _ := postX(t, b.URL+"/api/chat", greedyChat, "Cache-Control", "no-cache"); x != "BYPASS" {
		t.Errorf("Cache-Control: no-cache: X-Cache %q; want BYPASS", x)
	}
	if n := simCalls(t, sim, "/api/chat") - before; n != 1 {
		t.Errorf("Cache-Control: no-cache made %v upstream calls; want 1", n)
	}
}

func TestCacheCoalescesConcurrentMisses(t *testing.T) {
	// Each answer takes 1.5 s upstream, so the 50 requests overlap.
	sim := startSim(t, "--ttft", "1500ms")
	b := cachedBridge(t, "memory", sim)
	var wg sync.WaitGroup
	type got struct {
		code    int
		x, body string
	}
	res := make([]got, 50)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(b.URL+"/api/chat", "application/json", strings.NewReader(greedyChat))
			if err != nil {
				res[i].body = err.Error()
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			res[i] = got{resp.StatusCode, resp.Header.Get("X-Cache"), string(body)}
		}()
	}
	wg.Wait()
	misses := 0
	for i, g := range res {
		if g.code != 200 || g.body != res[0].body {
			t.Errorf("request %d: %d %s %q; want 200 and the same body as the others", i, g.code, g.x, g.body)
		}
		if g.x == "MISS" {
			misses++
		}
	}
	if n := simCalls(t, sim, "/api/chat"); n != 1 {
		t.Errorf("50 concurrent identical misses made %v upstream calls; want 1", n)
	}
	coalesced := metricValue(t, b.URL, "bridge_cache_coalesced_total")
	hits := metricValue(t, b.URL, "bridge_cache_lookups_total", `tier="memory"`, `result="hit"`)
	if misses != 1 || coalesced+hits != 49 {
		t.Errorf("%d MISS, %v coalesced + %v hits; want 1 MISS and 49 served without a call", misses, coalesced, hits)
	}
	t.Logf("50 concurrent identical requests: 1 upstream call, %v coalesced onto it, %v later hits", coalesced, hits)

	// Streamed: the followers get the leader's whole stream replayed, and
	// each one is a valid NDJSON stream ending in done.
	streamed := strings.Replace(greedyChat, `"stream":false`, `"stream":true`, 1)
	bodies := make([]string, 10)
	for i := range bodies {
		bodies[i] = streamed
	}
	codes, outs := concurrently(t, b.URL+"/api/chat", bodies)
	for i := range outs {
		lines := readLines(t, strings.NewReader(outs[i]))
		if codes[i] != 200 || outs[i] != outs[0] || len(lines) < 2 || !strings.Contains(lines[len(lines)-1], `"done":true`) {
			t.Errorf("streamed request %d: %d %q", i, codes[i], outs[i])
		}
	}
	if n := simCalls(t, sim, "/api/chat"); n != 2 {
		t.Errorf("then 10 concurrent identical streamed misses: %v upstream calls in all; want 2", n)
	}
}

func TestCacheStreamedReplayParsesWithOfficialClients(t *testing.T) {
	sim := startSim(t)
	b := cachedBridge(t, "memory", sim)
	ctx := context.Background()

	// Ollama's own client, streamed chat: the replayed NDJSON parses into
	// the same messages as the original stream.
	oc := api.NewClient(mustURL(t, b.URL), http.DefaultClient)
	chat := func() (string, api.ChatResponse) {
		var text strings.Builder
		var last api.ChatResponse
		stream := true
		err := oc.Chat(ctx, &api.ChatRequest{Model: "tiny", Stream: &stream,
			Messages: []api.Message{{Role: "user", Content: "tell me a story"}},
			Options:  map[string]any{"temperature": 0, "num_predict": 20}},
			func(r api.ChatResponse) error { text.WriteString(r.Message.Content); last = r; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return text.String(), last
	}
	text1, last1 := chat()
	text2, last2 := chat()
	if text1 == "" || text1 != text2 || !last2.Done || last2.EvalCount != last1.EvalCount {
		t.Errorf("replayed stream: %q done=%v eval_count %d; original %q eval_count %d", text2, last2.Done, last2.EvalCount, text1, last1.EvalCount)
	}
	if n := simCalls(t, sim, "/api/chat"); n != 1 {
		t.Errorf("two streamed chats made %v upstream calls; want 1", n)
	}

	// openai-go, streamed chat completion: the replayed SSE (data: chunks,
	// then [DONE]) parses into the same content.
	c := openai.NewClient(option.WithBaseURL(b.URL+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	complete := func() (string, int) {
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:       "tiny",
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("tell me a story")},
			Temperature: openai.Float(0),
			MaxTokens:   openai.Int(20),
		})
		var text strings.Builder
		chunks := 0
		for st.Next() {
			chunks++
			if ch := st.Current(); len(ch.Choices) > 0 {
				text.WriteString(ch.Choices[0].Delta.Content)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		return text.String(), chunks
	}
	o1, n1 := complete()
	o2, n2 := complete()
	if o1 == "" || o1 != o2 || n1 != n2 {
		t.Errorf("replayed SSE: %q in %d chunks; original %q in %d", o2, n2, o1, n1)
	}
	if n := simCalls(t, sim, "/v1/chat/completions"); n != 1 {
		t.Errorf("two streamed completions made %v upstream calls; want 1", n)
	}
	// A non-streamed request is its own entry (the wire format differs).
	_, x, body := postX(t, b.URL+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"tell me a story"}],"temperature":0,"max_tokens":20}`)
	if x != "MISS" || !strings.Contains(body, `"object":"chat.completion"`) {
		t.Errorf("non-streamed after streamed: X-Cache %s, %s", x, body)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCacheStoresOnlyCompleteAnswers(t *testing.T) {
	sim := startSim(t)
	b := cachedBridge(t, "memory", sim)
	streamed := strings.Replace(greedyChat, `"stream":false`, `"stream":true`, 1)
	for _, fault := range []string{
		`{"kind":"error_line","after_tokens":2,"message":"runner died","paths":["/api/chat"]}`,
		`{"kind":"cut_stream","after_tokens":2,"paths":["/api/chat"]}`,
		`{"kind":"error","status":500,"message":"boom","paths":["/api/chat"]}`,
	} {
		setFaults(t, sim, fault)
		before := simCalls(t, sim, "/api/chat")
		for i := 0; i < 2; i++ {
			if _, x, _ := postX(t, b.URL+"/api/chat", streamed); x != "MISS" {
				t.Errorf("%s, request %d: X-Cache %s; a failed answer must not be stored", fault, i, x)
			}
		}
		if n := simCalls(t, sim, "/api/chat") - before; n < 2 {
			t.Errorf("%s: %v upstream calls for 2 requests; want 2 (nothing stored)", fault, n)
		}
	}
	setFaults(t, sim, "")
	_, x1, _ := postX(t, b.URL+"/api/chat", streamed)
	_, x2, _ := postX(t, b.URL+"/api/chat", streamed)
	if x1 != "MISS" || x2 != "HIT" {
		t.Errorf("faults off: X-Cache %s then %s; want MISS then HIT", x1, x2)
	}
}
