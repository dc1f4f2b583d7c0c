package main

import (
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"testing"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// gomaxprocsOf reads the Go collector's go_sched_gomaxprocs_threads from a
// running bridge's /metrics.
func gomaxprocsOf(t *testing.T, p *testproc.Proc) int {
	t.Helper()
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^go_sched_gomaxprocs_threads (\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no go_sched_gomaxprocs_threads in /metrics")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestServeGOMAXPROCS: the bridge runs twice as many Ps as Go would by
// default (server.gomaxprocs "2x"), --gomaxprocs sets a number or another
// multiple, and the GOMAXPROCS environment variable wins over both.
func TestServeGOMAXPROCS(t *testing.T) {
	dead := testproc.DeadAddr(t)
	cpus := runtime.GOMAXPROCS(0) // this test's own default: the same machine and limits
	for _, tc := range []struct {
		env  string
		args []string
		want int
	}{
		{"", nil, 2 * cpus},
		{"", []string{"--gomaxprocs", "3"}, 3},
		{"", []string{"--gomaxprocs", "1x"}, cpus},
		{"1", []string{"--gomaxprocs", "4"}, 1},
	} {
		t.Run(tc.env+"/"+strconv.Itoa(tc.want), func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env)
			p := testproc.Start(t, "serve", "/health", append([]string{"--upstream", "http://" + dead}, tc.args...)...)
			if got := gomaxprocsOf(t, p); got != tc.want {
				t.Errorf("GOMAXPROCS=%q %v: %d Ps; want %d", tc.env, tc.args, got, tc.want)
			}
		})
	}
	// A bad value is refused at start, with the config key in the message.
	code, _, stderr := runBinary(t, "serve", "--upstream", "http://"+dead, "--gomaxprocs", "0x")
	if code != 2 || !regexp.MustCompile(`server\.gomaxprocs "0x"`).MatchString(stderr) {
		t.Errorf("--gomaxprocs 0x: exit %d, %s", code, stderr)
	}
}
