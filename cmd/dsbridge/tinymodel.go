package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dsbridge/dsbridge/tinymodel"
)

// runTinymodel writes a tiny random-weight llama GGUF that real Ollama loads
// (`ollama create tiny -f Modelfile` with `FROM ./tiny.gguf`), so tests and CI
// can run real Ollama without downloading weights.
func runTinymodel(_ context.Context, args []string, stdout, stderr io.Writer) error {
	d := tinymodel.Default
	fs := flag.NewFlagSet("tinymodel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output file (required; \"-\" for standard output)")
	name := fs.String("name", d.Name, "general.name written into the model")
	seed := fs.Uint64("seed", d.Seed, "random seed: the same seed and sizes give the same bytes")
	emb := fs.Int("embedding", d.Embedding, "embedding length (hidden size)")
	blocks := fs.Int("blocks", d.Blocks, "transformer blocks")
	heads := fs.Int("heads", d.Heads, "attention heads (embedding/heads must be even)")
	ff := fs.Int("ff", d.FF, "feed-forward length")
	ctxLen := fs.Int("context", d.Context, "context length in tokens")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: dsbridge tinymodel -o FILE [--seed N] [--embedding 64 --blocks 2 --heads 4 --ff 256 --context 512]

Writes a small, deterministic, random-weight llama-architecture model as a
GGUF v3 file (F16 matrices, F32 norms, a 438-token SentencePiece vocabulary
with byte fallback, a ChatML chat template). Real Ollama loads it:

  dsbridge tinymodel -o tiny.gguf
  printf 'FROM ./tiny.gguf\n' > Modelfile && ollama create tiny -f Modelfile
  ollama run tiny "hello"

It writes readable word salad and almost never stops by itself: bound
responses with num_predict. The defaults make a 187K-parameter, 387 KB file.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	c := tinymodel.Config{Name: *name, Seed: *seed, Embedding: *emb, Blocks: *blocks, Heads: *heads, FF: *ff, Context: *ctxLen}
	if *out == "-" {
		return tinymodel.Write(stdout, c)
	}
	// Write beside the target and rename, so a failed run leaves no half file.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".tinymodel-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tinymodel.Write(tmp, c); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), *out)
}
