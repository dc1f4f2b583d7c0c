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

// Redis is a real redis-server (Debian's package) run for one test.
type Redis struct {
	Addr string // 127.0.0.1:port
	URL  string // redis://Addr
	cmd  *exec.Cmd
	out  *syncBuffer
}

// StartRedis runs redis-server on a free loopback port with no persistence
// and waits until it answers PING. It is killed when the test ends. Without
// redis-server the test skips on a developer's machine and fails where
// DSBRIDGE_REQUIRE_TOOLS is set (CI), which installs it.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal("redis-server not found and DSBRIDGE_REQUIRE_TOOLS is set: install Debian's redis-server (.ci/run does)")
		}
		t.Skip("redis-server not found (apt-get install redis-server); set DSBRIDGE_REQUIRE_TOOLS=1 to make this a failure")
	}
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &Redis{Addr: addr, URL: "redis://" + addr, cmd: cmd, out: out}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("redis-server output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !r.ping() {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within 10 s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

// Stop kills the server (a test of "Redis went away" calls it early).
func (r *Redis) Stop() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	_, _ = r.cmd.Process.Wait()
}

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
