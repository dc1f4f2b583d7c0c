package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkProxyChat measures the whole hot path in-process (client →
// bridge → upstream over loopback TCP): body read and peek, selection,
// forwarding on the bridge's own connections, relay, metrics. Run with
// -benchmem and -cpuprofile; the wrk comparison with nginx is
// bench/proxybench.
func BenchmarkProxyChat(b *testing.B) { benchProxyChat(b, nil) }

// BenchmarkProxyChatTraced is the same with tracing on, every span sampled
// and dropped by a no-op exporter: the cost of the spans and traceparent.
func BenchmarkProxyChatTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	benchProxyChat(b, tp)
}

func benchProxyChat(b *testing.B, tp trace.TracerProvider) {
	answer := []byte(`{"model":"tiny","created_at":"2026-11-26T21:21:27Z","message":{"role":"assistant","content":"hello there"},"done":true,"done_reason":"stop"}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/ps" || r.URL.Path == "/api/tags" {
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest"}]}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(answer)
	}))
	defer up.Close()
	s, h, _ := minimalBridge(&testing.T{}, nil, up.URL)
	defer s.Close()
	h.tracing = newTracing(tp) // before the first request
	body := []byte(`{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}],"options":{"num_predict":32}}`)
	postChats(b, s.URL, body)
}

// BenchmarkPeekBody is the request-body scan alone.
func BenchmarkPeekBody(b *testing.B) {
	body := []byte(`{"model":"tiny","stream":false,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Why is the sky blue? Explain in two sentences."}],"options":{"num_predict":32,"temperature":0.2}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, err := peekBody(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProxyChatStream is a streamed chat of 32 token lines, flushed
// one by one, and the done line with eval_count: the per-chunk work of the
// relay (error-line scan, token count, inter-token latency).
func BenchmarkProxyChatStream(b *testing.B) {
	line := []byte(`{"model":"tiny","created_at":"2026-11-26T21:21:27Z","message":{"role":"assistant","content":"tok"},"done":false}` + "\n")
	done := []byte(`{"model":"tiny","created_at":"2026-11-26T21:21:27Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":1000,"prompt_eval_count":12,"eval_count":32,"eval_duration":900}` + "\n")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/ps" || r.URL.Path == "/api/tags" {
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest"}]}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		f := w.(http.Flusher)
		for i := 0; i < 32; i++ {
			_, _ = w.Write(line)
			f.Flush()
		}
		_, _ = w.Write(done)
	}))
	defer up.Close()
	s, _, _ := minimalBridge(&testing.T{}, nil, up.URL)
	defer s.Close()
	body := []byte(`{"model":"tiny","stream":true,"messages":[{"role":"user","content":"hi"}],"options":{"num_predict":32}}`)
	postChats(b, s.URL, body)
}

// BenchmarkChunkScans times the relay's per-chunk scans on a typical token
// line: the message count with the error-line check, and the token count.
func BenchmarkChunkScans(b *testing.B) {
	chunk := []byte(`{"model":"tiny","created_at":"2026-11-26T21:21:27Z","message":{"role":"assistant","content":"tok"},"done":false}` + "\n")
	b.Run("messages_and_error_line", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			scanMessages(chunk, '\n', false)
		}
	})
	b.Run("tokens", func(b *testing.B) {
		b.ReportAllocs()
		s := tokenScan{key: evalCountKey}
		for i := 0; i < b.N; i++ {
			s.scan(chunk)
		}
	})
}

// postChats posts body to /api/chat from parallel keep-alive clients, b.N
// times in all, and fails on any non-200: the client side of every proxy
// benchmark here.
func postChats(b *testing.B, bridgeURL string, body []byte) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		for pb.Next() {
			resp, err := c.Post(bridgeURL+"/api/chat", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
