package ollamasim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
)

// jsonField is one top-level property of a structured-output schema.
type jsonField struct {
	name string
	typ  string // JSON Schema type: string, number, integer, boolean, array, object
}

// jsonFields reads a request's format: "json" (any object: one string
// field, "answer") or a JSON schema, whose top-level properties are
// answered in the schema's order. nil means no format: free text.
func jsonFields(format json.RawMessage) []jsonField {
	format = bytes.TrimSpace(format)
	if len(format) == 0 || bytes.Equal(format, []byte("null")) || bytes.Equal(format, []byte(`""`)) {
		return nil
	}
	answer := []jsonField{{name: "answer", typ: "string"}}
	var schema struct {
		Properties json.RawMessage `json:"properties"`
	}
	if format[0] != '{' || json.Unmarshal(format, &schema) != nil || len(schema.Properties) == 0 {
		return answer
	}
	var types map[string]struct {
		Type any `json:"type"`
	}
	if json.Unmarshal(schema.Properties, &types) != nil {
		return answer
	}
	// Walk the tokens for the keys' order, which a map loses.
	dec := json.NewDecoder(bytes.NewReader(schema.Properties))
	var out []jsonField
	if _, err := dec.Token(); err != nil { // {
		return answer
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return answer
		}
		k, _ := t.(string)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return answer
		}
		typ, _ := types[k].Type.(string) // a list of types: answered as a string
		out = append(out, jsonField{name: k, typ: typ})
	}
	if len(out) == 0 {
		return []jsonField{}
	}
	return out
}

// generateJSON is generate under Ollama's grammar for a format: an object
// with the schema's fields, strings of words from the vocabulary, one token
// per piece as a BPE tokenizer splits it ({", key, ":, ␣", word…, "}). It
// closes the object by itself (done_reason "stop") within num_predict,
// keeping a step for the end-of-sequence token the model samples next; a
// num_predict too small for the smallest object cuts it, invalid, with
// done_reason "length" — as real grammar-constrained output is cut.
func generateJSON(key uint64, fields []jsonField, numPredict, minTok, maxTok int) generation {
	rng := rand.New(rand.NewPCG(key, key^0x6a736f6e)) // "json"
	target := minTok
	if maxTok > minTok {
		target += rng.IntN(maxTok - minTok + 1)
	}
	if numPredict > 0 {
		target = min(target, numPredict-1)
	}
	// The smallest answer: one word per string.
	strs := 0
	for _, f := range fields {
		if f.typ == "" || f.typ == "string" {
			strs++
		}
	}
	pieces := func(words []int) []string {
		if len(fields) == 0 {
			return []string{"{}"}
		}
		out := []string{`{"`}
		wi := 0
		for i, f := range fields {
			if i > 0 {
				out = append(out, `,"`)
			}
			out = append(out, f.name, `":`)
			last := i == len(fields)-1
			switch f.typ {
			case "number", "integer":
				out = append(out, " "+strconv.Itoa(1+rng.IntN(99)))
			case "boolean":
				out = append(out, " true")
			case "array":
				out = append(out, " []")
			case "object":
				out = append(out, " {}")
			default:
				out = append(out, ` "`)
				for w := range words[wi] {
					word := vocabulary[rng.IntN(len(vocabulary))]
					if w > 0 {
						word = " " + word
					}
					out = append(out, word)
				}
				wi++
				if last {
					out = append(out, `"}`)
					continue
				}
				out = append(out, `"`)
			}
			if last && out[len(out)-1] != `"}` {
				out = append(out, "}")
			}
		}
		return out
	}
	words := make([]int, strs)
	for i := range words {
		words[i] = 1
	}
	fixed := len(pieces(words))
	for i := 0; strs > 0 && fixed+i < target; i++ {
		words[i%strs]++
	}
	toks := pieces(words)
	g := generation{doneReason: "stop"}
	if numPredict > 0 && len(toks) > numPredict {
		toks, g.doneReason = toks[:numPredict], "length"
	}
	g.tokens = toks
	g.ids = make([]int, len(toks))
	for i, t := range toks {
		g.ids[i] = tokenIDBase + int(fnv32(t)%4096)
	}
	return g
}

// fnv32 is a cheap, stable id for a piece of text.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
