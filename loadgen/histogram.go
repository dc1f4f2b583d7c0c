package loadgen

import (
	"errors"
	"fmt"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram is an HDR histogram of durations, kept in microseconds from 1 µs
// to 1 h. Two histograms with the same precision merge exactly (their
// buckets line up), so results from several load machines add up to the
// histogram one machine would have recorded over the union of requests.
type Histogram struct {
	h *hdrhistogram.Histogram
}

// Histogram precisions: 3 significant digits (0.1 % error) for run-wide
// distributions, 2 for the per-second timeline, where a hundred seconds of
// 3-digit histograms would cost tens of megabytes.
const (
	fineDigits   = 3
	coarseDigits = 2
	histMaxUS    = int64(time.Hour / time.Microsecond)
)

// NewHistogram returns an empty run-wide histogram (3 significant digits).
func NewHistogram() *Histogram { return newHistogram(fineDigits) }

func newHistogram(digits int) *Histogram {
	return &Histogram{h: hdrhistogram.New(1, histMaxUS, digits)}
}

// Record adds d, clamped to [1 µs, 1 h].
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	us = max(1, min(us, histMaxUS))
	_ = h.h.RecordValue(us) // cannot fail: clamped into range
}

// Merge adds o's counts to h. Both must have the same precision.
func (h *Histogram) Merge(o *Histogram) error {
	if o == nil || o.h == nil {
		return nil
	}
	if o.h.SignificantFigures() != h.h.SignificantFigures() {
		return fmt.Errorf("merge: histograms of %d and %d significant digits", h.h.SignificantFigures(), o.h.SignificantFigures())
	}
	if dropped := h.h.Merge(o.h); dropped != 0 {
		return fmt.Errorf("merge: %d values out of range", dropped)
	}
	return nil
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Percentile returns the value at percentile p (0-100), 0 when empty.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.h.ValueAtPercentile(p)) * time.Microsecond
}

// Max returns the largest recorded value (to the histogram's precision).
func (h *Histogram) Max() time.Duration {
	return time.Duration(h.h.Max()) * time.Microsecond
}

// MarshalText encodes h in HdrHistogram's standard compressed V2 form
// (base64, "HISTF…"), which other HdrHistogram tools can read too.
func (h *Histogram) MarshalText() ([]byte, error) {
	return h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
}

// UnmarshalText decodes what MarshalText wrote.
func (h *Histogram) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty histogram")
	}
	d, err := hdrhistogram.Decode(b)
	if err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	h.h = d
	return nil
}

// Summary is a distribution in milliseconds, as results.json reports it.
type Summary struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Summary returns h's distribution in milliseconds (zeros when empty).
func (h *Histogram) Summary() Summary {
	if h.h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return round3(float64(us) / 1000) }
	return Summary{
		Count: h.h.TotalCount(),
		Min:   ms(h.h.Min()),
		Mean:  round3(h.h.Mean() / 1000),
		P50:   ms(h.h.ValueAtPercentile(50)),
		P90:   ms(h.h.ValueAtPercentile(90)),
		P95:   ms(h.h.ValueAtPercentile(95)),
		P99:   ms(h.h.ValueAtPercentile(99)),
		P999:  ms(h.h.ValueAtPercentile(99.9)),
		Max:   ms(h.h.Max()),
	}
}

// round3 keeps three decimals: microsecond resolution in milliseconds.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
