package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// syncBuffer is a log sink the handler writes from server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines with message "request".
func (s *syncBuffer) requestLines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["message"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// tracedBridge is minimalBridge with a tracer provider (nil: tracing off),
// log.access all and a JSON log captured.
func tracedBridge(t *testing.T, tp trace.TracerProvider, upstreams ...string) (*httptest.Server, *syncBuffer) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Policy = "round_robin"
	cfg.Log.Access = "all"
	for _, u := range upstreams {
		cfg.Upstreams = append(cfg.Upstreams, UpstreamConfig{URL: u})
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger, err := NewLogger(logs, "info", "test")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(cfg, Options{Registry: prometheus.NewRegistry(), Logger: logger, TracerProvider: tp})
	ctx, cancel := context.WithCancel(context.Background())
	h.Start(ctx)
	for _, u := range h.state.Load().pool.all {
		u.healthy.Store(true) // dead addresses stay in rotation
	}
	cancel()
	h.Stop()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s, logs
}

// headerUpstream answers chats with body and records the traceparent of
// each chat request it gets.
func headerUpstream(t *testing.T, body string) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/ps" || r.URL.Path == "/api/tags" {
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest"}]}`)
			return
		}
		mu.Lock()
		got = append(got, r.Header.Get("Traceparent"))
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

func newRecorder() (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)), exp
}

func attrOf(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

func postChat(t *testing.T, url string, hdr map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/chat", strings.NewReader(`{"model":"tiny","stream":false}`))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s; want 200", resp.StatusCode, b)
	}
}

// A request that fails over is one server span with two attempt spans
// under it; the upstream that served got the trace in traceparent, and the
// access log line names the trace.
func TestTraceFailover(t *testing.T) {
	for _, first := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"dial error", deadUpstreamAddr},
		{"503 busy", func(t *testing.T) string { s, _ := fakeOllama(t, 503, `{"error":"server busy"}`); return s.URL }},
	} {
		t.Run(first.name, func(t *testing.T) {
			tp, exp := newRecorder()
			up, seen := headerUpstream(t, `{"done":true,"prompt_eval_count":12,"eval_count":7}`)
			s, logs := tracedBridge(t, tp, first.url(t), up.URL)
			postChat(t, s.URL, nil)

			spans := exp.GetSpans()
			var server []tracetest.SpanStub
			var attempts []tracetest.SpanStub
			for _, sp := range spans {
				switch sp.SpanKind {
				case trace.SpanKindServer:
					server = append(server, sp)
				case trace.SpanKindClient:
					attempts = append(attempts, sp)
				}
			}
			if len(server) != 1 || len(attempts) != 2 {
				t.Fatalf("got %d server and %d attempt spans (%d in all); want 1 and 2", len(server), len(attempts), len(spans))
			}
			srv := server[0]
			if srv.Name != "POST /api/chat" {
				t.Errorf("server span name %q", srv.Name)
			}
			tid := srv.SpanContext.TraceID()
			for i, a := range attempts {
				if a.Parent.SpanID() != srv.SpanContext.SpanID() || a.SpanContext.TraceID() != tid {
					t.Errorf("attempt %d is not a child of the server span", i)
				}
				if v, _ := attrOf(a, "gen_ai.request.model"); v.AsString() != "tiny" {
					t.Errorf("attempt %d gen_ai.request.model %q", i, v.AsString())
				}
			}
			if attempts[0].Status.Code.String() != "Error" || attempts[1].Status.Code.String() == "Error" {
				t.Errorf("attempt statuses %v, %v; want Error then not", attempts[0].Status.Code, attempts[1].Status.Code)
			}
			if v, _ := attrOf(attempts[1], "http.response.status_code"); v.AsInt64() != 200 {
				t.Errorf("served attempt status %d", v.AsInt64())
			}
			if v, _ := attrOf(srv, "dsbridge.attempts"); v.AsInt64() != 2 {
				t.Errorf("server span dsbridge.attempts %d; want 2", v.AsInt64())
			}
			if v, _ := attrOf(srv, "gen_ai.usage.output_tokens"); v.AsInt64() != 7 {
				t.Errorf("server span gen_ai.usage.output_tokens %d; want 7", v.AsInt64())
			}
			if v, _ := attrOf(srv, "gen_ai.usage.input_tokens"); v.AsInt64() != 12 {
				t.Errorf("server span gen_ai.usage.input_tokens %d; want 12", v.AsInt64())
			}
			if v, _ := attrOf(attempts[1], "gen_ai.usage.input_tokens"); v.AsInt64() != 12 {
				t.Errorf("serving attempt gen_ai.usage.input_tokens %d; want 12", v.AsInt64())
			}
			if v, _ := attrOf(srv, "gen_ai.request.model"); v.AsString() != "tiny" {
				t.Errorf("server span gen_ai.request.model %q", v.AsString())
			}

			tps := seen()
			if len(tps) != 1 {
				t.Fatalf("serving upstream got %d requests; want 1", len(tps))
			}
			want := "00-" + tid.String() + "-" + attempts[1].SpanContext.SpanID().String() + "-01"
			if tps[0] != want {
				t.Errorf("upstream traceparent %q; want %q (the serving attempt's)", tps[0], want)
			}

			lines := logs.requestLines(t)
			if len(lines) != 1 || lines[0]["trace.id"] != tid.String() {
				t.Errorf("access log %v; want one line with trace.id %s", lines, tid)
			}
		})
	}
}

// An incoming traceparent is continued: the server span is its child, and
// the upstream gets the same trace with the attempt as parent.
func TestTraceContinuesIncoming(t *testing.T) {
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp, exp := newRecorder()
	up, seen := headerUpstream(t, `{"done":true}`)
	s, logs := tracedBridge(t, tp, up.URL)
	postChat(t, s.URL, map[string]string{"traceparent": incoming})
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans; want 2", len(spans))
	}
	var srv, att tracetest.SpanStub
	for _, sp := range spans {
		if sp.SpanKind == trace.SpanKindServer {
			srv = sp
		} else {
			att = sp
		}
	}
	if srv.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || srv.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("server span trace %s parent %s; want the incoming ones", srv.SpanContext.TraceID(), srv.Parent.SpanID())
	}
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + att.SpanContext.SpanID().String() + "-01"
	if got := seen(); len(got) != 1 || got[0] != want {
		t.Errorf("upstream traceparent %q; want %q", got, want)
	}
	if l := logs.requestLines(t); len(l) != 1 || l[0]["trace.id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("access log %v; want the incoming trace.id", l)
	}
}

// Tracing off: no span anywhere, the client's traceparent passes through
// untouched, and the log line has no trace.id.
func TestTracingOff(t *testing.T) {
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp, exp := newRecorder() // exists, but is not given to the bridge
	_ = tp
	up, seen := headerUpstream(t, `{"done":true}`)
	s, logs := tracedBridge(t, nil, deadUpstreamAddr(t), up.URL)
	postChat(t, s.URL, map[string]string{"traceparent": incoming})
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans recorded with tracing off", n)
	}
	if got := seen(); len(got) != 1 || got[0] != incoming {
		t.Errorf("upstream traceparent %q; want the client's %q untouched", got, incoming)
	}
	l := logs.requestLines(t)
	if len(l) != 1 {
		t.Fatalf("%d access lines; want 1", len(l))
	}
	if _, ok := l[0]["trace.id"]; ok {
		t.Errorf("trace.id in the log with tracing off: %v", l[0])
	}
}
