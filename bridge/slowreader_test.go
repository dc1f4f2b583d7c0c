package bridge_test

import (
	"fmt"
	"github.com/dsbridge/dsbridge/internal/testproc"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A client that stops reading a stream is cut after timeouts.write: its
// upstream connection and slot are freed, and the attempt is counted as
// canceled, not as the upstream's failure. The client keeps its connection
// open (a stalled reader, not a disconnect) with a tiny receive buffer so
// that the bridge's writes block quickly.
func TestStalledReaderIsCutAfterWriteTimeout(t *testing.T) {
	t.Parallel()
	// A long answer (about 25 MB), produced as fast as the sim can, so that
	// every buffer on the way fills.
	profile := filepath.Join(t.TempDir(), "long.yaml")
	long := "base: instant\nmodels:\n  tiny: {min_output_tokens: 200000, max_output_tokens: 200000}\n"
	if err := os.WriteFile(profile, []byte(long), 0o600); err != nil {
		t.Fatal(err)
	}
	sim := startSim(t, "--profile", profile)
	br, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+"timeouts: {write: 300ms}\n")

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(br.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := chatBody(true, 1_000_000)
	fmt.Fprintf(conn, "POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// Read the first bytes only, then stop reading without closing.
	first := make([]byte, 512)
	if _, err := conn.Read(first); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(first), "HTTP/1.1 200") {
		t.Fatalf("first bytes: %q", first)
	}
	testproc.Eventually(t, 10*time.Second, "the stalled stream's upstream slot freed", func() bool {
		return metricValue(t, br.URL, "bridge_upstream_in_flight", sim.URL) == 0
	})
	if v := metricValue(t, br.URL, "bridge_upstream_requests_total", `outcome="canceled"`); v != 1 {
		t.Errorf("canceled attempts = %v; want 1", v)
	}
	if v := metricValue(t, br.URL, "bridge_upstream_requests_total", `outcome="failure"`); v != 0 {
		t.Errorf("failures = %v; a stalled client is not the upstream's fault", v)
	}
}
