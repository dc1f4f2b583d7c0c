package loadgen

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const sampleMix = `
requests:
  - name: chat
    weight: 6
    endpoint: /api/chat
    model: tiny
    prompt_tokens: {dist: uniform, min: 10, max: 20}
    max_tokens: 64
  - endpoint: /v1/chat/completions
    weight: 3
    stream: false
    prompt_tokens: {dist: normal, mean: 50, stddev: 5, min: 1}
  - endpoint: /api/embed
    weight: 1
    prompt_tokens: {dist: lognormal, mean: 3, stddev: 0.5, max: 100}
`

func TestParseMix(t *testing.T) {
	m, err := ParseMix([]byte(sampleMix))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Requests) != 3 {
		t.Fatalf("%d entries", len(m.Requests))
	}
	chat, oai, emb := m.Requests[0], m.Requests[1], m.Requests[2]
	if chat.Format() != FormatNDJSON || oai.Format() != FormatJSON || emb.Format() != FormatJSON {
		t.Errorf("formats %v %v %v", chat.Format(), oai.Format(), emb.Format())
	}
	if chat.MaxTokens != Fixed(64) || emb.MaxTokens != Fixed(DefaultMaxTokens) || oai.Name != "v1/chat/completions" {
		t.Errorf("defaults not filled: %+v %+v", chat, emb)
	}
	if !*chat.Stream || *emb.Stream {
		t.Error("stream defaults: generation streams, embeddings do not")
	}
}

func TestParseMixErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{``, "no requests"},
		{`requests: []`, "no requests"},
		{"requests:\n  - endpoint: /api/pull", "unknown endpoint"},
		{"requests:\n  - endpoint: /api/embed\n    stream: true", "cannot stream"},
		{"requests:\n  - weight: -1", "weight"},
		{"requests:\n  - prompt_tokens: {dist: zipf}", "unknown dist"},
		{"requests:\n  - max_tokens: {dist: uniform, min: 9, max: 3}", "max"},
		{"requests:\n  - max_tokens: many", "number"},
		{"requests:\n  - endpont: /api/chat", "endpont"}, // a typo is an error, not a default
	} {
		_, err := ParseMix([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMix(%q) error %v, want one mentioning %q", tc.yaml, err, tc.want)
		}
	}
}

func TestDistSample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		d        Dist
		min, max int
		mean     float64
	}{
		{Fixed(7), 7, 7, 7},
		{Dist{Kind: "uniform", Min: 10, Max: 20}, 10, 20, 15},
		{Dist{Kind: "normal", Mean: 100, Stddev: 10, Min: 1}, 1, 1 << 30, 99.5}, // truncation to int lowers the mean by ½
		{Dist{Kind: "lognormal", Mean: 3, Stddev: 0.5, Max: 100}, 1, 100, 22},
	} {
		var sum float64
		const n = 20000
		for range n {
			v := tc.d.Sample(r)
			if v < tc.min || v > tc.max {
				t.Fatalf("%+v: sample %d outside [%d, %d]", tc.d, v, tc.min, tc.max)
			}
			sum += float64(v)
		}
		if mean := sum / n; math.Abs(mean-tc.mean) > 0.05*tc.mean+0.5 {
			t.Errorf("%+v: mean %.2f, want ≈ %.2f", tc.d, mean, tc.mean)
		}
	}
}

// TestTargeterDeterministic: the same seed and index give the same request,
// whatever order they are asked in; weights are honoured.
func TestTargeterDeterministic(t *testing.T) {
	m, err := ParseMix([]byte(sampleMix))
	if err != nil {
		t.Fatal(err)
	}
	a := NewTargeter("http://127.0.0.1:1/", m, "first", 42)
	b := NewTargeter("http://127.0.0.1:1", m, "first", 42)
	c := NewTargeter("http://127.0.0.1:1", m, "first", 43)
	counts := map[string]int{}
	same := 0
	for i := uint64(0); i < 3000; i++ {
		var ta, tb, tc Target
		if err := a(i, &ta); err != nil {
			t.Fatal(err)
		}
		if err := b(2999-i, &tb); err != nil { // the other order
			t.Fatal(err)
		}
		_ = b(i, &tb)
		_ = c(i, &tc)
		if ta.URL != tb.URL || string(ta.Body) != string(tb.Body) {
			t.Fatalf("request %d differs between two targeters with one seed", i)
		}
		if string(ta.Body) == string(tc.Body) {
			same++
		}
		counts[ta.Name]++
		var body map[string]any
		if err := json.Unmarshal(ta.Body, &body); err != nil {
			t.Fatal(err)
		}
		switch ta.Endpoint {
		case EndpointChat:
			if body["model"] != "tiny" || body["stream"] != true || body["options"].(map[string]any)["num_predict"] != 64.0 {
				t.Fatalf("chat body %s", ta.Body)
			}
		case EndpointOpenAIChat:
			if body["model"] != "first" || body["stream"] != false || body["max_tokens"] == nil || body["stream_options"] != nil {
				t.Fatalf("openai body %s", ta.Body)
			}
		case EndpointEmbed:
			if body["input"] == "" {
				t.Fatalf("embed body %s", ta.Body)
			}
		}
		if ta.URL != "http://127.0.0.1:1"+string(ta.Endpoint) {
			t.Fatalf("url %s", ta.URL)
		}
	}
	if same > 30 {
		t.Errorf("%d of 3000 requests identical under another seed", same)
	}
	// 6:3:1 weights over 3000 draws: 1800/900/300, sd ≈ 27/25/16.
	for name, want := range map[string]int{"chat": 1800, "v1/chat/completions": 900, "api/embed": 300} {
		if math.Abs(float64(counts[name]-want)) > 120 {
			t.Errorf("%s drawn %d times, want ≈ %d", name, counts[name], want)
		}
	}
}

func TestRequestBodies(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		e    Endpoint
		want string
	}{
		{EndpointGenerate, `{"model":"m","prompt":"hi there","stream":true,"options":{"num_predict":5}}`},
		{EndpointOpenAICompletion, `{"model":"m","prompt":"hi there","stream":true,"max_tokens":5,"stream_options":{"include_usage":true}}`},
		{EndpointEmbeddings, `{"model":"m","prompt":"hi there"}`},
		{EndpointOpenAIEmbeddings, `{"model":"m","input":"hi there"}`},
	} {
		b, err := requestBody(&MixEntry{Endpoint: tc.e, Stream: &yes}, "m", "hi there", 5)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.e, b, err, tc.want)
		}
	}
}

// TestMixEmbedded: a harness can embed a Mix and stages in its own YAML.
func TestMixEmbedded(t *testing.T) {
	var sc struct {
		Mix    Mix     `yaml:"mix"`
		Stages []Stage `yaml:"stages"`
	}
	err := yaml.Unmarshal([]byte("mix:\n  requests:\n    - endpoint: /api/generate\n      max_tokens: 9\nstages:\n  - {duration: 30s, target: 100}\n"), &sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Mix.Validate(); err != nil {
		t.Fatal(err)
	}
	if sc.Mix.Requests[0].MaxTokens != Fixed(9) || !*sc.Mix.Requests[0].Stream {
		t.Errorf("mix %+v", sc.Mix.Requests[0])
	}
	if len(sc.Stages) != 1 || sc.Stages[0] != (Stage{30 * time.Second, 100}) {
		t.Errorf("stages %+v", sc.Stages)
	}
}
