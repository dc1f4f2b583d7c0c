package conformance

import (
	"net/http"
	"strings"
	"testing"
)

func exchange(status int, ct string, chunked bool, body string) Exchange {
	h := http.Header{}
	h.Set("Content-Type", ct)
	h.Set("Date", "Thu, 26 Nov 2026 21:21:24 GMT")
	return Exchange{Status: status, Header: h, Chunked: chunked, Body: []byte(body)}
}

// Two streams that differ only in generated text, timestamps and durations
// render the same; each difference a client could see shows.
func TestRenderNormalisesOnlyWhatLegitimatelyDiffers(t *testing.T) {
	base := exchange(200, "application/x-ndjson", true,
		`{"model":"tiny","created_at":"2026-11-26T21:21:24.11212524Z","message":{"role":"assistant","content":" she"},"done":false}`+"\n"+
			`{"model":"tiny","created_at":"2026-11-26T21:21:24.2Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":123,"load_duration":4,"prompt_eval_count":20,"prompt_eval_duration":5,"eval_count":1,"eval_duration":6}`+"\n")
	same := exchange(200, "application/x-ndjson", true,
		`{"model":"tiny","created_at":"2030-01-01T00:00:00Z","message":{"role":"assistant","content":" hello world"},"done":false}`+"\n"+
			`{"model":"tiny","created_at":"2030-01-01T00:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":9,"load_duration":0,"prompt_eval_count":7,"prompt_eval_duration":9,"eval_count":1,"eval_duration":9}`+"\n")
	if d := Diff(Render(base), Render(same)); d != "" {
		t.Errorf("legitimate differences showed:\n%s", d)
	}
	for name, other := range map[string]Exchange{
		"status":        exchange(500, "application/x-ndjson", true, string(base.Body)),
		"content type":  exchange(200, "application/json", true, string(base.Body)),
		"framing":       exchange(200, "application/x-ndjson", false, string(base.Body)),
		"field missing": exchange(200, "application/x-ndjson", true, strings.Replace(string(base.Body), `"done_reason":"length",`, "", 1)),
		"field type":    exchange(200, "application/x-ndjson", true, strings.Replace(string(base.Body), `"total_duration":123`, `"total_duration":"123"`, 1)),
		"done reason":   exchange(200, "application/x-ndjson", true, strings.Replace(string(base.Body), `"length"`, `"stop"`, 1)),
		"eval count":    exchange(200, "application/x-ndjson", true, strings.Replace(string(base.Body), `"eval_count":1`, `"eval_count":2`, 1)),
		"empty content": exchange(200, "application/x-ndjson", true, strings.Replace(string(base.Body), `"content":""`, `"content":"x"`, 1)),
		"extra line":    exchange(200, "application/x-ndjson", true, strings.SplitAfter(string(base.Body), "\n")[0]+string(base.Body)),
		"no newline":    exchange(200, "application/x-ndjson", true, strings.TrimSuffix(string(base.Body), "\n")),
		"model name":    exchange(200, "application/x-ndjson", true, strings.ReplaceAll(string(base.Body), `"tiny"`, `"tiny:latest"`)),
	} {
		if d := Diff(Render(base), Render(other)); d == "" {
			t.Errorf("%s: difference not shown", name)
		}
	}
}

func TestRenderSSEFraming(t *testing.T) {
	good := exchange(200, "text/event-stream", true,
		"data: {\"id\":\"chatcmpl-12\",\"created\":1,\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"+
			"data: {\"id\":\"chatcmpl-12\",\"created\":1,\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DONE]\n\n")
	other := exchange(200, "text/event-stream", true,
		"data: {\"id\":\"chatcmpl-999\",\"created\":7,\"choices\":[{\"delta\":{\"content\":\"zz\"}}]}\n\n"+
			"data: {\"id\":\"chatcmpl-999\",\"created\":7,\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\n\ndata: [DONE]\n\n")
	if d := Diff(Render(good), Render(other)); d != "" {
		t.Errorf("legitimate differences showed:\n%s", d)
	}
	for name, body := range map[string]string{
		"no [DONE]":        strings.TrimSuffix(string(good.Body), "data: [DONE]\n\n"),
		"single newline":   strings.ReplaceAll(string(good.Body), "\n\n", "\n"),
		"no space":         strings.ReplaceAll(string(good.Body), "data: ", "data:"),
		"extra event line": "event: x\n" + string(good.Body),
	} {
		if d := Diff(Render(good), Render(exchange(200, "text/event-stream", true, body))); d == "" {
			t.Errorf("%s: difference not shown", name)
		}
	}
}

func TestRenderEmbeddingsAndExpiry(t *testing.T) {
	unit := exchange(200, "application/json; charset=utf-8", false, `{"embeddings":[[0.6,0.8]]}`)
	notUnit := exchange(200, "application/json; charset=utf-8", false, `{"embeddings":[[0.6,0.9]]}`)
	longer := exchange(200, "application/json; charset=utf-8", false, `{"embeddings":[[0.6,0.8,0]]}`)
	if Diff(Render(unit), Render(notUnit)) == "" || Diff(Render(unit), Render(longer)) == "" {
		t.Error("embedding norm or length differences not shown")
	}
	ps := func(exp string) Exchange {
		return exchange(200, "application/json; charset=utf-8", false, `{"models":[{"expires_at":"`+exp+`"}]}`)
	}
	// Date is 21:21:24; 5 minutes later, give or take a second, renders
	// the same; 10 seconds later does not.
	if d := Diff(Render(ps("2026-11-26T21:26:24.9Z")), Render(ps("2026-11-26T21:26:23.5Z"))); d != "" {
		t.Errorf("timing noise showed:\n%s", d)
	}
	if Diff(Render(ps("2026-11-26T21:26:24Z")), Render(ps("2026-11-26T21:21:34Z"))) == "" {
		t.Error("keep_alive difference not shown")
	}
}

func TestDiff(t *testing.T) {
	if d := Diff([]string{"a", "b"}, []string{"a", "b"}); d != "" {
		t.Errorf("equal inputs gave %q", d)
	}
	want := "  a\n- b\n+ c\n  d\n"
	if d := Diff([]string{"a", "b", "d"}, []string{"a", "c", "d"}); d != want {
		t.Errorf("Diff = %q, want %q", d, want)
	}
}

// /api/tags entries made in the same second may come in either order (Ollama
// reads them from a map); across seconds, newest first is behaviour.
func TestRenderTagsOrderWithinSecond(t *testing.T) {
	tags := func(a, b string) Exchange {
		return exchange(200, "application/json; charset=utf-8", false, `{"models":[`+a+`,`+b+`]}`)
	}
	entry := func(name, at string) string {
		return `{"name":"` + name + `","model":"` + name + `","modified_at":"` + at + `","size":1}`
	}
	x := entry("tiny:latest", "2026-11-26T21:21:24.1Z")
	y := entry("tiny-copy:latest", "2026-11-26T21:21:24.9Z")
	if d := Diff(Render(tags(x, y)), Render(tags(y, x))); d != "" {
		t.Errorf("same-second order showed as a difference:\n%s", d)
	}
	later := entry("tiny-copy:latest", "2026-11-26T21:21:25.0Z")
	if d := Diff(Render(tags(later, x)), Render(tags(x, later))); d == "" {
		t.Error("newest-first order across seconds was not compared")
	}
}
