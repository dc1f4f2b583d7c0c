package bridge_test

import (
	"encoding/json"
	"fmt"
	"github.com/dsbridge/dsbridge/internal/testproc"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Known traffic through a real bridge in front of a real sim gives exact
// output-token and inter-token-latency figures: every answer's own token
// count adds up, and every streamed message after a stream's first is one
// ITL observation, however the reads coalesced.
func TestTokenMetrics(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	br, _ := startBridge(t, upstreamsYAML([]string{sim.URL}))
	reqs := []struct {
		path, body string
		route      string
		tokens     int
		stream     bool
	}{
		{"/api/chat", chatBody(true, 8), "chat", 8, true},
		{"/api/chat", chatBody(true, 8), "chat", 8, true},
		{"/api/chat", chatBody(true, 8), "chat", 8, true},
		{"/api/chat", chatBody(false, 5), "chat", 5, false},
		{"/api/generate", `{"model":"tiny","prompt":"hi","stream":false,"options":{"num_predict":7}}`, "generate", 7, false},
		{"/api/generate", `{"model":"tiny","prompt":"hi","options":{"num_predict":6}}`, "generate", 6, true},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":9,"stream":true,"stream_options":{"include_usage":true}}`, "v1_chat", 9, true},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`, "v1_chat", 4, false},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","max_tokens":3}`, "v1_completions", 3, false},
	}
	wantTokens := map[string]int{}
	wantITL := 0
	for _, r := range reqs {
		resp, err := http.Post(br.URL+r.path, "application/json", strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		lines := readLines(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s: %v", r.path, resp.Status, lines)
		}
		// The answer itself says how many tokens it carried.
		got := answerTokens(t, lines)
		if got != r.tokens {
			t.Fatalf("%s %s: answer reports %d tokens, want %d:\n%s", r.path, r.body, got, r.tokens, strings.Join(lines, "\n"))
		}
		wantTokens[r.route] += r.tokens
		if r.stream {
			// One message per NDJSON line or SSE event; the first has no gap.
			wantITL += len(lines) - 1
		}
	}
	for route, n := range wantTokens {
		if v := metricValue(t, br.URL, "bridge_output_tokens_total", fmt.Sprintf(`route=%q`, route)); v != float64(n) {
			t.Errorf("bridge_output_tokens_total{route=%q} = %v; want %d", route, v, n)
		}
	}
	if v := metricValue(t, br.URL, "bridge_output_tokens_total"); v != 8*3+5+7+6+9+4+3 {
		t.Errorf("bridge_output_tokens_total = %v; want %d", v, 8*3+5+7+6+9+4+3)
	}
	// Ollama streams a line per token and the done line; OpenAI an event
	// per token, the finish, the usage and [DONE]: tokens+1 and tokens+3.
	if want := 3*8 + 6 + (9 + 2); wantITL != want {
		t.Errorf("streamed messages: %d gaps; want %d", wantITL, want)
	}
	if v := metricValue(t, br.URL, "bridge_inter_token_latency_seconds_count"); v != float64(wantITL) {
		t.Errorf("bridge_inter_token_latency_seconds_count = %v; want %d", v, wantITL)
	}
	if v := metricValue(t, br.URL, "bridge_inter_token_latency_seconds_bucket", `le="5"`); v != float64(wantITL) {
		t.Errorf("ITL observations under 5 s = %v; want all %d", v, wantITL)
	}
}

// answerTokens reads the generated-token count an answer reports:
// eval_count of its done object, or usage.completion_tokens.
func answerTokens(t *testing.T, lines []string) int {
	t.Helper()
	n := 0
	for _, l := range lines {
		l = strings.TrimPrefix(l, "data: ")
		var v struct {
			EvalCount int `json:"eval_count"`
			Usage     struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if json.Unmarshal([]byte(l), &v) == nil {
			n += v.EvalCount + v.Usage.CompletionTokens
		}
	}
	return n
}

// The log-lines counter agrees with the lines the bridge wrote, level by
// level: a 5xx answered to the client is an error line (the seed's "error
// logs > 10/min" alert counts them), a refused reload a warn line.
func TestLogMetrics(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	br, cfgPath := startBridge(t, upstreamsYAML([]string{sim.URL}))
	if code, body, err := post(t, http.DefaultClient, br.URL+"/api/chat", chatBody(false, 2)); err != nil || code != 200 {
		t.Fatalf("chat: %d %v %s", code, err, body)
	}
	setFaults(t, sim, `{"kind":"error","status":500,"paths":["/api/generate"]}`)
	if code, body, err := post(t, http.DefaultClient, br.URL+"/api/generate", `{"model":"tiny","prompt":"hi","stream":false}`); err != nil || code != 500 {
		t.Fatalf("generate with a 500 fault: %d %v %s", code, err, body)
	}
	if err := os.WriteFile(cfgPath, []byte("upstreams: ["), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(br.URL+"/admin/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad reload: %s", resp.Status)
	}
	// The access line may be written just after the answer went out.
	testproc.Eventually(t, 5*time.Second, "the warn and error lines counted", func() bool {
		return metricValue(t, br.URL, "bridge_log_messages_total", `level="warn"`) >= 1 &&
			metricValue(t, br.URL, "bridge_log_messages_total", `level="error"`) >= 1
	})
	want := map[string]float64{"debug": 0, "warn": 1, "error": 1}
	levels := []string{"debug", "info", "warn", "error"}
	// written counts the lines in the bridge's output by log.level.
	written := func() map[string]float64 {
		n := map[string]float64{"debug": 0, "info": 0, "warn": 0, "error": 0}
		for _, l := range strings.Split(br.Output(), "\n") {
			var v struct {
				Level string `json:"log.level"`
			}
			if json.Unmarshal([]byte(l), &v) == nil && v.Level != "" {
				n[v.Level]++
			}
		}
		return n
	}
	counted := func() map[string]float64 {
		n := map[string]float64{}
		for _, level := range levels {
			n[level] = metricValue(t, br.URL, "bridge_log_messages_total", fmt.Sprintf(`level=%q`, level))
		}
		return n
	}
	// A line is written before it is counted; poll until both agree.
	var w, c map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		c = counted()
		w = written()
		if maps.Equal(w, c) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if w["info"] == 0 {
		t.Fatalf("no info lines written:\n%s", br.Output())
	}
	for _, level := range levels {
		if c[level] != w[level] {
			t.Errorf("bridge_log_messages_total{level=%q} = %v; the bridge wrote %v such lines", level, c[level], w[level])
		}
		if x, ok := want[level]; ok && c[level] != x {
			t.Errorf("bridge_log_messages_total{level=%q} = %v; want %v\n%s", level, c[level], x, br.Output())
		}
	}
}
