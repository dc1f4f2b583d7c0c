package loadgen

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Reporter writes a report, like vegeta's.
type Reporter func(io.Writer) error

// NewJSONReporter writes rs as results.json.
func NewJSONReporter(rs *Results) Reporter { return rs.WriteJSON }

// NewTextReporter writes the human summary `dsbridge load` prints.
func NewTextReporter(rs *Results) Reporter {
	return func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		q := rs.Requests
		fmt.Fprintf(tw, "Target\t%s (%s model, %s)\n", rs.Target, rs.Model, rs.Arrival)
		fmt.Fprintf(tw, "Duration\t%gs of load, %.3fs until the last response\n", rs.DurationS, rs.ElapsedS)
		fmt.Fprintf(tw, "Requests\t%d sent, %d ok, %d failed (%.3f%%), %d without final line\n",
			q.Total, q.Succeeded, q.Failed, pct(q.Failed, q.Total), q.NoDone)
		if rs.Model == "open" {
			fmt.Fprintf(tw, "Rate\trequested %.2f/s, achieved %.2f/s (%+.2f%%), completed %.2f/s\n",
				q.RateRequested, q.RateAchieved, relDiff(q.RateAchieved, q.RateRequested), q.RateCompleted)
			fmt.Fprintf(tw, "Generator\t%d scheduled, %d late (> %gms), %d dropped; send delay p99 %.3fms; peak in flight %d\n",
				q.Scheduled, q.Late, rs.Generator.LateAfterMS, q.Dropped, rs.SendDelay.P99, rs.Generator.PeakInFlight)
		} else {
			fmt.Fprintf(tw, "Rate\tcompleted %.2f/s (closed model: the server paced it)\n", q.RateCompleted)
		}
		fmt.Fprintf(tw, "CPU\t%.2fs (%.2f of %d cores), load average %.2f at start\n",
			rs.Generator.CPUSeconds, rs.Generator.CPUCores, rs.Generator.NumCPU, rs.Generator.LoadAvg1)
		fmt.Fprintln(tw, "\nms\tp50\tp90\tp95\tp99\tmax\tcount")
		for _, row := range []struct {
			name string
			s    Summary
		}{{"latency", rs.Latency}, {"ttft", rs.TTFT}, {"itl", rs.ITL}, {"tpot", rs.TPOT}} {
			fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\n", row.name, row.s.P50, row.s.P90, row.s.P95, row.s.P99, row.s.Max, row.s.Count)
		}
		fmt.Fprintf(tw, "\nTokens\t%d output, %.1f/s overall, %.1f per request, %.1f/s per stream\n",
			rs.Tokens.Output, rs.Tokens.OutputPerS, rs.Tokens.PerRequest, rs.Tokens.StreamPerS)
		fmt.Fprintf(tw, "Status codes\t%s\n", joinCounts(rs.StatusCodes))
		if len(rs.Errors) > 0 {
			fmt.Fprintf(tw, "Errors\t%s\n", joinCounts(rs.Errors))
			kinds := mapsKeys(rs.ErrorSample)
			slices.Sort(kinds)
			for _, k := range kinds {
				fmt.Fprintf(tw, "  %s\t%s\n", k, rs.ErrorSample[k])
			}
		}
		if q.Dropped > 0 || (q.Scheduled > 0 && pct(q.Late, q.Scheduled) > 1) {
			fmt.Fprintf(tw, "\nWARNING\tthe generator could not keep the schedule (%d late, %d dropped): its limit, not the server's; see README \"Load generator\"\n", q.Late, q.Dropped)
		}
		return tw.Flush()
	}
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func relDiff(got, want float64) float64 {
	if want == 0 {
		return 0
	}
	return 100 * (got - want) / want
}

func mapsKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func joinCounts[K ~string](m map[K]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := mapsKeys(m)
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
