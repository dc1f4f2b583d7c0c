package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is the run's outcome: raw cells, per-target summaries, the verdict.
// results.json is this struct; report.md is Markdown().
type report struct {
	Schema      string            `json:"schema"`
	Date        string            `json:"date"`
	Settings    settings          `json:"settings"`
	Machine     machine           `json:"machine"`
	Targets     []target          `json:"targets"`
	StartErrors map[string]string `json:"start_errors,omitempty"`
	Probes      []probeResult     `json:"probes"`
	Cases       []benchCase       `json:"cases"`
	Summaries   []summary         `json:"summaries"`
	Verdict     verdict           `json:"verdict"`
	Changes     []change          `json:"change_vs_base,omitempty"`
	Profiles    []*profileResult  `json:"profiles,omitempty"`
	Cells       []cell            `json:"cells"`

	order []string // target names in table order
}

type settings struct {
	Upstreams     string   `json:"upstreams"`
	UpstreamCount int      `json:"upstream_count"`
	UpstreamCC    string   `json:"upstream_cc,omitempty"` // --upstream-cc; "" is the machine's default
	Connections   int      `json:"connections"`
	Threads       int      `json:"threads"`
	DurationS     float64  `json:"duration_s"`
	WarmupS       float64  `json:"warmup_s"`
	Repeat        int      `json:"repeat"`
	WrkCPUs       string   `json:"wrk_cpus,omitempty"`
	ServerCPUs    string   `json:"server_cpus,omitempty"`
	BridgeArgs    []string `json:"bridge_args,omitempty"`
	BridgeConfig  string   `json:"bridge_config,omitempty"`
	BridgeEnv     []string `json:"bridge_env,omitempty"`
	BridgeVersion string   `json:"bridge_version,omitempty"`
	StreamTol     float64  `json:"stream_tolerance"`
}

// machine is what the reader needs to judge the noise.
type machine struct {
	CPUs         int     `json:"cpus"`
	CPUModel     string  `json:"cpu_model"`
	Kernel       string  `json:"kernel"`
	TCPCC        string  `json:"tcp_congestion_control"` // the machine's default
	LoadAvgStart float64 `json:"loadavg1_start"`
	LoadAvgEnd   float64 `json:"loadavg1_end"`
	OtherCPUMed  float64 `json:"other_cpu_pct_median"`
	OtherCPUMax  float64 `json:"other_cpu_pct_max"`
}

// stat is a figure over the repeats of a cell: median, extremes, and the
// spread, half the min–max range in percent of the median.
type stat struct {
	Median    float64 `json:"median"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	SpreadPct float64 `json:"spread_pct"`
}

func statOf(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	st := stat{Median: m, Min: s[0], Max: s[len(s)-1]}
	if m != 0 {
		st.SpreadPct = 100 * (st.Max - st.Min) / 2 / m
	}
	return st
}

// summary is one target × case over its repeats.
type summary struct {
	Target        string `json:"target"`
	Case          string `json:"case"`
	Repeats       int    `json:"repeats"`
	ReqPerSec     stat   `json:"req_per_s"`
	P50ms         stat   `json:"p50_ms"`
	P99ms         stat   `json:"p99_ms"`
	MBPerSec      stat   `json:"mb_per_s"`
	ProxyCPUPer1k stat   `json:"proxy_cpu_ms_per_1000"`
	UpCPUPer1k    stat   `json:"upstream_cpu_ms_per_1000"`
	BytesPerResp  stat   `json:"bytes_per_resp"`
	// TotalCPUPer1k is proxy + upstreams + wrk: everything the cell needs
	// from the machine per 1000 requests.
	TotalCPUPer1k stat    `json:"total_cpu_ms_per_1000"`
	TCPSegsPerReq stat    `json:"tcp_segments_per_req"`
	AllocsPerReq  stat    `json:"allocs_per_req"`
	Errors        int64   `json:"errors"`
	ReadErrors    int64   `json:"read_errors"`
	VsNginx       float64 `json:"ratio_vs_nginx"` // req/s medians; 0 when there is no nginx row
	// VsNginxPaired is the ratio within each repeat (cells measured minutes
	// apart share less noise than cells measured seconds apart): its spread
	// is the noise on the verdict's figure.
	VsNginxPaired stat    `json:"ratio_vs_nginx_paired"`
	VsDirect      float64 `json:"ratio_vs_direct"` // req/s medians; 0 when there is no direct row
}

// verdict is the issue-3 target, judged on this run's medians.
type verdict struct {
	Done  bool     `json:"done"`
	Lines []string `json:"lines"`
}

func newReport(cfg config) *report {
	uname := func() string {
		b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
		return strings.TrimSpace(string(b))
	}
	return &report{
		Schema: "dsbridge.proxybench/v1",
		Date:   time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Settings: settings{
			Upstreams: cfg.upstreamKind, UpstreamCount: cfg.upstreamCount, UpstreamCC: cfg.upstreamCC,
			Connections: cfg.connections, Threads: cfg.threads,
			DurationS: cfg.duration.Seconds(), WarmupS: cfg.warmup.Seconds(), Repeat: cfg.repeat,
			WrkCPUs: cfg.wrkCPUs, ServerCPUs: cfg.serverCPUs,
			BridgeArgs: cfg.bridgeArgs, BridgeConfig: cfg.bridgeConfig, BridgeEnv: cfg.bridgeEnv, StreamTol: cfg.streamTolerance,
		},
		Machine:     machine{CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Kernel: uname(), TCPCC: defaultCongestionControl()},
		StartErrors: map[string]string{},
		Cases:       cfg.cases(),
		order:       cfg.targets,
	}
}

// finish computes the summaries, ratios, noise figures and verdict.
func (r *report) finish() {
	var other []float64
	for _, c := range r.Cells {
		other = append(other, c.OtherCPUPct)
	}
	os := statOf(other)
	r.Machine.OtherCPUMed, r.Machine.OtherCPUMax = os.Median, os.Max

	r.Summaries = nil
	for _, bc := range r.Cases {
		for _, name := range r.order {
			var rps, p50, p99, mbs, pcpu, ucpu, bpr, apr, tcpu, segs []float64
			s := summary{Target: name, Case: bc.Name}
			for _, c := range r.Cells {
				if c.Target != name || c.Case != bc.Name {
					continue
				}
				s.Repeats++
				rps = append(rps, c.ReqPerSec)
				p50 = append(p50, c.Wrk.P50US/1000)
				p99 = append(p99, c.Wrk.P99US/1000)
				mbs = append(mbs, c.MBPerSec)
				pcpu = append(pcpu, c.ProxyCPUPer1k)
				ucpu = append(ucpu, c.UpCPUPer1k)
				tcpu = append(tcpu, max(0, c.ProxyCPUPer1k)+c.UpCPUPer1k+c.WrkCPUPer1k)
				bpr = append(bpr, c.BytesPerResp)
				segs = append(segs, c.TCPSegsPerReq)
				if c.AllocsPerReq > 0 {
					apr = append(apr, c.AllocsPerReq)
				}
				s.Errors += c.Errors
				s.ReadErrors += c.Wrk.Read
			}
			if s.Repeats == 0 {
				continue
			}
			s.ReqPerSec, s.P50ms, s.P99ms, s.MBPerSec = statOf(rps), statOf(p50), statOf(p99), statOf(mbs)
			s.ProxyCPUPer1k, s.UpCPUPer1k, s.BytesPerResp, s.AllocsPerReq = statOf(pcpu), statOf(ucpu), statOf(bpr), statOf(apr)
			s.TotalCPUPer1k, s.TCPSegsPerReq = statOf(tcpu), statOf(segs)
			r.Summaries = append(r.Summaries, s)
		}
	}
	for i := range r.Summaries {
		s := &r.Summaries[i]
		if n := r.summary("nginx", s.Case); n != nil && n.ReqPerSec.Median > 0 {
			s.VsNginx = s.ReqPerSec.Median / n.ReqPerSec.Median
		}
		var paired []float64
		for _, c := range r.Cells {
			if c.Target != s.Target || c.Case != s.Case {
				continue
			}
			for _, n := range r.Cells {
				if n.Target == "nginx" && n.Case == c.Case && n.Repeat == c.Repeat && n.ReqPerSec > 0 {
					paired = append(paired, c.ReqPerSec/n.ReqPerSec)
				}
			}
		}
		s.VsNginxPaired = statOf(paired)
		if d := r.summary("direct", s.Case); d != nil && d.ReqPerSec.Median > 0 {
			s.VsDirect = s.ReqPerSec.Median / d.ReqPerSec.Median
		}
	}
	r.Verdict = r.judge()
	r.Changes = changes(r.Cases, r.Cells)
}

func (r *report) summary(target, cs string) *summary {
	for i := range r.Summaries {
		if r.Summaries[i].Target == target && r.Summaries[i].Case == cs {
			return &r.Summaries[i]
		}
	}
	return nil
}

// judge applies issue 3's "Done when": non-streamed bridge throughput at
// least 0.75x nginx's in the same run, and streamed relay at nginx's rate
// (within --stream-tolerance) with no read errors.
func (r *report) judge() verdict {
	v := verdict{Done: true}
	fail := func(format string, a ...any) {
		v.Done = false
		v.Lines = append(v.Lines, "NOT DONE: "+fmt.Sprintf(format, a...))
	}
	pass := func(format string, a ...any) { v.Lines = append(v.Lines, "ok: "+fmt.Sprintf(format, a...)) }
	// budget is information, not a verdict: in a closed loop that saturates
	// the cores, throughput is cores ÷ CPU per request, so the ratio of the
	// cells' total CPU per request predicts the throughput ratio on a
	// machine these processes have to themselves. On a shared machine a
	// proxy that blocks more often leaves CPU to other users and falls
	// below that figure; the gap shows how much of the measured ratio is
	// the neighbours.
	budget := func(b, n *summary) string {
		if b.TotalCPUPer1k.Median <= 0 {
			return ""
		}
		return fmt.Sprintf("; CPU budget ratio %.2f (nginx %.0f ms, bridge %.0f ms of CPU per 1000 requests, counting the upstreams and wrk)",
			n.TotalCPUPer1k.Median/b.TotalCPUPer1k.Median, n.TotalCPUPer1k.Median, b.TotalCPUPer1k.Median)
	}
	if msg, ok := r.StartErrors["bridge"]; ok {
		fail("the bridge did not start: %s", msg)
		return v
	}
	if !contains(r.order, "bridge") || !contains(r.order, "nginx") {
		v.Done = false
		v.Lines = append(v.Lines, "no verdict: the run needs both the bridge and nginx")
		return v
	}
	for _, p := range r.Probes {
		if !p.OK {
			fail("%s %s answer is malformed: %s", p.Target, p.Case, p.Detail)
		}
	}
	for _, bc := range r.Cases {
		b, n := r.summary("bridge", bc.Name), r.summary("nginx", bc.Name)
		if b == nil || n == nil {
			fail("%s: missing cells", bc.Name)
			continue
		}
		if !bc.Stream {
			msg := fmt.Sprintf("non-streamed chat: bridge %.0f req/s = %.2fx nginx (%.0f req/s; per repeat %.2f–%.2f); target >= 0.75x, goal 1.0x",
				b.ReqPerSec.Median, b.VsNginx, n.ReqPerSec.Median, b.VsNginxPaired.Min, b.VsNginxPaired.Max) + budget(b, n)
			if b.VsNginx >= 0.75 {
				pass("%s", msg)
			} else {
				fail("%s", msg)
			}
			if b.Errors > 0 {
				fail("non-streamed chat: the bridge had %d errors", b.Errors)
			}
			continue
		}
		msg := fmt.Sprintf("stream of %d tokens: bridge %.0f streams/s = %.2fx nginx (%.0f streams/s; per repeat %.2f–%.2f), %d read errors, %d errors in all; target >= %.2fx and no errors",
			bc.Tokens, b.ReqPerSec.Median, b.VsNginx, n.ReqPerSec.Median, b.VsNginxPaired.Min, b.VsNginxPaired.Max, b.ReadErrors, b.Errors, 1-r.Settings.StreamTol) + budget(b, n)
		if b.VsNginx >= 1-r.Settings.StreamTol && b.Errors == 0 {
			pass("%s", msg)
		} else {
			fail("%s", msg)
		}
	}
	return v
}

// rerender reads an earlier results.json, recomputes what is derived from
// the cells (summaries, ratios, verdict) with this version of the code, and
// writes report.md and results.json to out.
func rerender(path, out string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != "dsbridge.proxybench/v1" {
		return nil, fmt.Errorf("%s: schema %q, want dsbridge.proxybench/v1", path, r.Schema)
	}
	for _, t := range r.Targets {
		r.order = append(r.order, t.Name)
	}
	for name := range r.StartErrors {
		r.order = append(r.order, name)
	}
	r.finish()
	return &r, r.write(out)
}

// write saves report.md and results.json in dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644)
}

// Markdown renders the report as the README's table.
func (r *report) Markdown() string {
	var b strings.Builder
	st := r.Settings
	fmt.Fprintf(&b, "### Proxy benchmark, %s\n\n", r.Date)
	pin := "no CPU pinning"
	if st.WrkCPUs != "" || st.ServerCPUs != "" {
		pin = fmt.Sprintf("taskset: wrk on CPUs %q, proxies and upstreams on %q", st.WrkCPUs, st.ServerCPUs)
	}
	fmt.Fprintf(&b, "wrk, %d connections, %d threads, %.0f s cells after a %.0f s warm-up, %d repeats (order rotated each repeat); "+
		"%d %s upstreams; %s. Machine: %d × %s, Linux %s; load average %.2f at start, %.2f at end; "+
		"CPU used by other processes during cells: median %.0f %%, max %.0f %% of the machine.\n\n",
		st.Connections, st.Threads, st.DurationS, st.WarmupS, st.Repeat, st.UpstreamCount, st.Upstreams, pin,
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Kernel, r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd,
		r.Machine.OtherCPUMed, r.Machine.OtherCPUMax)
	if r.Machine.TCPCC != "" || st.UpstreamCC != "" {
		cc := fmt.Sprintf("TCP congestion control: %s (the machine's default)", r.Machine.TCPCC)
		if st.UpstreamCC != "" {
			cc += fmt.Sprintf("; the upstreams' connections: %s (--upstream-cc)", st.UpstreamCC)
		}
		fmt.Fprintf(&b, "%s. TCP segments are counted machine-wide, both hops and ACKs.\n\n", cc)
	}
	if st.BridgeVersion != "" {
		fmt.Fprintf(&b, "Bridge binary: `%s`, default configuration unless said below.\n\n", st.BridgeVersion)
	}
	if len(st.BridgeArgs) > 0 || st.BridgeConfig != "" || len(st.BridgeEnv) > 0 {
		fmt.Fprintf(&b, "Bridge: `dsbridge serve` with arguments %q, config %q, environment %q.\n\n", st.BridgeArgs, st.BridgeConfig, st.BridgeEnv)
	}
	fmt.Fprintf(&b, "Figures are medians over the repeats; ± is half the min–max range, in %% of the median. "+
		"CPU is user+system time from /proc per 1000 requests (nginx: master and workers). "+
		"Errors are wrk's connect+read+write+timeout errors plus statuses ≥ 400.\n\n")
	label := map[string]string{}
	for _, t := range r.Targets {
		label[t.Name] = t.Label
	}
	for name, msg := range r.StartErrors {
		label[name] = name + " — did not start: " + msg
	}
	for _, bc := range r.Cases {
		if !bc.Stream {
			fmt.Fprintf(&b, "**Non-streamed `/api/chat`** (num_predict %d)\n\n", bc.Tokens)
			b.WriteString("| target | req/s | P50 ms | P99 ms | proxy CPU ms / 1000 req | upstreams CPU ms / 1000 | TCP segments / req | errors | × nginx | × direct |\n")
			b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		} else {
			fmt.Fprintf(&b, "**Streamed `/api/chat`, %d tokens** (one NDJSON line and flush per token)\n\n", bc.Tokens)
			b.WriteString("| target | streams/s | tokens/s | MB/s | P50 ms | P99 ms | proxy CPU ms / 1000 streams | upstreams CPU ms / 1000 | TCP segments / stream | errors (read) | × nginx | × direct |\n")
			b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		for _, name := range r.order {
			s := r.summary(name, bc.Name)
			if s == nil {
				if l, ok := label[name]; ok {
					fmt.Fprintf(&b, "| %s |\n", l)
				}
				continue
			}
			cpu := "–"
			if s.ProxyCPUPer1k.Median >= 0 {
				cpu = fmtStat(s.ProxyCPUPer1k, 0)
			}
			if !bc.Stream {
				fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %s | %.0f | %.1f | %d | %s | %s |\n",
					label[name], fmtStat(s.ReqPerSec, 0), s.P50ms.Median, s.P99ms.Median, cpu,
					s.UpCPUPer1k.Median, s.TCPSegsPerReq.Median, s.Errors, ratio(s.VsNginx), ratio(s.VsDirect))
			} else {
				fmt.Fprintf(&b, "| %s | %s | %s | %.1f | %.2f | %.2f | %s | %.0f | %.0f | %d (%d) | %s | %s |\n",
					label[name], fmtStat(s.ReqPerSec, 0), thousands(s.ReqPerSec.Median*float64(bc.Tokens), 0), s.MBPerSec.Median,
					s.P50ms.Median, s.P99ms.Median, cpu, s.UpCPUPer1k.Median, s.TCPSegsPerReq.Median, s.Errors, s.ReadErrors, ratio(s.VsNginx), ratio(s.VsDirect))
			}
		}
		b.WriteString("\n")
	}
	if s := r.summary("bridge", "chat"); s != nil && s.AllocsPerReq.Median > 0 {
		fmt.Fprintf(&b, "Bridge allocations per non-streamed request (go_memstats_mallocs_total): %.0f.\n\n", s.AllocsPerReq.Median)
	}
	var bad []string
	for _, p := range r.Probes {
		if !p.OK {
			bad = append(bad, fmt.Sprintf("%s %s: %s", p.Target, p.Case, p.Detail))
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(&b, "Malformed answers: %s.\n\n", strings.Join(bad, "; "))
	} else if len(r.Probes) > 0 {
		b.WriteString("Every target's answers were checked once per case before measuring (JSON shape, `done` only on the last line).\n\n")
	}
	b.WriteString(changesMarkdown(r.Changes))
	b.WriteString("**Verdict** (issue 3: non-streamed ≥ 0.75× nginx in the same run; streams at nginx's rate with no read errors):\n\n")
	for _, l := range r.Verdict.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	if len(r.Profiles) > 0 {
		b.WriteString("\nBridge profiles (a separate cell each, not part of the table):\n\n")
		for _, p := range r.Profiles {
			fmt.Fprintf(&b, "- %s\n", p.Summary)
		}
	}
	return b.String()
}

func fmtStat(s stat, prec int) string {
	return fmt.Sprintf("%s ±%.0f%%", thousands(s.Median, prec), s.SpreadPct)
}

func ratio(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// thousands formats v with a comma every three digits, as the issue writes
// its figures.
func thousands(v float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, v)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var out []byte
	for i, c := range []byte(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	res := string(out)
	if frac != "" {
		res += "." + frac
	}
	if neg {
		res = "-" + res
	}
	return res
}
