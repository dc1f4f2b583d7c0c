package loadgen

import (
	"time"
)

// Second is one second of a run's timeline. Requests are placed by when
// they were due (Sent, latency percentiles: "what did a request issued at t
// experience", which lines up with a chaos event at t) and by when they
// ended (Completed, Errors, OutputTokens: what an observer saw at t).
type Second struct {
	T             int        `json:"t"`              // seconds since the start of the run
	RateRequested float64    `json:"rate_requested"` // the pacer's rate in the middle of the second (0 in the closed model)
	Sent          int64      `json:"sent"`           // requests due in this second
	Completed     int64      `json:"completed"`      // responses that ended in this second
	Errors        int64      `json:"errors"`         // failed responses that ended in this second
	OutputTokens  int64      `json:"output_tokens"`  // tokens of responses that ended in this second
	P50           float64    `json:"p50_ms"`         // latency of requests due in this second
	P99           float64    `json:"p99_ms"`         //
	Latency       *Histogram `json:"latency_hist"`   // 2-digit histogram behind P50/P99, so timelines merge exactly
}

// timeline is a run's per-second record.
type timeline struct {
	secs []Second
}

// maxTimelineSeconds bounds the timeline (a day) so a clock jump or a
// result from far in the future cannot allocate without limit.
const maxTimelineSeconds = 86400

func (tl *timeline) at(s int) *Second {
	s = max(0, min(s, maxTimelineSeconds-1))
	for len(tl.secs) <= s {
		tl.secs = append(tl.secs, Second{T: len(tl.secs)})
	}
	return &tl.secs[s]
}

// add places r in the timeline of a run that started at start.
func (tl *timeline) add(start time.Time, r *Result) {
	due := tl.at(int(r.Intended.Sub(start) / time.Second))
	due.Sent++
	if due.Latency == nil {
		due.Latency = newHistogram(coarseDigits)
	}
	due.Latency.Record(r.Latency)
	end := tl.at(int(r.Done.Sub(start) / time.Second))
	end.Completed++
	end.OutputTokens += int64(r.OutputTokens)
	if r.Failed() {
		end.Errors++
	}
}

// merge adds o's seconds to tl, o's second 0 falling on tl's second shift.
func (tl *timeline) merge(o []Second, shift int) error {
	for _, s := range o {
		d := tl.at(s.T + shift)
		d.Sent += s.Sent
		d.Completed += s.Completed
		d.Errors += s.Errors
		d.OutputTokens += s.OutputTokens
		d.RateRequested += s.RateRequested
		if s.Latency != nil {
			if d.Latency == nil {
				d.Latency = newHistogram(coarseDigits)
			}
			if err := d.Latency.Merge(s.Latency); err != nil {
				return err
			}
		}
	}
	return nil
}

// seconds finishes and returns the timeline: percentiles from the
// histograms, and the requested rate from rate (nil: left as is).
func (tl *timeline) seconds(rate func(time.Duration) float64) []Second {
	for i := range tl.secs {
		s := &tl.secs[i]
		if rate != nil {
			s.RateRequested = round3(rate(time.Duration(i)*time.Second + time.Second/2))
		}
		if s.Latency != nil {
			s.P50 = round3(float64(s.Latency.Percentile(50)) / 1e6)
			s.P99 = round3(float64(s.Latency.Percentile(99)) / 1e6)
		}
	}
	return tl.secs
}
