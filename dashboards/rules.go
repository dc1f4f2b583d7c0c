package dashboards

import (
	"embed"
	"os"
	"path/filepath"
)

// ruleFS holds the Prometheus rule files, so a dsbridge binary run outside
// the source tree (dsbridge bench in CI, on a release) loads the same rules
// the tests check.
//
//go:embed prometheus/recording.yml prometheus/alerts.yml
var ruleFS embed.FS

// WriteRules writes recording.yml and alerts.yml into dir and returns their
// paths, for a Prometheus config's rule_files.
func WriteRules(dir string) ([]string, error) {
	var paths []string
	for _, name := range []string{"recording.yml", "alerts.yml"} {
		data, err := ruleFS.ReadFile("prometheus/" + name)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
