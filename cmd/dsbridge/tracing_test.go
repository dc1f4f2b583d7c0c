package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestTracingEnabled(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    bool
		wantErr bool
	}{
		{nil, false, false}, // off by default
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, false, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, true},
	}
	for _, tt := range tests {
		got, err := tracingEnabled(func(k string) string { return tt.env[k] })
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%v: got %v, %v; want %v, error %v", tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}

// The provider serve builds exports over OTLP/HTTP to the endpoint the
// environment names.
func TestTracerProviderExportsToEndpoint(t *testing.T) {
	var posts atomic.Int64
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer col.Close()
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
	t.Setenv("OTEL_SERVICE_NAME", "bridge-test")
	tp, err := newTracerProvider(context.Background(), "test")
	if err != nil || tp == nil {
		t.Fatalf("provider %v, %v; want one", tp, err)
	}
	_, sp := tp.Tracer("test").Start(context.Background(), "x")
	sp.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("no OTLP export reached the endpoint")
	}

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if tp, err := newTracerProvider(context.Background(), "test"); tp != nil || err != nil {
		t.Errorf("without OTEL_* set: provider %v, %v; want none", tp, err)
	}
}
