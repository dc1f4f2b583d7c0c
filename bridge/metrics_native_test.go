package bridge_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// A protobuf scrape (what Prometheus with --enable-feature=native-histograms
// asks for) gets native buckets on the latency histograms next to the
// classic ones, which the text format keeps showing unchanged.
func TestMetricsProtobufScrapeHasNativeHistograms(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	br, _ := startBridge(t, upstreamsYAML([]string{sim.URL}))
	for i := 0; i < 3; i++ {
		if code, body, err := post(t, http.DefaultClient, br.URL+"/api/chat", chatBody(true, 4)); err != nil || code != 200 {
			t.Fatalf("request %d: %d %v %s", i, code, err, body)
		}
	}

	req, err := http.NewRequest("GET", br.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	format := expfmt.ResponseFormat(resp.Header)
	if format.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("Content-Type %q: not delimited protobuf", resp.Header.Get("Content-Type"))
	}
	fams := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(resp.Body, format)
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		fams[mf.GetName()] = mf
	}

	for _, name := range []string{"bridge_request_duration_seconds", "bridge_time_to_first_token_seconds",
		"bridge_inter_token_latency_seconds", "bridge_overhead_seconds"} {
		mf := fams[name]
		if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s: missing or not a histogram: %v", name, mf)
			continue
		}
		var h *dto.Histogram
		for _, m := range mf.GetMetric() {
			if m.GetHistogram().GetSampleCount() > 0 {
				h = m.GetHistogram()
				break
			}
		}
		if h == nil {
			t.Errorf("%s: no series with observations", name)
			continue
		}
		if h.Schema == nil {
			t.Errorf("%s: no native schema", name)
		} else if s := h.GetSchema(); s != 3 {
			// Factor 1.1 picks schema 3 (growth 2^(1/8) ≈ 1.09).
			t.Errorf("%s: schema %d, want 3", name, s)
		}
		if len(h.GetPositiveSpan()) == 0 && h.GetZeroCount() != h.GetSampleCount() {
			t.Errorf("%s: no positive spans for %d observations (zero bucket %d)", name, h.GetSampleCount(), h.GetZeroCount())
		}
		if len(h.GetBucket()) == 0 {
			t.Errorf("%s: classic buckets are gone", name)
		}
	}
	// The request histogram's observations are all durations > 0: they must
	// be in native buckets, not only the zero bucket.
	if mf := fams["bridge_request_duration_seconds"]; mf != nil {
		h := mf.GetMetric()[0].GetHistogram()
		if len(h.GetPositiveSpan()) == 0 || len(h.GetPositiveDelta()) == 0 {
			t.Errorf("bridge_request_duration_seconds: spans %v deltas %v", h.GetPositiveSpan(), h.GetPositiveDelta())
		}
		if h.GetSampleCount() != 3 {
			t.Errorf("bridge_request_duration_seconds count %d, want 3", h.GetSampleCount())
		}
	}

	// The text format, what Prometheus 2.42 scrapes by default, is classic only.
	resp2, err := http.Get(br.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !strings.Contains(string(b), `bridge_request_duration_seconds_bucket{le="0.001"}`) {
		t.Errorf("text scrape lost the classic buckets")
	}
}
