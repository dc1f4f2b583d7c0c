package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// serveBlob is /api/blobs/{digest}, the upload half of `create` from local
// files (ollama-python's create(files=…), the Go client's CreateBlob): a
// model created through the bridge must find its blobs on every instance.
// HEAD answers 200 only when every healthy instance has the blob, so that
// the client uploads it when one lacks it; POST streams the body to every
// healthy instance at once (the slowest one paces the upload; nothing is
// buffered whole: blobs are gigabytes). Each Ollama checks the digest
// itself. Admin only, like the other management calls.
func (h *Handler) serveBlob(w http.ResponseWriter, r *http.Request, rt *route, id string, st *state, start time.Time) {
	targets := st.pool.healthyUpstreams()
	if len(targets) == 0 {
		writeError(w, false, http.StatusServiceUnavailable, errNoUpstream.Error())
		h.finish(r, rt, id, "", http.StatusServiceUnavailable, start, nil, 0, errNoUpstream, nil)
		return
	}
	var results []blobResult
	if r.Method == http.MethodHead {
		results = h.blobFanOut(r, targets, id)
	} else {
		_ = http.NewResponseController(w).EnableFullDuplex()
		results = h.blobUpload(w, r, targets, id, st)
	}
	code, msg := blobVerdict(r.Method, results)
	var err error
	if code >= 400 {
		err = errors.New(msg)
		writeError(w, false, code, msg)
	} else {
		w.WriteHeader(code)
	}
	h.finish(r, rt, id, "", code, start, nil, len(targets), err, nil)
}

// blobResult is one instance's answer.
type blobResult struct {
	u      *Upstream
	status int    // 0: no answer
	msg    string // the error, when there is one
}

// blobUpload tees the client's body into one pipe per instance. An instance
// that answers before reading the body (it has the blob: 200) or fails has
// its pipe closed, and the others go on.
func (h *Handler) blobUpload(w http.ResponseWriter, r *http.Request, targets []*Upstream, id string, st *state) []blobResult {
	readers := make([]*io.PipeReader, len(targets))
	writers := make([]*io.PipeWriter, len(targets))
	for i := range targets {
		readers[i], writers[i] = io.Pipe()
	}
	var wg sync.WaitGroup
	results := make([]blobResult, len(targets))
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	for i, u := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.blobRequest(ctx, r, u, id, readers[i])
			// Answered: whatever it did not read, it will not.
			readers[i].CloseWithError(errBlobAnswered)
		}()
	}
	// The client's body, with a bound on silence (server.read_body_timeout
	// between two reads, not on the whole upload).
	rc := http.NewResponseController(w)
	tee := &teeWriter{ws: writers}
	buf := make([]byte, 256<<10)
	var rerr error
	for {
		_ = rc.SetReadDeadline(h.clock().Add(st.cfg.Server.ReadBodyTimeout))
		n, err := r.Body.Read(buf)
		if n > 0 {
			tee.write(buf[:n])
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	_ = rc.SetReadDeadline(time.Time{})
	for _, pw := range writers {
		if rerr != nil {
			pw.CloseWithError(rerr)
		} else {
			pw.Close()
		}
	}
	if rerr != nil {
		cancel()
	}
	wg.Wait()
	return results
}

var errBlobAnswered = errors.New("instance answered before reading the whole blob")

// teeWriter writes to every pipe still open; one that fails (its instance
// answered or broke) is dropped, not the upload.
type teeWriter struct {
	ws   []*io.PipeWriter
	dead []bool
}

func (t *teeWriter) write(p []byte) {
	if t.dead == nil {
		t.dead = make([]bool, len(t.ws))
	}
	for i, w := range t.ws {
		if !t.dead[i] {
			if _, err := w.Write(p); err != nil {
				t.dead[i] = true
			}
		}
	}
}

// blobFanOut asks every instance the same bodiless request (HEAD) at once.
func (h *Handler) blobFanOut(r *http.Request, targets []*Upstream, id string) []blobResult {
	results := make([]blobResult, len(targets))
	var wg sync.WaitGroup
	for i, u := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.blobRequest(r.Context(), r, u, id, nil)
		}()
	}
	wg.Wait()
	return results
}

// blobRequest sends r's method and path to u, with body (nil: none) of the
// client's length.
func (h *Handler) blobRequest(ctx context.Context, r *http.Request, u *Upstream, id string, body io.Reader) blobResult {
	req, err := http.NewRequestWithContext(ctx, r.Method, u.name+r.URL.Path, body)
	if err != nil {
		return blobResult{u: u, msg: err.Error()}
	}
	if body != nil {
		req.ContentLength = r.ContentLength
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("X-Request-Id", id)
	resp, err := h.client.Do(req)
	if err != nil {
		return blobResult{u: u, msg: err.Error()}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	res := blobResult{u: u, status: resp.StatusCode}
	if resp.StatusCode >= 300 {
		res.msg = errorMessage(msg, resp.Status)
	}
	return res
}

// blobVerdict is the client's answer: a success only when every instance
// succeeded. Ollama's own codes where the instances agree: HEAD 200/404,
// POST 201 (created somewhere) or 200 (all had it), 400 for a bad digest.
func blobVerdict(method string, results []blobResult) (int, string) {
	created, missing := false, false
	var failures []string
	clientErr := 0
	for _, res := range results {
		switch {
		case res.status == http.StatusCreated:
			created = true
		case res.status == http.StatusOK:
		case method == http.MethodHead && res.status == http.StatusNotFound:
			missing = true
		default:
			if res.status >= 400 && res.status < 500 {
				clientErr = res.status
			}
			failures = append(failures, fmt.Sprintf("%s: %s", res.u.name, res.msg))
		}
	}
	switch {
	case len(failures) > 0 && clientErr != 0 && len(failures) == len(results):
		return clientErr, results[0].msg // every instance refused the request itself
	case len(failures) > 0:
		return http.StatusBadGateway, strings.Join(failures, "; ")
	case missing:
		return http.StatusNotFound, "blob not found on every instance"
	case created:
		return http.StatusCreated, ""
	}
	return http.StatusOK, ""
}
