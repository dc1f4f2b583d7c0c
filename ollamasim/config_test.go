package ollamasim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/ollamasim"
)

func TestParseProfiles(t *testing.T) {
	p, err := ollamasim.ParseProfiles([]byte(`
base: instant
default: {tokens_per_second: 50, load_time: 2}
models:
  "llama3.2:3b": {load_time: 500ms}
  tiny: {embedding_length: 64}
`))
	if err != nil {
		t.Fatal(err)
	}
	if d := p.For("deepseek-r1:7b"); d.TokensPerSecond != 50 || d.LoadTime.D() != 2*time.Second || d.TTFT != 0 {
		t.Fatalf("default %+v", d)
	}
	if l := p.For("llama3.2:3b"); l.LoadTime.D() != 500*time.Millisecond || l.TokensPerSecond != 50 {
		t.Fatalf("override %+v", l)
	}
	if p.For("tiny:latest").EmbeddingLength != 64 {
		t.Fatal("model names are not normalised")
	}
	for _, bad := range []string{"base: fast", "default: {tokens_per_secnd: 5}", "models: {a: {load_time: soon}}"} {
		if _, err := ollamasim.ParseProfiles([]byte(bad)); err == nil || !strings.Contains(err.Error(), "profile") {
			t.Errorf("%q: %v; want an error", bad, err)
		}
	}
}
