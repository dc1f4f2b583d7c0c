package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dsbridge/dsbridge/internal/loopback"
	"github.com/dsbridge/dsbridge/tinymodel"
)

// OllamaModel is the model the Ollama image serves: the generated tiny
// llama (tinymodel.Default), created with `ollama create` at build time.
const OllamaModel = "tiny"

// OllamaVersion is the release scripts/build-ollama.sh builds.
const OllamaVersion = "0.17.4"

// OllamaBinary is where `make ollama` (scripts/build-ollama.sh) leaves real
// Ollama: $DSBRIDGE_OLLAMA_BIN, or its cache folder under ~/.cache.
func OllamaBinary() (string, error) {
	if p := os.Getenv("DSBRIDGE_OLLAMA_BIN"); p != "" {
		return p, nil
	}
	cache := os.Getenv("DSBRIDGE_OLLAMA_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(base, "dsbridge", "ollama-v"+OllamaVersion)
	}
	p := filepath.Join(cache, "bin", "ollama")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no Ollama binary at %s: run `make ollama`", p)
	}
	return p, nil
}

// Ollama is real Ollama (the project's own build, which links libc, libm,
// libstdc++ and libgcc_s) with the tiny model already in its store, serving
// on :11434.
func Ollama(bin string) (*Image, error) {
	files, err := WithLibraries(bin, "/bin/ollama")
	if err != nil {
		return nil, err
	}
	var gguf bytes.Buffer
	if err := tinymodel.Write(&gguf, tinymodel.Default); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(gguf.Bytes())
	files = append(files, tmpDir, File{Dst: "/root", Dir: true})
	return &Image{
		Name: "ollama", Files: files,
		Env:        []string{"OLLAMA_HOST=0.0.0.0:11434", "OLLAMA_MODELS=/models", "HOME=/root"},
		Entrypoint: []string{"/bin/ollama"}, Cmd: []string{"serve"},
		BakeKey: OllamaModel + " " + hex.EncodeToString(sum[:]),
		Bake:    func(rootfs string) error { return bakeModel(bin, rootfs, gguf.Bytes()) },
	}, nil
}

// bakeModel runs the host's `ollama serve` on a free loopback port with its
// model store inside the image's root filesystem, and creates the model
// there through the CLI, as a user would.
func bakeModel(bin, rootfs string, gguf []byte) error {
	tmp, err := os.MkdirTemp("", "dsbridge-bake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ggufPath := filepath.Join(tmp, OllamaModel+".gguf")
	if err := os.WriteFile(ggufPath, gguf, 0o644); err != nil {
		return err
	}
	mf := filepath.Join(tmp, "Modelfile")
	if err := os.WriteFile(mf, []byte("FROM "+ggufPath+"\n"), 0o644); err != nil {
		return err
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		return err
	}
	env := []string{"PATH=/usr/bin:/bin", "OLLAMA_HOST=" + addr, "OLLAMA_MODELS=" + filepath.Join(rootfs, "models"), "HOME=" + tmp}
	// Its output goes to a file, read only if it fails.
	logPath := filepath.Join(tmp, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	srv := exec.Command(bin, "serve")
	srv.Env, srv.Stdout, srv.Stderr = env, logf, logf
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL); _ = srv.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if ctx.Err() != nil {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("ollama serve not ready: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	create := exec.CommandContext(ctx, bin, "create", OllamaModel, "-f", mf)
	create.Env = env // OLLAMA_HOST: the server above
	out, err := create.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ollama create: %v\n%s", err, out)
	}
	return nil
}
