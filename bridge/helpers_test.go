package bridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// startSim runs a real `dsbridge sim` with no modelled delay unless args
// say otherwise, serving the model "tiny".
func startSim(t *testing.T, args ...string) *testproc.Proc {
	t.Helper()
	base := []string{"--profile", "instant", "--models", "tiny", "--parallel", "64"}
	return testproc.Start(t, "sim", "/", append(base, args...)...)
}

// startBridge runs a real `dsbridge serve` with the YAML config text (the
// upstreams listed in it) and waits until /ready.
func startBridge(t *testing.T, yaml string, args ...string) (*testproc.Proc, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return testproc.Start(t, "serve", "/ready", append([]string{"--config", path}, args...)...), path
}

// upstreamsYAML lists sims as upstreams, with extra per-upstream keys.
func upstreamsYAML(urls []string, extra ...string) string {
	var b strings.Builder
	b.WriteString("upstreams:\n")
	for i, u := range urls {
		fmt.Fprintf(&b, "  - url: %s\n", u)
		if i < len(extra) && extra[i] != "" {
			fmt.Fprintf(&b, "    %s\n", extra[i])
		}
	}
	return b.String()
}

// setFaults switches a simulator's faults at run time.
func setFaults(t *testing.T, sim *testproc.Proc, faults string) {
	t.Helper()
	resp, err := http.Post(sim.URL+"/sim/faults", "application/json", strings.NewReader(`{"faults":[`+faults+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set faults: %s: %s", resp.Status, b)
	}
}

// chatBody is a small non-streamed (or streamed) /api/chat request.
func chatBody(stream bool, tokens int) string {
	return fmt.Sprintf(`{"model":"tiny","stream":%v,"messages":[{"role":"user","content":"hi"}],"options":{"num_predict":%d}}`, stream, tokens)
}

// post sends body and returns status and the whole response body.
func post(t *testing.T, c *http.Client, url, body string) (int, string, error) {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metricValue sums a Prometheus series' samples whose labels contain all of
// match (e.g. `outcome="failure"`), from a /metrics page.
func metricValue(t *testing.T, baseURL, name string, match ...string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ok := true
		for _, s := range match {
			if !strings.Contains(m[1], s) {
				ok = false
			}
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}

// readLines reads an NDJSON or SSE body line by line (non-empty lines).
func readLines(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// loadResult counts a closed-loop load run.
type loadResult struct {
	ok, failed int
	errs       []string
	maxLatency time.Duration
}

// runLoad runs workers sending non-streamed chats until ctx ends (bounded
// by the test's own deadline); every non-200 or transport error is a
// failure.
func runLoad(ctx context.Context, url string, workers int) *loadResult {
	type one struct {
		err string
		d   time.Duration
	}
	ch := make(chan one, 1024)
	done := make(chan struct{})
	for i := 0; i < workers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			c := &http.Client{Timeout: 30 * time.Second}
			for ctx.Err() == nil {
				start := time.Now()
				resp, err := c.Post(url+"/api/chat", "application/json", strings.NewReader(chatBody(false, 4)))
				o := one{d: time.Since(start)}
				if err != nil {
					o.err = err.Error()
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"done":true`)) {
						o.err = fmt.Sprintf("%d %s", resp.StatusCode, b)
					}
				}
				ch <- o
			}
		}()
	}
	res := &loadResult{}
	for finished := 0; finished < workers; {
		select {
		case o := <-ch:
			res.add(o.err, o.d)
		case <-done:
			finished++
		}
	}
	for {
		select {
		case o := <-ch:
			res.add(o.err, o.d)
		default:
			return res
		}
	}
}

func (r *loadResult) add(err string, d time.Duration) {
	if err != "" {
		r.failed++
		if len(r.errs) < 5 {
			r.errs = append(r.errs, err)
		}
	} else {
		r.ok++
	}
	if d > r.maxLatency {
		r.maxLatency = d
	}
}

// upstreamStatus is GET /admin/upstreams.
type upstreamStatus struct {
	Upstreams []struct {
		URL       string `json:"url"`
		Healthy   bool   `json:"healthy"`
		Available bool   `json:"available"`
		Backup    bool   `json:"backup"`
	} `json:"upstreams"`
}

func adminUpstreams(t *testing.T, bridgeURL string) upstreamStatus {
	t.Helper()
	resp, err := http.Get(bridgeURL + "/admin/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s upstreamStatus
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
