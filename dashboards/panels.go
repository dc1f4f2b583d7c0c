package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The helpers here keep every panel on the same data source variable, legend
// and threshold conventions, so the three dashboards read alike.

// datasource points every query at the dashboard's ${datasource} variable, so
// the dashboards work with whatever the Prometheus data source is called in
// the Grafana they are loaded into.
func datasource() common.DataSourceRef {
	typ, uid := "prometheus", "${datasource}"
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// datasourceVariable is the ${datasource} picker every dashboard carries.
func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Prometheus").
		Type("prometheus")
}

// labelVariable is a multi-value picker over the values of label in metric,
// "All" meaning any value (allValue ".*", so `=~"$var"` matches everything).
func labelVariable(name, label, metric string) *dashboard.QueryVariableBuilder {
	q := "label_values(" + metric + ", " + label + ")"
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: &q}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*")
}

// query is one PromQL target with its legend.
func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource()).
		Expr(expr).
		LegendFormat(legend)
}

// graph is a time series panel; w is its width in grid columns (of 24).
func graph(title, description, unit string, w uint32, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Span(w).
		Height(8).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"mean", "max", "lastNotNull"}))
	for i, t := range targets {
		p.WithTarget(t.RefId(string(rune('A' + i))))
	}
	return p
}

// single is a stat panel showing the last value of one query.
func single(title, description, unit string, w uint32, q *prometheus.DataqueryBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Span(w).
		Height(4).
		GraphMode(common.BigValueGraphModeArea).
		ColorMode(common.BigValueColorModeBackground).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		WithTarget(q.RefId("A"))
}

// thresholds colours values green below the first step and then each step's
// colour from its value on: the alert thresholds, drawn where people look.
func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	all := append([]dashboard.Threshold{{Color: "green"}}, steps...)
	return dashboard.NewThresholdsConfigBuilder().
		Mode(dashboard.ThresholdsModeAbsolute).
		Steps(all)
}

// step is one threshold step.
func step(value float64, color string) dashboard.Threshold {
	return dashboard.Threshold{Value: &value, Color: color}
}

// lowIsBad colours values red below bad and green from good on (success
// ratios, where the alert fires below a value).
func lowIsBad(bad, good float64) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().
		Mode(dashboard.ThresholdsModeAbsolute).
		Steps([]dashboard.Threshold{{Color: "red"}, step(bad, "orange"), step(good, "green")})
}

// valueText maps exact values to a text and colour (up/down, breaker states).
func valueText(pairs ...valueLabel) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, p := range pairs {
		text, color, idx := p.text, p.color, int32(i)
		opts[p.value] = dashboard.ValueMappingResult{Text: &text, Color: &color, Index: &idx}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// valueLabel is one entry of valueText.
type valueLabel struct{ value, text, color string }

// states is a state timeline: one coloured band per series, for values that
// are states (up/down, breaker), not quantities.
func states(title, description string, q *prometheus.DataqueryBuilder) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Span(12).
		Height(8).
		WithTarget(q.RefId("A"))
}
