package tinymodel_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsbridge/dsbridge/internal/ollamatest"
	"github.com/dsbridge/dsbridge/tinymodel"
)

// TestRealOllamaLoadsAndGenerates is the test that matters: real Ollama
// v0.17.4 accepts the file with `ollama create`, recognises the ChatML
// template, loads the model and generates text — at the default sizes and
// at other sizes set by the flags.
func TestRealOllamaLoadsAndGenerates(t *testing.T) {
	srv := ollamatest.Start(t)
	for _, c := range []struct {
		name string
		cfg  tinymodel.Config
	}{
		{"tiny", tinymodel.Default},
		{"small", tinymodel.Config{Seed: 3, Embedding: 32, Blocks: 1, Heads: 2, FF: 64, Context: 128}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.name+".gguf")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := tinymodel.Write(f, c.cfg); err != nil {
				t.Fatal(err)
			}
			f.Close()
			srv.Create(t, c.name, path)

			body := `{"model":"` + c.name + `","messages":[{"role":"user","content":"hello"}],"stream":false,"options":{"num_predict":12,"seed":1}}`
			resp, err := http.Post(srv.URL+"/api/chat", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Message    struct{ Content string }
				DoneReason string `json:"done_reason"`
				EvalCount  int    `json:"eval_count"`
				Error      string
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || out.EvalCount != 12 || out.DoneReason != "length" || strings.TrimSpace(out.Message.Content) == "" {
				t.Fatalf("chat: %d %+v\nserver log:\n%s", resp.StatusCode, out, srv.Output())
			}
			t.Logf("%s says: %q", c.name, out.Message.Content)

			// `ollama show` reports the template Ollama derived from ours.
			show, err := srv.CLI(t, 30e9, "show", c.name, "--template")
			if err != nil || !strings.Contains(show, "<|im_start|>") {
				t.Errorf("ollama show --template: %v\n%s", err, show)
			}
		})
	}
}
