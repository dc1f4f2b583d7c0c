package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsbridge/dsbridge/internal/ollamatest"
	"github.com/dsbridge/dsbridge/internal/testproc"
)

// modelName is what both servers serve; the corpus asks for it.
const modelName = "tiny"

// tinyModel writes the default tiny model with `dsbridge tinymodel`, the
// command users run, and returns its path.
func tinyModel(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny.gguf")
	out, err := exec.Command(testproc.Binary(t), "tinymodel", "-o", p).CombinedOutput()
	if err != nil {
		t.Fatalf("dsbridge tinymodel: %v\n%s", err, out)
	}
	return p
}

// startReal starts real Ollama with env and creates the tiny model in it.
func startReal(t *testing.T, env ...string) *ollamatest.Server {
	t.Helper()
	s := ollamatest.Start(t, env...)
	s.Create(t, modelName, tinyModel(t))
	return s
}

// startSim starts `dsbridge sim` serving the tiny model with the built-in
// tiny-cpu profile (the model's description and measured timings), or the
// profile DSBRIDGE_CONFORMANCE_SIM_PROFILE names.
func startSim(t *testing.T, args ...string) *testproc.Proc {
	t.Helper()
	p := os.Getenv("DSBRIDGE_CONFORMANCE_SIM_PROFILE")
	if p == "" {
		p = "tiny-cpu"
	}
	return startSimProfile(t, p, args...)
}

// startSimProfile starts the simulator with the given --profile.
func startSimProfile(t *testing.T, profile string, args ...string) *testproc.Proc {
	t.Helper()
	all := append([]string{"--models", modelName, "--profile", profile}, args...)
	return testproc.Start(t, "sim", "/", all...)
}

// saveRenders writes both sides' rendered exchanges under
// $DSBRIDGE_CONFORMANCE_OUT/<test>/, for reading beside a failure.
func saveRenders(t *testing.T, name string, real, sim []string) {
	dir := os.Getenv("DSBRIDGE_CONFORMANCE_OUT")
	if dir == "" {
		return
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Log(err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name+".real.txt"), []byte(strings.Join(real, "\n")+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, name+".sim.txt"), []byte(strings.Join(sim, "\n")+"\n"), 0o644)
}
