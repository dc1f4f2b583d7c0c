package dashboards

//lint:file-ignore SA1019 the v1 dashboard model is deliberate: file provisioning and every Grafana release load it, while dashboardv2 needs Grafana 12 with its new-layouts feature flag.

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// chaosEvents is the annotation query marking simulator faults (hangs,
// errors, slow tokens…) on every panel of the testbed dashboard: a latency
// spike next to a red mark is the fault, one without is a finding.
const chaosEvents = `sum by (instance, kind) (increase(ollamasim_faults_fired_total[1m])) > 0`

// Testbed is for a `dsbridge bench` run: the rate the bridges achieved next
// to what the simulators served, the latency gate, failovers, and the chaos
// injected, so a scenario's report can be read against the live picture.
func Testbed() (dashboard.Dashboard, error) {
	return dashboard.NewDashboardBuilder("dsbridge / Testbed").
		Uid("dsbridge-testbed").
		Description("A dsbridge bench run: achieved rate, latency against the seed's gate, failovers and injected faults.").
		Tags([]string{"dsbridge", "testbed"}).
		Refresh("10s").
		Time("now-30m", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(datasourceVariable()).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Chaos: simulator faults").
			Datasource(datasource()).
			Enable(true).
			IconColor("red").
			Expr(chaosEvents).
			Step("15s").
			TitleFormat("fault {{kind}}").
			TextFormat("{{instance}}").
			TagKeys("kind,instance")).
		WithRow(dashboard.NewRowBuilder("Rate")).
		WithPanel(graph("Achieved rate: bridges vs simulators", "Requests/s the bridges answered and the simulators served. The gap is failovers (two upstream requests for one client request) and requests answered by the bridge alone. The load generator's requested rate is in the bench report.", "reqps", 12,
			query(`sum(rate(bridge_requests_total{`+apiRoutes+`}[$__rate_interval]))`, "bridges answered"),
			query(`sum(rate(ollamasim_requests_total[$__rate_interval]))`, "simulators served"))).
		WithPanel(graph("Simulator requests/s by endpoint and code", "", "reqps", 12,
			query(`sum by (endpoint, code) (rate(ollamasim_requests_total[$__rate_interval]))`, "{{endpoint}} {{code}}"))).
		WithRow(dashboard.NewRowBuilder("Gates")).
		WithPanel(graph("P99 request duration vs the 500 ms gate", "All bridges. The gate p(99)<500 of the default scenario, and the seed's alert threshold.", "s", 8,
			query(`histogram_quantile(0.99, sum by (le) (rate(bridge_request_duration_seconds_bucket{`+apiRoutes+`}[$__rate_interval])))`, "p99")).
			Thresholds(thresholds(step(0.5, "red"))).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))).
		WithPanel(graph("Failed request share", "5xx answers over all answers, all bridges; the gate rate<0.01 is the seed's success > 99 %.", "percentunit", 8,
			query(`(sum(rate(bridge_requests_total{`+apiRoutes+`, code=~"5.."}[$__rate_interval])) or vector(0)) / sum(rate(bridge_requests_total{`+apiRoutes+`}[$__rate_interval]))`, "failed")).
			Thresholds(thresholds(step(0.01, "red"))).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))).
		WithPanel(graph("Failovers/s and upstreams up", "Failovers climb when a fault hits; upstreams up drops when the health checks take one out.", "short", 8,
			query(`sum(rate(bridge_failovers_total[$__rate_interval]))`, "failovers/s"),
			query(`count(max by (upstream) (bridge_upstream_up) == 1)`, "upstreams up"))).
		WithRow(dashboard.NewRowBuilder("Chaos")).
		WithPanel(graph("Simulator faults fired by kind", "Each fault the simulators injected; the same events are the dashboard's annotations.", "short", 12,
			query(`sum by (kind) (ollamasim_faults_fired_total)`, "{{kind}}"))).
		WithPanel(graph("Simulator queue depth", "A fault that slows a simulator shows as its queue growing.", "short", 12,
			query(`sum by (instance) (ollamasim_queue_depth)`, "{{instance}}"))).
		Build()
}
