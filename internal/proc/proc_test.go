package proc

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/helperproc"
)

func TestMain(m *testing.M) {
	helperproc.Main()
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func helper(t *testing.T) (*Proc, string) {
	t.Helper()
	addr := freeAddr(t)
	p := New(Spec{Name: "helper", Path: os.Args[0], Env: []string{helperproc.EnvListen + "=" + addr},
		ReadyURL: "http://" + addr + "/", ReadyTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = p.Stop(0) })
	return p, "http://" + addr + "/"
}

func pidAt(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, _ := strconv.Atoi(string(b))
	return n
}

func TestStartStopRestart(t *testing.T) {
	p, url := helper(t)
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first := pidAt(t, url)
	if first != p.Pid() {
		t.Fatalf("server pid %d, supervisor says %d", first, p.Pid())
	}
	if err := p.Restart(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if second := pidAt(t, url); second == first || p.Starts() != 2 {
		t.Fatalf("restart kept pid %d (starts %d)", second, p.Starts())
	}
	// A paused process must still stop: Stop sends SIGCONT first.
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("still running after Stop")
	}
	if err := syscall.Kill(first, 0); err == nil {
		t.Fatalf("pid %d still exists", first)
	}
}

func TestStartNotReady(t *testing.T) {
	// A process that exits at once is reported, not waited on for the full timeout.
	p := New(Spec{Name: "false", Path: "/bin/false", ReadyURL: "http://" + freeAddr(t) + "/"})
	start := time.Now()
	if err := p.Start(context.Background()); err == nil {
		t.Fatal("want an error")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("took the whole timeout")
	}
}
