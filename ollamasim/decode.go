package ollamasim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxBody bounds request bodies; Ollama has no limit, but a simulator
// that a fuzzer or a chaos run can exhaust is no use.
const maxBody = 64 << 20

// decode reads a JSON request body the way gin's ShouldBindJSON does
// (encoding/json's Decoder, first value only), answering Ollama's errors:
// an empty body is "missing request body" on the native API and "EOF" on
// /v1.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, endpoint string, v any, isOpenAI bool) bool {
	err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v)
	if err == nil {
		return true
	}
	switch {
	case isOpenAI:
		s.openAIBindError(w, endpoint, http.StatusBadRequest, err.Error())
	case errors.Is(err, io.EOF):
		s.nativeError(w, endpoint, "", http.StatusBadRequest, "missing request body")
	default:
		s.nativeError(w, endpoint, "", http.StatusBadRequest, err.Error())
	}
	return false
}

// decodeBody is gin's ShouldBindJSON for a middleware that reports the
// error itself.
func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v)
}
