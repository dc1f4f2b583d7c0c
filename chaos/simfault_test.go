package chaos

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// fakeSimAdmin records the admin calls. The end-to-end check against the real
// simulator lives in the bench tests, which run it as a process.
type fakeSimAdmin struct {
	mu    sync.Mutex
	calls []string
	body  map[string]any
}

func (f *fakeSimAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &f.body)
	}
	w.WriteHeader(http.StatusOK)
}

func TestSimFault(t *testing.T) {
	admin := &fakeSimAdmin{}
	srv := httptest.NewServer(admin)
	defer srv.Close()
	inj, err := New("sim_fault", Spec{Fault: map[string]any{"kind": "error", "status": 503, "probability": 0.5}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	revert, err := inj.Inject(context.Background(), []Target{{Name: "sim-1", Kind: "sim", AdminURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if err := revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /sim/faults", "DELETE /sim/faults"}
	if len(admin.calls) != 2 || admin.calls[0] != want[0] || admin.calls[1] != want[1] {
		t.Fatalf("calls %v; want %v", admin.calls, want)
	}
	faults, _ := admin.body["faults"].([]any)
	if len(faults) != 1 || faults[0].(map[string]any)["kind"] != "error" {
		t.Fatalf("body %v", admin.body)
	}
	if _, err := New("sim_fault", Spec{Fault: map[string]any{"status": 1}}, Deps{}); err == nil {
		t.Error("a fault without kind must be refused")
	}
	// A simulator that refuses the fault makes Inject fail, loudly.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unknown kind", http.StatusBadRequest)
	}))
	defer bad.Close()
	if _, err := inj.Inject(context.Background(), []Target{{Name: "sim-1", AdminURL: bad.URL}}); err == nil {
		t.Error("want an error when the simulator refuses")
	}
}

// TestSimFaultOnRealSimulator drives the real simulator process: while the
// fault is set, chat requests fail with its status; after Revert they pass.
func TestSimFaultOnRealSimulator(t *testing.T) {
	sim := testproc.Start(t, "sim", "/", "--profile", "instant", "--models", "tiny")
	chat := func() int {
		resp, err := http.Post(sim.URL+"/api/chat", "application/json",
			strings.NewReader(`{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := chat(); code != http.StatusOK {
		t.Fatalf("before the fault: status %d", code)
	}
	inj, err := New("sim_fault", Spec{Fault: map[string]any{"kind": "error", "status": 503, "probability": 1.0}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	revert, err := inj.Inject(context.Background(), []Target{{Name: "sim-1", Kind: "sim", AdminURL: sim.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if code := chat(); code != http.StatusServiceUnavailable {
		t.Fatalf("with the fault: status %d; want 503", code)
	}
	if err := revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := chat(); code != http.StatusOK {
		t.Fatalf("after revert: status %d", code)
	}
}
