package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// deadURL is a loopback URL where nothing listens: dialling it is refused
// at once (a listener bound and closed).
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func ndjsonTarget(url string) *Target {
	return &Target{Method: "POST", URL: url + "/api/chat", Body: []byte(`{"model":"m"}`), Endpoint: EndpointChat, Format: FormatNDJSON}
}

func TestClientErrorKinds(t *testing.T) {
	t.Parallel()
	handler := func(f func(w http.ResponseWriter, fl http.Flusher)) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f(w, w.(http.Flusher))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	token := `{"message":{"role":"assistant","content":"x"},"done":false}` + "\n"
	for _, tc := range []struct {
		name    string
		url     string
		timeout time.Duration
		want    ErrorKind
		status  int
	}{
		{"refused", deadURL(t), 0, KindConnect, 0},
		{"4xx", handler(func(w http.ResponseWriter, _ http.Flusher) {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"model 'm' not found"}`)
		}), 0, KindHTTP4xx, 404},
		{"503 queue full", handler(func(w http.ResponseWriter, _ http.Flusher) {
			w.WriteHeader(503)
			fmt.Fprint(w, `{"error":"server busy, please try again.  maximum pending requests exceeded"}`)
		}), 0, KindHTTP5xx, 503},
		{"error line under 200", handler(func(w http.ResponseWriter, fl http.Flusher) {
			fmt.Fprint(w, token)
			fl.Flush()
			fmt.Fprint(w, `{"error":"runner crashed"}`+"\n")
		}), 0, KindStreamError, 200},
		{"cut mid-stream", handler(func(w http.ResponseWriter, fl http.Flusher) {
			fmt.Fprint(w, token)
			fl.Flush()
			// Drop the connection without the terminating chunk.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}), 0, KindStreamCut, 200},
		{"cut mid-line", handler(func(w http.ResponseWriter, fl http.Flusher) {
			fmt.Fprint(w, token+`{"message":{"role":"assist`)
			fl.Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}), 0, KindStreamCut, 200},
		{"silent until time-out", handler(func(w http.ResponseWriter, fl http.Flusher) {
			fmt.Fprint(w, token)
			fl.Flush()
			time.Sleep(time.Second)
		}), 200 * time.Millisecond, KindTimeout, 200},
		{"garbage line", handler(func(w http.ResponseWriter, fl http.Flusher) {
			fmt.Fprint(w, "<html>oops</html>\n")
		}), 0, KindBadBody, 200},
		{"ends without done: fine", handler(func(w http.ResponseWriter, fl http.Flusher) {
			fmt.Fprint(w, token+token)
		}), 0, "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &Client{Timeout: tc.timeout}
			r := c.Do(context.Background(), ndjsonTarget(tc.url), time.Now())
			if r.Kind != tc.want || r.Status != tc.status {
				t.Errorf("kind %q status %d (%s), want %q %d", r.Kind, r.Status, r.Error, tc.want, tc.status)
			}
		})
	}
}

// TestClientCancelled: stopping the run marks requests in flight cancelled,
// not timed out.
func TestClientCancelled(t *testing.T) {
	t.Parallel()
	srv := (&fakeOllama{Delay: time.Second}).start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	r := (&Client{}).Do(ctx, ndjsonTarget(srv.URL), time.Now())
	if r.Kind != KindCancelled {
		t.Errorf("kind %q (%s), want cancelled", r.Kind, r.Error)
	}
}

// TestClientTokenTiming: against a server with known token timing, TTFT
// and ITL are what the server did, within a noisy machine's tolerance.
func TestClientTokenTiming(t *testing.T) {
	f := &fakeOllama{First: 30 * time.Millisecond, Interval: 10 * time.Millisecond, Tokens: 10}
	srv := f.start(t)
	for _, tc := range []struct {
		endpoint Endpoint
		format   Format
	}{{EndpointChat, FormatNDJSON}, {EndpointOpenAIChat, FormatSSE}} {
		retryOnce(t, func() (bool, string) {
			tgt := &Target{Method: "POST", URL: srv.URL + string(tc.endpoint), Body: []byte(`{"model":"m","stream":true}`), Format: tc.format}
			r := (&Client{}).Do(context.Background(), tgt, time.Now())
			if r.Failed() {
				t.Fatalf("%s: %s %s", tc.endpoint, r.Kind, r.Error)
			}
			if r.OutputTokens != 10 || len(r.ITL) != 9 || r.NoDone {
				t.Fatalf("%s: %d tokens, %d gaps, no done %v; want 10, 9, false", tc.endpoint, r.OutputTokens, len(r.ITL), r.NoDone)
			}
			// The median, not every gap: a reader delayed by a busy machine
			// sees one long gap and then two lines at once.
			gaps := slices.Clone(r.ITL)
			slices.Sort(gaps)
			med := gaps[len(gaps)/2]
			ok := r.TTFT >= 30*time.Millisecond && r.TTFT <= 40*time.Millisecond && med >= 9500*time.Microsecond && med <= 12*time.Millisecond
			return ok, fmt.Sprintf("%s: TTFT %v (want 30–40ms), median inter-token gap %v (want 9.5–12ms; gaps %v)", tc.endpoint, r.TTFT, med, r.ITL)
		})
	}
}
