package bench

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	cases := []struct {
		src  string
		want string // canonical form, or "" when it must fail
	}{
		{"p(99)<500", "p(99)<500"},
		{"p(95)<=200", "p(95)<=200"},
		{" p( 99.9 ) < 250.5 ", "p(99.9)<250.5"}, // spaces anywhere, fractional percentile
		{"rate<0.01", "rate<0.01"},
		{"avg<200", "avg<200"},
		{"max<3000", "max<3000"},
		{"med<100", "med<100"},
		{"count>0", "count>0"},
		{"value>=1", "value>=1"},
		{"min>-5", "min>-5"},        // negative limits are numbers too
		{"count===10", "count==10"}, // k6's strict equality reads as ==
		{"rate!=1", "rate!=1"},
		{"p99<500", ""},  // k6 needs the parentheses
		{"p(101)<5", ""}, // no such percentile
		{"p(x)<5", ""},
		{"avg", ""},  // no comparison
		{"<500", ""}, // no aggregation
		{"avg<", ""}, // no value
		{"avg<abc", ""},
		{"avg<NaN", ""},
		{"avg<Inf", ""},
		{"mean<5", ""}, // unknown aggregation
		{"", ""},
	}
	for _, c := range cases {
		got, err := ParseThreshold(c.src)
		if c.want == "" {
			if err == nil || !errors.Is(err, ErrThresholdSyntax) {
				t.Errorf("ParseThreshold(%q) = %v, %v; want a syntax error", c.src, got, err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("ParseThreshold(%q) = %q, %v; want %q", c.src, got.String(), err, c.want)
		}
	}
}

func TestThresholdHolds(t *testing.T) {
	cases := []struct {
		src  string
		v    float64
		want bool
	}{
		{"p(99)<500", 499.9, true},
		{"p(99)<500", 500, false}, // strict
		{"p(99)<=500", 500, true},
		{"rate<0.01", 0.02, false},
		{"count>0", 1, true},
		{"count==3", 3, true},
		{"count!=3", 3, false},
		{"avg>=10", 9, false},
	}
	for _, c := range cases {
		th, err := ParseThreshold(c.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Holds(c.v); got != c.want {
			t.Errorf("%s with %v: got %v; want %v", c.src, c.v, got, c.want)
		}
	}
}

// fakeAgg answers from a map keyed "metric agg".
type fakeAgg map[string]float64

func (f fakeAgg) Aggregate(metric string, t Threshold) (float64, string, error) {
	k := metric + " " + t.Agg
	if t.Agg == "p" {
		k = fmt.Sprintf("%s p%v", metric, t.P)
	}
	v, ok := f[k]
	if !ok {
		return 0, "", fmt.Errorf("no %s for %s", t.Agg, metric)
	}
	return v, "ms", nil
}

func TestEvaluateGates(t *testing.T) {
	agg := fakeAgg{"http_req_duration p99": 530, "http_req_failed rate": 0.001}
	res, err := EvaluateGates(map[string][]string{
		"http_req_duration": {"p(99)<500"},
		"http_req_failed":   {"rate<0.01"},
		"ttft":              {"p(99)<100"}, // no data: must fail, not pass
	}, agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("got %d results", len(res))
	}
	d := res[0]
	if d.Metric != "http_req_duration" || d.Pass || d.Margin != -30 || d.MarginPct != -6 {
		t.Errorf("duration gate: %+v; want fail by 30 (6%%)", d)
	}
	if !res[1].Pass || res[1].Margin <= 0 {
		t.Errorf("failed gate: %+v", res[1])
	}
	if res[2].Pass || res[2].Error == "" {
		t.Errorf("a gate without data must fail with an error: %+v", res[2])
	}
	if _, err := EvaluateGates(map[string][]string{"x": {"p99<1"}}, agg); !errors.Is(err, ErrThresholdSyntax) {
		t.Errorf("want a syntax error, got %v", err)
	}
}

// FuzzParseThreshold: the parser never panics, and whatever it accepts
// survives a round trip through its canonical form.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p(99)<500", "rate<0.01", "avg<=2", "count===1", "p(99.9)>1e3", "value!=0", "p()<1", "<", "p(("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			if !errors.Is(err, ErrThresholdSyntax) {
				t.Fatalf("error %v does not wrap ErrThresholdSyntax", err)
			}
			return
		}
		again, err := ParseThreshold(th.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", th.String(), s, err)
		}
		if again.Agg != th.Agg || again.P != th.P || again.Op != th.Op || again.Limit != th.Limit {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, th)
		}
		if strings.TrimSpace(th.String()) != th.String() {
			t.Fatalf("canonical form has spaces: %q", th.String())
		}
	})
}
