package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dsbridge/dsbridge/scenarios"
)

// BuiltinDriver is a small open-model load driver: arrival times are fixed
// by the plan's stages (constant or Poisson), each request goes out on its
// own goroutine when due, whatever earlier ones are doing, and latency counts
// from the due time. It understands Ollama's NDJSON streams and OpenAI's SSE,
// enough for TTFT and inter-token latency. The full load generator is the
// loadgen package (dsbridge load); this one keeps the bench self-sufficient.
type BuiltinDriver struct {
	// MaxInFlight caps concurrent requests (default 4096); arrivals beyond
	// it are counted as dropped, so an overloaded generator shows.
	MaxInFlight int
}

// Run implements Driver.
func (d BuiltinDriver) Run(ctx context.Context, plan LoadPlan, record func(Sample)) (DriverStats, error) {
	st := DriverStats{Name: "builtin"}
	if len(plan.Targets) == 0 {
		return st, errors.New("no targets")
	}
	maxIn := d.MaxInFlight
	if maxIn == 0 {
		maxIn = 4096
	}
	mix := newMixPicker(plan)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 1024, MaxIdleConns: 4096, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
	}}
	defer client.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(uint64(plan.Seed), 0x5eed))
	total := time.Duration(0)
	for _, s := range plan.Load.Stages {
		total += s.Duration.D()
	}
	sc := &scenarios.Scenario{Load: plan.Load}
	var (
		wg       sync.WaitGroup
		inflight atomic.Int64
		sent     atomic.Int64
		dropped  atomic.Int64
		maxLag   atomic.Int64
	)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var due time.Duration
	var i int64
	for due < total {
		if wait := due - time.Since(start); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				wg.Wait()
				return st, nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		if lag := int64(time.Since(start) - due); lag > maxLag.Load() {
			maxLag.Store(lag)
		}
		st.Scheduled++
		if inflight.Load() >= int64(maxIn) {
			dropped.Add(1)
			record(Sample{Intended: due, Err: "dropped"})
		} else {
			inflight.Add(1)
			sent.Add(1)
			wg.Add(1)
			target := plan.Targets[int(i)%len(plan.Targets)]
			m := mix.pick(rng)
			go func(due time.Duration) {
				defer wg.Done()
				defer inflight.Add(-1)
				s := doRequest(ctx, client, target, m, plan.Load.Timeout.D(), start.Add(due))
				s.Intended = due
				record(s)
			}(due)
		}
		i++
		rate := sc.RateAt(due)
		if rate <= 0 {
			// A zero-rate stretch: skip to the next stage's start.
			due = nextStage(plan.Load.Stages, due)
			continue
		}
		gap := 1 / rate
		if plan.Load.Arrival == "poisson" {
			gap = rng.ExpFloat64() / rate
		}
		due += time.Duration(gap * float64(time.Second))
	}
	wg.Wait()
	st.Sent, st.Dropped = sent.Load(), dropped.Load()
	st.MaxLagMs = float64(maxLag.Load()) / 1e6
	return st, nil
}

func nextStage(stages []scenarios.Stage, t time.Duration) time.Duration {
	var end time.Duration
	for _, s := range stages {
		end += s.Duration.D()
		if t < end {
			return end
		}
	}
	return end
}

// mixPicker picks mix entries by weight.
type mixPicker struct {
	entries []scenarios.Mix
	cum     []float64
}

func newMixPicker(plan LoadPlan) *mixPicker {
	mp := &mixPicker{}
	mix := plan.Load.Mix
	if len(mix) == 0 {
		t := true
		mix = []scenarios.Mix{{Endpoint: "/api/chat", Stream: &t, Weight: 1}}
	}
	var sum float64
	for _, m := range mix {
		w := m.Weight
		if w == 0 {
			w = 1
		}
		if m.Endpoint == "" {
			m.Endpoint = "/api/chat"
		}
		if m.Model == "" {
			m.Model = plan.DefaultModel
		}
		sum += w
		mp.entries = append(mp.entries, m)
		mp.cum = append(mp.cum, sum)
	}
	for i := range mp.cum {
		mp.cum[i] /= sum
	}
	return mp
}

func (mp *mixPicker) pick(rng *rand.Rand) scenarios.Mix {
	x := rng.Float64()
	for i, c := range mp.cum {
		if x < c {
			return mp.entries[i]
		}
	}
	return mp.entries[len(mp.entries)-1]
}

// requestBody builds the JSON body of one request for its endpoint.
func requestBody(m scenarios.Mix) []byte {
	stream := true
	if m.Stream != nil {
		stream = *m.Stream
	}
	words := max(m.PromptTokens, 8)
	prompt := strings.TrimSpace(strings.Repeat("why is the sky blue ", words/5+1))
	opts := map[string]any{}
	if m.MaxTokens > 0 {
		opts["num_predict"] = m.MaxTokens
	}
	var body any
	switch {
	case strings.HasPrefix(m.Endpoint, "/v1/"):
		b := map[string]any{"model": m.Model, "stream": stream,
			"messages": []map[string]string{{"role": "user", "content": prompt}}}
		if m.MaxTokens > 0 {
			b["max_tokens"] = m.MaxTokens
		}
		body = b
	case m.Endpoint == "/api/generate":
		body = map[string]any{"model": m.Model, "stream": stream, "prompt": prompt, "options": opts}
	default:
		body = map[string]any{"model": m.Model, "stream": stream, "options": opts,
			"messages": []map[string]string{{"role": "user", "content": prompt}}}
	}
	b, _ := json.Marshal(body)
	return b
}

// doRequest sends one request and times it from due.
func doRequest(ctx context.Context, c *http.Client, base string, m scenarios.Mix, timeout time.Duration, due time.Time) Sample {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var s Sample
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+m.Endpoint, bytes.NewReader(requestBody(m)))
	if err != nil {
		s.Err = "request"
		return s
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		s.Latency, s.Err = time.Since(due), classify(err)
		return s
	}
	defer resp.Body.Close()
	s.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		s.Latency, s.Err = time.Since(due), fmt.Sprintf("status_%dxx", resp.StatusCode/100)
		return s
	}
	sse := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	br := bufio.NewReaderSize(resp.Body, 16<<10)
	var first, last time.Time
	sawDone := false
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			now := time.Now()
			kind := parseChunk(line, sse)
			switch kind {
			case chunkToken:
				if first.IsZero() {
					first = now
				}
				last = now
				s.Tokens++
			case chunkDone:
				if first.IsZero() {
					first = now
				}
				sawDone = true
			case chunkError:
				s.Latency, s.Err = time.Since(due), "stream_error"
				return s
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.Latency, s.Err = time.Since(due), classify(err)
				return s
			}
			break
		}
	}
	s.Latency = time.Since(due)
	if !first.IsZero() {
		s.TTFT = first.Sub(due)
	}
	if s.Tokens > 1 {
		s.ITL = last.Sub(first) / time.Duration(s.Tokens-1)
	}
	if !sawDone {
		s.Err = "cut"
	}
	return s
}

type chunkKind int

const (
	chunkOther chunkKind = iota
	chunkToken
	chunkDone
	chunkError
)

// parseChunk reads one NDJSON line (Ollama) or SSE line (OpenAI). A
// non-streamed answer is one JSON object with done: true.
func parseChunk(line []byte, sse bool) chunkKind {
	line = bytes.TrimSpace(line)
	if sse {
		if !bytes.HasPrefix(line, []byte("data:")) {
			return chunkOther
		}
		line = bytes.TrimSpace(line[5:])
		if string(line) == "[DONE]" {
			return chunkDone
		}
	}
	var c struct {
		Done    *bool  `json:"done"`
		Error   any    `json:"error"`
		Resp    string `json:"response"`
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
		Choices []struct {
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
	}
	if json.Unmarshal(line, &c) != nil {
		return chunkOther
	}
	switch {
	case c.Error != nil:
		return chunkError
	case c.Done != nil && *c.Done:
		return chunkDone
	case sse && len(c.Choices) > 0:
		if c.Choices[0].FinishReason != nil && *c.Choices[0].FinishReason != "" {
			return chunkDone
		}
		return chunkToken
	case !sse && len(c.Choices) > 0:
		return chunkDone // a non-streamed OpenAI answer
	case c.Resp != "" || (c.Message != nil && c.Message.Content != ""):
		return chunkToken
	}
	return chunkOther
}

// classify names a transport error's kind; the kinds are bounded, so they
// can be counted.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "reset"
	}
	return "other"
}
