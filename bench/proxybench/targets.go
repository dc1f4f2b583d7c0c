package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsbridge/dsbridge/internal/loopback"
)

// target is one way of reaching the upstreams that wrk drives.
type target struct {
	Name  string   `json:"name"`  // "direct", "nginx", "httputil", "bridge"
	Label string   `json:"label"` // what the table says it is
	URL   string   `json:"url"`
	URLs  []string `json:"urls,omitempty"` // direct access: every upstream, each driven by its own wrk
	proc  *proc    // the proxy process; nil for direct access
}

// allTargets is the default target names, in table order. "haproxy" is
// optional (--targets direct,nginx,haproxy,httputil,bridge): the issue
// quotes it as a second peer, but it adds a quarter to the run time.
func allTargets() []string { return []string{"direct", "nginx", "httputil", "bridge"} }

// env is what the targets are started with.
type env struct {
	cfg       config
	dir       string // the run's temporary directory
	self      string // this binary, re-executed for the child roles
	dsbridge  string // the dsbridge binary
	upstreams []*proc
	upURLs    []string
}

// startUpstreams starts the three upstreams: stdlib processes (this binary in
// the "upstream" role) or `dsbridge sim --profile instant`.
func (e *env) startUpstreams(ctx context.Context) error {
	for i := range e.cfg.upstreamCount {
		addr, err := loopback.FreeAddr()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("upstream%d", i+1)
		var p *proc
		switch e.cfg.upstreamKind {
		case "stdlib":
			args := []string{"--listen", addr, "--model", benchModel}
			if e.cfg.upstreamCC != "" {
				args = append(args, "--cc", e.cfg.upstreamCC)
			}
			p, err = startProc(name, e.dir, e.cfg.serverCPUs, e.self, args, []string{roleEnv + "=upstream"})
		case "sim":
			p, err = startProc(name, e.dir, e.cfg.serverCPUs, e.dsbridge,
				[]string{"sim", "--listen", addr, "--profile", "instant", "--models", benchModel}, nil)
		default:
			err = fmt.Errorf("unknown --upstreams %q (stdlib or sim)", e.cfg.upstreamKind)
		}
		if err != nil {
			return err
		}
		e.upstreams = append(e.upstreams, p)
		url := "http://" + addr
		if err := p.waitHTTP(ctx, url+"/api/version", 15*time.Second, is200); err != nil {
			return err
		}
		e.upURLs = append(e.upURLs, url)
	}
	return nil
}

func is200(code int) bool { return code == 200 }

// startTarget starts the named target's proxy, if it has one, and waits until
// it answers.
func (e *env) startTarget(ctx context.Context, name string) (*target, error) {
	switch name {
	case "direct":
		// One wrk per upstream, connections split: the same upstream
		// processes under the same total load, with no proxy hop. This is
		// the ceiling of what this machine serves.
		return &target{Name: name, Label: fmt.Sprintf("direct (%d upstreams, no proxy)", len(e.upURLs)),
			URL: e.upURLs[0], URLs: e.upURLs}, nil
	case "nginx":
		return e.startNginx(ctx)
	case "haproxy":
		return e.startHAProxy(ctx)
	case "httputil":
		addr, err := loopback.FreeAddr()
		if err != nil {
			return nil, err
		}
		args := []string{"--listen", addr}
		for _, u := range e.upURLs {
			args = append(args, "--upstream", u)
		}
		p, err := startProc("httputil", e.dir, e.cfg.serverCPUs, e.self, args, []string{roleEnv + "=httputil"})
		if err != nil {
			return nil, err
		}
		t := &target{Name: name, Label: "plain httputil.ReverseProxy (reference)", URL: "http://" + addr, proc: p}
		return t, p.waitHTTP(ctx, t.URL+"/api/version", 15*time.Second, is200)
	case "bridge":
		return e.startBridge(ctx, "bridge", "dsbridge serve", e.dsbridge, nil)
	case "bridge-base":
		if e.cfg.baseDsbridge == "" {
			return nil, errors.New("target bridge-base needs --base-dsbridge")
		}
		return e.startBridge(ctx, "bridge-base", "dsbridge serve, base build", e.cfg.baseDsbridge, nil)
	case "bridge-nethttp":
		// The same bridge on net/http's server alone: what the fast
		// server (bridge/fastserver.go) is worth, in the same run.
		return e.startBridge(ctx, "bridge-nethttp", "dsbridge serve --server-engine net/http", e.dsbridge,
			[]string{"--server-engine", "net/http"})
	}
	return nil, fmt.Errorf("unknown target %q (want some of %s,haproxy,bridge-nethttp,bridge-base)", name, strings.Join(allTargets(), ","))
}

// startBridge starts binary as `dsbridge serve` on the upstreams, as
// configured by --bridge-config and --bridge-arg, plus extra, and waits until
// it routes. name is the target's and its process's name.
func (e *env) startBridge(ctx context.Context, name, label, binary string, extra []string) (*target, error) {
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", addr}
	for _, u := range e.upURLs {
		args = append(args, "--upstream", u)
	}
	if e.cfg.bridgeConfig != "" {
		args = append(args, "--config", e.cfg.bridgeConfig)
	}
	args = append(args, e.cfg.bridgeArgs...)
	args = append(args, extra...)
	p, err := startProc(name, e.dir, e.cfg.serverCPUs, binary, args, e.cfg.bridgeEnv)
	if err != nil {
		return nil, err
	}
	t := &target{Name: name, Label: label, URL: "http://" + addr, proc: p}
	if err := p.waitHTTP(ctx, t.URL+"/ready", 30*time.Second, is200); err != nil {
		return t, err
	}
	// /ready says one upstream is up; wait until the model is routable
	// through every path a request takes.
	return t, p.waitHTTP(ctx, t.URL+"/api/tags", 15*time.Second, is200)
}

// nginxConf is a configuration that makes nginx a fair peer for an Ollama
// gateway: keepalive to the upstreams (otherwise every request pays a
// connect), HTTP/1.1 upstream, no response buffering (streams are relayed as
// they come, as an Ollama deployment must), no access log (the bridge's
// metrics are in memory; nginx's log would be disk writes), no cap on
// requests per client connection (Go servers have none).
func nginxConf(dir, listen string, upstreams []string) string {
	var ups strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&ups, "    server %s;\n", strings.TrimPrefix(u, "http://"))
	}
	return fmt.Sprintf(`# generated by proxybench
daemon off;
master_process on;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/client_body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream ollama {
%[3]s    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen %[2]s;
    client_max_body_size 10m;
    location / {
      proxy_pass http://ollama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`, dir, listen, ups.String())
}

func (e *env) startNginx(ctx context.Context) (*target, error) {
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(dir, addr, e.upURLs)), 0o644); err != nil {
		return nil, err
	}
	// -e: the startup error log too, or nginx tries /var/log/nginx first.
	p, err := startProc("nginx", e.dir, e.cfg.serverCPUs, e.cfg.nginxPath,
		[]string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "nginx-error.log")}, nil)
	if err != nil {
		return nil, err
	}
	t := &target{Name: "nginx", Label: "nginx (Debian nginx-light)", URL: "http://" + addr, proc: p}
	return t, p.waitHTTP(ctx, t.URL+"/api/version", 15*time.Second, is200)
}

// haproxyConf makes HAProxy a fair peer the same way as nginxConf: HTTP
// keep-alive on both sides with upstream connections reused by any client
// (http-reuse always), one process with a thread per core, round robin, no
// log. HAProxy relays response bodies as they come by default.
func haproxyConf(listen string, upstreams []string) string {
	var ups strings.Builder
	for i, u := range upstreams {
		fmt.Fprintf(&ups, "  server u%d %s\n", i+1, strings.TrimPrefix(u, "http://"))
	}
	return fmt.Sprintf(`# generated by proxybench
global
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 75s
frontend fe
  bind %s
  default_backend be
backend be
  balance roundrobin
%s`, listen, ups.String())
}

func (e *env) startHAProxy(ctx context.Context) (*target, error) {
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(e.dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(haproxyConf(addr, e.upURLs)), 0o644); err != nil {
		return nil, err
	}
	// -db: stay in the foreground, as a child the harness can stop.
	p, err := startProc("haproxy", e.dir, e.cfg.serverCPUs, e.cfg.haproxyPath, []string{"-db", "-f", conf}, nil)
	if err != nil {
		return nil, err
	}
	t := &target{Name: "haproxy", Label: "HAProxy (Debian haproxy)", URL: "http://" + addr, proc: p}
	return t, p.waitHTTP(ctx, t.URL+"/api/version", 15*time.Second, is200)
}
