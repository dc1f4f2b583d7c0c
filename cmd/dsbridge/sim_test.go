package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// TestSimGracefulShutdown: on SIGTERM a stream in flight runs to its final
// line, then the process exits 0.
func TestSimGracefulShutdown(t *testing.T) {
	p := testproc.Start(t, "sim", "/", "--load-time", "0", "--ttft", "0", "--tokens-per-second", "50")
	resp, err := http.Post(p.URL+"/api/chat", "application/json",
		strings.NewReader(`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":25}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() { // the stream is under way
		t.Fatal("no first line")
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var last string
	lines := 1
	for sc.Scan() {
		last = sc.Text()
		lines++
	}
	if lines != 26 || !strings.Contains(last, `"done":true`) {
		t.Fatalf("%d lines, last %q; want the stream finished", lines, last)
	}
	code, err := p.Wait(10 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
}

// TestSimFlags: --help documents the contract flags; bad flags are usage errors.
func TestSimFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runSim(context.Background(), []string{"--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"-listen", "-models", "-parallel", "-max-queue", "-seed", "-profile", "-load-time", "-ttft",
		"-tokens-per-second", "-keep-alive", "-max-loaded-models", "-strict-queue"} {
		if !strings.Contains(errb.String(), f) {
			t.Errorf("--help lacks %s", f)
		}
	}
	for _, args := range [][]string{{"--nope"}, {"--listen", "127.0.0.1:0", "extra"}} {
		if err := runSim(context.Background(), args, &out, &errb); err != errUsage {
			t.Errorf("%v: %v; want a usage error", args, err)
		}
	}
	if err := runSim(context.Background(), []string{"--listen", "127.0.0.1:0", "--profile", "/no/such/file"}, &out, &errb); err == nil {
		t.Error("a missing profile file is accepted")
	}
}
