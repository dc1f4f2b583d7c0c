package dashboards

import (
	"encoding/json"
	"strings"
	"testing"
)

// panelQuery is one PromQL expression of a dashboard: a panel's target or an
// annotation, read from the JSON Grafana loads (not from the Go builders),
// so the live test checks exactly what is shipped.
type panelQuery struct {
	panel, refID, expr string
	datasource         json.RawMessage
	annotation         bool
}

// panelQueries walks a dashboard's panels (and panels inside collapsed rows)
// and annotations and returns every expr.
func panelQueries(t *testing.T, data []byte) []panelQuery {
	t.Helper()
	type target struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var d struct {
		Panels      []panel `json:"panels"`
		Annotations struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	var out []panelQuery
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, panelQuery{panel: p.Title, refID: tg.RefID, expr: tg.Expr, datasource: tg.Datasource})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, panelQuery{panel: "annotation " + a.Name, expr: a.Expr, annotation: true})
		}
	}
	return out
}

// expandVariables replaces Grafana's variables with what Grafana would send
// for "All" and a short dashboard range, so the query can go to Prometheus's
// HTTP API as it is. rateInterval stands for $__rate_interval, which Grafana
// sets to at least four scrape intervals.
func expandVariables(expr, rateInterval string) string {
	return strings.NewReplacer(
		"$__rate_interval", rateInterval,
		"$__range", "5m",
		"$instance", ".*",
		"$upstream", ".*",
	).Replace(expr)
}
