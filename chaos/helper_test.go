package chaos

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/helperproc"
	"github.com/dsbridge/dsbridge/internal/proc"
)

// TestMain lets this test binary double as the small real server that the
// injectors act on (see internal/helperproc).
func TestMain(m *testing.M) {
	helperproc.Main()
	os.Exit(m.Run())
}

// startHelper runs the test binary as an HTTP server that answers its pid.
func startHelper(t *testing.T, name string) (*proc.Proc, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := proc.New(proc.Spec{Name: name, Path: os.Args[0], Env: []string{helperproc.EnvListen + "=" + addr},
		ReadyURL: "http://" + addr + "/", ReadyTimeout: 10 * time.Second})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(0) })
	return p, addr
}

// getPid asks the helper at addr for its pid within timeout.
func getPid(addr string, timeout time.Duration) (int, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}
