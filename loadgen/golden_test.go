package loadgen

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// transcript is a response recorded from real Ollama v0.17.4
// (testdata/golden, copied from shared/ollama-golden): its status, content
// type, and body lines with the time each arrived after the request.
type transcript struct {
	status      int
	contentType string
	lines       []timedLine
}

type timedLine struct {
	at   time.Duration
	text string
}

func readTranscript(t testing.TB, name string) transcript {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tr transcript
	section := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "=== ") {
			section = l
			continue
		}
		switch {
		case strings.HasPrefix(section, "=== RESPONSE STATUS"):
			if strings.HasPrefix(l, "HTTP/1.1 ") {
				tr.status, _ = strconv.Atoi(strings.Fields(l)[1])
			}
			if v, ok := strings.CutPrefix(l, "Content-Type: "); ok {
				tr.contentType = v
			}
		case strings.HasPrefix(section, "=== RESPONSE BODY") && strings.HasPrefix(l, "[+"):
			ms, text, _ := strings.Cut(strings.TrimPrefix(l, "[+"), " ms] ")
			v, err := strconv.ParseFloat(strings.TrimSpace(ms), 64)
			if err != nil {
				t.Fatalf("%s: bad line %q", name, l)
			}
			tr.lines = append(tr.lines, timedLine{time.Duration(v * float64(time.Millisecond)), text})
		}
	}
	if tr.status == 0 {
		t.Fatalf("%s: no status", name)
	}
	return tr
}

// replay serves tr to every request, each line at its recorded time.
func replay(t testing.TB, tr transcript) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("Content-Type", tr.contentType)
		w.WriteHeader(tr.status)
		fl := w.(http.Flusher)
		for _, l := range tr.lines {
			time.Sleep(time.Until(start.Add(l.at)))
			fmt.Fprintln(w, l.text)
			fl.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}
