package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Counters that drop (the process restarted) count as resets, not as
// negative traffic.
func TestScraperIncreaseAcrossRestart(t *testing.T) {
	var n atomic.Int64
	values := []int{10, 40, 5, 25} // a restart between 40 and 5
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := values[min(int(n.Add(1))-1, len(values)-1)]
		fmt.Fprintf(w, "# TYPE bridge_upstream_requests_total counter\nbridge_upstream_requests_total{upstream=\"http://a\",outcome=\"success\"} %d\n", v)
		fmt.Fprintf(w, "# TYPE go_goroutines gauge\ngo_goroutines 7\n# TYPE unrelated_total counter\nunrelated_total 3\n")
	}))
	defer srv.Close()
	s := NewScraper()
	for i := range values {
		s.Scrape(context.Background(), "bridge-1", srv.URL, float64(i))
	}
	inc := s.Increase("bridge-1")
	// 10→40 is 30, the reset adds 5, then 20 more: 55.
	if got := Sum(inc, "bridge_upstream_requests_total", map[string]string{"upstream": "http://a"}); got != 55 {
		t.Errorf("increase %v; want 55", got)
	}
	if _, ok := s.Last("bridge-1")["unrelated_total"]; ok {
		t.Error("metrics that are neither bridge_ nor ollamasim_ must be dropped")
	}
	s.Scrape(context.Background(), "sim-1", "http://127.0.0.1:1", 0)
	if s.Errors()["sim-1"] != 1 {
		t.Error("a failed scrape must be counted")
	}
}

func TestSeriesKey(t *testing.T) {
	name, labels := SeriesKey(`x_total{a="1,2",b="y"}`)
	if name != "x_total" || labels["a"] != "1,2" || labels["b"] != "y" {
		t.Errorf("got %s %v", name, labels)
	}
}
