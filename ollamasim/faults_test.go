package ollamasim_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// setFaults replaces the simulator's active faults.
func setFaults(t *testing.T, base, faults string) {
	t.Helper()
	code, _, b := post(t, base+"/sim/faults", `{"faults":[`+faults+`]}`)
	if code != 200 {
		t.Fatalf("POST /sim/faults: %d %s", code, b)
	}
}

const chatBody = `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hello"}],"options":{"num_predict":6}}`

// readLines reads a streamed body line by line, with each line's arrival.
func readLines(t *testing.T, resp *http.Response) (lines []string, at []time.Time, err error) {
	t.Helper()
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for {
		l, e := br.ReadString('\n')
		if l != "" && l != "\n" {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			at = append(at, time.Now())
		}
		if e != nil {
			if e != io.EOF {
				err = e
			}
			return
		}
	}
}

func streamChat(t *testing.T, base string) (*http.Response, time.Time) {
	t.Helper()
	start := time.Now()
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	return resp, start
}

// TestFaults observes every fault kind from a client of a real process.
func TestFaults(t *testing.T) {
	p := startSim(t, "--profile", "instant")
	base := p.URL

	t.Run("admin api", func(t *testing.T) {
		setFaults(t, base, `{"kind":"latency","delay":"10ms","models":["deepseek-r1:7b"]}`)
		resp, err := http.Get(base + "/sim/faults")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"kind":"latency"`) || !strings.Contains(string(b), `"models":["deepseek-r1:7b"]`) {
			t.Fatalf("GET /sim/faults: %s", b)
		}
		req, _ := http.NewRequest(http.MethodDelete, base+"/sim/faults", nil)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `{"faults":[]}` {
			t.Fatalf("after DELETE: %s", b)
		}
		for _, bad := range []string{`{"kind":"nope"}`, `{"kind":"error","probability":2}`, `{"kind":"error","status":200}`, `{"kind":"latency","delay":"soon"}`} {
			code, _, b := post(t, base+"/sim/faults", `{"faults":[`+bad+`]}`)
			if code != 400 || !strings.Contains(string(b), `"error"`) {
				t.Errorf("fault %s: %d %s; want 400", bad, code, b)
			}
		}
	})
	t.Run("error", func(t *testing.T) {
		setFaults(t, base, `{"kind":"error","status":502,"message":"boom"}`)
		code, _, b := post(t, base+"/api/chat", chatBody)
		if code != 502 || string(b) != `{"error":"boom"}` {
			t.Fatalf("native: %d %s", code, b)
		}
		code, _, b = post(t, base+"/v1/chat/completions", `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"x"}]}`)
		if code != 502 || !strings.Contains(string(b), `{"error":{"message":"boom","type":"api_error"`) {
			t.Fatalf("openai: %d %s", code, b)
		}
	})
	t.Run("filters", func(t *testing.T) {
		setFaults(t, base, `{"kind":"error","status":500,"models":["llama3.2:3b"]},{"kind":"error","status":418,"paths":["/api/generate"]}`)
		if code, _, b := post(t, base+"/api/chat", chatBody); code != 200 {
			t.Fatalf("other model hit: %d %s", code, b)
		}
		if code, _, _ := post(t, base+"/api/chat", strings.Replace(chatBody, "deepseek-r1:7b", "llama3.2:3b", 1)); code != 500 {
			t.Fatalf("model filter: %d", code)
		}
		if code, _, _ := post(t, base+"/api/generate", `{"model":"deepseek-r1:7b","prompt":"x"}`); code != 418 {
			t.Fatalf("path filter: %d", code)
		}
	})
	t.Run("probability 0 never fires", func(t *testing.T) {
		setFaults(t, base, `{"kind":"error","probability":0}`)
		for range 20 {
			if code, _, _ := post(t, base+"/api/chat", chatBody); code != 200 {
				t.Fatalf("fired: %d", code)
			}
		}
	})
	t.Run("latency", func(t *testing.T) {
		setFaults(t, base, `{"kind":"latency","delay":"300ms"}`)
		start := time.Now()
		post(t, base+"/api/chat", chatBody)
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("answered in %v", d)
		}
	})
	t.Run("hang_before_first_byte", func(t *testing.T) {
		setFaults(t, base, `{"kind":"hang_before_first_byte","duration":"5s"}`)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/chat", strings.NewReader(chatBody))
		_, err := http.DefaultClient.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v; want no headers within 300ms", err)
		}
		// Health checks hang too: the whole process is wedged.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel2()
		req, _ = http.NewRequestWithContext(ctx2, http.MethodGet, base+"/", nil)
		if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("GET / during hang: %v", err)
		}
	})
	t.Run("hang_mid_stream", func(t *testing.T) {
		setFaults(t, base, `{"kind":"hang_mid_stream","after_tokens":2,"duration":"400ms"}`)
		resp, _ := streamChat(t, base)
		lines, at, err := readLines(t, resp)
		if err != nil || len(lines) != 7 {
			t.Fatalf("%d lines, %v", len(lines), err)
		}
		if gap := at[2].Sub(at[1]); gap < 350*time.Millisecond {
			t.Fatalf("gap after 2 tokens %v; want ≥ 400ms", gap)
		}
	})
	t.Run("cut_stream", func(t *testing.T) {
		setFaults(t, base, `{"kind":"cut_stream","after_tokens":3}`)
		resp, _ := streamChat(t, base)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		lines, _, err := readLines(t, resp)
		if len(lines) != 3 || err == nil {
			t.Fatalf("%d lines, err %v; want 3 and a broken body", len(lines), err)
		}
	})
	t.Run("error_line", func(t *testing.T) {
		setFaults(t, base, `{"kind":"error_line","after_tokens":2,"message":"runner died"}`)
		resp, _ := streamChat(t, base)
		lines, _, err := readLines(t, resp)
		if resp.StatusCode != 200 || err != nil || len(lines) != 3 || lines[2] != `{"error":"runner died"}` {
			t.Fatalf("%d %q %v", resp.StatusCode, lines, err)
		}
	})
	t.Run("no_done", func(t *testing.T) {
		setFaults(t, base, `{"kind":"no_done"}`)
		resp, _ := streamChat(t, base)
		lines, _, err := readLines(t, resp)
		if err != nil || len(lines) != 6 || strings.Contains(strings.Join(lines, ""), `"done":true`) {
			t.Fatalf("%q %v", lines, err)
		}
		r, err := http.Post(base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"x"}],"stream":true,"max_tokens":4}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if strings.Contains(string(b), "[DONE]") || strings.Contains(string(b), `"finish_reason":"`) {
			t.Fatalf("openai stream ended properly: %s", b)
		}
	})
	t.Run("slow_load", func(t *testing.T) {
		setFaults(t, base, `{"kind":"slow_load","delay":"400ms"}`)
		code, _, b := post(t, base+"/api/chat", `{"model":"llama3.2:3b","messages":[{"role":"user","content":"x"}],"stream":false,"keep_alive":0,"options":{"num_predict":2}}`)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		if ld := mustJSON(t, b)["load_duration"].(float64); ld < 0.4e9 {
			t.Fatalf("load_duration %v; want ≥ 400ms", time.Duration(ld))
		}
	})
	setFaults(t, base, ``)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, k := range []string{"error", "latency", "hang_before_first_byte", "hang_mid_stream", "cut_stream", "error_line", "no_done", "slow_load"} {
		if !strings.Contains(string(b), fmt.Sprintf(`ollamasim_faults_fired_total{kind=%q}`, k)) {
			t.Errorf("metrics lack faults_fired_total for %s", k)
		}
	}
}

// TestFaultCrash: the crash fault ends the process with the given status.
func TestFaultCrash(t *testing.T) {
	p := startSim(t, "--profile", "instant")
	setFaults(t, p.URL, `{"kind":"crash","status":3,"paths":["/api/generate"]}`)
	if code, _, _ := post(t, p.URL+"/api/chat", chatBody); code != 200 {
		t.Fatalf("chat: %d", code) // path filter: chat unaffected
	}
	_, err := http.Post(p.URL+"/api/generate", "application/json", strings.NewReader(`{"model":"deepseek-r1:7b","prompt":"x"}`))
	if err == nil {
		t.Fatal("request to a crashing process succeeded")
	}
	code, err := p.Wait(5 * time.Second)
	if err != nil || code != 3 {
		t.Fatalf("exit %d, %v; want 3", code, err)
	}
}

// TestFaultDice: the same --seed fires the same faults in the same order,
// so a chaos run can be replayed.
func TestFaultDice(t *testing.T) {
	pattern := func(seed uint64) string {
		s, err := ollamasim.New(ollamasim.Config{Seed: seed, Profiles: ollamasim.Profiles{Default: ollamasim.InstantProfile()}}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		defer ts.Close()
		setFaults(t, ts.URL, `{"kind":"error","probability":0.5,"status":500}`)
		var b strings.Builder
		for range 40 {
			code, _, _ := post(t, ts.URL+"/api/chat", chatBody)
			b.WriteString(fmt.Sprint(code / 100))
		}
		return b.String()
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Fatalf("seed 7 twice: %s vs %s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 7 and 8 fire alike: %s", a)
	}
	if n := strings.Count(a, "5"); n < 8 || n > 32 {
		t.Fatalf("probability 0.5 fired %d/40", n)
	}
}
