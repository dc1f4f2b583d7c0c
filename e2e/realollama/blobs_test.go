package realollama

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// bearer adds the bridge's admin token to every request of a client.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// TestCreateFromFilesThroughBridge: a model created through the bridge from
// a local file (what ollama-python's create(files=…) and the Go client's
// CreateBlob + Create do) ends up on every real Ollama: the blob upload is
// teed to both, HEAD says whether every instance has it, and create fans out.
func TestCreateFromFilesThroughBridge(t *testing.T) {
	f := startFleet(t)
	const token = "blob-admin-token"
	br := testproc.Start(t, "serve", "/ready", "--admin-token", token,
		"--upstream", f.ollamas[0].URL, "--upstream", f.ollamas[1].URL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// A model neither instance has: other weights than the fleet's tiny.
	gguf := filepath.Join(t.TempDir(), "other.gguf")
	if out, err := exec.Command(testproc.Binary(t), "tinymodel", "-o", gguf, "--seed", "7").CombinedOutput(); err != nil {
		t.Fatalf("tinymodel: %v\n%s", err, out)
	}
	data, err := os.ReadFile(gguf)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	head := func(base string, auth bool) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, base+"/api/blobs/"+digest, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("HEAD %s: %v", base, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := head(br.URL, true); c != http.StatusNotFound {
		t.Fatalf("HEAD through the bridge before upload: %d, want 404", c)
	}
	if c := head(br.URL, false); c != http.StatusUnauthorized {
		t.Fatalf("HEAD without the admin token: %d, want 401", c)
	}

	admin := api.NewClient(mustURL(t, br.URL), &http.Client{Transport: bearer{token, http.DefaultTransport}})
	anon := ollamaClient(t, br.URL)
	if err := anon.CreateBlob(ctx, digest, bytes.NewReader(data)); err == nil {
		t.Fatal("CreateBlob without the admin token succeeded")
	}
	if err := admin.CreateBlob(ctx, digest, bytes.NewReader(data[:len(data)/2])); err == nil ||
		!strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("CreateBlob of half the file: %v, want Ollama's digest mismatch", err)
	}
	if err := admin.CreateBlob(ctx, digest, bytes.NewReader(data)); err != nil {
		t.Fatalf("CreateBlob through the bridge: %v", err)
	}
	for i, o := range f.ollamas {
		if c := head(o.URL, false); c != http.StatusOK {
			t.Fatalf("ollama %d has no blob after the upload through the bridge (HEAD %d)", i, c)
		}
	}
	if c := head(br.URL, true); c != http.StatusOK {
		t.Fatalf("HEAD through the bridge after upload: %d, want 200", c)
	}
	// Again: both already have it and answer before reading the body.
	if err := admin.CreateBlob(ctx, digest, bytes.NewReader(data)); err != nil {
		t.Fatalf("second CreateBlob through the bridge: %v", err)
	}

	no := false
	err = admin.Create(ctx, &api.CreateRequest{Model: "other", Files: map[string]string{"other.gguf": digest},
		Parameters: map[string]any{"num_predict": 4, "num_thread": 1}, Stream: &no}, func(api.ProgressResponse) error { return nil })
	if err != nil {
		t.Fatalf("Create through the bridge: %v", err)
	}
	for i, o := range f.ollamas {
		if _, err := ollamaClient(t, o.URL).Show(ctx, &api.ShowRequest{Model: "other"}); err != nil {
			t.Errorf("ollama %d has no model after create through the bridge: %v", i, err)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
