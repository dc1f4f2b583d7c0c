package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDNSFlag(t *testing.T) {
	base := defaultDNSDiscovery()
	tests := []struct {
		in      string
		want    DNSDiscoveryConfig
		wantErr string
	}{
		// A name alone takes every default: A records on port 11434 every 5 s.
		{"ollama.ns.svc.cluster.local.", DNSDiscoveryConfig{Name: "ollama.ns.svc.cluster.local.", Type: "A", Port: 11434,
			Scheme: "http", Interval: 5 * time.Second, Timeout: 2 * time.Second, Weight: 1}, ""},
		// Every option, in any case for the type.
		{"_ollama._tcp.x,type=srv,server=127.0.0.1:53,interval=1s,port=80", DNSDiscoveryConfig{Name: "_ollama._tcp.x",
			Type: "SRV", Port: 80, Scheme: "http", Interval: time.Second, Timeout: 2 * time.Second, Server: "127.0.0.1:53",
			Weight: 1}, ""},
		{",port=1", DNSDiscoveryConfig{}, "no name"},
		{"x,port=eleven", DNSDiscoveryConfig{}, "port"},
		{"x,interval=5", DNSDiscoveryConfig{}, "interval"},
		{"x,colour=red", DNSDiscoveryConfig{}, "unknown option"},
	}
	for _, tt := range tests {
		got, err := ParseDNSFlag(tt.in, base)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one with %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestDNSConfigValidate(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml, wantErr string
	}{
		// Discovery alone is enough: no static upstream needed.
		{"dns only", "upstreams_dns: {name: ollama.ns.svc.cluster.local., port: 11434, type: A, interval: 5s}", ""},
		{"neither", "policy: round_robin", "at least one is required (or upstreams_dns)"},
		{"bad type", "upstreams_dns: {name: x, type: MX}", "upstreams_dns.type"},
		{"bad port", "upstreams_dns: {name: x, port: 0}", "upstreams_dns.port"},
		{"bad server", "upstreams_dns: {name: x, server: nowhere}", "upstreams_dns.server"},
		{"bad interval", "upstreams_dns: {name: x, interval: 0s}", "upstreams_dns.interval"},
		{"typo", "upstreams_dns: {nmae: x}", "nmae"},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name+".yaml")
		if err := os.WriteFile(p, []byte(tt.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(p)
		if err == nil {
			err = cfg.Validate()
		}
		if tt.wantErr == "" && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestWithDiscoveredKeepsStaticSettings(t *testing.T) {
	cfg := Config{Upstreams: []UpstreamConfig{{URL: "http://127.0.0.1:1", Weight: 5}}}
	got := withDiscovered(cfg, []UpstreamConfig{{URL: "http://127.0.0.1:1", Weight: 1}, {URL: "http://127.0.0.2:1", Weight: 1}})
	if len(got.Upstreams) != 2 || got.Upstreams[0].Weight != 5 || got.Upstreams[1].URL != "http://127.0.0.2:1" {
		t.Errorf("got %+v", got.Upstreams)
	}
	if len(cfg.Upstreams) != 1 {
		t.Error("withDiscovered changed its argument")
	}
}

// FuzzParseDNSFlag: any flag value is parsed or refused, never a panic, and
// what parses with a name keeps it.
func FuzzParseDNSFlag(f *testing.F) {
	f.Add("ollama.ns.svc.cluster.local.,type=SRV,port=11434,server=127.0.0.1:53,interval=2s")
	f.Add(",,=,")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDNSFlag(s, defaultDNSDiscovery())
		if err == nil && d.Name == "" {
			t.Fatalf("%q parsed without a name", s)
		}
		_ = d.validate()
	})
}
