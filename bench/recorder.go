package bench

import (
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Recorder folds samples into HDR histograms for the whole run and for every
// one-second window (by intended send time), which is what gates, the
// timeline charts, failover_time and the knee search read. HDR histograms
// merge exactly, so windows add up to the whole.
type Recorder struct {
	mu      sync.Mutex
	latency *hdr.Histogram // µs
	ttft    *hdr.Histogram // µs
	itl     *hdr.Histogram // µs
	tps     *hdr.Histogram // tokens/s × 1000
	windows []*window
	errs    map[string]int64
	total   int64
	failed  int64
	tokens  int64
	// bad are the requests that failed or were slower than slow: what the
	// failover time is measured on. Capped, so a broken run cannot eat the
	// memory.
	slow time.Duration
	bad  []Span
}

// Span is one bad request's life, as offsets from the start of the load.
type Span struct{ Start, End time.Duration }

// maxBad bounds the kept bad spans.
const maxBad = 200_000

// window is one second of the run.
type window struct {
	count, failed int64
	latency       *hdr.Histogram
}

// Histogram bounds: 1 µs to 10 min, three significant digits; tokens/s in
// thousandths up to 10^9.
func newLatencyHist() *hdr.Histogram { return hdr.New(1, int64(10*time.Minute/time.Microsecond), 3) }

// NewRecorder returns an empty recorder; a request slower than slow (the
// SLO's P99) counts as hurt when measuring failover time.
func NewRecorder(slow time.Duration) *Recorder {
	return &Recorder{slow: slow,
		latency: newLatencyHist(), ttft: newLatencyHist(), itl: newLatencyHist(),
		tps:  hdr.New(1, 1e9, 3),
		errs: map[string]int64{},
	}
}

// Record adds one sample; it is safe for concurrent use.
func (r *Recorder) Record(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sec := int(s.Intended / time.Second)
	if sec < 0 {
		sec = 0
	}
	for len(r.windows) <= sec {
		// Two significant digits per window keeps a 10-minute soak small.
		r.windows = append(r.windows, &window{latency: hdr.New(1, int64(10*time.Minute/time.Microsecond), 2)})
	}
	w := r.windows[sec]
	r.total++
	w.count++
	if s.Err != "" {
		r.failed++
		w.failed++
		r.errs[s.Err]++
	}
	if (s.Err != "" || (r.slow > 0 && s.Latency > r.slow)) && len(r.bad) < maxBad {
		r.bad = append(r.bad, Span{s.Intended, s.Intended + s.Latency})
	}
	if s.Latency > 0 {
		us := max(s.Latency.Microseconds(), 1)
		_ = r.latency.RecordValue(us)
		_ = w.latency.RecordValue(us)
	}
	if s.Err != "" {
		return
	}
	if s.TTFT > 0 {
		_ = r.ttft.RecordValue(max(s.TTFT.Microseconds(), 1))
	}
	if s.ITL > 0 {
		_ = r.itl.RecordValue(max(s.ITL.Microseconds(), 1))
	}
	r.tokens += int64(s.Tokens)
	if s.Tokens > 0 && s.Latency > s.TTFT && s.TTFT > 0 && s.Tokens > 1 {
		// Output speed after the first token, as vLLM's bench reports it.
		tps := float64(s.Tokens-1) / (s.Latency - s.TTFT).Seconds()
		_ = r.tps.RecordValue(max(int64(tps*1000), 1))
	}
}

// Snapshot is a consistent copy of what was recorded so far.
type Snapshot struct {
	Total, Failed, Tokens   int64
	Latency, TTFT, ITL, TPS *hdr.Histogram
	Windows                 []WindowStats
	Errors                  map[string]int64
	Bad                     []Span
}

// WindowStats is one second of the timeline.
type WindowStats struct {
	Second int     `json:"t"`
	Count  int64   `json:"requests"`
	Failed int64   `json:"failed"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Snapshot copies the recorder's state.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Total: r.total, Failed: r.failed, Tokens: r.tokens,
		Latency: hdr.Import(r.latency.Export()), TTFT: hdr.Import(r.ttft.Export()),
		ITL: hdr.Import(r.itl.Export()), TPS: hdr.Import(r.tps.Export()),
		Errors: map[string]int64{}, Bad: append([]Span(nil), r.bad...)}
	for k, v := range r.errs {
		s.Errors[k] = v
	}
	for i, w := range r.windows {
		s.Windows = append(s.Windows, WindowStats{Second: i, Count: w.count, Failed: w.failed,
			P50Ms: ms(w.latency.ValueAtQuantile(50)), P90Ms: ms(w.latency.ValueAtQuantile(90)),
			P99Ms: ms(w.latency.ValueAtQuantile(99)), MaxMs: ms(w.latency.Max())})
	}
	return s
}

// RecentP99 is the P99 of the last n complete windows before second now,
// for the progress line.
func (r *Recorder) RecentP99(now, n int) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := newLatencyHist()
	for i := max(now-n, 0); i < now && i < len(r.windows); i++ {
		h.Merge(r.windows[i].latency)
	}
	if h.TotalCount() == 0 {
		return -1 // nothing finished yet: the requests of those seconds are in flight
	}
	return ms(h.ValueAtQuantile(99))
}

// Counts returns totals so far, for the progress line.
func (r *Recorder) Counts() (total, failed int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, r.failed
}

func ms(us int64) float64 { return float64(us) / 1000 }

// ErrorKinds returns the error kinds sorted by count, most first.
func (s Snapshot) ErrorKinds() []string {
	kinds := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return s.Errors[kinds[i]] > s.Errors[kinds[j]] })
	return kinds
}
