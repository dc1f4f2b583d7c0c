package containers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/chaos"
	"github.com/dsbridge/dsbridge/cluster"
	"github.com/dsbridge/dsbridge/images"
	"github.com/dsbridge/dsbridge/internal/ollamatest"
	"github.com/dsbridge/dsbridge/internal/testproc"
)

// A real Ollama container killed by the kernel's OOM killer (its memory
// limit lowered, then a request larger than the limit) is noticed by the
// bridge and taken out of rotation while the other keeps answering; when it
// comes back (limit restored, container started) the bridge puts it back
// and sends it requests again.
func TestOOMKilledOllamaLeavesAndRejoinsRotation(t *testing.T) {
	requireDocker(t)
	ollamaBin := ollamatest.Binary(t)
	t.Setenv("DSBRIDGE_OLLAMA_BIN", ollamaBin)
	// Round robin: the default model-aware policy rightly keeps sending
	// to the Ollama that has the model loaded, which would hide whether
	// the returned one is back in rotation.
	c := upCluster(t, cluster.Spec{Ollamas: 2, Bridges: 1, BridgeArgs: []string{"--policy", "round_robin"}})
	bridge := c.Bridges[0]
	victim := c.Ollamas[0]

	waitUpstream(t, bridge.URL, victim.InnerURL, true, 30*time.Second)
	waitUpstream(t, bridge.URL, c.Ollamas[1].InnerURL, true, 30*time.Second)
	chat(t, bridge.URL) // loads the model on one of them

	inj, err := chaos.New("oom", chaos.Spec{}, chaos.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := chaos.Target{Name: victim.Name, Kind: victim.Kind, Proc: victim, AdminURL: victim.URL, Container: victim}
	revert, err := inj.Inject(ctx, []chaos.Target{target})
	if err != nil {
		if revert != nil {
			_ = revert(ctx)
		}
		t.Fatalf("oom: %v", err)
	}
	_, oom, err := victim.State(ctx)
	if err != nil || !oom {
		t.Fatalf("the container's state does not say OOM-killed: oom=%v err=%v", oom, err)
	}

	// Noticed and taken out; the other one serves everything meanwhile.
	waitUpstream(t, bridge.URL, victim.InnerURL, false, 10*time.Second)
	for range 5 {
		chat(t, bridge.URL)
	}

	// Back: the limit restored, the container started, the bridge sees it
	// healthy and routes to it again.
	if err := revert(ctx); err != nil {
		t.Fatalf("revert: %v", err)
	}
	waitUpstream(t, bridge.URL, victim.InnerURL, true, 30*time.Second)
	before := upstreamRequests(t, bridge.URL, victim.InnerURL)
	testproc.Eventually(t, 30*time.Second, "a request served by the returned container", func() bool {
		chat(t, bridge.URL)
		return upstreamRequests(t, bridge.URL, victim.InnerURL) > before
	})
}

// chat sends one short non-streamed chat to the bridge and wants a 200.
func chat(t *testing.T, base string) {
	t.Helper()
	body := `{"model":"` + images.OllamaModel + `","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":4,"seed":1}}`
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("chat through the bridge: %d %s", resp.StatusCode, e.Error)
	}
}

// waitUpstream polls the bridge's /admin/upstreams until upstream is (or is
// not) available.
func waitUpstream(t *testing.T, bridge, upstream string, available bool, limit time.Duration) {
	t.Helper()
	testproc.Eventually(t, limit, fmt.Sprintf("%s available=%v in /admin/upstreams", upstream, available), func() bool {
		resp, err := http.Get(bridge + "/admin/upstreams")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			Upstreams []struct {
				URL       string `json:"url"`
				Available bool   `json:"available"`
			} `json:"upstreams"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return false
		}
		for _, u := range st.Upstreams {
			if strings.TrimRight(u.URL, "/") == upstream {
				return u.Available == available
			}
		}
		return false
	})
}

// upstreamRequests reads the bridge's successful requests to upstream from
// its /metrics.
func upstreamRequests(t *testing.T, bridge, upstream string) float64 {
	t.Helper()
	resp, err := http.Get(bridge + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := `bridge_upstream_requests_total{outcome="success",upstream="` + upstream + `"}`
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
