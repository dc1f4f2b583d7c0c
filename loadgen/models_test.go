package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestFirstModel(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string // "" = an error
	}{
		{200, `{"models":[{"name":"tiny:latest"},{"name":"b"}]}`, "tiny:latest"},
		{200, `{"models":[{"model":"only-model-field"}]}`, "only-model-field"},
		{200, `{"models":[]}`, ""},
		{500, `{"error":"boom"}`, ""},
		{200, `not json`, ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/tags" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(tc.status)
			fmt.Fprint(w, tc.body)
		}))
		got, err := FirstModel(context.Background(), srv.Client(), srv.URL+"/")
		srv.Close()
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%d %s: %q, %v; want %q", tc.status, tc.body, got, err, tc.want)
		}
	}
}
