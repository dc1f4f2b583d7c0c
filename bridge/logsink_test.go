package bridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/bridge"
	"github.com/dsbridge/dsbridge/internal/testproc"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeES stands in for Elasticsearch, which cannot be installed where these
// tests run: an httptest server that speaks just the _bulk API (NDJSON
// action/document pairs in, a per-item result out). delay makes it slow;
// stuck makes it never answer until the test ends.
type fakeES struct {
	*httptest.Server
	delay time.Duration
	stuck bool

	mu   sync.Mutex
	docs map[string][]map[string]any // by index
	bulk int                         // _bulk requests received
}

func newFakeES(t *testing.T, delay time.Duration, stuck bool) *fakeES {
	f := &fakeES{delay: delay, stuck: stuck, docs: map[string][]map[string]any{}}
	release := make(chan struct{})
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve(release)))
	t.Cleanup(f.Close)
	t.Cleanup(func() { close(release) }) // runs first: frees stuck handlers
	return f
}

func (f *fakeES) serve(release <-chan struct{}) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.bulk++
		f.mu.Unlock()
		if f.stuck {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
		var items []string
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var action map[string]struct {
				Index string `json:"_index"`
			}
			if err := json.Unmarshal(sc.Bytes(), &action); err != nil || !sc.Scan() {
				http.Error(w, "bad bulk body", http.StatusBadRequest)
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				http.Error(w, "bad document", http.StatusBadRequest)
				return
			}
			idx := action["index"].Index
			f.mu.Lock()
			f.docs[idx] = append(f.docs[idx], doc)
			f.mu.Unlock()
			items = append(items, fmt.Sprintf(`{"index":{"_index":%q,"_id":"x","status":201,"result":"created"}}`, idx))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"took":1,"errors":false,"items":[%s]}`, strings.Join(items, ","))
	}
}

func (f *fakeES) indexed(idx string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.docs[idx]...)
}

// TestLogSinkDailyIndexECS: lines reach the day's index with the ECS fields
// the index template maps, and stderr still gets every line.
func TestLogSinkDailyIndexECS(t *testing.T) {
	es := newFakeES(t, 0, false)
	sink, err := bridge.NewLogSink(bridge.LogElasticsearchConfig{URL: es.URL, IndexPrefix: "dsbridge-logs", Buffer: 100,
		FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	logger, err := bridge.NewLogger(multi{&stderr, sink}, "info", "br-1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		logger.Info("hello", "n", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	idx := "dsbridge-logs-" + time.Now().UTC().Format("2006.01.02")
	docs := es.indexed(idx)
	if len(docs) != 3 {
		t.Fatalf("index %s has %d documents, want 3 (all: %v)", idx, len(docs), es.docs)
	}
	for _, k := range []string{"@timestamp", "message", "log.level", "service.name", "service.instance.id"} {
		if _, ok := docs[0][k]; !ok {
			t.Errorf("document lacks %q: %v", k, docs[0])
		}
	}
	if docs[0]["service.instance.id"] != "br-1" || docs[0]["log.level"] != "info" || docs[0]["message"] != "hello" {
		t.Errorf("document = %v", docs[0])
	}
	if n := strings.Count(stderr.String(), "\n"); n != 3 {
		t.Errorf("stderr got %d lines, want 3", n)
	}
	// Collectors: dropped, then sent.
	if d, s := testutil.ToFloat64(sink.Collectors()[0]), testutil.ToFloat64(sink.Collectors()[1]); d != 0 || s != 3 {
		t.Errorf("dropped %v, sent %v; want 0 and 3", d, s)
	}
}

// multi is io.MultiWriter without the import, one Write per line.
type multi []interface{ Write([]byte) (int, error) }

func (m multi) Write(p []byte) (int, error) {
	for _, w := range m {
		if _, err := w.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// timedChats sends n non-streamed chats one after another and returns their
// latencies, sorted.
func timedChats(t *testing.T, url string, n int) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for range n {
		start := time.Now()
		code, body, err := post(t, http.DefaultClient, url+"/api/chat", chatBody(false, 3))
		if err != nil || code != 200 {
			t.Fatalf("chat: %d %v %.200s", code, err, body)
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}

func p99(ds []time.Duration) time.Duration { return ds[(len(ds)*99+99)/100-1] }

func sinkYAML(sims []string, esURL string, buffer int) string {
	return upstreamsYAML(sims) + fmt.Sprintf("log:\n  access: all\n  elasticsearch: {url: %s, buffer: %d, flush_interval: 100ms}\n", esURL, buffer)
}

// TestLogSinkDeadEndpoint: nothing listens where Elasticsearch should be.
// The bridge starts, answers at full speed, counts the lines it could not
// ship, and stays up.
func TestLogSinkDeadEndpoint(t *testing.T) {
	sim := startSim(t)
	br, _ := startBridge(t, sinkYAML([]string{sim.URL}, "http://"+testproc.DeadAddr(t), 20))
	// Let the first _bulk fail, so the shipper is in its back-off while
	// the timed requests log.
	timedChats(t, br.URL, 3)
	time.Sleep(300 * time.Millisecond)
	ds := timedChats(t, br.URL, 50)
	t.Logf("dead Elasticsearch: 50 chats, p50 %v, p99 %v", ds[25], p99(ds))
	if p99(ds) > 100*time.Millisecond {
		t.Errorf("p99 %v with a dead log sink, want < 100ms", p99(ds))
	}
	testproc.Eventually(t, 2*time.Second, "dropped lines counted", func() bool {
		return metricValue(t, br.URL, "bridge_log_sink_dropped_total") >= 50-20
	})
	if v := metricValue(t, br.URL, "bridge_log_sink_sent_total"); v != 0 {
		t.Errorf("sent_total = %v to a dead endpoint", v)
	}
	if resp, err := http.Get(br.URL + "/ready"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("bridge not ready after drops: %v", err)
	}
}

// TestLogSinkSlowEndpoint: Elasticsearch takes 3 s per _bulk. Request
// latency does not move; the buffer bound turns the excess into counted
// drops instead of memory.
func TestLogSinkSlowEndpoint(t *testing.T) {
	es := newFakeES(t, 3*time.Second, false)
	sim := startSim(t)
	const buffer = 20
	br, _ := startBridge(t, sinkYAML([]string{sim.URL}, es.URL, buffer))
	// Get a _bulk in flight, so the shipper is busy for the next 3 s.
	timedChats(t, br.URL, 3)
	testproc.Eventually(t, 2*time.Second, "a _bulk in flight", func() bool { es.mu.Lock(); defer es.mu.Unlock(); return es.bulk > 0 })
	before := metricValue(t, br.URL, "bridge_log_sink_dropped_total")
	start := time.Now()
	ds := timedChats(t, br.URL, 50)
	took := time.Since(start)
	dropped := metricValue(t, br.URL, "bridge_log_sink_dropped_total") - before
	t.Logf("slow Elasticsearch (3 s/_bulk): 50 chats in %v, p50 %v, p99 %v; %v lines dropped (buffer %d)", took, ds[25], p99(ds), dropped, buffer)
	if p99(ds) > 100*time.Millisecond {
		t.Errorf("p99 %v with a slow log sink, want < 100ms", p99(ds))
	}
	if took < 3*time.Second && dropped < 50-buffer {
		t.Errorf("dropped %v of 50 access lines with a busy shipper and buffer %d, want >= %d", dropped, buffer, 50-buffer)
	}
	// What was buffered still arrives once Elasticsearch answers. Each
	// _bulk takes 3 s and a failed one backs off up to 8 s: under CI's
	// parallel packages 15 s proved too tight (it flaked there), 30 s is
	// still a bound a stuck shipper cannot meet.
	testproc.Eventually(t, 30*time.Second, "buffered lines shipped", func() bool {
		return metricValue(t, br.URL, "bridge_log_sink_sent_total") >= buffer
	})
	// The bridge's own access lines, in the day's index.
	access := 0
	for _, d := range es.indexed("dsbridge-logs-" + time.Now().UTC().Format("2006.01.02")) {
		if d["url.path"] == "/api/chat" && d["http.request.id"] != nil && d["service.name"] == "dsbridge" {
			access++
		}
	}
	if access == 0 {
		t.Errorf("no access line for /api/chat reached the daily index")
	}
}

// TestLogSinkShutdownStuckEndpoint: Elasticsearch accepts the connection
// and never answers. SIGTERM still ends the bridge within the sink's 5 s
// flush bound.
func TestLogSinkShutdownStuckEndpoint(t *testing.T) {
	es := newFakeES(t, 0, true)
	sim := startSim(t)
	br, _ := startBridge(t, sinkYAML([]string{sim.URL}, es.URL, 100))
	timedChats(t, br.URL, 10)
	testproc.Eventually(t, 2*time.Second, "a _bulk in flight", func() bool { es.mu.Lock(); defer es.mu.Unlock(); return es.bulk > 0 })
	start := time.Now()
	if err := br.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := br.Wait(10 * time.Second)
	took := time.Since(start)
	t.Logf("shutdown with a stuck Elasticsearch: exit %d after %v", code, took)
	if err != nil {
		t.Fatalf("%v\n%s", err, br.Output())
	}
	if code != 0 || took > 7*time.Second {
		t.Errorf("exit %d after %v, want 0 within ~5 s\n%s", code, took, br.Output())
	}
	if !strings.Contains(br.Output(), "log sink") {
		t.Errorf("no word about the lines dropped at shutdown:\n%s", br.Output())
	}
}

// TestLogSinkWriteAfterClose: a line logged after the sink closed (a late
// goroutine at shutdown) is dropped and counted, never a panic or a block.
func TestLogSinkWriteAfterClose(t *testing.T) {
	es := newFakeES(t, 0, false)
	sink, err := bridge.NewLogSink(bridge.LogElasticsearchConfig{URL: es.URL, IndexPrefix: "p", Buffer: 1,
		FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := sink.Write([]byte("{}\n")); n != 3 || err != nil {
		t.Fatalf("Write after Close = %d, %v", n, err)
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := testutil.ToFloat64(sink.Collectors()[0]); d != 1 {
		t.Errorf("dropped %v, want 1", d)
	}
}
