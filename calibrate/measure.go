// Package calibrate measures how an Ollama server serving a model behaves
// in time (cold load, time to first token and decode rate at several
// concurrencies), fits the simulator's timing profile to it, and compares
// two servers side by side: real Ollama and `dsbridge sim` with the fitted
// profile.
package calibrate

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// Target is what is measured: a server and the requests sent to it.
type Target struct {
	Base   string // the server's root, http://127.0.0.1:11434
	Model  string
	Prompt string
	// Tokens per stream (num_predict): long enough that the decode rate is
	// not noise, short of the model's context.
	Tokens int
	// Options are extra generation options for every request, as JSON
	// members (`"num_thread":1`), or "".
	Options string
	Client  *http.Client // nil: a client of its own
}

// Timing is what a client measures of a server: how long a cold load
// takes, and, with c streams at once, the time to first token and the
// decode rate of each stream.
type Timing struct {
	Load      time.Duration         // median wall time of a load-only request, model unloaded
	TTFT      map[int]time.Duration // concurrency → median time to first token
	PerStream map[int]float64       // concurrency → median tokens/s of one stream
	Aggregate map[int]float64       // concurrency → tokens/s of all streams together
	// PromptTokens and PromptEval are what the server reported of the
	// prompt alone (prompt_eval_count, median prompt_eval_duration) with
	// one stream: its prefill cost per token.
	PromptTokens int
	PromptEval   time.Duration
}

// Levels are the concurrencies measured, ascending.
func (m Timing) Levels() []int {
	return slices.Sorted(maps.Keys(m.TTFT))
}

// Measure measures t at each concurrency, rounds times. The server must
// allow max(concurrency) parallel requests for the figures to mean
// "concurrent streams" rather than queueing.
func Measure(ctx context.Context, t Target, concurrency []int, rounds int) (Timing, error) {
	if t.Client == nil {
		t.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	out := Timing{TTFT: map[int]time.Duration{}, PerStream: map[int]float64{}, Aggregate: map[int]float64{}}
	var loads []time.Duration
	for range rounds {
		if err := t.unload(ctx); err != nil {
			return out, err
		}
		start := time.Now()
		if err := t.post(ctx, fmt.Sprintf(`{"model":%q,"options":{%s}}`, t.Model, t.Options)); err != nil {
			return out, fmt.Errorf("load: %w", err)
		}
		loads = append(loads, time.Since(start))
	}
	out.Load = median(loads)
	for _, c := range concurrency {
		var ttfts, evals []time.Duration
		var rates, aggs []float64
		for i := range rounds {
			streams := make([]streamTiming, c)
			errs := make([]error, c)
			var wg sync.WaitGroup
			start := time.Now()
			for j := range streams {
				wg.Go(func() { streams[j], errs[j] = t.stream(ctx, 100+i*c+j) })
			}
			wg.Wait()
			wall := time.Since(start)
			tokens := 0
			for j, s := range streams {
				if errs[j] != nil {
					return out, fmt.Errorf("%d streams: %w", c, errs[j])
				}
				ttfts = append(ttfts, s.ttft)
				rates = append(rates, s.rate())
				evals = append(evals, s.promptEval)
				if c == concurrency[0] {
					out.PromptTokens = s.promptTokens
				}
				tokens += s.tokens
			}
			aggs = append(aggs, float64(tokens)/wall.Seconds())
		}
		out.TTFT[c] = median(ttfts)
		out.PerStream[c] = median(rates)
		out.Aggregate[c] = median(aggs)
		if c == concurrency[0] {
			out.PromptEval = median(evals)
		}
	}
	return out, nil
}

// unload asks the server to unload the model and waits until /api/ps no
// longer lists it (Ollama unloads asynchronously).
func (t Target) unload(ctx context.Context) error {
	if err := t.post(ctx, fmt.Sprintf(`{"model":%q,"keep_alive":0}`, t.Model)); err != nil {
		return fmt.Errorf("unload: %w", err)
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Base+"/api/ps", nil)
		if err != nil {
			return err
		}
		resp, err := t.Client.Do(req)
		if err != nil {
			return fmt.Errorf("unload: %w", err)
		}
		var ps struct {
			Models []struct {
				Name  string `json:"name"`
				Model string `json:"model"`
			} `json:"models"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ps)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("unload: /api/ps: %w", err)
		}
		loaded, want := false, ollamasim.NormalizeName(t.Model)
		for _, m := range ps.Models {
			loaded = loaded || ollamasim.NormalizeName(m.Name) == want || ollamasim.NormalizeName(m.Model) == want
		}
		if !loaded {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// post sends a non-streamed /api/generate and wants a 200.
func (t Target) post(ctx context.Context, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Base+"/api/generate", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := t.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

type streamTiming struct {
	ttft         time.Duration
	first, last  time.Duration // arrival of the first and last token lines
	tokens       int
	promptTokens int
	promptEval   time.Duration
}

// rate is the decode rate after the first token, as Ollama's eval_duration
// counts it.
func (s streamTiming) rate() float64 {
	if s.tokens < 2 || s.last <= s.first {
		return 0
	}
	return float64(s.tokens-1) / (s.last - s.first).Seconds()
}

// stream sends one streamed generation and times its token lines.
func (t Target) stream(ctx context.Context, seed int) (streamTiming, error) {
	opts := ""
	if t.Options != "" {
		opts = "," + t.Options
	}
	body := fmt.Sprintf(`{"model":%q,"prompt":%q,"options":{"num_predict":%d,"seed":%d%s}}`, t.Model, t.Prompt, t.Tokens, seed, opts)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Base+"/api/generate", strings.NewReader(body))
	if err != nil {
		return streamTiming{}, err
	}
	start := time.Now()
	resp, err := t.Client.Do(req)
	if err != nil {
		return streamTiming{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return streamTiming{}, fmt.Errorf("stream: status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var s streamTiming
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		at := time.Since(start)
		var line struct {
			Done            bool   `json:"done"`
			Error           string `json:"error"`
			PromptEvalCount int    `json:"prompt_eval_count"`
			PromptEvalNanos int64  `json:"prompt_eval_duration"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return s, fmt.Errorf("stream line %q: %w", sc.Bytes(), err)
		}
		if line.Error != "" {
			return s, fmt.Errorf("stream: %s", line.Error)
		}
		if line.Done {
			s.promptTokens, s.promptEval = line.PromptEvalCount, time.Duration(line.PromptEvalNanos)
			break
		}
		if s.tokens == 0 {
			s.ttft, s.first = at, at
		}
		s.last = at
		s.tokens++
	}
	return s, sc.Err()
}

// median is the middle value (the upper one of an even count).
func median[T cmp.Ordered](v []T) T {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}
