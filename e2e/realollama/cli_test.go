package realollama

import (
	"strings"
	"testing"
	"time"
)

// TestCLI: the `ollama` CLI itself, with OLLAMA_HOST pointing at the bridge,
// lists, shows and runs the model behind it. The CLI is the strictest client
// there is: it is Ollama's own, and it uses endpoints (/api/show, the
// preload before `run`) that chat clients never touch.
func TestCLI(t *testing.T) {
	f := startFleet(t)
	bin := f.ollamas[0].Bin
	run := func(args ...string) string {
		t.Helper()
		out, err := cli(t, bin, f.bridge.Addr, time.Minute, args...)
		if err != nil {
			t.Fatalf("ollama %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if out := run("list"); !strings.Contains(out, model+":latest") {
		t.Errorf("ollama list: no %s:latest in\n%s", model, out)
	}
	out := run("show", model)
	for _, want := range []string{"llama", "num_predict"} {
		if !strings.Contains(out, want) {
			t.Errorf("ollama show %s: no %q in\n%s", model, want, out)
		}
	}
	// The Modelfile's num_predict 16 bounds the answer: random weights
	// rarely stop by themselves.
	out = run("run", model, "Say hi")
	if strings.TrimSpace(out) == "" {
		t.Errorf("ollama run %s: no output", model)
	}
	t.Logf("ollama run %s %q: %q", model, "Say hi", out)
	// `run` loaded the model behind the bridge; ps through the bridge sees it.
	if out := run("ps"); !strings.Contains(out, model+":latest") {
		t.Errorf("ollama ps: no %s:latest in\n%s", model, out)
	}
}
