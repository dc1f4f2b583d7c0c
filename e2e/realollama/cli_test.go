package realollama

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// ansiEscape matches what the CLI draws besides the answer: CSI terminal
// escape sequences (ESC [ params final) and the braille spinner frames.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|[\x{2800}-\x{28FF}]`)

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
	// The CLI draws a spinner even into a pipe; the answer is what is left.
	answer := strings.TrimSpace(ansiEscape.ReplaceAllString(run("run", model, "Say hi"), ""))
	if len(strings.Fields(answer)) == 0 {
		t.Errorf("ollama run %s: no answer", model)
	}
	t.Logf("ollama run %s %q: %q", model, "Say hi", answer)
	// `run` loaded the model behind the bridge; ps through the bridge sees it.
	if out := run("ps"); !strings.Contains(out, model+":latest") {
		t.Errorf("ollama ps: no %s:latest in\n%s", model, out)
	}
}
