package dashboards

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestRulesCheck runs promtool's linter on the rule files and the example
// config; any error or warning output that makes promtool exit non-zero
// fails the test.
func TestRulesCheck(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := filepath.Join("prometheus")
	t.Log(runTool(t, dir, promtool, "check", "rules", "recording.yml", "alerts.yml"))
	t.Log(runTool(t, dir, promtool, "check", "config", "prometheus.example.yml"))
}

// TestRulesUnit runs the promtool unit tests of alerts_test.yml.
func TestRulesUnit(t *testing.T) {
	promtool := needTool(t, "promtool")
	t.Log(runTool(t, "prometheus", promtool, "test", "rules", "alerts_test.yml"))
}

// TestEveryAlertTestedBothWays checks alerts_test.yml shows every alert of
// alerts.yml firing (a case with exp_alerts) and staying quiet (a case
// without), so a new alert cannot land untested.
func TestEveryAlertTestedBothWays(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "prometheus/alerts.yml", &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "prometheus/alerts_test.yml", &tests)

	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("alerts.yml holds a recording rule %q: recording rules go in recording.yml", r.Record)
				continue
			}
			alerts = append(alerts, r.Alert)
			if !fires[r.Alert] {
				t.Errorf("alert %s: no test case shows it firing", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("alert %s: no test case shows it quiet", r.Alert)
			}
		}
	}
	for name := range fires {
		if !slices.Contains(alerts, name) {
			t.Errorf("alerts_test.yml tests %s, which alerts.yml does not define", name)
		}
	}
	if len(alerts) < 10 {
		t.Errorf("found %d alerts, want the seed's 4 and the operator's 6", len(alerts))
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestAPIRoutesSelectorShared keeps the client-traffic selector of the
// recording rules and of the dashboards' own queries the same.
func TestAPIRoutesSelectorShared(t *testing.T) {
	data, err := os.ReadFile("prometheus/recording.yml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), apiRoutes); n < 3 {
		t.Errorf("recording.yml uses %s %d times; want it on every request-based rule", apiRoutes, n)
	}
}
