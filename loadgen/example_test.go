package loadgen_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/dsbridge/dsbridge/loadgen"
)

// tinyOllama answers /api/tags and streams two tokens on /api/chat.
func tinyOllama() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/tags" {
			fmt.Fprint(w, `{"models":[{"name":"tiny"}]}`)
			return
		}
		fmt.Fprintln(w, `{"model":"tiny","created_at":"t","message":{"role":"assistant","content":"hi"},"done":false}`)
		fmt.Fprintln(w, `{"model":"tiny","created_at":"t","message":{"role":"assistant","content":"!"},"done":false}`)
		fmt.Fprintln(w, `{"model":"tiny","message":{"role":"assistant","content":""},"done":true,"eval_count":2}`)
	}))
}

// Run 50 requests/s for one second, open model, default mix (streamed
// /api/chat on the server's first model).
func ExampleRun() {
	srv := tinyOllama()
	defer srv.Close()
	rs, err := loadgen.Run(context.Background(), loadgen.Config{
		Target:   srv.URL,
		Pacer:    loadgen.ConstantPacer(50),
		Duration: time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rs.Schema, rs.Requests.Total, rs.Requests.Failed, rs.Tokens.Output)
	// Output: dsbridge.results/v1 50 0 100
}

// Merge two shards' results files into one: the percentiles are those of
// one run over both shards' requests.
func ExampleResults_Merge() {
	srv := tinyOllama()
	defer srv.Close()
	var files []*bytes.Buffer
	for seed := range uint64(2) {
		rs, _ := loadgen.Run(context.Background(), loadgen.Config{
			Target: srv.URL, Pacer: loadgen.PoissonPacer{Mean: 40, Seed: seed}, Duration: time.Second, Seed: seed,
		})
		var b bytes.Buffer
		_ = rs.WriteJSON(&b)
		files = append(files, &b)
	}
	merged, _ := loadgen.ReadResults(files[0])
	other, _ := loadgen.ReadResults(files[1])
	if err := merged.Merge(other); err != nil {
		fmt.Println(err)
		return
	}
	merged.Close()
	fmt.Println(merged.Shards, merged.Requests.Total == merged.Latency.Count)
	// Output: 2 true
}
