package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestTextReporter(t *testing.T) {
	start := time.Now()
	rs := NewResults(start, nil)
	rs.Model, rs.Target, rs.DurationS = "open", "http://127.0.0.1:1", 1
	rs.Add(&Result{Intended: start, Sent: start, Done: start.Add(time.Millisecond), Latency: time.Millisecond, Status: 200, OutputTokens: 3})
	rs.Add(&Result{Intended: start, Sent: start, Done: start.Add(time.Millisecond), Latency: time.Millisecond, Status: 503, Kind: KindHTTP5xx, Error: "503 Service Unavailable: server busy"})
	rs.Requests.Scheduled, rs.Requests.Late, rs.Requests.Dropped = 3, 1, 1
	rs.Close()
	var b strings.Builder
	if err := NewTextReporter(rs)(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 sent, 1 ok, 1 failed (50.000%)", "1 late", "1 dropped", "200=1 503=1", "http_5xx=1", "server busy", "WARNING", "latency"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
