package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestShardsPartitionTheSchedule: the arrivals of N shards, put together,
// are exactly the full run's arrivals (same times), each shard getting
// every N-th, for each kind of pacer.
func TestShardsPartitionTheSchedule(t *testing.T) {
	stages, err := ParseStages("2s:300,1s:50")
	if err != nil {
		t.Fatal(err)
	}
	pacers := map[string]Pacer{
		"constant":            ConstantPacer(1000),
		"fractional constant": ConstantPacer(12.5),
		"poisson":             PoissonPacer{Mean: 400, Seed: 7},
		"stages":              StagePacer{Start: 10, Stages: stages},
	}
	for name, p := range pacers {
		full := slices.Collect(Arrivals(p, 3*time.Second, 0))
		for _, n := range []int{1, 3, 4} {
			var union []time.Duration
			for i := range n {
				sp := ShardPacer{Pacer: p, Shard: Shard{Index: i, Count: n}}
				got := slices.Collect(Arrivals(sp, 3*time.Second, 0))
				for j, at := range got {
					if want := full[j*n+i]; at != want {
						t.Fatalf("%s, shard %d/%d: arrival %d at %v, full run's %d at %v", name, i, n, j, at, j*n+i, want)
					}
				}
				if r0, r := sp.Rate(time.Second), p.Rate(time.Second)/float64(n); r0 != r {
					t.Errorf("%s shard %d/%d: rate %v, want %v", name, i, n, r0, r)
				}
				union = append(union, got...)
			}
			slices.Sort(union)
			if !slices.Equal(union, full) {
				t.Errorf("%s: %d shards sent %d arrivals, the full run %d", name, n, len(union), len(full))
			}
		}
	}
}

// TestShardsSendTheFullRunsRequests: three shards, run for real against a
// server that records request bodies, send together exactly the requests
// (mix entries, prompts, lengths) one full run sends: the mix is split,
// not drawn again.
func TestShardsSendTheFullRunsRequests(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.URL.Path+" "+string(b))
		mu.Unlock()
		fmt.Fprintln(w, `{"model":"m","response":"x","message":{"role":"assistant","content":"x"},"done":true,"eval_count":1}`)
	}))
	defer srv.Close()
	mix := &Mix{Requests: []MixEntry{
		{Name: "a", Weight: 1, Endpoint: EndpointChat, PromptTokens: Dist{Kind: "uniform", Min: 1, Max: 100}, MaxTokens: Fixed(1)},
		{Name: "b", Weight: 1, Endpoint: EndpointGenerate, PromptTokens: Fixed(3), MaxTokens: Dist{Kind: "uniform", Min: 1, Max: 9}},
	}}
	run := func(sh Shard) []string {
		mu.Lock()
		bodies = nil
		mu.Unlock()
		rs, err := Run(context.Background(), Config{Target: srv.URL, Mix: mix, Model: "m", Seed: 42,
			Pacer: ConstantPacer(300), Duration: time.Second, Shard: sh})
		if err != nil {
			t.Fatal(err)
		}
		if rs.Requests.Failed != 0 {
			t.Fatalf("shard %v: %v", sh, rs.ErrorSample)
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bodies)
	}
	full := run(Shard{})
	var union []string
	for i := range 3 {
		union = append(union, run(Shard{Index: i, Count: 3})...)
	}
	slices.Sort(full)
	slices.Sort(union)
	if len(full) != 300 || !slices.Equal(full, union) {
		t.Errorf("full run sent %d requests, the shards %d; same set: %v", len(full), len(union), slices.Equal(full, union))
	}
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		in      string
		want    Shard
		wantErr string
	}{
		{"0/4", Shard{0, 4}, ""},
		{"3/4", Shard{3, 4}, ""},
		{" 1 / 2 ", Shard{1, 2}, ""},
		{"4/4", Shard{}, "want 0 <= i < N"}, // indices are 0-based, as JOB_COMPLETION_INDEX
		{"-1/4", Shard{}, "want 0 <= i < N"},
		{"1/0", Shard{}, "want 0 <= i < N"},
		{"0/0", Shard{}, "want 0 <= i < N"}, // found by FuzzParseShard
		{"1", Shard{}, "want i/N"},
		{"a/b", Shard{}, "integers"},
	}
	for _, tt := range tests {
		got, err := ParseShard(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v", tt.in, got, err)
		}
	}
}

// FuzzParseShard: any value parses into a valid shard or is refused.
func FuzzParseShard(f *testing.F) {
	f.Add("3/4")
	f.Add("0/1")
	f.Add("9999999999/1")
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err == nil && (sh.Index < 0 || sh.Index >= sh.Count) {
			t.Fatalf("%q parsed into %+v", s, sh)
		}
	})
}
