package bridge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// NewLogger writes JSON lines with ECS-style field names (message,
// log.level, @timestamp, service.instance.id) so log shippers index them
// without a mapping step.
func NewLogger(w io.Writer, level, instance string) (*slog.Logger, error) {
	lv, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	hd := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.MessageKey:
			a.Key = "message"
		case slog.LevelKey:
			a.Key = "log.level"
			a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
		case slog.TimeKey:
			a.Key = "@timestamp"
		}
		return a
	}})
	return slog.New(countingHandler{hd, newLogCounter()}).With(slog.String("service.name", "dsbridge"), slog.String("service.instance.id", instance)), nil
}

func parseLevel(s string) (slog.Level, error) {
	var lv slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := lv.UnmarshalText([]byte(s)); err != nil {
		return lv, fmt.Errorf("log.level %q: want debug, info, warn or error", s)
	}
	return lv, nil
}

// logCounter is bridge_log_messages_total{level}: the lines written, by
// level, for the error-log alert. Children are resolved once; counting is
// one atomic add.
type logCounter struct {
	vec *prometheus.CounterVec
	// byLevel: debug, info, warn, error.
	byLevel [4]prometheus.Counter
}

func newLogCounter() *logCounter {
	c := &logCounter{vec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_log_messages_total",
		Help: "Log lines the bridge wrote, by level (debug, info, warn, error)."}, []string{"level"})}
	for i, l := range []string{"debug", "info", "warn", "error"} {
		c.byLevel[i] = c.vec.WithLabelValues(l)
	}
	return c
}

func (c *logCounter) count(l slog.Level) {
	i := 3
	switch {
	case l < slog.LevelInfo:
		i = 0
	case l < slog.LevelWarn:
		i = 1
	case l < slog.LevelError:
		i = 2
	}
	c.byLevel[i].Inc()
}

// countingHandler counts each record its handler wrote. slog asks Enabled
// first, so filtered-out levels are not counted. Derived handlers (With,
// WithGroup) share the counter.
type countingHandler struct {
	slog.Handler
	c *logCounter
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if err == nil {
		h.c.count(r.Level)
	}
	return err
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(as), h.c}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(name), h.c}
}

// countingLogger returns l counting its lines, and the counter: l's own if
// it came from NewLogger (so lines logged outside the Handler count too),
// else a new one wrapped around it.
func countingLogger(l *slog.Logger) (*slog.Logger, *logCounter) {
	if ch, ok := l.Handler().(countingHandler); ok {
		return l, ch.c
	}
	c := newLogCounter()
	return slog.New(countingHandler{l.Handler(), c}), c
}
