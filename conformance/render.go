package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"sort"
	"strings"
)

// ignoredHeaders are per-connection or per-response values whose presence
// is covered elsewhere (framing) or never matters to a client.
var ignoredHeaders = map[string]bool{"Connection": true, "Content-Length": true, "Transfer-Encoding": true}

// Render turns an exchange into normalised text lines: two exchanges a
// client cannot tell apart render the same, and a difference shows as a
// line diff.
func Render(e Exchange) []string {
	if e.Status == 0 {
		return []string{"transport error: " + e.Err.Error()}
	}
	out := []string{fmt.Sprintf("status: %d", e.Status)}
	ct := e.Header.Get("Content-Type")
	out = append(out, "content-type: "+ct)
	framing := "content-length"
	if e.Chunked {
		framing = "chunked"
	}
	out = append(out, "framing: "+framing)
	// Header names and values, but for Date (a time) and Content-Type
	// (above); a header only one side sends shows as a changed line.
	var names []string
	for k := range e.Header {
		if !ignoredHeaders[k] && k != "Date" && k != "Content-Type" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if _, ok := e.Header["Date"]; !ok {
		out = append(out, "! no Date header")
	}
	for _, k := range names {
		out = append(out, "header "+k+": "+strings.Join(e.Header.Values(k), ", "))
	}
	if e.Err != nil {
		out = append(out, "body read error: "+e.Err.Error())
	}
	n := newNormaliser(e.Header)
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case len(e.Body) == 0:
		out = append(out, "body: empty")
	case mt == "application/x-ndjson":
		out = append(out, renderNDJSON(n, e.Body)...)
	case mt == "text/event-stream":
		out = append(out, renderSSE(n, e.Body)...)
	case mt == "application/json":
		out = append(out, "body: json")
		out = append(out, indent(renderJSON(n, e.Body, true))...)
	default:
		out = append(out, fmt.Sprintf("body: text %q", e.Body))
	}
	return out
}

// renderJSON decodes one JSON value keeping numbers exact, normalises it
// and writes it back with sorted keys (field order is not compared).
func renderJSON(n normaliser, b []byte, pretty bool) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Sprintf("invalid JSON (%v): %q", err, b)
	}
	if dec.More() {
		return fmt.Sprintf("trailing data after JSON: %q", b)
	}
	v = n.value("", v)
	var out []byte
	if pretty {
		out, _ = json.MarshalIndent(v, "", "  ")
	} else {
		out, _ = json.Marshal(v)
	}
	return string(out)
}

// renderNDJSON renders one line per JSON line. Runs of identical normalised
// lines (the token lines of a stream) collapse to one line with a count, so
// that a different number of tokens reads as one changed line.
func renderNDJSON(n normaliser, b []byte) []string {
	lines := strings.Split(string(b), "\n")
	var out []string
	if lines[len(lines)-1] != "" {
		out = append(out, "! last line has no newline")
	} else {
		lines = lines[:len(lines)-1]
	}
	var rendered []string
	for _, l := range lines {
		if l == "" {
			rendered = append(rendered, "(empty line)")
			continue
		}
		rendered = append(rendered, renderJSON(n, []byte(l), false))
	}
	out = append([]string{fmt.Sprintf("body: ndjson, %d lines", len(lines))}, out...)
	return append(out, collapse(rendered)...)
}

// renderSSE checks the event-stream framing: every event is one
// "data: …" line followed by a blank line.
func renderSSE(n normaliser, b []byte) []string {
	s := string(b)
	var out []string
	if !strings.HasSuffix(s, "\n\n") {
		out = append(out, "! stream does not end with a blank line")
	}
	events := strings.Split(strings.TrimSuffix(s, "\n\n"), "\n\n")
	var rendered []string
	for _, ev := range events {
		var parts []string
		for _, l := range strings.Split(ev, "\n") {
			field, val, ok := strings.Cut(l, ": ")
			switch {
			case ok && field == "data" && val == "[DONE]":
				parts = append(parts, "data: [DONE]")
			case ok && field == "data":
				parts = append(parts, "data: "+renderJSON(n, []byte(val), false))
			default:
				parts = append(parts, fmt.Sprintf("line %q", l))
			}
		}
		rendered = append(rendered, strings.Join(parts, " | "))
	}
	out = append([]string{fmt.Sprintf("body: event-stream, %d events", len(events))}, out...)
	return append(out, collapse(rendered)...)
}

func collapse(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("  %d× %s", j-i, lines[i]))
		} else {
			out = append(out, "  "+lines[i])
		}
		i = j
	}
	return out
}

func indent(s string) []string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return lines
}
