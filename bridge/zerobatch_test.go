package bridge

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// TestZeroBatchHistogramMatchesOneByOne checks that zeros taken in bulk
// scrape exactly as the same zeros observed one by one: classic buckets,
// count, sum and native buckets, before and after other observations.
func TestZeroBatchHistogramMatchesOneByOne(t *testing.T) {
	opts := native(prometheus.HistogramOpts{Name: "gap_seconds", Help: "h", Buckets: itlBuckets})
	steps := []struct {
		values []float64 // observed one by one in both
		zeros  int       // then observed as zeros: one by one, and in bulk
	}{
		{nil, 0},
		{nil, 3},
		{[]float64{0.004, 0.2}, 0},
		{[]float64{0.0005}, 7},
		{[]float64{0, 3.5}, 1},
	}
	ref := prometheus.NewHistogram(opts)
	got := newZeroBatchHistogram(opts)
	for i, s := range steps {
		for _, v := range s.values {
			ref.Observe(v)
			got.Observe(v)
		}
		for range s.zeros {
			ref.Observe(0)
		}
		got.observeZeros(s.zeros)
		want, have := gatherOne(t, ref), gatherOne(t, got)
		if !proto.Equal(want, have) {
			t.Fatalf("step %d: bulk zeros scrape as\n%v\nwant (one by one)\n%v", i, have, want)
		}
	}
	if c := gatherOne(t, got).GetHistogram().GetZeroCount(); c != 12 {
		t.Errorf("native zero bucket = %d; want 12 (11 in bulk, 1 observed)", c)
	}
}

// gatherOne scrapes c alone, as the registry would serve it, with the
// creation time (which differs between two histograms) cleared.
func gatherOne(t *testing.T, c prometheus.Collector) *dto.Metric {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || len(mfs[0].Metric) != 1 {
		t.Fatalf("gathered %v; want one metric", mfs)
	}
	m := mfs[0].Metric[0]
	m.Histogram.CreatedTimestamp = nil
	return m
}
