package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every shipped scenario must parse and validate: a broken one would only
// show up when somebody runs it.
func TestShippedScenariosParse(t *testing.T) {
	names := Names()
	want := []string{"smoke", "steady", "ramp-to-knee", "spike", "soak", "failover-kill",
		"failover-hang", "rolling-restart", "network-degraded", "seed-3000qps"}
	for _, w := range want {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			t.Errorf("scenario %q is not shipped (have %v)", w, names)
		}
	}
	for _, n := range names {
		s, err := Load(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if s.Name != n {
			t.Errorf("%s.yaml says name %q", n, s.Name)
		}
	}
	s, _ := Load("smoke")
	if d := s.Duration(); d >= time.Minute {
		t.Errorf("smoke lasts %v; it must stay under a minute", d)
	}
}

func TestSchemaIsJSON(t *testing.T) {
	var v map[string]any
	if err := json.Unmarshal(Schema(), &v); err != nil {
		t.Fatal(err)
	}
	props := v["properties"].(map[string]any)
	for _, k := range []string{"name", "topology", "load", "chaos", "gates", "slo", "seed"} {
		if _, ok := props[k]; !ok {
			t.Errorf("schema lacks %q", k)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		// A typo in a field name must not pass silently.
		{"unknown field", "name: x\ntopology: {sims: {count: 1}}\nload: {stages: [{duration: 1s, rate: 1}]}\ngatez: {}\n", "gatez"},
		// Bare numbers are ambiguous as durations.
		{"bare duration", "name: x\ntopology: {sims: {count: 1}}\nload: {stages: [{duration: 10, rate: 1}]}\n", "duration"},
		{"no sims", "name: x\ntopology: {sims: {count: 0}}\nload: {stages: [{duration: 1s, rate: 1}]}\n", "sims.count"},
		{"bad action", "name: x\ntopology: {sims: {count: 1}}\nload: {stages: [{duration: 5s, rate: 1}]}\nchaos: [{at: 1s, action: nuke, target: sim-1}]\n", "nuke"},
		{"event after end", "name: x\ntopology: {sims: {count: 1}}\nload: {stages: [{duration: 5s, rate: 1}]}\nchaos: [{at: 9s, action: kill, target: sim-1}]\n", "outside the run"},
		{"network without proxy", "name: x\ntopology: {sims: {count: 1}}\nload: {stages: [{duration: 5s, rate: 1}]}\nchaos: [{at: 1s, action: network, target: sim-1, toxic: {type: latency}}]\n", "topology.network"},
		{"bad lb", "name: x\ntopology: {sims: {count: 1}, lb: haproxyy}\nload: {stages: [{duration: 5s, rate: 1}]}\n", "haproxyy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v; want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestRateAt(t *testing.T) {
	s, err := Parse([]byte("name: x\ntopology: {sims: {count: 1}}\nload: {stages: [{duration: 10s, rate: 10, target: 110}, {duration: 5s, rate: 50}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		at   time.Duration
		want float64
	}{
		{0, 10},                // start of the ramp
		{5 * time.Second, 60},  // half-way up the ramp
		{10 * time.Second, 50}, // second stage holds its rate
		{14 * time.Second, 50}, // still the plateau
		{15 * time.Second, 0},  // past the end
	}
	for _, c := range cases {
		if got := s.RateAt(c.at); got != c.want {
			t.Errorf("RateAt(%v) = %v; want %v", c.at, got, c.want)
		}
	}
	if s.Duration() != 15*time.Second || s.PeakRate() != 110 {
		t.Errorf("Duration %v PeakRate %v", s.Duration(), s.PeakRate())
	}
}

func TestLoadPath(t *testing.T) {
	if _, err := Load("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "smoke") {
		t.Fatalf("want an error listing the shipped names, got %v", err)
	}
	if _, err := Load("./smoke.yaml"); err != nil {
		t.Fatalf("a path must load: %v", err)
	}
}

// observability.prometheus is off unless asked for, so that `make bench`
// needs nothing beyond the binary; a typo under it is an error, not a
// silently unwatched run.
func TestObservabilityKey(t *testing.T) {
	const base = "name: x\ntopology: {sims: {count: 1}}\nload: {stages: [{duration: 1s, rate: 1}]}\n"
	s, err := Parse([]byte(base))
	if err != nil || s.Observability.Prometheus {
		t.Errorf("default: %v, prometheus %v; want off", err, s != nil && s.Observability.Prometheus)
	}
	s, err = Parse([]byte(base + "observability: {prometheus: true}\n"))
	if err != nil || !s.Observability.Prometheus {
		t.Errorf("observability: {prometheus: true}: %v; want on", err)
	}
	if _, err := Parse([]byte(base + "observability: {promethues: true}\n")); err == nil {
		t.Error("a misspelt observability key was accepted")
	}
}
