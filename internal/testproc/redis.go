package testproc

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a real redis-server (Debian's redis-server package) on a free
// loopback port, with no persistence, killed when the test ends.
type Redis struct {
	Cmd  *exec.Cmd
	Addr string // host:port
	URL  string // redis://Addr
}

// StartRedis starts redis-server and waits until it answers PING. Without
// the binary the test is skipped, except where DSBRIDGE_REQUIRE_TOOLS is
// set (CI): there it fails.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal("redis-server not found and DSBRIDGE_REQUIRE_TOOLS is set: install Debian's redis-server package (.ci/run does)")
		}
		t.Skip("redis-server not found (apt-get install redis-server); set DSBRIDGE_REQUIRE_TOOLS=1 to make this a failure")
	}
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lfu")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &Redis{Cmd: cmd, Addr: addr, URL: "redis://" + addr}
	t.Cleanup(func() {
		r.Kill()
		if t.Failed() {
			t.Logf("redis-server output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !r.ping() {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s not answering PING:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

// Kill stops redis-server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() {
	_ = syscall.Kill(-r.Cmd.Process.Pid, syscall.SIGKILL)
	_, _ = r.Cmd.Process.Wait()
}

// ping sends an inline PING and expects +PONG.
func (r *Redis) ping() bool {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
