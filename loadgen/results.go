package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"
	"time"
)

// Schema names the results.json layout (DESIGN.md); bump it only for an
// incompatible change.
const Schema = "dsbridge.results/v1"

// Results aggregates a run: vegeta's Report{Add, Close} shape. Add each
// Result, then Close to compute the summaries; Merge adds another shard's
// Results. It is not safe for concurrent use: Run adds from one goroutine.
//
// The JSON form (WriteJSON, ReadResults) carries DESIGN.md's required keys
// and, in "histograms" and each timeline second, the HDR histograms behind
// the percentiles, so shards read back from files merge exactly.
type Results struct {
	Schema    string    `json:"schema"`
	Scenario  string    `json:"scenario"`
	Target    string    `json:"target"`
	Model     string    `json:"load_model"` // "open" or "closed"
	Arrival   string    `json:"arrival"`    // the pacer, or "closed: N users"
	Seed      uint64    `json:"seed"`
	Shards    int       `json:"shards"` // how many runs were merged into this one
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"` // the load phase as configured
	ElapsedS  float64   `json:"elapsed_s"`  // start to the last response

	Requests    Requests             `json:"requests"`
	Latency     Summary              `json:"latency_ms"`    // every request, failed ones included (a time-out is slow)
	LatencyOK   Summary              `json:"latency_ok_ms"` // successful requests only
	TTFT        Summary              `json:"ttft_ms"`       // due time to first output token
	ITL         Summary              `json:"itl_ms"`        // between output tokens
	TPOT        Summary              `json:"tpot_ms"`       // per request: (latency - TTFT) / (tokens - 1), as vLLM's bench reports it
	SendDelay   Summary              `json:"send_delay_ms"` // how late the generator sent (its own lag)
	Tokens      Tokens               `json:"tokens"`
	Errors      map[ErrorKind]int64  `json:"errors"`        // failed requests by kind
	ErrorSample map[ErrorKind]string `json:"error_samples"` // the first message seen of each kind
	StatusCodes map[string]int64     `json:"status_codes"`
	Timeline    []Second             `json:"timeline"`
	Histograms  Histograms           `json:"histograms"`
	Generator   Generator            `json:"generator"`
	Gates       []Gate               `json:"gates"`
	Pass        bool                 `json:"pass"`

	hists     histSet
	secs      timeline
	rate      func(time.Duration) float64
	firstSent time.Time
	lastSent  time.Time
	lastDone  time.Time
}

// Requests counts the run's requests.
type Requests struct {
	Total         int64     `json:"total"`          // sent and answered (or failed)
	Succeeded     int64     `json:"succeeded"`      //
	Failed        int64     `json:"failed"`         // see "errors" for kinds
	NoDone        int64     `json:"no_done"`        // streams that ended without a final line (not failures)
	Scheduled     int64     `json:"scheduled"`      // arrivals the pacer asked for (open model)
	Late          int64     `json:"late"`           // sent more than LateAfter after they were due
	Dropped       int64     `json:"dropped"`        // scheduled but never sent (the run was stopped, or the generator hit its bound past the grace)
	RateRequested float64   `json:"rate_requested"` // scheduled / duration (0 in the closed model)
	RateAchieved  float64   `json:"rate_achieved"`  // sends per second between the first and last send
	RateCompleted float64   `json:"rate_completed"` // total / elapsed
	FirstSent     time.Time `json:"first_sent"`
	LastSent      time.Time `json:"last_sent"`
}

// Tokens counts output tokens.
type Tokens struct {
	Output     int64   `json:"output_total"`
	OutputPerS float64 `json:"output_per_s"` // over the whole run (elapsed)
	PerRequest float64 `json:"per_request"`  // mean over successful requests
	StreamPerS float64 `json:"stream_per_s"` // mean decode speed of one stream: 1000 / mean ITL ms
}

// Histograms holds the run-wide HDR histograms (microseconds, 3 digits),
// encoded with HdrHistogram's compressed V2 format.
type Histograms struct {
	Unit      string     `json:"unit"` // always "us"
	Latency   *Histogram `json:"latency"`
	LatencyOK *Histogram `json:"latency_ok"`
	TTFT      *Histogram `json:"ttft"`
	ITL       *Histogram `json:"itl"`
	TPOT      *Histogram `json:"tpot"`
	SendDelay *Histogram `json:"send_delay"`
}

// Generator describes the load generator's own work, so its limits are not
// mistaken for the server's.
type Generator struct {
	CPUSeconds   float64 `json:"cpu_s"`          // user+system CPU of this process during the run
	CPUCores     float64 `json:"cpu_cores"`      // cpu_s / elapsed: cores kept busy
	NumCPU       int     `json:"num_cpu"`        //
	LoadAvg1     float64 `json:"loadavg_1m"`     // machine load at the start (how shared it was)
	MaxInFlight  int     `json:"max_in_flight"`  // the bound on concurrent requests
	PeakInFlight int64   `json:"peak_in_flight"` // the most that were in flight at once
	LateAfterMS  float64 `json:"late_after_ms"`  // the threshold for "late"
}

// Gate is one checked threshold (filled by the bench harness; `load` writes
// none).
type Gate struct {
	Metric    string  `json:"metric"`
	Threshold string  `json:"threshold"`
	Value     float64 `json:"value"`
	Pass      bool    `json:"pass"`
}

type histSet struct {
	latency, latencyOK, ttft, itl, tpot, sendDelay *Histogram
}

func newHistSet() histSet {
	return histSet{NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()}
}

// set returns the histograms read back from a results file.
func (h Histograms) set() histSet {
	return histSet{h.Latency, h.LatencyOK, h.TTFT, h.ITL, h.TPOT, h.SendDelay}
}

// NewResults returns empty Results for a run starting at start. rate is the
// pacer's rate function, for the timeline (nil in the closed model).
func NewResults(start time.Time, rate func(time.Duration) float64) *Results {
	return &Results{
		Schema: Schema, StartedAt: start, Shards: 1, Pass: true, Gates: []Gate{},
		Errors: map[ErrorKind]int64{}, ErrorSample: map[ErrorKind]string{}, StatusCodes: map[string]int64{},
		hists: newHistSet(), rate: rate,
	}
}

// Add records one result.
func (rs *Results) Add(r *Result) {
	rs.Requests.Total++
	if r.Failed() {
		rs.Requests.Failed++
		rs.Errors[r.Kind]++
		if _, ok := rs.ErrorSample[r.Kind]; !ok {
			rs.ErrorSample[r.Kind] = truncate(r.Error, 300)
		}
	} else {
		rs.Requests.Succeeded++
		rs.hists.latencyOK.Record(r.Latency)
		rs.Tokens.Output += int64(r.OutputTokens)
	}
	if r.NoDone {
		rs.Requests.NoDone++
	}
	if r.Status != 0 {
		rs.StatusCodes[strconv.Itoa(r.Status)]++
	}
	rs.hists.latency.Record(r.Latency)
	if r.TTFT > 0 {
		rs.hists.ttft.Record(r.TTFT)
	}
	for _, d := range r.ITL {
		rs.hists.itl.Record(d)
	}
	if !r.Failed() && r.TTFT > 0 && r.OutputTokens > 1 {
		rs.hists.tpot.Record((r.Latency - r.TTFT) / time.Duration(r.OutputTokens-1))
	}
	if !r.Sent.IsZero() {
		rs.hists.sendDelay.Record(r.Sent.Sub(r.Intended))
		if rs.firstSent.IsZero() || r.Sent.Before(rs.firstSent) {
			rs.firstSent = r.Sent
		}
		if r.Sent.After(rs.lastSent) {
			rs.lastSent = r.Sent
		}
	}
	if r.Done.After(rs.lastDone) {
		rs.lastDone = r.Done
	}
	rs.secs.add(rs.StartedAt, r)
}

// Close computes the summaries and rates from what was added. It can be
// called again after more Adds or a Merge.
func (rs *Results) Close() {
	h := rs.hists
	rs.Latency, rs.LatencyOK = h.latency.Summary(), h.latencyOK.Summary()
	rs.TTFT, rs.ITL, rs.TPOT, rs.SendDelay = h.ttft.Summary(), h.itl.Summary(), h.tpot.Summary(), h.sendDelay.Summary()
	rs.Histograms = Histograms{Unit: "us", Latency: h.latency, LatencyOK: h.latencyOK, TTFT: h.ttft, ITL: h.itl, TPOT: h.tpot, SendDelay: h.sendDelay}
	rs.Timeline = rs.secs.seconds(rs.rate)

	q := &rs.Requests
	q.FirstSent, q.LastSent = rs.firstSent, rs.lastSent
	if rs.DurationS > 0 && rs.Model != "closed" { // a closed model requests no rate
		q.RateRequested = round3(float64(q.Scheduled) / rs.DurationS)
	}
	// n sends span n-1 gaps: (n-1)/span is the rate a perfect pacer gives
	// exactly, whatever the offset of the first send.
	if n := q.Total - rs.countUnsent(); n > 1 {
		if span := rs.lastSent.Sub(rs.firstSent).Seconds(); span > 0 {
			q.RateAchieved = round3(float64(n-1) / span)
		}
	}
	if !rs.lastDone.IsZero() {
		rs.ElapsedS = round3(rs.lastDone.Sub(rs.StartedAt).Seconds())
	}
	if rs.ElapsedS > 0 {
		q.RateCompleted = round3(float64(q.Total) / rs.ElapsedS)
		rs.Tokens.OutputPerS = round3(float64(rs.Tokens.Output) / rs.ElapsedS)
	}
	if q.Succeeded > 0 {
		rs.Tokens.PerRequest = round3(float64(rs.Tokens.Output) / float64(q.Succeeded))
	}
	if rs.ITL.Mean > 0 {
		rs.Tokens.StreamPerS = round3(1000 / rs.ITL.Mean)
	}
	if rs.Generator.CPUSeconds > 0 && rs.ElapsedS > 0 {
		rs.Generator.CPUCores = round3(rs.Generator.CPUSeconds / rs.ElapsedS)
	}
}

// countUnsent is the number of results that never left (a request that
// could not even be built): they have no send time.
func (rs *Results) countUnsent() int64 { return rs.Requests.Total - rs.hists.sendDelay.Count() }

// Merge adds another shard's results (read back with ReadResults, or from
// another Run) to rs. Histograms and counts add exactly; timelines are
// aligned on their start times to the nearest second; requested rates add
// up (each shard drove its share). Call Close afterwards.
func (rs *Results) Merge(o *Results) error {
	if o.Schema != Schema {
		return fmt.Errorf("merge: schema %q, want %q", o.Schema, Schema)
	}
	oh := o.hists
	if oh.latency == nil { // not from Run or ReadResults: take its JSON histograms
		oh = o.Histograms.set()
	}
	for _, p := range []struct{ dst, src *Histogram }{
		{rs.hists.latency, oh.latency}, {rs.hists.latencyOK, oh.latencyOK}, {rs.hists.ttft, oh.ttft},
		{rs.hists.itl, oh.itl}, {rs.hists.tpot, oh.tpot}, {rs.hists.sendDelay, oh.sendDelay},
	} {
		if err := p.dst.Merge(p.src); err != nil {
			return err
		}
	}
	shift := int(math.Round(o.StartedAt.Sub(rs.StartedAt).Seconds()))
	if shift < 0 {
		return errors.New("merge: merge into the shard that started first")
	}
	if err := rs.secs.merge(o.Timeline, shift); err != nil {
		return err
	}
	// From here the requested rates are the merged seconds' sums: fill in
	// ours from our pacer first.
	rs.secs.seconds(rs.rate)
	rs.rate = nil

	q, oq := &rs.Requests, o.Requests
	q.Total += oq.Total
	q.Succeeded += oq.Succeeded
	q.Failed += oq.Failed
	q.NoDone += oq.NoDone
	q.Scheduled += oq.Scheduled
	q.Late += oq.Late
	q.Dropped += oq.Dropped
	rs.Tokens.Output += o.Tokens.Output
	for k, v := range o.Errors {
		rs.Errors[k] += v
	}
	for k, v := range o.ErrorSample {
		if _, ok := rs.ErrorSample[k]; !ok {
			rs.ErrorSample[k] = v
		}
	}
	for k, v := range o.StatusCodes {
		rs.StatusCodes[k] += v
	}
	oFirst, oLast := o.firstSent, o.lastSent
	if oFirst.IsZero() {
		oFirst, oLast = oq.FirstSent, oq.LastSent
	}
	if !oFirst.IsZero() && (rs.firstSent.IsZero() || oFirst.Before(rs.firstSent)) {
		rs.firstSent = oFirst
	}
	if oLast.After(rs.lastSent) {
		rs.lastSent = oLast
	}
	oDone := o.lastDone
	if oDone.IsZero() {
		oDone = o.StartedAt.Add(time.Duration(o.ElapsedS * float64(time.Second)))
	}
	if oDone.After(rs.lastDone) {
		rs.lastDone = oDone
	}
	// Scheduled adds up over the longest window: the requested rates add.
	rs.DurationS = math.Max(rs.DurationS, o.DurationS+float64(shift))
	rs.Generator.CPUSeconds += o.Generator.CPUSeconds
	rs.Generator.PeakInFlight += o.Generator.PeakInFlight
	rs.Generator.MaxInFlight += o.Generator.MaxInFlight
	rs.Shards += max(o.Shards, 1)
	rs.Gates = append(rs.Gates, o.Gates...)
	rs.Pass = rs.Pass && o.Pass
	return nil
}

// WriteJSON writes rs (closed) as indented JSON.
func (rs *Results) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rs)
}

// ReadResults reads a results.json written by WriteJSON, histograms
// included, ready to Merge.
func ReadResults(r io.Reader) (*Results, error) {
	var rs Results
	if err := json.NewDecoder(r).Decode(&rs); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	if rs.Schema != Schema {
		return nil, fmt.Errorf("results: schema %q, want %q", rs.Schema, Schema)
	}
	h := rs.Histograms
	if h.Latency == nil || h.LatencyOK == nil || h.TTFT == nil || h.ITL == nil || h.TPOT == nil || h.SendDelay == nil {
		return nil, errors.New("results: histograms missing")
	}
	rs.hists = h.set()
	if err := rs.secs.merge(rs.Timeline, 0); err != nil {
		return nil, err
	}
	rs.firstSent, rs.lastSent = rs.Requests.FirstSent, rs.Requests.LastSent
	rs.lastDone = rs.StartedAt.Add(time.Duration(rs.ElapsedS * float64(time.Second)))
	rs.Errors = orEmpty(rs.Errors)
	rs.ErrorSample = orEmpty(rs.ErrorSample)
	rs.StatusCodes = orEmpty(rs.StatusCodes)
	return &rs, nil
}

func orEmpty[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return maps.Clone(m)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
