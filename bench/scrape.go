package bench

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scraper reads every member's /metrics during the run, as Prometheus would,
// and keeps the series the report needs: the bridges' and simulators' own
// (bridge_*, ollamasim_*) and a few process ones (memory, goroutines, fds)
// that show leaks in a soak. Histogram buckets are dropped; their _sum and
// _count are kept.
type Scraper struct {
	client *http.Client
	mu     sync.Mutex
	series map[string][]point // member → scrapes in time order
	errors map[string]int
}

type point struct {
	T      float64 // seconds since the start of the load
	Values map[string]float64
}

// NewScraper returns an empty scraper.
func NewScraper() *Scraper {
	return &Scraper{client: &http.Client{Timeout: 2 * time.Second}, series: map[string][]point{}, errors: map[string]int{}}
}

// keep says which metric families are kept.
func keep(name string) bool {
	return strings.HasPrefix(name, "bridge_") || strings.HasPrefix(name, "ollamasim_") ||
		name == "process_resident_memory_bytes" || name == "go_goroutines" || name == "process_open_fds" ||
		name == "process_cpu_seconds_total"
}

// Scrape reads one member's metrics now. A member that does not answer (a
// killed sim) is counted, not fatal.
func (s *Scraper) Scrape(ctx context.Context, member, url string, t float64) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		s.countErr(member)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.countErr(member)
		return
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil && len(fams) == 0 {
		s.countErr(member)
		return
	}
	vals := map[string]float64{}
	for name, f := range fams {
		if !keep(name) {
			continue
		}
		for _, m := range f.GetMetric() {
			lbl := labelString(m.GetLabel())
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				vals[name+lbl] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				vals[name+lbl] = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				vals[name+lbl] = m.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				vals[name+"_count"+lbl] = float64(m.GetHistogram().GetSampleCount())
				vals[name+"_sum"+lbl] = m.GetHistogram().GetSampleSum()
			case dto.MetricType_SUMMARY:
				vals[name+"_count"+lbl] = float64(m.GetSummary().GetSampleCount())
				vals[name+"_sum"+lbl] = m.GetSummary().GetSampleSum()
			}
		}
	}
	s.mu.Lock()
	s.series[member] = append(s.series[member], point{T: t, Values: vals})
	s.mu.Unlock()
}

func (s *Scraper) countErr(member string) {
	s.mu.Lock()
	s.errors[member]++
	s.mu.Unlock()
}

// labelString writes labels as {a="x",b="y"}, sorted, "" when none.
func labelString(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// SeriesKey splits a stored key into metric name and labels.
func SeriesKey(key string) (name string, labels map[string]string) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key, nil
	}
	labels = map[string]string{}
	for _, kv := range splitLabels(key[i+1 : len(key)-1]) {
		if j := strings.IndexByte(kv, '='); j > 0 {
			labels[kv[:j]] = strings.Trim(kv[j+1:], `"`)
		}
	}
	return key[:i], labels
}

// splitLabels splits a="x",b="y" on the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	inQ, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// Increase is how much each counter series of a member grew over the run,
// Prometheus-style: a drop (the process restarted) counts as a reset, so a
// killed-and-restarted sim does not make its traffic vanish.
func (s *Scraper) Increase(member string) map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	pts := s.series[member]
	out := map[string]float64{}
	prev := map[string]float64{}
	for i, p := range pts {
		for k, v := range p.Values {
			if i == 0 {
				prev[k] = v
				continue
			}
			last, seen := prev[k]
			switch {
			case !seen:
				// A series born mid-run (a new label value, or the first
				// scrape after a restart): all of it is increase.
				out[k] += v
			case v >= last:
				out[k] += v - last
			default:
				out[k] += v // reset
			}
			prev[k] = v
		}
	}
	return out
}

// Last is a member's last scraped values.
func (s *Scraper) Last(member string) map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	pts := s.series[member]
	if len(pts) == 0 {
		return nil
	}
	return pts[len(pts)-1].Values
}

// Points returns a copy of a member's scrapes.
func (s *Scraper) Points(member string) []point {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]point(nil), s.series[member]...)
}

// Errors counts failed scrapes per member.
func (s *Scraper) Errors() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.errors {
		out[k] = v
	}
	return out
}

// Sum adds up every series of metric name in vals whose labels match want.
func Sum(vals map[string]float64, name string, want map[string]string) float64 {
	var sum float64
	for k, v := range vals {
		n, labels := SeriesKey(k)
		if n != name {
			continue
		}
		ok := true
		for lk, lv := range want {
			ok = ok && labels[lk] == lv
		}
		if ok {
			sum += v
		}
	}
	return sum
}
