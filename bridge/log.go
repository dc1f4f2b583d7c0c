package bridge

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
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
	return slog.New(hd).With(slog.String("service.name", "dsbridge"), slog.String("service.instance.id", instance)), nil
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
