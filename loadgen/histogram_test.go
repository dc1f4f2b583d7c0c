package loadgen

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	h.Record(-time.Second)  // clamped to 1 µs
	h.Record(3 * time.Hour) // clamped to 1 h
	if h.Count() != 1002 {
		t.Errorf("count %d", h.Count())
	}
	// 3 significant digits: within 0.1 %.
	if p := h.Percentile(50); p < 500*time.Millisecond || p > 501*time.Millisecond {
		t.Errorf("p50 %v, want ≈ 500ms", p)
	}
	if m := h.Max(); m < time.Hour || m > time.Hour+4*time.Second {
		t.Errorf("max %v, want ≈ 1h (clamped)", m)
	}
	text, err := h.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := back.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	if back.Summary() != h.Summary() {
		t.Errorf("round trip: %+v vs %+v", back.Summary(), h.Summary())
	}
	if err := back.UnmarshalText([]byte("HISTFnonsense")); err == nil {
		t.Error("decoded garbage")
	}
	if err := h.Merge(newHistogram(coarseDigits)); err == nil {
		t.Error("merged histograms of different precision")
	}
	if (NewHistogram().Summary() != Summary{}) || NewHistogram().Percentile(99) != 0 {
		t.Error("an empty histogram should summarise to zeros")
	}
}
