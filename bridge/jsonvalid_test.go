package bridge

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// FuzzValidJSON holds validJSON to json.Valid on any input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		`{"model":"tiny","stream":false,"messages":[{"role":"user","content":"Why is the sky blue?"}]}`,
		`{}`, `[]`, `[ ]`, `{ }`, `""`, `0`, `-0`, `-0.5e+10`, `1E-2`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
		`true`, `false`, `null`, `nul`, `truex`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{,}`, `[,1]`,
		`"\u00e9\n\t\"\\\/"`, `"\u00g0"`, `"\x"`, "\"a\x01b\"", "\"\xff\xfe\"", `"unterminated`, ` {"a" : [ 1 , {"b":null} ] } `,
		`{"a":1}{"b":2}`, `[[[[[[]]]]]]`, `[[[[[[]]]]]`, `]`, `}`, "\t\n\r 1 \t\n\r", "\v1",
		strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("[", 65) + strings.Repeat("]", 65),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v; json.Valid says %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON compares the two on the benchmark's chat body and on a
// chat with a long history (what a real Ollama client sends).
func BenchmarkValidJSON(b *testing.B) {
	short := []byte(`{"model":"bench:latest","messages":[{"role":"user","content":"Why is the sky blue?"}],"stream":false,"options":{"num_predict":32}}`)
	turn := `{"role":"user","content":"` + strings.Repeat(`Tell me more about Rayleigh scattering, and why \"blue\" wins. `, 20) + `"},`
	long := []byte(`{"model":"deepseek-r1:7b","messages":[` + strings.Repeat(turn, 20) + `{"role":"user","content":"ok"}],"stream":true}`)
	for _, c := range []struct {
		name string
		body []byte
	}{{"chat-130B", short}, {"history-" + strconv.Itoa(len(long)>>10) + "KiB", long}} {
		b.Run(c.name+"/validJSON", func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if !validJSON(c.body) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(c.name+"/json.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if !json.Valid(c.body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
