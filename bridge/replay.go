package bridge

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// replay writes a cached answer as the upstream sent it: the same bytes
// (Ollama's NDJSON, OpenAI's SSE with its data: lines and [DONE], or one
// JSON object) under the same Content-Type, so every client library parses
// it as it parsed the original. A streamed answer goes out chunked and
// flushed, as a stream; a non-streamed one with its length. The one field
// rewritten is "model", when this client spelt the model differently from
// the one whose answer was stored ("tiny" vs "tiny:latest" share a key):
// Ollama echoes the client's spelling.
func replay(w http.ResponseWriter, e *cacheEntry, rawModel string, stream bool) error {
	body := e.body
	if rawModel != e.model {
		body = bytes.ReplaceAll(body, modelField(e.model), modelField(rawModel))
	}
	h := w.Header()
	h.Set("Content-Type", e.contentType)
	if !stream {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		return err
	}
	if stream {
		return http.NewResponseController(w).Flush()
	}
	return nil
}

// modelField is `"model":"NAME"` as encoding/json writes it (Ollama's and
// its OpenAI layer's encoder). Token text cannot contain it unescaped.
func modelField(name string) []byte {
	q, _ := json.Marshal(name)
	return append([]byte(`"model":`), q...)
}

// noCache reports a client's Cache-Control: no-store or no-cache: it wants
// a fresh answer, and the bridge neither serves nor stores one for it.
func noCache(r *http.Request) bool {
	cc := r.Header.Get("Cache-Control")
	return cc != "" && (strings.Contains(cc, "no-store") || strings.Contains(cc, "no-cache"))
}
