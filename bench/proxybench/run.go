package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cell is one measured wrk run of one case against one target.
type cell struct {
	Target string    `json:"target"`
	Case   string    `json:"case"`
	Repeat int       `json:"repeat"`
	Wrk    wrkResult `json:"wrk"`

	ReqPerSec     float64 `json:"req_per_s"`
	MBPerSec      float64 `json:"mb_per_s"`       // response bytes wrk read, 10^6 bytes/s
	BytesPerResp  float64 `json:"bytes_per_resp"` // headers included
	Errors        int64   `json:"errors"`         // connect+read+write+timeout+status≥400
	ProxyCPUms    float64 `json:"proxy_cpu_ms"`
	ProxyCPUPer1k float64 `json:"proxy_cpu_ms_per_1000"` // -1 for direct
	UpCPUPer1k    float64 `json:"upstream_cpu_ms_per_1000"`
	// UpCPUShare is each upstream's share of the upstreams' CPU: how evenly
	// the target spread the load (1/3 each is even).
	UpCPUShare     []float64 `json:"upstream_cpu_share"`
	WrkCPUPer1k    float64   `json:"wrk_cpu_ms_per_1000"`
	MachineBusyPct float64   `json:"machine_busy_pct"` // of all cores, during the cell
	IRQCPUPct      float64   `json:"irq_cpu_pct"`      // hard+soft interrupts (loopback TCP), of all cores
	OtherCPUPct    float64   `json:"other_cpu_pct"`    // busy minus interrupts, wrk, proxy and upstreams: other users of the machine
	LoadAvg1       float64   `json:"loadavg1_after"`
	AllocsPerReq   float64   `json:"allocs_per_req,omitempty"` // bridge only, from go_memstats_mallocs_total when exposed
	TCPSegsPerReq  float64   `json:"tcp_segments_per_req"`     // machine-wide TCP segments sent (both hops, ACKs included) per request
}

// run is the benchmark: start everything, measure every cell, report.
func run(ctx context.Context, cfg config, log io.Writer) (*report, error) {
	maxTime := cfg.maxTime
	if maxTime == 0 {
		maxTime = cfg.planned()*3/2 + 2*time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, maxTime)
	defer cancel()

	// Look the tools up first: a missing wrk should fail in a second, not
	// after the upstreams started.
	var err error
	if cfg.wrkPath, err = lookTool(cfg.wrkPath); err != nil {
		return nil, err
	}
	if contains(cfg.targets, "nginx") {
		if cfg.nginxPath, err = lookTool(cfg.nginxPath); err != nil {
			return nil, err
		}
	}
	if contains(cfg.targets, "haproxy") {
		if cfg.haproxyPath, err = lookTool(cfg.haproxyPath); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "proxybench-")
	if err != nil {
		return nil, err
	}
	if cfg.keep {
		fmt.Fprintf(log, "proxybench: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, dir: dir, self: self}
	defer func() {
		for _, p := range e.upstreams {
			p.stop()
		}
	}()
	if contains(cfg.targets, "bridge") || contains(cfg.targets, "bridge-nethttp") || cfg.upstreamKind == "sim" {
		if e.dsbridge, err = dsbridgeBinary(ctx, cfg, dir, log); err != nil {
			return nil, err
		}
	}
	rep := newReport(cfg)
	if e.dsbridge != "" {
		v, _ := exec.CommandContext(ctx, e.dsbridge, "version").Output()
		rep.Settings.BridgeVersion = strings.TrimSpace(string(v))
	}
	rep.Machine.LoadAvgStart = loadAvg()
	fmt.Fprintf(log, "proxybench: %d targets x %d cases x %d repeats, about %v; load average %.2f\n",
		len(cfg.targets), len(cfg.cases()), cfg.repeat, cfg.planned().Round(time.Second), rep.Machine.LoadAvgStart)

	if err := e.startUpstreams(ctx); err != nil {
		return nil, err
	}
	var targets []*target
	defer func() {
		for _, t := range targets {
			if t.proc != nil {
				t.proc.stop()
			}
		}
	}()
	for _, name := range cfg.targets {
		t, err := e.startTarget(ctx, name)
		if t != nil && t.proc != nil && err != nil {
			t.proc.stop()
		}
		if err != nil {
			// A target that does not start is a row that says so, not a
			// broken run: the others are still worth comparing.
			fmt.Fprintf(log, "proxybench: %s did not start: %v\n", name, err)
			rep.StartErrors[name] = firstLine(err.Error())
			continue
		}
		targets = append(targets, t)
		rep.Targets = append(rep.Targets, *t)
	}
	if len(targets) == 0 {
		return nil, errors.New("no target started")
	}
	for _, t := range targets {
		for _, c := range cfg.cases() {
			rep.Probes = append(rep.Probes, probe(ctx, t, c))
		}
	}

	w := &wrkRunner{path: cfg.wrkPath, dir: dir, threads: cfg.threads, connections: cfg.connections, cpus: cfg.wrkCPUs}
	for r := range cfg.repeat {
		for _, c := range cfg.cases() {
			for _, t := range cellOrder(targets, r) {
				cl, err := e.measure(ctx, w, t, c, r)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", t.Name, c.Name, err)
				}
				fmt.Fprintf(log, "  %-8s %-10s #%d  %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu/1k %6.1f ms  err %d  other %4.1f%%\n",
					t.Name, c.Name, r+1, cl.ReqPerSec, cl.Wrk.P50US/1000, cl.Wrk.P99US/1000, cl.ProxyCPUPer1k, cl.Errors, cl.OtherCPUPct)
				rep.Cells = append(rep.Cells, cl)
			}
		}
	}
	if cfg.profile {
		for _, t := range targets {
			if t.Name == "bridge" {
				// Every case: the request path, and the relay loop at
				// each stream length (scripts/pgo.sh merges them into the
				// build's profile).
				rep.Profiles = e.captureProfiles(ctx, w, t, cfg.cases(), log)
			}
		}
	}
	rep.Machine.LoadAvgEnd = loadAvg()
	rep.finish()
	if err := rep.write(cfg.out); err != nil {
		return nil, err
	}
	return rep, nil
}

// cellOrder is the order of the targets' cells in repeat r. It rotates
// each repeat so that no target always runs first (cold) or last (after the
// machine warmed up), and keeps the bridge right next to nginx, before it
// in even repeats and after it in odd ones (ABBA): the verdict's ratio is
// then taken between cells seconds apart, which on a shared machine share
// more of the neighbours' load than cells a minute apart.
func cellOrder(targets []*target, r int) []*target {
	var rest []*target
	var nginx, bridge *target
	for _, t := range targets {
		switch t.Name {
		case "nginx":
			nginx = t
		case "bridge":
			bridge = t
		default:
			rest = append(rest, t)
		}
	}
	pair := []*target{nginx, bridge}
	if r%2 == 1 {
		pair = []*target{bridge, nginx}
	}
	var units [][]*target // the pair moves as one unit in the rotation
	for _, t := range rest {
		units = append(units, []*target{t})
	}
	if nginx != nil && bridge != nil {
		units = append(units, pair)
	} else {
		for _, t := range []*target{nginx, bridge} {
			if t != nil {
				units = append(units, []*target{t})
			}
		}
	}
	var order []*target
	for i := range units {
		order = append(order, units[(i+r)%len(units)]...)
	}
	return order
}

// measure runs one cell: a warm-up, then the measured wrk run with CPU read
// from /proc before and after.
func (e *env) measure(ctx context.Context, w *wrkRunner, t *target, c benchCase, r int) (cell, error) {
	urls := t.URLs
	if len(urls) == 0 {
		urls = []string{t.URL}
	}
	if e.cfg.warmup >= time.Second {
		if _, err := w.runAll(ctx, urls, c, e.cfg.warmup); err != nil {
			return cell{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	each0 := make([]time.Duration, len(e.upstreams))
	each1 := make([]time.Duration, len(e.upstreams))
	each := each0
	snap := func() (proxy, ups time.Duration, sys sysCPU, segs int64, err error) {
		if t.proc != nil {
			if proxy, err = groupCPU(t.proc.pgid()); err != nil {
				return
			}
		}
		for i, u := range e.upstreams {
			if each[i], err = groupCPU(u.pgid()); err != nil {
				return
			}
			ups += each[i]
		}
		if sys, err = readSysCPU(); err != nil {
			return
		}
		segs, err = readTCPOutSegs()
		return
	}
	mallocs0 := e.mallocs(ctx, t)
	p0, u0, s0, segs0, err := snap()
	if err != nil {
		return cell{}, err
	}
	res, err := w.runAll(ctx, urls, c, e.cfg.duration)
	if err != nil {
		return cell{}, err
	}
	each = each1
	p1, u1, s1, segs1, err := snap()
	if err != nil {
		return cell{}, err
	}
	mallocs1 := e.mallocs(ctx, t)

	cl := cell{Target: t.Name, Case: c.Name, Repeat: r + 1, Wrk: res, LoadAvg1: loadAvg()}
	secs := float64(res.DurationUS) / 1e6
	n := float64(res.Requests)
	if secs > 0 {
		cl.ReqPerSec = n / secs
		cl.MBPerSec = float64(res.Bytes) / secs / 1e6
	}
	cl.Errors = res.Connect + res.Read + res.Write + res.Timeout + res.Status
	per1k := func(d time.Duration) float64 {
		if n == 0 {
			return 0
		}
		return float64(d) / float64(time.Millisecond) / n * 1000
	}
	if n > 0 {
		cl.BytesPerResp = float64(res.Bytes) / n
		cl.TCPSegsPerReq = float64(segs1-segs0) / n
	}
	cl.ProxyCPUPer1k = -1
	if t.proc != nil {
		cl.ProxyCPUms = float64(p1-p0) / float64(time.Millisecond)
		cl.ProxyCPUPer1k = per1k(p1 - p0)
	}
	cl.UpCPUPer1k = per1k(u1 - u0)
	if u1 > u0 {
		for i := range each0 {
			cl.UpCPUShare = append(cl.UpCPUShare, math.Round(1000*float64(each1[i]-each0[i])/float64(u1-u0))/1000)
		}
	}
	cl.WrkCPUPer1k = per1k(res.cpu)
	if total := s1.total - s0.total; total > 0 {
		busy := s1.busy - s0.busy
		ours := (p1 - p0) + (u1 - u0) + res.cpu
		cl.MachineBusyPct = 100 * float64(busy) / float64(total)
		irq := s1.irq - s0.irq
		cl.IRQCPUPct = 100 * float64(irq) / float64(total)
		cl.OtherCPUPct = max(0, 100*float64(busy-irq-ours)/float64(total))
	}
	if mallocs0 >= 0 && mallocs1 > mallocs0 && n > 0 {
		cl.AllocsPerReq = (mallocs1 - mallocs0) / n
	}
	return cl, nil
}

// mallocs reads go_memstats_mallocs_total from the bridge's /metrics, or -1
// when it is not the bridge or the bridge does not expose Go's collector.
func (e *env) mallocs(ctx context.Context, t *target) float64 {
	if t.Name != "bridge" && t.Name != "bridge-nethttp" {
		return -1
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// probeResult records one checked request per target and case, so the table
// is known to compare answers that are whole and alike.
type probeResult struct {
	Target string `json:"target"`
	Case   string `json:"case"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// probe sends one request of case c through t and checks the answer's shape:
// a non-streamed answer is one JSON object with done=true; a stream is NDJSON
// lines of which only the last has done=true.
func probe(ctx context.Context, t *target, c benchCase) probeResult {
	pr := probeResult{Target: t.Name, Case: c.Name}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/api/chat", strings.NewReader(c.body()))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pr.Detail = err.Error()
		return pr
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		pr.Detail = "reading body: " + err.Error()
		return pr
	}
	if resp.StatusCode != http.StatusOK {
		pr.Detail = fmt.Sprintf("status %d: %.200s", resp.StatusCode, body)
		return pr
	}
	type line struct {
		Done    bool `json:"done"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	lines := bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n"))
	if !c.Stream && len(lines) != 1 {
		pr.Detail = fmt.Sprintf("non-streamed answer has %d lines", len(lines))
		return pr
	}
	for i, b := range lines {
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			pr.Detail = fmt.Sprintf("line %d: %v", i+1, err)
			return pr
		}
		if l.Done != (i == len(lines)-1) {
			pr.Detail = fmt.Sprintf("line %d of %d has done=%t", i+1, len(lines), l.Done)
			return pr
		}
	}
	pr.OK = true
	pr.Detail = fmt.Sprintf("%d lines, %d bytes, %s", len(lines), len(body), resp.Header.Get("Content-Type"))
	return pr
}

// dsbridgeBinary returns --dsbridge, or builds ./cmd/dsbridge from the
// checkout into dir. Building here rather than trusting bin/dsbridge means the
// table always measures the code in the working tree. No -s -w: perf needs
// the symbols when the bridge has no pprof endpoint.
func dsbridgeBinary(ctx context.Context, cfg config, dir string, log io.Writer) (string, error) {
	if cfg.dsbridge != "" {
		return filepath.Abs(cfg.dsbridge)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("no --dsbridge and %w", err)
	}
	bin := filepath.Join(dir, "dsbridge")
	fmt.Fprintf(log, "proxybench: building %s/cmd/dsbridge\n", root)
	// Stamp the version as the Makefile does, so the report says which
	// bridge it measured.
	desc, _ := exec.CommandContext(ctx, "git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	ldflags := "-X main.version=" + strings.TrimSpace(string(desc))
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/dsbridge")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/dsbridge: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// lookTool resolves a tool's path, with the Debian package to install.
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (Debian: apt-get install wrk nginx-light haproxy): %w", name, err)
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// cpuModel is the machine's CPU name, for the report's noise section.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}
