package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Markdown renders the summary a CI job posts: verdict first, then gates
// (each failed one with its margin), latency, errors, chaos, traffic per
// upstream, the capacity plan and the generator's own figures.
func Markdown(r *Results) string {
	var b strings.Builder
	verdict := "PASS"
	switch {
	case r.Error != "":
		verdict = "BROKEN (" + r.Error + ")"
	case !r.Pass:
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# dsbridge bench: %s — %s\n\n", r.Scenario, verdict)
	if r.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", r.Description)
	}
	for _, line := range FailedGateLines(r) {
		fmt.Fprintf(&b, "**%s**\n\n", line)
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| started | %s |\n", r.StartedAt.Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(&b, "| topology | %d sim(s) (profile %s), %d bridge(s)%s%s |\n", r.Topology.Sims, r.Topology.Profile, r.Topology.Bridges,
		ifs(r.Topology.LB != "" && r.Topology.LB != "none", ", "+r.Topology.LB+" in front"), ifs(r.Topology.Network, ", Toxiproxy before every sim"))
	fmt.Fprintf(&b, "| duration | %.0f s |\n", r.DurationS)
	fmt.Fprintf(&b, "| requests | %d, failed %d (%.3f%%) |\n", r.Requests.Total, r.Requests.Failed, 100*r.Requests.ErrorRate)
	fmt.Fprintf(&b, "| rate | requested %.1f/s, achieved %.1f/s |\n", r.Requests.RateRequested, r.Requests.RateAchieved)
	fmt.Fprintf(&b, "| failovers (bridges) | %.0f |\n", r.Failovers)
	fmt.Fprintf(&b, "| machine | %d CPUs, load average %.1f at the start, %.1f at the end |\n\n", r.Machine.NumCPU, r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd)

	fmt.Fprintf(&b, "## Gates\n\n")
	if len(r.Gates) == 0 {
		fmt.Fprintf(&b, "No gates in this scenario.\n\n")
	} else {
		prom := r.Prometheus != nil
		fmt.Fprintf(&b, "| result | metric | threshold | value | margin |%s PromQL |\n|---|---|---|---:|---:|%s---|\n",
			ifs(prom, " Prometheus |"), ifs(prom, "---:|"))
		for _, g := range r.Gates {
			res := "✅ pass"
			if !g.Pass {
				res = "❌ FAIL"
			}
			value, mrg := num(g.Value, g.Unit), marginText(g)
			if g.Error != "" {
				value, mrg = "—", g.Error
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s |", res, g.Metric, g.Threshold, value, mrg)
			if prom {
				fmt.Fprintf(&b, " %s |", promValueText(g))
			}
			fmt.Fprintf(&b, " %s |\n", promQLCell(g.PromQL))
		}
		fmt.Fprintln(&b)
		fmt.Fprintf(&b, "PromQL: the query an operator would watch the gate with, over the run's length; paste it into Prometheus or Grafana (for a live deployment, use a window such as `5m`). ")
		if prom {
			fmt.Fprintf(&b, "Prometheus: its value at the end of the run, from the Prometheus that scraped every bridge and sim each %.0f s; a windowed estimate from histogram buckets, so it can differ from the load generator's exact value (see README, \"Reading the report\").\n\n", r.Prometheus.ScrapeInterval)
		} else {
			fmt.Fprintf(&b, "Run with `--prometheus` to have a real Prometheus evaluate it.\n\n")
		}
	}
	if r.Prometheus != nil {
		writePrometheusMarkdown(&b, r.Prometheus)
	}

	fmt.Fprintf(&b, "## Latency (ms)\n\n| | p50 | p90 | p95 | p99 | max | count |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		n string
		d Dist
	}{{"end to end (http_req_duration)", r.LatencyMs}, {"time to first token (ttft)", r.TTFTMs}, {"inter-token latency (itl)", r.ITLMs}} {
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %d |\n", row.n, row.d.P50, row.d.P90, row.d.P95, row.d.P99, row.d.Max, row.d.Count)
	}
	fmt.Fprintf(&b, "\nOutput speed per request: p50 %.0f tokens/s, p99 %.0f tokens/s.\n\n", r.TokensPerSecond.P50, r.TokensPerSecond.P99)

	if len(r.Errors) > 0 {
		fmt.Fprintf(&b, "## Errors by kind\n\n| kind | count |\n|---|---:|\n")
		kinds := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool { return r.Errors[kinds[i]] > r.Errors[kinds[j]] })
		for _, k := range kinds {
			fmt.Fprintf(&b, "| %s | %d |\n", k, r.Errors[k])
		}
		fmt.Fprintln(&b)
	}

	if len(r.Chaos) > 0 {
		fmt.Fprintf(&b, "## Chaos events\n\n| at | action | targets | what | done | reverted | failover time | error |\n|---:|---|---|---|---:|---:|---:|---|\n")
		for _, e := range r.Chaos {
			fo := "—"
			switch {
			case disruptive(e.Action) && e.Error == "":
				fo = fmt.Sprintf("%.0f ms", e.FailoverTimeMs)
			}
			rev := "—"
			if e.RevertedS > 0 {
				rev = fmt.Sprintf("%.1f s", e.RevertedS)
			}
			fmt.Fprintf(&b, "| %.1f s | %s | %s | %s | %.1f s | %s | %s | %s |\n", e.AtS, e.Action, strings.Join(e.Targets, ", "),
				e.Description, e.DoneS, rev, fo, e.Error)
		}
		fmt.Fprintln(&b)
	}

	if len(r.Upstreams) > 0 {
		fmt.Fprintf(&b, "## Traffic per upstream\n\n| upstream | requests | share |\n|---|---:|---:|\n")
		for _, u := range r.Upstreams {
			fmt.Fprintf(&b, "| %s | %.0f | %.1f%% |\n", u.Name, u.Requests, 100*u.Share)
		}
		if len(r.Upstreams) > 0 {
			fmt.Fprintf(&b, "\nSource: `%s`, increase over the run from the scraped `/metrics`.\n\n", r.Upstreams[0].Source)
		}
	}

	if r.Knee != nil {
		reached := "reached"
		if !r.Knee.Reached {
			reached = "not reached: the SLO held to the end (a lower bound)"
		}
		fmt.Fprintf(&b, "## Knee\n\n%.1f req/s sustained at P99 ≤ %.0f ms (requested %.1f, P99 %.1f ms) — %s; %s.\n\n",
			r.Knee.QPS, r.SLO.P99Ms, r.Knee.RequestedQPS, r.Knee.P99Ms, reached, r.Knee.Reason)
	}
	if r.Plan != nil {
		r.Plan.WriteMarkdown(&b)
	}
	fmt.Fprintf(&b, "## Load generator\n\n%s driver: scheduled %d, sent %d, dropped %d, largest send lag %.1f ms. ",
		r.Driver.Name, r.Driver.Scheduled, r.Driver.Sent, r.Driver.Dropped, r.Driver.MaxLagMs)
	fmt.Fprintf(&b, "A large lag or dropped arrivals mean the generator, not the system, was the limit (see README, \"Reading the report\").\n")
	return b.String()
}

// FailedGateLines says, for each failed gate, which and by how much.
func FailedGateLines(r *Results) []string {
	var out []string
	for _, g := range r.Gates {
		if g.Pass {
			continue
		}
		if g.Error != "" {
			out = append(out, fmt.Sprintf("FAILED gate %s %s: %s", g.Metric, g.Threshold, g.Error))
			continue
		}
		out = append(out, fmt.Sprintf("FAILED gate %s %s: value %s, %s", g.Metric, g.Threshold, num(g.Value, g.Unit), marginText(g)))
	}
	return out
}

// marginText says how far a value is from its limit, in its unit and in %.
func marginText(g GateResult) string {
	word := "margin"
	if !g.Pass {
		word = "missed by"
	}
	m := math.Abs(g.Margin)
	if g.Limit == 0 {
		return fmt.Sprintf("%s %s", word, num(m, g.Unit))
	}
	return fmt.Sprintf("%s %s (%.1f%%)", word, num(m, g.Unit), math.Abs(g.MarginPct))
}

// num prints a value with its unit, with sensible precision.
func num(v float64, unit string) string {
	var s string
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e12:
		s = fmt.Sprintf("%.0f", v)
	case math.Abs(v) < 0.01:
		s = fmt.Sprintf("%.5f", v)
	case math.Abs(v) < 10:
		s = fmt.Sprintf("%.3f", v)
	default:
		s = fmt.Sprintf("%.1f", v)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

// promQLCell puts a query in a table cell: as code, with its pipes (the
// route regexp has some) escaped the way GitHub's tables want; mdToHTML
// undoes the escape.
func promQLCell(q string) string {
	if q == "" {
		return "— (no Prometheus equivalent)"
	}
	return "`" + strings.ReplaceAll(q, "|", `\|`) + "`"
}

// promValueText is the Prometheus column: the value, or why there is none.
func promValueText(g GateResult) string {
	switch {
	case g.PrometheusValue != nil:
		return num(*g.PrometheusValue, g.Unit)
	case g.PrometheusError != "":
		return "— (" + g.PrometheusError + ")"
	}
	return "—"
}

// writePrometheusMarkdown writes what the run's Prometheus saw besides the
// gates: the alerts pending or firing at the end.
func writePrometheusMarkdown(b *strings.Builder, p *PrometheusRun) {
	fmt.Fprintf(b, "## Prometheus\n\n%d targets scraped every %.0f s with dsbridge's recording and alert rules; gate queries evaluated over `%s` at %s.",
		p.Targets, p.ScrapeInterval, p.Window, p.EvaluatedAt.Format("15:04:05 UTC"))
	if p.Error != "" {
		fmt.Fprintf(b, " **Error: %s**", p.Error)
	}
	fmt.Fprintf(b, "\n\n")
	if len(p.Alerts) == 0 {
		fmt.Fprintf(b, "No alert pending or firing at the end of the run.\n\n")
		return
	}
	fmt.Fprintf(b, "| alert | state | since | labels | summary |\n|---|---|---|---|---|\n")
	for _, a := range p.Alerts {
		var labels []string
		for k, v := range a.Labels {
			if k != "alertname" {
				labels = append(labels, k+"="+v)
			}
		}
		sort.Strings(labels)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", a.Name, a.State, a.ActiveAt.UTC().Format("15:04:05"),
			strings.ReplaceAll(strings.Join(labels, ", "), "|", `\|`), strings.ReplaceAll(a.Summary, "|", `\|`))
	}
	fmt.Fprintln(b)
}

func ifs(c bool, s string) string {
	if c {
		return s
	}
	return ""
}
