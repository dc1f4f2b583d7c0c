package cluster

import (
	"fmt"
	"strings"
	"time"
)

// NginxConf is what differs between the two nginx load balancers dsbridge
// runs in front of its bridges: one in a container (this package) and one
// as a local process (package bench). Everything else, the proxying and the
// retry on another bridge, is the same config and is written once, by Text.
type NginxConf struct {
	// Header is the first comment line, naming who generated the file.
	Header string
	// Servers are the bridges, host:port each.
	Servers []string
	// FailTimeout is every server's fail_timeout; nginx reads it in whole
	// seconds, so it is rounded up, to 1 s at least.
	FailTimeout time.Duration
	// Listen is the listen directive's argument: a port or host:port.
	Listen string
	// WorkerProcesses is written when above zero (nginx's default is 1).
	WorkerProcesses int
	// NoMaster turns master_process off, so that nginx is one process.
	NoMaster bool
	// PID is the pid file's path.
	PID string
	// ErrorLog, when set, is the error log's path (at level warn).
	ErrorLog string
	// TempDir holds the body, proxy, fastcgi, uwsgi and scgi temp paths.
	TempDir string
}

// Text is the nginx.conf.
func (c NginxConf) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\ndaemon off;\n", c.Header)
	if c.WorkerProcesses > 0 {
		fmt.Fprintf(&b, "worker_processes %d;\n", c.WorkerProcesses)
	}
	if c.NoMaster {
		b.WriteString(`# One process: it dies with the bench even when the bench is SIGKILLed
# (the supervisor's parent-death signal reaches only its direct child; an
# nginx worker would outlive a killed master).
master_process off;
`)
	}
	fmt.Fprintf(&b, "pid %s;\n", c.PID)
	if c.ErrorLog != "" {
		fmt.Fprintf(&b, "error_log %s warn;\n", c.ErrorLog)
	}
	fmt.Fprintf(&b, `events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream bridges {
`, c.TempDir)
	failSecs := max(int64((c.FailTimeout+time.Second-1)/time.Second), 1)
	for _, s := range c.Servers {
		fmt.Fprintf(&b, "    server %s max_fails=2 fail_timeout=%ds;\n", s, failSecs)
	}
	fmt.Fprintf(&b, `    keepalive 128;
  }
  server {
    listen %s;
    location = /nginx-ready { return 200 "ok\n"; }
    location / {
      proxy_pass http://bridges;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
      proxy_connect_timeout 2s;
      # Ollama's API is all POSTs: let nginx retry them on another bridge,
      # which is safe only because a refused connection sent nothing.
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 3;
    }
  }
}
`, c.Listen)
	return b.String()
}
