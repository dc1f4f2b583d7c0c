package promrun

import (
	"strings"
	"testing"
	"time"
)

// Each row: an address and whether Start may listen on or scrape it.
func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9090", true},
		{"127.0.0.9:9090", true}, // all of 127.0.0.0/8
		{"[::1]:9090", true},
		{"localhost:9090", true},
		{"10.0.0.1:9090", false}, // never a non-loopback host
		{"0.0.0.0:9090", false},  // nor every interface
		{"example.com:80", false},
		{"127.0.0.1", false}, // no port
	} {
		if err := checkLoopback(tc.addr); (err == nil) != tc.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

// The config gives each target its instance label and groups targets by job.
func TestConfigYAML(t *testing.T) {
	out, err := configYAML(Config{
		ScrapeInterval: time.Second,
		RuleFiles:      []string{"/r/recording.yml"},
		Targets: []Target{
			{Job: "dsbridge", Addr: "127.0.0.1:1", Instance: "bridge-a"},
			{Job: "ollamasim", Addr: "127.0.0.1:2"},
			{Job: "dsbridge", Addr: "127.0.0.1:3", Instance: "bridge-b"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"scrape_interval: 1s", "scrape_timeout: 900ms", "- /r/recording.yml",
		"job_name: dsbridge", "instance: bridge-a", "instance: bridge-b", "job_name: ollamasim",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "job_name:") != 2 {
		t.Errorf("want two jobs:\n%s", got)
	}
	if _, err := configYAML(Config{Targets: []Target{{Job: "x", Addr: "10.1.1.1:80"}}}); err == nil {
		t.Error("a non-loopback target was accepted")
	}
}
