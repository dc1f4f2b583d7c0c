package ollamasim_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// TestMetrics checks names, labels and that they pass the linter.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := ollamasim.New(ollamasim.Config{Profiles: ollamasim.Profiles{Default: ollamasim.InstantProfile()}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	post(t, ts.URL+"/api/chat", chatBody)
	post(t, ts.URL+"/api/chat", `{"model":"nope","messages":[]}`)
	want := `
# HELP ollamasim_loaded_models Models loaded or loading.
# TYPE ollamasim_loaded_models gauge
ollamasim_loaded_models 1
# HELP ollamasim_output_tokens_total Generated (eval) tokens written to clients.
# TYPE ollamasim_output_tokens_total counter
ollamasim_output_tokens_total{model="deepseek-r1:7b"} 6
# HELP ollamasim_requests_total Requests answered, by endpoint (route), model (served model, or "" when none) and HTTP status.
# TYPE ollamasim_requests_total counter
ollamasim_requests_total{code="200",endpoint="/api/chat",model="deepseek-r1:7b"} 1
ollamasim_requests_total{code="404",endpoint="/api/chat",model=""} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ollamasim_loaded_models", "ollamasim_output_tokens_total", "ollamasim_requests_total"); err != nil {
		t.Fatal(err)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}
}
