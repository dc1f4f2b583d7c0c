package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// splitInputs reads an embedding request's top-level fields and its inputs
// when they are one non-empty string or a non-empty list of strings (token
// arrays and empty inputs are not batched).
func splitInputs(body []byte) (map[string]json.RawMessage, []json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, nil, false
	}
	in := bytes.TrimSpace(fields["input"])
	delete(fields, "input")
	if len(in) == 0 {
		return nil, nil, false
	}
	var inputs []json.RawMessage
	switch in[0] {
	case '"':
		if string(in) == `""` {
			return nil, nil, false
		}
		inputs = []json.RawMessage{in}
	case '[':
		if err := json.Unmarshal(in, &inputs); err != nil || len(inputs) == 0 {
			return nil, nil, false
		}
		for _, x := range inputs {
			if len(x) == 0 || x[0] != '"' {
				return nil, nil, false
			}
		}
	default:
		return nil, nil, false
	}
	return fields, inputs, true
}

// internalResult is what an internal call's writer collected.
type internalResult struct {
	status int
	ctype  string
	body   []byte
	sub    subResult
}

// bufferWriter is the http.ResponseWriter of an internal call: the answer
// is split before anything reaches a client.
type bufferWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.h }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferWriter) Flush() {}

// callInternal sends body on req's route through forward (selection,
// retries, breakers, metrics of the upstreams) without a client: no client
// header is forwarded, and the outcome is returned instead of recorded as a
// client request.
func (h *Handler) callInternal(ctx context.Context, st *state, req *request, body []byte, start time.Time) (res internalResult) {
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://bridge"+req.route.path, nil)
	r.Header.Set("Content-Type", "application/json")
	sr := &request{route: req.route, id: req.id, rawModel: req.rawModel, model: req.model, body: body, sub: &res.sub}
	bw := &bufferWriter{h: http.Header{}}
	defer func() {
		// forward aborts a cut non-streamed answer with ErrAbortHandler:
		// here that is a failed call like any other.
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // sentinel panic value
				panic(p)
			}
			res = internalResult{status: http.StatusBadGateway, sub: res.sub}
			res.sub.err = errors.New("upstream answer cut")
			res.ctype, res.body = errorBody(req.route.openai, res.status, res.sub.err.Error())
		}
	}()
	// No budget.onRequest: every member was counted as it came in.
	h.forward(bw, r, st, sr, start)
	return internalResult{status: bw.status, ctype: bw.h.Get("Content-Type"), body: bw.body.Bytes(), sub: res.sub}
}

// errorBody is writeError's answer as bytes.
func errorBody(openai bool, code int, msg string) (string, []byte) {
	bw := &bufferWriter{h: http.Header{}}
	writeError(bw, openai, code, msg)
	return bw.h.Get("Content-Type"), bw.body.Bytes()
}

// split hands each member of b its part of the merged answer: its own
// embeddings (data items renumbered from 0 on /v1), "model" as it spelt it,
// and a share of the prompt-token count. Ollama reports only the total for
// the call, so the share is apportioned by input bytes (exact in sum, an
// estimate per member). Durations are the merged call's.
func split(b *batch, openai bool, res internalResult) {
	if res.status >= 400 && res.status < 500 {
		for _, m := range b.members {
			m.fallback = true
		}
		return
	}
	fail := func(status int, ctype string, body []byte) {
		for _, m := range b.members {
			m.status, m.ctype, m.body, m.sub = status, ctype, body, res.sub
		}
	}
	if res.status != http.StatusOK {
		fail(res.status, res.ctype, res.body)
		return
	}
	parts, err := splitAnswer(b, openai, res.body)
	if err != nil {
		res.sub.err = err
		ct, body := errorBody(openai, http.StatusBadGateway, "batched embedding answer: "+err.Error())
		fail(http.StatusBadGateway, ct, body)
		return
	}
	for i, m := range b.members {
		m.status, m.ctype, m.body, m.sub = http.StatusOK, res.ctype, parts[i], res.sub
	}
}

// splitAnswer cuts an /api/embed or /v1/embeddings answer into one per
// member, keeping the upstream's fields and their order.
func splitAnswer(b *batch, openai bool, body []byte) ([][]byte, error) {
	fields, err := objectFields(body)
	if err != nil {
		return nil, err
	}
	listKey, countKey := "embeddings", "prompt_eval_count"
	if openai {
		listKey, countKey = "data", "usage"
	}
	var list []json.RawMessage
	var tokens int
	for _, f := range fields {
		switch f.key {
		case listKey:
			if err := json.Unmarshal(f.val, &list); err != nil {
				return nil, err
			}
		case countKey:
			if openai {
				var u struct {
					PromptTokens int `json:"prompt_tokens"`
				}
				_ = json.Unmarshal(f.val, &u)
				tokens = u.PromptTokens
			} else {
				tokens, _ = strconv.Atoi(string(f.val))
			}
		}
	}
	total := 0
	for _, m := range b.members {
		total += len(m.inputs)
	}
	if len(list) != total {
		return nil, errors.New(strconv.Itoa(len(list)) + " embeddings for " + strconv.Itoa(total) + " inputs")
	}
	shares := apportion(tokens, b.members)
	out := make([][]byte, len(b.members))
	off := 0
	for i, m := range b.members {
		mine := list[off : off+len(m.inputs)]
		off += len(m.inputs)
		if openai {
			mine = renumber(mine)
		}
		listVal, _ := json.Marshal(mine)
		modelVal, _ := json.Marshal(m.rawModel)
		countVal := []byte(strconv.Itoa(shares[i]))
		if openai {
			countVal = []byte(`{"prompt_tokens":` + strconv.Itoa(shares[i]) + `,"total_tokens":` + strconv.Itoa(shares[i]) + `}`)
		}
		out[i] = rewriteObject(fields, map[string][]byte{listKey: listVal, "model": modelVal, countKey: countVal})
	}
	return out, nil
}

// apportion splits total over the members by input bytes (floors, then one
// more each for the first members with input), so the parts add up to total.
func apportion(total int, ms []*batchMember) []int {
	sum := 0
	for _, m := range ms {
		sum += m.weight
	}
	out := make([]int, len(ms))
	if sum == 0 {
		return out
	}
	given := 0
	for i, m := range ms {
		out[i] = total * m.weight / sum
		given += out[i]
	}
	// Each floor lost less than one: fewer than len(ms) are left over.
	for i := 0; given < total && i < len(ms); i++ {
		if ms[i].weight > 0 {
			out[i]++
			given++
		}
	}
	return out
}

// renumber sets each OpenAI data item's "index" to its position.
func renumber(items []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		fs, err := objectFields(it)
		if err != nil {
			out[i] = it
			continue
		}
		out[i] = rewriteObject(fs, map[string][]byte{"index": []byte(strconv.Itoa(i))})
	}
	return out
}

// field is one top-level key of a JSON object, raw.
type field struct {
	key    string
	rawKey []byte // as written, quotes included
	val    []byte
}

// objectFields lists a JSON object's top-level fields in order.
func objectFields(b []byte) ([]field, error) {
	if !json.Valid(b) {
		return nil, errors.New("not JSON")
	}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotAnObject
	}
	var fs []field
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := skipString(b, i)
		var k string
		_ = json.Unmarshal(b[i:kEnd], &k)
		rawKey := b[i:kEnd]
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1)
		vEnd := skipValue(b, i)
		fs = append(fs, field{key: k, rawKey: rawKey, val: b[i:vEnd]})
		i = skipWS(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return fs, nil
}

// rewriteObject writes the fields back, with the values in repl replaced.
func rewriteObject(fs []field, repl map[string][]byte) []byte {
	var out bytes.Buffer
	out.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(f.rawKey)
		out.WriteByte(':')
		if v, ok := repl[f.key]; ok {
			out.Write(v)
		} else {
			out.Write(f.val)
		}
	}
	out.WriteByte('}')
	return out.Bytes()
}
