package ollamasim_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEmbedErrors: EmbedHandler's texts for an unknown model (through
// handleScheduleError) and for an input over the context with
// truncate:false (the runner's 400); with truncation on, it is cut.
func TestEmbedErrors(t *testing.T) {
	ts := httptest.NewServer(newInstantModels(t, "tiny"))
	defer ts.Close()
	if code, _, b := post(t, ts.URL+"/api/embed", `{"model":"nope","input":"x"}`); code != 404 || string(b) != `{"error":"model \"nope\" not found, try pulling it first"}` {
		t.Errorf("unknown model: %d %s", code, b)
	}
	long := strings.Repeat("hello ", 600)
	if code, _, b := post(t, ts.URL+"/api/embed", `{"model":"tiny","input":"`+long+`","truncate":false}`); code != 400 || string(b) != `{"error":"the input length exceeds the context length"}` {
		t.Errorf("too long: %d %s", code, b)
	}
	if code, _, b := post(t, ts.URL+"/api/embed", `{"model":"tiny","input":"`+long+`"}`); code != 200 {
		t.Errorf("truncated: %d %s", code, b)
	}
}
