package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dsbridge/dsbridge/dashboards"
)

// prometheusFiles is the Prometheus container's config and dsbridge's rules:
// every bridge under job dsbridge with its instance id as instance (as
// dashboards/prometheus/prometheus.example.yml does), every sim and Ollama
// under job ollamasim, scraped by name on the cluster network each second.
func prometheusFiles(bridges, upstreams []*Member) (map[string]string, error) {
	dir, err := os.MkdirTemp("", "dsbridge-rules-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	paths, err := dashboards.WriteRules(dir)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	var ruleFiles []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		dst := "/etc/prometheus/rules/" + filepath.Base(p)
		files[dst] = string(data)
		ruleFiles = append(ruleFiles, fmt.Sprintf("%q", dst))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%s]\nscrape_configs:\n", strings.Join(ruleFiles, ", "))
	b.WriteString("  - job_name: dsbridge\n    static_configs:\n")
	for _, m := range bridges {
		fmt.Fprintf(&b, "      - targets: [%q]\n        labels: {instance: %q}\n", fmt.Sprintf("%s:%d", m.Name, m.Port), m.Name)
	}
	var sims []string
	for _, m := range upstreams {
		if m.Kind == "sim" {
			sims = append(sims, fmt.Sprintf("%q", fmt.Sprintf("%s:%d", m.Name, m.Port)))
		}
	}
	if len(sims) > 0 {
		fmt.Fprintf(&b, "  - job_name: ollamasim\n    static_configs:\n      - targets: [%s]\n", strings.Join(sims, ", "))
	}
	files["/etc/prometheus/prometheus.yml"] = b.String()
	return files, nil
}
