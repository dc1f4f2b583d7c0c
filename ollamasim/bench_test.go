package ollamasim_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchBody is a typical non-streamed chat request.
const benchBody = `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"Why is the sky blue?"}],"stream":false,"options":{"num_predict":32}}`

// hammerer sends non-streamed requests from conc keep-alive clients.
type hammerer struct {
	tb   testing.TB
	url  string
	conc int
	c    *http.Client
}

func newHammerer(tb testing.TB, url string, conc int) *hammerer {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	tb.Cleanup(tr.CloseIdleConnections)
	return &hammerer{tb: tb, url: url, conc: conc, c: &http.Client{Transport: tr}}
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run hammers for d and returns the number of 200 answers and the time.
func (h *hammerer) run(d time.Duration) (int64, time.Duration) {
	var n, bad atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range h.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := h.c.Post(h.url, "application/json", strings.NewReader(benchBody))
				if err != nil {
					bad.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					n.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		h.tb.Fatalf("%d failed requests to %s", bad.Load(), h.url)
	}
	return n.Load(), time.Since(start)
}

// BenchmarkSimVsBare measures, in one run, non-streamed requests per
// second of the simulator (instant profile) against a bare net/http handler
// that returns the same bytes with the same headers. The machine is shared
// (CI, other builds), so the two are measured in many short interleaved
// slices (ABBA order) and summed: a noisy second hurts both alike. It
// reports the ratio (the target: ≥ 0.5) overall and per block of
// slices, whose spread is the noise, and the ratio of requests per CPU
// second of this process, which other processes' load barely moves. Run it
// with -benchtime 1x.
func BenchmarkSimVsBare(b *testing.B) {
	sim := httptest.NewServer(newInstant(b))
	defer sim.Close()
	_, h, sample := post(b, sim.URL+"/api/chat", benchBody)
	ct := h.Get("Content-Type")
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(sample)
	}))
	defer bare.Close()
	const conc, blocks, slicesPerBlock = 8, 5, 8
	slice := 100 * time.Millisecond
	hs := newHammerer(b, sim.URL+"/api/chat", conc)
	hb := newHammerer(b, bare.URL, conc)
	b.ResetTimer()
	for range b.N {
		for range 3 { // warm both: connections, caches, the heap's size
			hs.run(slice)
			hb.run(slice)
		}
		var sN, bN int64
		var sT, bT, sCPU, bCPU time.Duration
		var ratios []float64
		for range blocks {
			var sn, bn int64
			var st, bt time.Duration
			for i := range slicesPerBlock {
				first, second := hs, hb
				if i%4 == 1 || i%4 == 2 { // ABBA
					first, second = hb, hs
				}
				c0 := cpuTime()
				n1, t1 := first.run(slice)
				c1 := cpuTime()
				n2, t2 := second.run(slice)
				c2 := cpuTime()
				if first == hs {
					sn, st, bn, bt = sn+n1, st+t1, bn+n2, bt+t2
					sCPU, bCPU = sCPU+c1-c0, bCPU+c2-c1
				} else {
					bn, bt, sn, st = bn+n1, bt+t1, sn+n2, st+t2
					bCPU, sCPU = bCPU+c1-c0, sCPU+c2-c1
				}
			}
			ratios = append(ratios, (float64(sn)/st.Seconds())/(float64(bn)/bt.Seconds()))
			sN, sT, bN, bT = sN+sn, sT+st, bN+bn, bT+bt
		}
		simRate, bareRate := float64(sN)/sT.Seconds(), float64(bN)/bT.Seconds()
		sort.Float64s(ratios)
		b.ReportMetric(simRate, "sim-req/s")
		b.ReportMetric(bareRate, "bare-req/s")
		b.ReportMetric(simRate/bareRate, "ratio")
		b.ReportMetric(ratios[0], "ratio-min")
		b.ReportMetric(ratios[len(ratios)-1], "ratio-max")
		// Requests per CPU-second of this process (servers and clients
		// alike): what the ratio would be on an idle machine, since other
		// processes' load does not count.
		cpuRatio := (float64(sN) / sCPU.Seconds()) / (float64(bN) / bCPU.Seconds())
		b.ReportMetric(cpuRatio, "cpu-ratio")
		b.Logf("body %d bytes, %d clients; per-block ratios %s", len(sample), conc, fmtRatios(ratios))
	}
}

func fmtRatios(r []float64) string {
	var b bytes.Buffer
	for _, v := range r {
		fmt.Fprintf(&b, "%.2f ", v)
	}
	return b.String()
}

// BenchmarkChatNonStreamed is the simulator's hot path alone, in-process
// without a network (for -cpuprofile).
func BenchmarkChatNonStreamed(b *testing.B) {
	s := newInstant(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(benchBody))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// BenchmarkChatStreamed is a 128-token NDJSON stream on the instant
// profile, in-process: the per-token framing cost a streaming proxy
// benchmark would otherwise measure.
func BenchmarkChatStreamed(b *testing.B) {
	s := newInstant(b)
	const body = `{"model":"llama3.2:3b","messages":[{"role":"user","content":"Why is the sky blue?"}],"options":{"num_predict":128}}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(body))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}
