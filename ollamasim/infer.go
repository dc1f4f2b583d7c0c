package ollamasim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// job is one generating request, whatever its API.
type job struct {
	endpoint   string // metrics label
	path       string
	model      *modelInfo
	prompt     string // what the answer is a function of
	promptToks int
	numPredict int
	numCtx     int // options.num_ctx: a different one reloads the model
	stop       []string
	seed       int64
	keepAlive  *time.Duration
	stream     bool
	isOpenAI   bool
	think      bool        // a thinking model with think on: the answer starts with reasoning
	fields     []jsonField // format: the answer is a JSON object with these fields (nil: free text)
	start      time.Time
}

// result is a finished (or partial) generation with Ollama's metrics.
type result struct {
	gen       generation
	n         int // tokens sent
	thinkN    int // how many of the first tokens are thinking
	metrics   api.Metrics
	createdAt time.Time
	promptIDs []int
}

// format is one API's framing of a generation.
type format interface {
	// streamType is the streamed Content-Type.
	streamType() string
	// token appends one streamed frame for a token (thinking or content).
	token(b []byte, text string, thinking bool, now time.Time) []byte
	// final appends the stream's last frame(s).
	final(b []byte, r *result) []byte
	// whole writes the non-streamed answer.
	whole(w http.ResponseWriter, r *result)
	// errorLine appends a mid-stream error frame.
	errorLine(b []byte, msg string) []byte
}

// keepAliveOf turns a request's keep_alive into the scheduler's terms.
func keepAliveOf(d *api.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.Duration
	return &v
}

// optionsOf reads the options the simulator honours. Ollama rejects wrong
// types in options with a 500 from opts.FromMap; we accept and ignore.
func optionsOf(opts map[string]any) (numPredict int, stop []string, seed int64, numCtx int) {
	numPredict = int(number(opts["num_predict"]))
	seed = int64(number(opts["seed"]))
	numCtx = int(number(opts["num_ctx"]))
	switch v := opts["stop"].(type) {
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				stop = append(stop, s)
			}
		}
	case []string:
		stop = v
	case string:
		stop = []string{v}
	}
	return
}

// number reads an option: float64 from JSON, or the Go numbers Ollama's
// OpenAI converters put in (openai.FromChatRequest).
func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case float32:
		return float64(n)
	case int32:
		return float64(n)
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case *int:
		if n != nil {
			return float64(*n)
		}
	case *float64:
		if n != nil {
			return *n
		}
	}
	return 0
}

// run schedules j, paces its tokens by the model's profile and writes them
// in f's framing, with the faults that fired.
func (s *Server) run(w http.ResponseWriter, r *http.Request, j *job, f format) {
	ctx := r.Context()
	p := makePlan(s.faults.roll(j.path, j.model.name))
	if !s.preFaults(w, r, j.endpoint, j.model.name, j.isOpenAI, p) {
		return
	}
	if p.cut != nil && !j.stream {
		panic(http.ErrAbortHandler) // close the connection, no answer
	}
	l, err := s.sched.acquire(ctx, j.model.name, j.keepAlive, j.numCtx)
	if err != nil {
		s.scheduleError(w, j, err)
		return
	}
	defer l.release()
	if err := l.slot(ctx); err != nil {
		s.scheduleError(w, j, err)
		return
	}
	loaded := s.now()
	prof := &j.model.prof

	key := requestKey(s.cfg.Seed, j.model.name, j.prompt, j.seed)
	var g generation
	if j.fields != nil {
		g = generateJSON(key, j.fields, j.numPredict, prof.MinOutputTokens, prof.MaxOutputTokens)
	} else {
		g = generate(key, j.numPredict, prof.MinOutputTokens, prof.MaxOutputTokens, j.stop)
	}
	res := &result{gen: g}
	// A structured answer has no reasoning part here: all of it is the object.
	if j.think && j.fields == nil && len(g.tokens) > 1 {
		// Reasoning models think first: about a third of the answer here.
		res.thinkN = max(1, len(g.tokens)/3)
	}

	// Prefill: fixed TTFT plus time per prompt token.
	prefill := prof.TTFT.D() + time.Duration(j.promptToks)*prof.PrefillPerToken.D()
	promptEval := time.Duration(j.promptToks) * prof.PrefillPerToken.D()
	seen := l.r.stall.Add(int64(promptEval)) // our own prompt does not stall us twice
	if !sleep(ctx, prefill) {
		s.metrics.request(j.endpoint, j.model.name, 499)
		return
	}
	// Busy streams share the batches the prompt is evaluated in. Counted
	// once the prompt's own time is up, so that requests arriving together
	// all see each other, as they share the runner's first batches.
	fixed := prof.TTFT.D() // the part of prefill that is not the prompt's evaluation
	if ps := prof.PrefillSlowdown; ps > 0 {
		if slow := ps * float64(max(l.busy(), 1)-1); slow > 0 {
			fixed += time.Duration(float64(fixed) * slow)
			if !sleep(ctx, time.Duration(float64(prefill)*slow)) {
				s.metrics.request(j.endpoint, j.model.name, 499)
				return
			}
		}
	}
	evalStart := s.now()

	// Tokens are paced against a schedule (due), not by sleeping a token's
	// time after each one: per-token sleeps add the timer's lateness and the
	// write's cost to every token, and a 320 tokens/s profile delivered 230.
	// A stream that falls behind (this process was descheduled) catches up
	// by sending the late tokens at once, as a real server's tokens queue
	// while its HTTP side waits for a CPU; beyond maxLag behind, the debt is
	// dropped rather than sent as a burst of seconds' worth.
	const maxLag = 250 * time.Millisecond
	var timer *time.Timer
	due := evalStart
	pace := func() bool {
		if prof.TokensPerSecond <= 0 {
			return true
		}
		busy := l.busy()
		rate := prof.TokensPerSecond / (1 + prof.BatchSlowdown*float64(max(busy, 1)-1))
		d := time.Duration(float64(time.Second) / rate)
		if cur := l.r.stall.Load(); cur != seen {
			d += time.Duration(cur - seen) // others' prompts evaluated meanwhile
			seen = cur
		}
		due = due.Add(d)
		wait := due.Sub(s.now())
		if wait <= 0 {
			if -wait > maxLag {
				due = s.now()
			}
			return ctx.Err() == nil
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()

	finish := func(n int) {
		now := s.now()
		res.n = n
		res.createdAt = now.UTC()
		res.metrics = api.Metrics{
			TotalDuration:   max(now.Sub(j.start), 1),
			LoadDuration:    max(loaded.Sub(j.start), 1),
			PromptEvalCount: j.promptToks,
			// The prompt's own evaluation, as Ollama reports it: the fixed
			// part of TTFT (request handling, sampling set-up) is not in it.
			PromptEvalDuration: max(evalStart.Sub(loaded)-fixed, 1),
			EvalCount:          n,
			EvalDuration:       max(now.Sub(evalStart), 1),
		}
		if j.endpoint == "/api/generate" {
			res.promptIDs = promptIDs(key, j.promptToks)
		}
		s.metrics.outputTokens.WithLabelValues(j.model.name).Add(float64(n))
		s.metrics.promptTokens.WithLabelValues(j.model.name).Add(float64(j.promptToks))
	}

	if !j.stream {
		for i := range g.tokens {
			if p.hangMid != nil && i == p.hangMid.AfterTokens {
				if d := p.hangMid.Duration.D(); d == 0 {
					<-ctx.Done() // 0: until the client leaves
					return
				} else if !sleep(ctx, d) {
					return
				}
			}
			if i > 0 && !pace() {
				s.metrics.request(j.endpoint, j.model.name, 499)
				return
			}
		}
		if p.errorLine != nil {
			// A failure before a non-streamed answer is an error status.
			if j.isOpenAI {
				s.openAIHandlerError(w, j.endpoint, j.model.name, http.StatusInternalServerError, p.errorLine.Message)
			} else {
				s.nativeError(w, j.endpoint, j.model.name, http.StatusInternalServerError, p.errorLine.Message)
			}
			return
		}
		finish(len(g.tokens))
		f.whole(w, res)
		s.metrics.request(j.endpoint, j.model.name, http.StatusOK)
		return
	}

	// Streamed: no status line or headers until the first frame (a queued
	// request sees nothing at all, transcripts 80 and 81).
	w.Header().Set("Content-Type", f.streamType())
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 0, 512)
	flush := func() bool {
		_, err := w.Write(buf)
		buf = buf[:0]
		if flusher != nil {
			flusher.Flush()
		}
		return err == nil
	}
	counted := false
	count := func() {
		if !counted {
			counted = true
			s.metrics.request(j.endpoint, j.model.name, http.StatusOK)
		}
	}
	defer count()
	for i, tok := range g.tokens {
		if stop := s.midStream(ctx, p, i, &buf, f, flush); stop {
			return
		}
		if i > 0 && !pace() {
			return
		}
		buf = f.token(buf, tok, i < res.thinkN, s.now())
		if !flush() {
			return
		}
	}
	if stop := s.midStream(ctx, p, len(g.tokens), &buf, f, flush); stop {
		return
	}
	if p.noDone {
		return // as after Ollama's repeat rule: the stream just ends
	}
	finish(len(g.tokens))
	buf = f.final(buf, res)
	flush()
}

// midStream applies the faults due after i tokens; true when the stream
// must end here.
func (s *Server) midStream(ctx interface{ Done() <-chan struct{} }, p plan, i int, buf *[]byte, f format, flush func() bool) bool {
	if p.hangMid != nil && i == p.hangMid.AfterTokens {
		d := p.hangMid.Duration.D()
		if d == 0 {
			<-ctx.Done()
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return true
		}
	}
	if p.errorLine != nil && i == p.errorLine.AfterTokens {
		*buf = f.errorLine(*buf, p.errorLine.Message)
		flush()
		return true
	}
	if p.cut != nil && i == p.cut.AfterTokens {
		if i == 0 {
			// Nothing sent yet: the headers still go out, so the client
			// sees a 200 whose body breaks off.
			flush()
		}
		panic(http.ErrAbortHandler)
	}
	return false
}

// scheduleError answers what the scheduler refused (server/routes.go
// handleScheduleError).
func (s *Server) scheduleError(w http.ResponseWriter, j *job, err error) {
	status, msg := http.StatusInternalServerError, err.Error()
	switch {
	case errors.Is(err, ErrMaxQueue):
		status = http.StatusServiceUnavailable
		s.metrics.rejected.WithLabelValues(j.model.name).Inc()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Client gone: Ollama writes 499 "request canceled" to nobody.
		status, msg = 499, "request canceled"
	}
	if j.isOpenAI {
		s.openAIHandlerError(w, j.endpoint, j.model.name, status, msg)
	} else {
		s.nativeError(w, j.endpoint, j.model.name, status, msg)
	}
}

// texts splits a result's tokens into thinking and content text.
func (r *result) texts() (thinking, content string) {
	t := min(r.thinkN, r.n)
	return strings.Join(r.gen.tokens[:t], ""), strings.Join(r.gen.tokens[t:r.n], "")
}
