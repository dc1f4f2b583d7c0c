package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// diffHandler exercises what a ResponseWriter must get right: lengths
// computed or chunked, flushes, HEAD, bodiless statuses, unread bodies,
// panics, duplicate request headers.
func diffHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/echo":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Query", r.URL.RawQuery)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Len", strconv.FormatInt(r.ContentLength, 10))
		w.Header()["X-Multi"] = r.Header["X-Multi"]
		_, _ = w.Write(b)
	case "/sniff":
		_, _ = io.WriteString(w, "<html><body>hi</body></html>")
	case "/big":
		_, _ = w.Write(bytes.Repeat([]byte("0123456789abcdef"), 1024)) // 16 KiB, no length: chunked
	case "/length":
		w.Header().Set("Content-Length", "5")
		_, _ = io.WriteString(w, "hello")
	case "/flush":
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := range 3 {
			_, _ = io.WriteString(w, `{"i":`+strconv.Itoa(i)+"}\n")
			w.(http.Flusher).Flush()
		}
	case "/nocontent":
		w.WriteHeader(http.StatusNoContent)
	case "/status":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"busy"}`)
	case "/unread":
		_, _ = io.WriteString(w, "did not read")
	case "/unread-close":
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "did not read")
	case "/abort":
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case "/endbody":
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "last\n")
		endBodyOrFlush(w)
	case "/endbody-unflushed":
		_, _ = io.WriteString(w, "only\n")
		endBodyOrFlush(w)
	case "/headers":
		// The request's fields, in order: the fast server reuses a
		// connection's header map, and nothing of one request may show
		// in the next.
		for _, k := range slices.Sorted(maps.Keys(r.Header)) {
			_, _ = io.WriteString(w, k+"="+strings.Join(r.Header[k], ",")+"\n")
		}
	case "/empty":
	default:
		http.NotFound(w, r)
	}
}

// endBodyOrFlush ends the body where the writer can (the fast server):
// EndBody is a Flush and the end of the body, so net/http, which has no
// EndBody, must send the same bytes with a Flush.
func endBodyOrFlush(w http.ResponseWriter) {
	if e, ok := w.(bodyEnder); ok {
		_ = e.EndBody()
	} else {
		w.(http.Flusher).Flush()
	}
}

// startBoth serves h on net/http and on the fast server, each on its own
// loopback listener.
func startBoth(t *testing.T, h http.Handler) (std, fast string) {
	t.Helper()
	cfg := DefaultConfig().Server
	mk := func() *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout,
			MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelDebug)}
	}
	lnStd, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnFast, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s1 := mk()
	s2 := newFastServer(h, mk(), cfg, slog.New(slog.DiscardHandler))
	go func() { _ = s1.Serve(lnStd) }()
	go func() { _ = s2.Serve(lnFast) }()
	t.Cleanup(func() { _ = s1.Close(); _ = s2.Close() })
	return lnStd.Addr().String(), lnFast.Addr().String()
}

// exchangeRaw writes raw to addr and reads until the server closes or
// nothing arrives for a while; the answer with the Date values blanked.
func exchangeRaw(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return dateRE.ReplaceAllString(out.String(), "Date: X")
}

var dateRE = regexp.MustCompile(`Date: [^\r]*`)

// TestFastServerMatchesNetHTTP sends the same bytes to net/http and to the
// fast server and wants the same bytes back: for the requests the fast path
// serves itself and for those it hands to net/http (bad ones included).
func TestFastServerMatchesNetHTTP(t *testing.T) {
	std, fast := startBoth(t, http.HandlerFunc(diffHandler))
	post := func(path, body string, extra ...string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(extra, "") +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	get := func(path string, extra ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(extra, "") + "\r\n"
	}
	cases := map[string]string{
		"echo":               post("/echo?a=1&b=two", `{"model":"m"}`, "X-Multi: 1\r\nX-Multi: 2\r\n"),
		"empty body":         post("/echo", ""),
		"get":                get("/echo"),
		"lowercase names":    "GET /echo HTTP/1.1\r\nhost: x\r\nx-multi: a\r\n\r\n",
		"sniff":              get("/sniff"),
		"big chunked":        get("/big"),
		"length":             get("/length"),
		"flush":              get("/flush"),
		"end body":           get("/endbody") + get("/length"),
		"end body unflushed": get("/endbody-unflushed"),
		"end body, head":     "HEAD /endbody HTTP/1.1\r\nHost: x\r\n\r\n",
		"no content":         get("/nocontent"),
		"status":             get("/status"),
		"not found":          get("/nope"),
		"empty":              get("/empty"),
		"head":               "HEAD /length HTTP/1.1\r\nHost: x\r\n\r\n",
		"head computed":      "HEAD /sniff HTTP/1.1\r\nHost: x\r\n\r\n",
		"keep-alive x2":      get("/length") + get("/echo?second"),
		"fields per request": get("/headers", "X-First: 1\r\nX-Multi: a\r\nX-Multi: b\r\n") + get("/headers", "x-multi: c\r\n") + get("/headers"),
		"close":              get("/length", "Connection: close\r\n") + get("/echo"),
		"unread body":        post("/unread", "0123456789") + post("/echo", "next"),
		"unread, close":      post("/unread-close", "0123456789") + post("/echo", "next"),
		"unread big body":    post("/unread", strings.Repeat("b", 300<<10)) + post("/echo", "next"),
		"abort":              get("/abort"),
		"pipelined posts":    post("/echo", "one") + post("/echo", "two") + post("/echo", "three"),
		"chunked body":       "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"expect":             "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"http/1.0":           "GET /echo HTTP/1.0\r\n\r\n",
		"escaped path":       get("/a%20b"),
		"no host":            "GET /echo HTTP/1.1\r\n\r\n",
		"two hosts":          "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"two lengths":        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"length and chunked": "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"bad length":         "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"obs-fold":           "GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
		"bare LF":            "GET /echo HTTP/1.1\nHost: x\n\n",
		"space in name":      "GET /echo HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
		"NUL in value":       "GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
		"absolute form":      "GET http://x/echo HTTP/1.1\r\nHost: x\r\n\r\n",
		"garbage":            "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
		"long header":        get("/echo", "X-Long: "+strings.Repeat("a", 20<<10)+"\r\n"),
		"huge header":        get("/echo", "X-Huge: "+strings.Repeat("a", 80<<10)+"\r\n"),
		"upgrade":            get("/echo", "Connection: Upgrade\r\nUpgrade: websocket\r\n"),
		"bad method":         "G(T /echo HTTP/1.1\r\nHost: x\r\n\r\n",
		"short body":         "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := exchangeRaw(t, std, raw)
			got := exchangeRaw(t, fast, raw)
			if got != want {
				t.Errorf("fast server differs from net/http\nrequest: %.300q\nnet/http: %.600q\nfast:     %.600q", raw, want, got)
			}
		})
	}
}

// TestFastServerNoticesClientLeaving: a request that outlives watchDelay has
// its context cancelled when the client goes, as net/http does. The watch's
// timer is set by a connection's first request and not reset by the next
// ones (fastwatch.go): a slow request after quick ones must be watched too.
func TestFastServerNoticesClientLeaving(t *testing.T) {
	for _, quick := range []int{0, 3} {
		t.Run(fmt.Sprintf("after %d quick requests", quick), func(t *testing.T) {
			cancelled := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				if r.URL.Path == "/quick" {
					_, _ = io.WriteString(w, "ok")
					return
				}
				select {
				case <-r.Context().Done():
					close(cancelled)
				case <-time.After(10 * time.Second):
				}
			})
			_, fast := startBoth(t, h)
			c, err := net.Dial("tcp", fast)
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			for i := range quick {
				_, _ = io.WriteString(c, "GET /quick HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("quick request %d: %v", i, err)
				}
				_, _ = io.ReadAll(resp.Body)
				time.Sleep(watchDelay / 4) // the slow one starts well after the timer was set
			}
			_, _ = io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
			time.Sleep(3 * watchDelay)
			_ = c.Close()
			select {
			case <-cancelled:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler's context was not cancelled after the client left")
			}
		})
	}
}

// TestFastServerPipelinedSlowRequests: the watch reads one byte of the next
// request while a slow one runs; that byte must come back first.
func TestFastServerPipelinedSlowRequests(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		time.Sleep(2 * watchDelay)
		_, _ = w.Write(b)
	})
	_, fast := startBoth(t, h)
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req bytes.Buffer
	for i := range 4 {
		body := "body-" + strconv.Itoa(i)
		req.WriteString("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	}
	if _, err := c.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := range 4 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if want := "body-" + strconv.Itoa(i); resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("response %d: %d %q, want 200 %q", i, resp.StatusCode, b, want)
		}
	}
}

// TestFastServerShutdownWaitsForActive: Shutdown closes idle connections at
// once and lets a running request finish.
func TestFastServerShutdownWaitsForActive(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig().Server
	s := newFastServer(h, &http.Server{Handler: h}, cfg, slog.New(slog.DiscardHandler))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		got <- string(b) + " close=" + strconv.FormatBool(resp.Close)
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "done close=true" {
		t.Fatalf("in-flight request got %q, want its answer with Connection: close", g)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	_ = idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("idle connection not closed by Shutdown: %v", err)
	}
}

// TestFastServerEndBodySendsBeforeReturn: after EndBody the client has the
// whole answer while the handler still runs (the relay's bookkeeping), a
// later Write fails, and the connection carries the next request.
func TestFastServerEndBodySendsBeforeReturn(t *testing.T) {
	clientRead := make(chan struct{})
	afterEnd := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			_, _ = io.WriteString(w, "next")
			return
		}
		_, _ = io.WriteString(w, "streamed\n")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "done\n")
		if err := w.(bodyEnder).EndBody(); err != nil {
			afterEnd <- err
			return
		}
		_, err := io.WriteString(w, "late")
		afterEnd <- err
		select {
		case <-clientRead:
		case <-time.After(5 * time.Second):
		}
	})
	_, fast := startBoth(t, h)
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the answer did not end while the handler ran: %v (got %q)", err, b)
	}
	close(clientRead)
	if string(b) != "streamed\ndone\n" || resp.TransferEncoding == nil {
		t.Errorf("got %q, transfer-encoding %v; want the two lines, chunked", b, resp.TransferEncoding)
	}
	if err := <-afterEnd; !errors.Is(err, errBodyEnded) {
		t.Errorf("Write after EndBody: %v, want errBodyEnded", err)
	}
	_, _ = io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("next request on the connection: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "next" {
		t.Errorf("next request got %q", b)
	}
}
