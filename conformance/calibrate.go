package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Timing is what a client measures of a server serving the tiny model: how
// long a cold load takes, and, with c streams at once, the time to first
// token and the decode rate of each stream.
type Timing struct {
	Load      time.Duration         // median wall time of a load-only request, model unloaded
	TTFT      map[int]time.Duration // concurrency → median time to first token
	PerStream map[int]float64       // concurrency → median tokens/s of one stream
	Aggregate map[int]float64       // concurrency → tokens/s of all streams together
}

// calibrationTokens per stream: long enough that the decode rate is not
// noise, short of the context, well clear of Ollama's 30-repeat rule on
// most seeds (a stream it cuts short still counts what it produced).
const calibrationTokens = 64

// Measure measures base at each concurrency, rounds times. The server must
// allow max(concurrency) parallel requests for the figures to mean
// "concurrent streams" rather than queueing.
//
// options are extra generation options for every request (JSON members,
// e.g. `"num_thread":1`), or "".
func Measure(ctx context.Context, base string, concurrency []int, rounds int, options string) (Timing, error) {
	t := Timing{TTFT: map[int]time.Duration{}, PerStream: map[int]float64{}, Aggregate: map[int]float64{}}
	var loads []time.Duration
	for i := 0; i < rounds; i++ {
		if ex := Do(ctx, base, Request{Path: "/api/generate", Body: `{"model":"tiny","keep_alive":0}`}); ex.Status != 200 {
			return t, fmt.Errorf("unload: %v", ex)
		}
		// Ollama unloads asynchronously: wait until ps is empty.
		Send(ctx, base, Request{Path: "/api/ps", Until: `"models":[]`})
		start := time.Now()
		if ex := Do(ctx, base, Request{Path: "/api/generate", Body: `{"model":"tiny","options":{` + options + `}}`}); ex.Status != 200 {
			return t, fmt.Errorf("load: %v", ex)
		}
		loads = append(loads, time.Since(start))
	}
	t.Load = median(loads)
	for _, c := range concurrency {
		var ttfts []time.Duration
		var rates []float64
		var aggs []float64
		for i := 0; i < rounds; i++ {
			streams := make([]streamTiming, c)
			errs := make([]error, c)
			var wg sync.WaitGroup
			start := time.Now()
			for j := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					streams[j], errs[j] = timeStream(ctx, base, 100+i*c+j, options)
				}()
			}
			wg.Wait()
			wall := time.Since(start)
			tokens := 0
			for j, s := range streams {
				if errs[j] != nil {
					return t, errs[j]
				}
				ttfts = append(ttfts, s.ttft)
				rates = append(rates, s.rate())
				tokens += s.tokens
			}
			aggs = append(aggs, float64(tokens)/wall.Seconds())
		}
		t.TTFT[c] = median(ttfts)
		t.PerStream[c] = medianF(rates)
		t.Aggregate[c] = medianF(aggs)
	}
	return t, nil
}

type streamTiming struct {
	ttft        time.Duration
	first, last time.Duration // arrival of the first and last token lines
	tokens      int
}

// rate is the decode rate after the first token, as Ollama's eval_duration
// counts it.
func (s streamTiming) rate() float64 {
	if s.tokens < 2 || s.last <= s.first {
		return 0
	}
	return float64(s.tokens-1) / (s.last - s.first).Seconds()
}

// timeStream sends one streamed generation and times its token lines.
func timeStream(ctx context.Context, base string, seed int, options string) (streamTiming, error) {
	if options != "" {
		options = "," + options
	}
	body := fmt.Sprintf(`{"model":"tiny","prompt":"Why is the sky blue?","options":{"num_predict":%d,"seed":%d%s}}`, calibrationTokens, seed, options)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/generate", strings.NewReader(body))
	if err != nil {
		return streamTiming{}, err
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return streamTiming{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return streamTiming{}, fmt.Errorf("stream: status %d", resp.StatusCode)
	}
	var s streamTiming
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		at := time.Since(start)
		var line struct {
			Done bool `json:"done"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return s, fmt.Errorf("stream line %q: %w", sc.Bytes(), err)
		}
		if line.Done {
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

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianF(f []float64) float64 {
	s := append([]float64(nil), f...)
	sort.Float64s(s)
	return s[len(s)/2]
}
