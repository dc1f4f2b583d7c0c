package ollamasim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// A simulator in-process, with no modelled delay, answering like Ollama.
func ExampleNew() {
	sim, err := ollamasim.New(ollamasim.Config{
		Models:   []string{"llama3.2:3b"},
		Profiles: ollamasim.Profiles{Default: ollamasim.InstantProfile()},
	}, prometheus.NewRegistry())
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(sim)
	defer ts.Close()

	resp, _ := http.Post(ts.URL+"/api/chat", "application/json", strings.NewReader(
		`{"model":"nope","messages":[{"role":"user","content":"hi"}]}`))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(b))
	// Output: 404 {"error":"model 'nope' not found"}
}
