package dashboards

//lint:file-ignore SA1019 the v1 dashboard model is deliberate: file provisioning and every Grafana release load it, while dashboardv2 needs Grafana 12 with its new-layouts feature flag.

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Fleet shows the Ollama upstreams as the bridges see them: health, breaker,
// load and how traffic is spread. Queue depth, busy slots and loaded models
// come from the simulator's own metrics (real Ollama has no /metrics), so
// those panels are empty in front of real Ollama servers.
func Fleet() (dashboard.Dashboard, error) {
	const sel = `upstream=~"$upstream"`
	return dashboard.NewDashboardBuilder("dsbridge / Upstream fleet").
		Uid("dsbridge-fleet").
		Description("Health, circuit state, load and traffic share of the Ollama upstreams behind dsbridge.").
		Tags([]string{"dsbridge"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(datasourceVariable()).
		WithVariable(labelVariable("upstream", "upstream", "bridge_upstream_up")).
		WithRow(dashboard.NewRowBuilder("Health")).
		WithPanel(states("Upstream health (per bridge)", "Active and passive health as each bridge sees each upstream.",
			query(`bridge_upstream_up{`+sel+`}`, "{{upstream}} via {{instance}}")).
			Mappings(valueText(valueLabel{"0", "down", "red"}, valueLabel{"1", "up", "green"}))).
		WithPanel(states("Circuit breaker state (per bridge)", "Closed, half-open (probing) or open (no traffic for 30 s after 5 consecutive failures).",
			query(`bridge_upstream_circuit_state{`+sel+`}`, "{{upstream}} via {{instance}}")).
			Mappings(valueText(valueLabel{"0", "closed", "green"}, valueLabel{"1", "half-open", "orange"}, valueLabel{"2", "open", "red"}))).
		WithRow(dashboard.NewRowBuilder("Load")).
		WithPanel(graph("In-flight requests by upstream", "Requests the bridges have open to each upstream, summed over bridges.", "short", 6,
			query(`sum by (upstream) (bridge_upstream_in_flight{`+sel+`})`, "{{upstream}}"))).
		WithPanel(graph("Queue depth by simulator and model", "Requests waiting for a slot in each simulated Ollama (OLLAMA_MAX_QUEUE bounds it).", "short", 6,
			query(`sum by (instance, model) (ollamasim_queue_depth)`, "{{instance}} {{model}}"))).
		WithPanel(graph("Busy slots by simulator and model", "Requests being generated (OLLAMA_NUM_PARALLEL bounds it).", "short", 6,
			query(`sum by (instance, model) (ollamasim_busy_slots)`, "{{instance}} {{model}}"))).
		WithPanel(graph("Loaded models by simulator", "Models held in memory; a load on demand costs the first request seconds.", "short", 6,
			query(`ollamasim_loaded_models`, "{{instance}}"))).
		WithRow(dashboard.NewRowBuilder("Traffic")).
		WithPanel(graph("Traffic share by upstream", "Each upstream's part of all upstream attempts, over all bridges.", "percentunit", 8,
			query(`sum by (upstream) (upstream_outcome:bridge_upstream_requests:rate5m{`+sel+`}) / ignoring (upstream) group_left sum(upstream_outcome:bridge_upstream_requests:rate5m)`, "{{upstream}}")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
			FillOpacity(30).
			Max(1)).
		WithPanel(graph("Upstream attempts/s by outcome", "Every attempt the bridges made, by how it ended; a failover is one failed attempt and one more.", "reqps", 8,
			query(`upstream_outcome:bridge_upstream_requests:rate5m{`+sel+`}`, "{{upstream}} {{outcome}}"))).
		WithPanel(graph("Simulator requests/s by code", "What the upstreams answered, from their side.", "reqps", 8,
			query(`sum by (instance, code) (rate(ollamasim_requests_total[$__rate_interval]))`, "{{instance}} {{code}}"))).
		Build()
}
