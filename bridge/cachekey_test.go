package bridge

import (
	"bytes"
	"encoding/json"
	"testing"
)

func routeNamed(t testing.TB, name string) *route {
	t.Helper()
	rs := newRoutes()
	for i := range rs.all {
		if rs.all[i].name == name {
			return &rs.all[i]
		}
	}
	t.Fatalf("no route %q", name)
	return nil
}

func TestCacheKeyRule(t *testing.T) {
	cases := []struct {
		route, body string
		want        bool
	}{
		{"chat", `{"model":"m","messages":[],"options":{"temperature":0}}`, true},                  // greedy
		{"chat", `{"model":"m","messages":[],"options":{"temperature":0.0}}`, true},                // greedy, spelt as a float
		{"chat", `{"model":"m","messages":[],"options":{"seed":7,"temperature":1}}`, true},         // fixed seed
		{"chat", `{"model":"m","messages":[],"options":{"seed":-1,"temperature":1}}`, false},       // -1 is random in Ollama
		{"chat", `{"model":"m","messages":[],"options":{"temperature":0.8}}`, false},               // sampled
		{"generate", `{"model":"m","prompt":"hi"}`, false},                                         // default temperature 0.8
		{"generate", `{"model":"m","prompt":"hi","temperature":0}`, false},                         // top-level temperature is not Ollama's
		{"chat", `{"model":"m","options":{"temperature":0},"tools":[{"type":"function"}]}`, false}, // tools
		{"chat", `{"model":"m","options":{"temperature":0},"tools":[]}`, true},                     // an empty tool list offers none
		{"v1_chat", `{"model":"m","messages":[],"temperature":0}`, true},
		{"v1_chat", `{"model":"m","messages":[],"seed":1}`, true},
		{"v1_chat", `{"model":"m","messages":[],"options":{"temperature":0}}`, false}, // OpenAI has no options
		{"v1_chat", `{"model":"m","temperature":0,"functions":[]}`, false},
		{"v1_completions", `{"model":"m","prompt":"x","temperature":0}`, true},
		{"embed", `{"model":"m","input":"x"}`, true}, // embeddings are deterministic
		{"v1_embeddings", `{"model":"m","input":["x"]}`, true},
		{"embeddings", `{"model":"m","prompt":"x"}`, true},
		{"show", `{"model":"m"}`, false},
		{"chat", `[1,2]`, false},
	}
	for _, c := range cases {
		_, ok := cacheKeyFor(routeNamed(t, c.route), false, "m:latest", "", []byte(c.body))
		if ok != c.want {
			t.Errorf("%s %s: cacheable %v; want %v", c.route, c.body, ok, c.want)
		}
	}
}

func TestCacheKeyCovers(t *testing.T) {
	chat := routeNamed(t, "chat")
	base := `{"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":0}}`
	key := func(rt *route, stream bool, tenant, body string) cacheKey {
		k, ok := cacheKeyFor(rt, stream, "m:latest", tenant, []byte(body))
		if !ok {
			t.Fatalf("not cacheable: %s", body)
		}
		return k
	}
	k0 := key(chat, false, "", base)
	same := []string{
		`{"options":{"temperature":0},"messages":[{"content":"hi","role":"user"}],"model":"m"}`, // key order
		`{"model":"m", "messages": [ {"role":"user","content":"hi"} ], "options": {"temperature":0}, "keep_alive":"1h"}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":0},"stream":true}`, // stream is keyed apart
	}
	for _, b := range same {
		if key(chat, false, "", b) != k0 {
			t.Errorf("%s: another key than %s", b, base)
		}
	}
	differ := map[string]cacheKey{
		"tenant":  key(chat, false, "acme", base),
		"stream":  key(chat, true, "", base),
		"route":   key(routeNamed(t, "generate"), false, "", base),
		"message": key(chat, false, "", `{"model":"m","messages":[{"role":"user","content":"ho"}],"options":{"temperature":0}}`),
		"option":  key(chat, false, "", `{"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":0,"num_predict":3}}`),
		"format":  key(chat, false, "", `{"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":0},"format":"json"}`),
		"system":  key(chat, false, "", `{"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":0},"system":"be brief"}`),
		"images":  key(chat, false, "", `{"model":"m","messages":[{"role":"user","content":"hi","images":["aGk="]}],"options":{"temperature":0}}`),
	}
	seen := map[cacheKey]string{k0: "base"}
	for what, k := range differ {
		if prev, dup := seen[k]; dup {
			t.Errorf("%s gives the same key as %s", what, prev)
		}
		seen[k] = what
	}
}

// FuzzCacheKey: any body is handled without a panic, and a cacheable one
// gets the same key however it is spaced.
func FuzzCacheKey(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":0}}`))
	f.Add([]byte(`{"model":"m","options":{"seed":1e3},"prompt":"\u00e9\ud800"}`))
	f.Add([]byte(`{"input":["a","b"],"model":"m","dimensions":8}`))
	f.Add([]byte(`{"model":"m","temperature":0,"tools":null}`))
	f.Add([]byte(`not json`))
	routes := []*route{routeNamed(f, "chat"), routeNamed(f, "v1_chat"), routeNamed(f, "embed")}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range routes {
			k, ok := cacheKeyFor(rt, false, "m:latest", "t", body)
			if !ok || !json.Valid(body) {
				continue
			}
			var spaced bytes.Buffer
			if json.Indent(&spaced, body, " ", "  ") != nil {
				continue
			}
			k2, ok2 := cacheKeyFor(rt, false, "m:latest", "t", spaced.Bytes())
			if !ok2 || k2 != k {
				t.Errorf("%s: indented body keyed differently (ok %v)", body, ok2)
			}
		}
	})
}

func TestCacheEntryEncoding(t *testing.T) {
	e := &cacheEntry{contentType: "application/x-ndjson", model: "tiny\n:latest", body: []byte("{\"a\":1}\n{\"b\":2}\n")}
	got, ok := decodeEntry(encodeEntry(e))
	if !ok || got.contentType != e.contentType || got.model != e.model || !bytes.Equal(got.body, e.body) {
		t.Errorf("round trip: %+v", got)
	}
	for _, bad := range []string{"", "dsb1", "dsb1\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "dsb2\x00\x00", "dsb1\x05ab"} {
		if _, ok := decodeEntry([]byte(bad)); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestApportion(t *testing.T) {
	ms := []*batchMember{{weight: 10}, {weight: 30}, {weight: 0}}
	got := apportion(41, ms)
	if got[0]+got[1]+got[2] != 41 || got[2] != 0 || got[0] < 10 || got[0] > 11 || got[1] < 30 || got[1] > 31 {
		t.Errorf("apportion(41, 10/30/0) = %v", got)
	}
}
