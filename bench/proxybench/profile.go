package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profileResult says where the bridge's CPU profile went and how it was taken.
type profileResult struct {
	Case      string   `json:"case"`
	Method    string   `json:"method"` // "pprof" or "perf"
	Files     []string `json:"files"`
	ReqPerSec float64  `json:"req_per_s"` // during the capture (profiling costs a little)
	Summary   string   `json:"summary"`
}

// captureProfiles runs, for each of cases, one more cell against the
// bridge, outside the measured ones (a profiler costs throughput), and
// captures a CPU profile and an allocation profile while it runs. When the
// bridge has a --pprof flag, a second bridge is started with it for the
// captures, so the measured bridge runs exactly as configured; the profile is
// Go's view (goroutines, allocations, exact symbols). Otherwise it falls back
// to `perf record` of the measured bridge, which needs the symbols
// dsbridgeBinary keeps.
func (e *env) captureProfiles(ctx context.Context, w *wrkRunner, measured *target, cases []benchCase, log io.Writer) []*profileResult {
	if err := os.MkdirAll(e.cfg.out, 0o755); err != nil {
		return []*profileResult{{Summary: "no profile: " + err.Error()}}
	}
	t := measured
	hasPprof := httpStatus(ctx, t.URL+e.cfg.pprofPath+"/") == http.StatusOK
	if !hasPprof && e.bridgeHasFlag(ctx, "-pprof") {
		pt, err := e.startBridge(ctx, "bridge-pprof", "dsbridge serve --pprof", e.dsbridge, []string{"--pprof"})
		if pt != nil && pt.proc != nil {
			defer pt.proc.stop()
		}
		if err != nil {
			fmt.Fprintf(log, "proxybench: bridge with --pprof did not start, using perf: %v\n", err)
		} else {
			t, hasPprof = pt, true
		}
	}
	var prs []*profileResult
	for _, c := range cases {
		if t != measured {
			// Warm its connection pools as the measured cells were.
			_, _ = w.run(ctx, t.URL, c, 2*time.Second)
		}
		prs = append(prs, e.captureProfile(ctx, w, t, hasPprof, c, log))
	}
	return prs
}

// captureProfile profiles bridge t for --profile-seconds under case c.
func (e *env) captureProfile(ctx context.Context, w *wrkRunner, t *target, hasPprof bool, c benchCase, log io.Writer) *profileResult {
	out := e.cfg.out
	secs := e.cfg.profileSeconds
	type wrkOut struct {
		res wrkResult
		err error
	}
	done := make(chan wrkOut, 1)
	go func() {
		res, err := w.run(ctx, t.URL, c, time.Duration(secs+2)*time.Second)
		done <- wrkOut{res, err}
	}()
	// Let wrk's connections open before the window starts.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	pr := &profileResult{Case: c.Name}
	var errs []string
	pprofBase := t.URL + e.cfg.pprofPath
	if hasPprof {
		pr.Method = "pprof"
		cpuFile, allocFile := filepath.Join(out, "bridge-"+c.Name+"-cpu.pprof"), filepath.Join(out, "bridge-"+c.Name+"-allocs.pprof")
		allocDone := make(chan error, 1)
		// The allocation delta runs alongside the CPU profile: both cover
		// the same seconds of the same load.
		go func() { allocDone <- fetch(ctx, pprofBase+"/allocs?seconds="+strconv.Itoa(secs), allocFile) }()
		if err := fetch(ctx, pprofBase+"/profile?seconds="+strconv.Itoa(secs), cpuFile); err != nil {
			errs = append(errs, "cpu: "+err.Error())
		} else {
			pr.Files = append(pr.Files, cpuFile)
		}
		if err := <-allocDone; err != nil {
			errs = append(errs, "allocs: "+err.Error())
		} else {
			pr.Files = append(pr.Files, allocFile)
		}
	} else {
		pr.Method = "perf"
		perfFile := filepath.Join(out, "bridge-"+c.Name+"-perf.data")
		cmd := exec.CommandContext(ctx, "perf", "record", "-F", "997", "-g", "-o", perfFile,
			"-p", strconv.Itoa(t.proc.pgid()), "--", "sleep", strconv.Itoa(secs))
		if b, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Sprintf("perf record: %v: %s", err, b))
		} else {
			pr.Files = append(pr.Files, perfFile)
		}
	}
	wo := <-done
	if wo.err == nil && wo.res.DurationUS > 0 {
		pr.ReqPerSec = float64(wo.res.Requests) / (float64(wo.res.DurationUS) / 1e6)
	}
	// Text views next to the raw files, so the findings can be read without
	// tools: top functions by flat and cumulative CPU, and by allocations.
	for _, f := range pr.Files {
		var views [][]string
		switch filepath.Ext(f) {
		case ".pprof":
			if strings.HasSuffix(f, "-allocs.pprof") {
				views = [][]string{
					{"go", "tool", "pprof", "-top", "-nodecount=40", "-sample_index=alloc_objects", f},
					{"go", "tool", "pprof", "-top", "-nodecount=40", "-cum", "-sample_index=alloc_objects", f},
				}
			} else {
				views = [][]string{
					{"go", "tool", "pprof", "-top", "-nodecount=40", f},
					{"go", "tool", "pprof", "-top", "-nodecount=40", "-cum", f},
				}
			}
		case ".data":
			views = [][]string{{"perf", "report", "-i", f, "--stdio", "--no-children", "--percent-limit", "0.5", "--sort", "symbol", "-g", "none"}}
		}
		for i, v := range views {
			b, err := exec.CommandContext(ctx, v[0], v[1:]...).CombinedOutput()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", v[:3], err))
				continue
			}
			name := f + []string{".top.txt", ".cum.txt"}[i]
			if err := os.WriteFile(name, b, 0o644); err == nil {
				pr.Files = append(pr.Files, name)
			}
		}
	}
	pr.Summary = fmt.Sprintf("%s: %s capture of %d s (%.0f req/s while profiling); files: %v",
		c.Name, pr.Method, secs, pr.ReqPerSec, pr.Files)
	if len(errs) > 0 {
		pr.Summary += fmt.Sprintf("; errors: %v", errs)
	}
	fmt.Fprintf(log, "proxybench: %s\n", pr.Summary)
	return pr
}

// bridgeHasFlag reports whether `dsbridge serve --help` lists flag, so the
// harness works with bridges from before and after a flag was added.
func (e *env) bridgeHasFlag(ctx context.Context, flag string) bool {
	out, _ := exec.CommandContext(ctx, e.dsbridge, "serve", "--help").CombinedOutput()
	return bytes.Contains(out, []byte(flag+" ")) || bytes.Contains(out, []byte(flag+"\n"))
}

func httpStatus(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fetch saves GET url to file.
func fetch(ctx context.Context, url, file string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("%s: status %d: %s", url, resp.StatusCode, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
