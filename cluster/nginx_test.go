package cluster

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The generated config is one real nginx accepts (nginx -t), with every
// bridge by its fixed address and the retry that makes a restarting bridge
// invisible to clients.
func TestNginxConfigIsValid(t *testing.T) {
	bridges := []*Member{
		{Name: "bridge-1", IP: netip.MustParseAddr("10.213.7.71"), Port: bridgePort},
		{Name: "bridge-2", IP: netip.MustParseAddr("10.213.7.72"), Port: bridgePort},
	}
	conf := nginxConfig(bridges, 2*time.Second)
	for _, want := range []string{"server 10.213.7.71:8080 max_fails=2 fail_timeout=2s;", "server 10.213.7.72:8080", "proxy_next_upstream error timeout http_502 http_503 non_idempotent;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal("nginx not installed (apt-get install nginx-light)")
		}
		t.Skip("nginx not installed (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	// Paths that point into the container are moved into dir for the check.
	local := strings.NewReplacer("/run/nginx.pid", filepath.Join(dir, "nginx.pid"), "/tmp/", dir+"/", "listen 80;", "listen 127.0.0.1:1;").Replace(conf)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/nginx", "-t", "-e", "stderr", "-p", dir, "-c", path).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}
