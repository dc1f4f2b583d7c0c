package bridge

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing (OpenTelemetry) is off unless Options.TracerProvider is set. Off,
// the hot path only tests a nil pointer: no span, no context, no header
// work. On, each proxied request is one server span ("POST /api/chat") and
// each upstream attempt one client span under it ("attempt"), so a failover
// shows as two attempt spans in one trace. The attempt's trace context goes
// to the upstream as W3C traceparent; an incoming traceparent is continued.

const tracerName = "github.com/dsbridge/dsbridge/bridge"

// tracing is the Handler's tracer and propagator; nil when tracing is off.
type tracing struct {
	tracer trace.Tracer
	prop   propagation.TraceContext
}

func newTracing(tp trace.TracerProvider) *tracing {
	if tp == nil {
		return nil
	}
	return &tracing{tracer: tp.Tracer(tracerName)}
}

// traceCarrier receives the injected headers without a map.
type traceCarrier struct{ parent, state string }

func (c *traceCarrier) Get(string) string { return "" }
func (c *traceCarrier) Set(k, v string) {
	switch k {
	case "traceparent":
		c.parent = v
	case "tracestate":
		c.state = v
	}
}
func (c *traceCarrier) Keys() []string { return nil }

// startServer starts the request's server span, continuing an incoming
// traceparent.
func (t *tracing) startServer(r *http.Request, rt *route, req *request) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	req.spanCtx, req.span = t.tracer.Start(ctx, r.Method+" "+rt.path,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", rt.path),
			attribute.String("url.path", r.URL.Path),
			attribute.String("http.request.id", req.id),
		))
}

// startAttempt starts the client span of one attempt on u and fills the
// headers the upstream gets.
func (t *tracing) startAttempt(r *http.Request, req *request, u *Upstream, forced bool) {
	req.nAttempt++
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("server.address", u.target.Hostname()),
		attribute.String("dsbridge.upstream", u.name),
		attribute.Int("dsbridge.attempt", req.nAttempt),
	}
	if req.rawModel != "" {
		attrs = append(attrs, attribute.String("gen_ai.request.model", req.rawModel))
	}
	if forced {
		attrs = append(attrs, attribute.Bool("dsbridge.fallback", true))
	}
	ctx, sp := t.tracer.Start(req.spanCtx, "attempt", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	req.attemptSpan = sp
	var c traceCarrier
	t.prop.Inject(ctx, &c)
	req.traceparent, req.tracestate = c.parent, c.state
}

// endAttempt ends the attempt span with how the attempt went.
func endAttempt(req *request, res *attemptResult) {
	sp := req.attemptSpan
	req.attemptSpan, req.traceparent, req.tracestate = nil, "", ""
	code := res.code
	if res.kept != nil && res.retry {
		code = res.kept.status
	}
	if code != 0 {
		sp.SetAttributes(attribute.Int("http.response.status_code", code))
	}
	if res.outTokens > 0 {
		sp.SetAttributes(attribute.Int64("gen_ai.usage.output_tokens", res.outTokens))
	}
	if res.inTokens > 0 {
		sp.SetAttributes(attribute.Int64("gen_ai.usage.input_tokens", res.inTokens))
		req.inTokens = res.inTokens
	}
	if res.retry {
		sp.SetAttributes(attribute.Bool("dsbridge.retried", true))
	}
	if res.err != nil {
		sp.RecordError(res.err)
		sp.SetStatus(codes.Error, res.err.Error())
	} else if code >= 500 {
		sp.SetStatus(codes.Error, "")
	}
	sp.End()
}

// endServer ends the request's server span.
func endServer(sp trace.Span, model string, code, attempts int, inTokens, outTokens int64, err error) {
	sp.SetAttributes(attribute.Int("http.response.status_code", code), attribute.Int("dsbridge.attempts", attempts))
	if model != "" {
		sp.SetAttributes(attribute.String("gen_ai.request.model", model))
	}
	if outTokens > 0 {
		sp.SetAttributes(attribute.Int64("gen_ai.usage.output_tokens", outTokens))
	}
	if inTokens > 0 {
		sp.SetAttributes(attribute.Int64("gen_ai.usage.input_tokens", inTokens))
	}
	if code >= 500 {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		sp.SetStatus(codes.Error, msg)
	}
	sp.End()
}

var _ propagation.TextMapCarrier = (*traceCarrier)(nil)
