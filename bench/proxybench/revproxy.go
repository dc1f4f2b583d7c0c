package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// The httputil target is a reference point, not a competitor: the plainest Go
// proxy a person would write (round robin, stdlib ReverseProxy), with only the
// two settings without which it is broken rather than slow: enough idle
// connections per upstream (the default of 2 makes 64 client connections churn
// through ephemeral ports), and full duplex, without which an HTTP/1.1 Go
// server drops streamed POST connections (golang/go#40747).

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return "" }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runReverseProxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("httputil", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	var ups stringList
	fs.Var(&ups, "upstream", "upstream base URL (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(ups) == 0 {
		return errors.New("no --upstream")
	}
	targets := make([]*url.URL, len(ups))
	for i, u := range ups {
		t, err := url.Parse(u)
		if err != nil {
			return err
		}
		targets[i] = t
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
		},
		Transport: tr,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
