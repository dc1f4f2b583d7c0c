package loadgen

import "time"

// Result is the outcome of one request, what the attack sends down its
// channel. Like vegeta's, an error is data (Kind, Error), not a Go error.
//
// Every duration is measured from Intended, the time the schedule said the
// request was due, not from when it actually left: a generator that falls
// behind therefore shows its own lateness in the latencies instead of hiding
// the server's (coordinated omission). In the closed model Intended is when
// the user sent it.
type Result struct {
	Seq      uint64    // arrival index, 0-based
	Name     string    // mix entry name
	Endpoint Endpoint  //
	Intended time.Time // when it was due
	Sent     time.Time // when it actually left; Sent-Intended is the generator's lag
	Done     time.Time // when the response ended (last byte, error or time-out)

	Latency      time.Duration   // Done - Intended
	TTFT         time.Duration   // first output token - Intended; 0 = no token (or not streamed)
	ITL          []time.Duration // gaps between consecutive output tokens
	OutputTokens int             // server's count (eval_count, usage) when given, else token lines seen
	Status       int             // HTTP status; 0 = no response
	Kind         ErrorKind       // "" = success
	Error        string          // detail of Kind
	NoDone       bool            // stream ended without its final line: not an error (Ollama does this)
	BytesIn      int64           // response body bytes
}

// Failed reports whether the request counts as failed.
func (r *Result) Failed() bool { return r.Kind != "" }

// ErrorKind classifies a failed request, bounded so reports can group by it.
type ErrorKind string

// The error kinds. A stream that ends without its final line is not one of
// them: Ollama itself ends streams that way (see Result.NoDone).
const (
	KindConnect     ErrorKind = "connect"      // dial failed (refused, unreachable)
	KindTransport   ErrorKind = "transport"    // connection failed after dialling, before a response
	KindTimeout     ErrorKind = "timeout"      // the per-request time-out passed
	KindHTTP4xx     ErrorKind = "http_4xx"     // status 400-499
	KindHTTP5xx     ErrorKind = "http_5xx"     // status 500-599
	KindHTTPOther   ErrorKind = "http_other"   // any other non-200 status
	KindStreamError ErrorKind = "stream_error" // an {"error":…} line or object under status 200
	KindStreamCut   ErrorKind = "stream_cut"   // the body broke off mid-way (reset, bad chunking)
	KindBadBody     ErrorKind = "bad_body"     // a body that does not parse
	KindCancelled   ErrorKind = "cancelled"    // the run was stopped while it was in flight
)
