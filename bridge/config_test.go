package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsMatchDesign(t *testing.T) {
	c := DefaultConfig()
	// DESIGN.md "Defaults": nginx max_fails=2 fail_timeout=30s, breaker 5 → 30 s,
	// health checks about every second with a short time-out.
	if c.Passive.MaxFails != 2 || c.Passive.FailTimeout != 30*time.Second || c.Breaker.Failures != 5 ||
		c.Breaker.OpenFor != 30*time.Second || c.Health.Interval > time.Second || c.Policy != "model-aware" {
		t.Errorf("defaults drifted: %+v", c)
	}
	// Out within about 3 s: misses run back to back once checks time out.
	if out := time.Duration(c.Health.UnhealthyAfter)*c.Health.Timeout + c.Health.Interval; out > 3500*time.Millisecond {
		t.Errorf("a hung instance is out after up to %v; DESIGN says about 3 s", out)
	}
	if c.Health.UnhealthyAfter < 3 {
		t.Errorf("unhealthy_after %d: one slow answer on a loaded machine would be enough", c.Health.UnhealthyAfter)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml string
		wantErr    string
	}{
		// Everything the README documents parses.
		{"full", `
listen: 127.0.0.1:1
instance_id: b1
policy: least_outstanding
affinity: {header: X-Session-ID, prompt_prefix_bytes: 256}
upstreams:
  - {url: "http://127.0.0.1:2/", weight: 3, max_in_flight: 8}
  - {url: "http://127.0.0.1:3", backup: true}
health: {interval: 2s, timeout: 500ms, unhealthy_after: 3, healthy_after: 2, models_interval: 10s}
passive: {max_fails: 0, fail_timeout: 10s}
breaker: {failures: 3, open_for: 5s, half_open_requests: 2}
timeouts: {dial: 1s, first_byte: 30s, idle: 20s}
retry: {max_attempts: 2, budget_ratio: 0.1, budget_min: 5}
server: {read_header_timeout: 5s, read_body_timeout: 10s, idle_timeout: 60s, max_body_bytes: 1048576, grace: 10s, drain_delay: 1s}
admin_token: t
log: {level: debug, access: all, elasticsearch: {url: "http://127.0.0.1:9200", index_prefix: dsbridge-logs, buffer: 10000, flush_interval: 1s}}
pprof: true
cache: {backend: "redis://127.0.0.1:6379/0", ttl: 5m, memory_bytes: 67108864, max_entry_bytes: 1048576, redis_timeout: 250ms, redis_backoff: 1s}
batch: {max_wait: 2ms, max_inputs: 256}
`, ""},
		// A typo must not silently keep a default.
		{"unknown key", "upstreams: [{url: 'http://a:1'}]\nhelth: {}\n", "field helth not found"},
		// Values are checked, with the key named.
		{"bad policy", "upstreams: [{url: 'http://a:1'}]\npolicy: random\n", "policy \"random\""},
		{"bad url", "upstreams: [{url: 'a:1'}]\n", "upstreams[0].url"},
		{"duplicate", "upstreams: [{url: 'http://a:1'}, {url: 'http://a:1/'}]\n", "listed twice"},
		{"no upstreams", "policy: round_robin\n", "at least one"},
		{"bad log sink url", "upstreams: [{url: 'http://a:1'}]\nlog: {elasticsearch: {url: 'es:9200'}}\n", "log.elasticsearch.url"},
		{"bad log sink buffer", "upstreams: [{url: 'http://a:1'}]\nlog: {elasticsearch: {url: 'http://es:9200', buffer: 0}}\n", "buffer >= 1"},
		{"bad cache backend", "upstreams: [{url: 'http://a:1'}]\ncache: {backend: 'memcached://a:1'}\n", "cache.backend"},
		{"bad cache sizes", "upstreams: [{url: 'http://a:1'}]\ncache: {backend: memory, max_entry_bytes: 0}\n", "cache.memory_bytes"},
		{"bad batch wait", "upstreams: [{url: 'http://a:1'}]\nbatch: {max_wait: 5s}\n", "batch.max_wait"},
		{"bad duration", "upstreams: [{url: 'http://a:1'}]\nhealth: {interval: 0s}\n", "health.interval"},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name+".yaml")
		if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(p)
		if err == nil {
			err = c.Validate()
		}
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: error %v; want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestParseUpstreamFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    UpstreamConfig
		wantErr bool
	}{
		{"http://a:1", UpstreamConfig{URL: "http://a:1"}, false},
		{"http://a:1,weight=3,backup", UpstreamConfig{URL: "http://a:1", Weight: 3, Backup: true}, false},
		{"http://a:1,max_in_flight=4", UpstreamConfig{URL: "http://a:1", MaxInFlight: 4}, false},
		{"http://a:1,weight=x", UpstreamConfig{}, true},
		{"http://a:1,colour=red", UpstreamConfig{}, true},
	}
	for _, tt := range tests {
		got, err := ParseUpstreamFlag(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseUpstreamFlag(%q) = %+v, %v", tt.in, got, err)
		}
	}
}
