package chaos

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startBig serves a 64 kB body, so a limit_data cut shows.
func startBig(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 64<<10))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func fetch(addr string, timeout time.Duration) (int, time.Duration, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return 0, time.Since(start), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return len(b), time.Since(start), err
}

func TestNetworkToxics(t *testing.T) {
	nw, err := NewNetwork()
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	// A real process upstream for latency, an in-test server for the body cut.
	_, helperAddr := startHelper(t, "sim-1")
	viaHelper, err := nw.AddProxy("sim-1", helperAddr)
	if err != nil {
		t.Fatal(err)
	}
	viaBig, err := nw.AddProxy("sim-2", startBig(t))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]Target{
		"sim-1": {Name: "sim-1", Kind: "sim", Proxy: "sim-1"},
		"sim-2": {Name: "sim-2", Kind: "sim", Proxy: "sim-2"},
	}
	apply := func(t *testing.T, target string, toxic ToxicSpec) Revert {
		t.Helper()
		inj, err := New("network", Spec{Toxic: toxic}, Deps{Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		r, err := inj.Inject(context.Background(), []Target{targets[target]})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if _, err := getPid(viaHelper, time.Second); err != nil {
		t.Fatalf("through the clean proxy: %v", err)
	}

	t.Run("latency", func(t *testing.T) {
		r := apply(t, "sim-1", ToxicSpec{Type: "latency", Attributes: map[string]any{"latency": 300, "jitter": 0}})
		start := time.Now()
		if _, err := getPid(viaHelper, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 280*time.Millisecond {
			t.Errorf("answer took %v; want ≥ 300 ms of injected latency", d)
		}
		_ = r(context.Background())
		start = time.Now()
		_, _ = getPid(viaHelper, 3*time.Second)
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Errorf("latency still there after revert: %v", d)
		}
	})
	t.Run("black hole", func(t *testing.T) {
		r := apply(t, "sim-1", ToxicSpec{Type: "timeout", Stream: "upstream", Attributes: map[string]any{"timeout": 0}})
		_, err := getPid(viaHelper, 300*time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("want a time-out through a black hole, got %v", err)
		}
		_ = r(context.Background())
	})
	t.Run("reset", func(t *testing.T) {
		r := apply(t, "sim-1", ToxicSpec{Type: "reset_peer", Attributes: map[string]any{"timeout": 0}})
		_, err := getPid(viaHelper, 2*time.Second)
		if err == nil {
			t.Error("want an error through reset_peer")
		} else if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "EOF") {
			t.Errorf("want a reset, got %v", err)
		}
		_ = r(context.Background())
	})
	t.Run("cut mid-stream", func(t *testing.T) {
		r := apply(t, "sim-2", ToxicSpec{Type: "limit_data", Attributes: map[string]any{"bytes": 2048}})
		n, _, err := fetch(viaBig, 2*time.Second)
		if err == nil || n >= 64<<10 {
			t.Errorf("got %d bytes, err %v; want the body cut near 2 kB", n, err)
		}
		_ = r(context.Background())
		if n, _, err := fetch(viaBig, 2*time.Second); err != nil || n != 64<<10 {
			t.Errorf("after revert: %d bytes, %v", n, err)
		}
	})
	t.Run("bandwidth", func(t *testing.T) {
		// 64 kB at 64 kB/s takes about a second.
		r := apply(t, "sim-2", ToxicSpec{Type: "bandwidth", Attributes: map[string]any{"rate": 64}})
		n, d, err := fetch(viaBig, 5*time.Second)
		if err != nil || n != 64<<10 || d < 700*time.Millisecond {
			t.Errorf("%d bytes in %v (%v); want 64 kB in about 1 s", n, d, err)
		}
		_ = r(context.Background())
	})
	if _, err := New("network", Spec{Toxic: ToxicSpec{Type: "latency"}}, Deps{}); err == nil {
		t.Error("a network fault without a network layer must be refused")
	}
}
