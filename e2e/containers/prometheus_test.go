package containers

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/cluster"
	"github.com/dsbridge/dsbridge/internal/testproc"
)

// The cluster API's whole shape in one call: two sims, two bridges behind
// nginx, Prometheus with dsbridge's rules. A request through nginx works,
// and Prometheus scrapes every bridge and sim by its name on the network.
func TestClusterWithPrometheusScrapesEveryMember(t *testing.T) {
	requireDocker(t)
	requireTool(t, "/usr/sbin/nginx", "nginx-light")
	requireTool(t, "/usr/bin/prometheus", "prometheus")
	c := upCluster(t, cluster.Spec{Sims: 2, SimArgs: []string{"--profile", "instant"}, Bridges: 2, LB: true, Prometheus: true})

	resp, err := http.Post(c.Entry()+"/api/generate", "application/json",
		strings.NewReader(`{"model":"deepseek-r1:7b","prompt":"hi","stream":false,"options":{"num_predict":4}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("through nginx: %d", resp.StatusCode)
	}

	want := []string{"dsbridge/bridge-1:8080", "dsbridge/bridge-2:8080", "ollamasim/sim-1:11434", "ollamasim/sim-2:11434"}
	var got []string
	testproc.Eventually(t, 30*time.Second, "every bridge and sim up in Prometheus", func() bool {
		got = upTargets(t, c.Prom.URL)
		return strings.Join(got, " ") == strings.Join(want, " ")
	})
}

// upTargets lists job/address of the active targets whose health is up.
func upTargets(t *testing.T, prom string) []string {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/targets?state=active")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string            `json:"scrapePool"`
				Labels     map[string]string `json:"labels"`
				ScrapeURL  string            `json:"scrapeUrl"`
				Health     string            `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tg := range body.Data.ActiveTargets {
		if tg.Health == "up" {
			host := strings.TrimSuffix(strings.TrimPrefix(tg.ScrapeURL, "http://"), "/metrics")
			out = append(out, tg.ScrapePool+"/"+host)
		}
	}
	sort.Strings(out)
	return out
}
