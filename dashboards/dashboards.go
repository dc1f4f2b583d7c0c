// Package dashboards builds dsbridge's Grafana dashboards as code, with
// grafana-foundation-sdk, and writes them as the JSON and provisioning files
// committed under grafana/. The Prometheus rules (prometheus/), Kibana saved
// objects (kibana/) and Elasticsearch index template (elasticsearch/) beside
// them are plain files; this package's tests check all of them, the panel
// queries against a real Prometheus scraping real bridges and simulators.
//
// Regenerate after editing a dashboard: `make dashboards` (or `go generate
// ./dashboards`). TestGeneratedUpToDate fails when the committed JSON differs.
package dashboards

//lint:file-ignore SA1019 the v1 dashboard model is deliberate: file provisioning and every Grafana release load it, while dashboardv2 needs Grafana 12 with its new-layouts feature flag.

//go:generate go run ./gen -out .

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Spec is one dashboard: the file it is written to under grafana/ and the
// function that builds it.
type Spec struct {
	File  string
	Build func() (dashboard.Dashboard, error)
}

// All lists every dashboard, in the order they are written.
func All() []Spec {
	return []Spec{
		{File: "overview.json", Build: Overview},
		{File: "fleet.json", Build: Fleet},
		{File: "testbed.json", Build: Testbed},
	}
}
