package ollamasim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// TestConcurrentStress runs streams on two models while faults change,
// models load and expire and metrics and /api/ps are read: for the race
// detector (go test -race), and to see every request answered.
func TestConcurrentStress(t *testing.T) {
	prof := ollamasim.InstantProfile()
	prof.LoadTime = ollamasim.Duration(20 * time.Millisecond)
	prof.TokensPerSecond = 2000
	ka := 30 * time.Millisecond
	s, err := ollamasim.New(ollamasim.Config{Parallel: 2, MaxQueue: 4, MaxLoadedModels: 1, KeepAlive: &ka,
		Profiles: ollamasim.Profiles{Default: prof}}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	models := []string{"deepseek-r1:7b", "llama3.2:3b"}
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path, body := "/api/chat", fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"r%d"}],"options":{"num_predict":8}}`, models[i%2], i)
			if i%3 == 0 {
				path, body = "/v1/chat/completions", fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"r%d"}],"stream":true,"max_tokens":8}`, models[i%2], i)
			}
			resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 10 {
			post(t, ts.URL+"/sim/faults", fmt.Sprintf(`{"faults":[{"kind":"latency","delay":"1ms","probability":0.%d}]}`, i))
			for _, p := range []string{"/metrics", "/api/ps", "/sim/faults"} {
				if r, err := http.Get(ts.URL + p); err == nil {
					_, _ = io.Copy(io.Discard, r.Body)
					r.Body.Close()
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(codes)
	n := 0
	for c := range codes {
		if c != 200 && c != 503 {
			t.Errorf("status %d", c)
		}
		n++
	}
	if n != 60 {
		t.Fatalf("%d answers for 60 requests", n)
	}
}
