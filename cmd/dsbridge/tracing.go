package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// tracingEnabled reads the standard OTEL_* variables. Tracing is off by
// default (the bridge does not export anywhere unasked): on with
// OTEL_TRACES_EXPORTER=otlp, or with an OTLP endpoint set and
// OTEL_TRACES_EXPORTER unset. OTEL_SDK_DISABLED=true and
// OTEL_TRACES_EXPORTER=none turn it off.
func tracingEnabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false, nil
	}
	switch e := strings.TrimSpace(strings.ToLower(getenv("OTEL_TRACES_EXPORTER"))); e {
	case "otlp":
		return true, nil
	case "none":
		return false, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: dsbridge supports otlp or none", e)
	}
}

// newTracerProvider builds the OTLP/HTTP exporter and the SDK provider; the
// exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout, TLS), the
// provider OTEL_TRACES_SAMPLER(_ARG) and OTEL_BSP_*, the resource
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. nil when tracing is off.
func newTracerProvider(ctx context.Context, instance string) (*sdktrace.TracerProvider, error) {
	on, err := tracingEnabled(os.Getenv)
	if err != nil || !on {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// Later sources win: the defaults, then the environment.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(
		semconv.ServiceName("dsbridge"),
		semconv.ServiceVersion(version),
		semconv.ServiceInstanceID(instance),
	), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
