// Package conformance holds the simulator to real Ollama: the same corpus of
// requests goes, in the same order, to a real `ollama serve` (v0.17.4,
// serving the model `dsbridge tinymodel` writes) and to `dsbridge sim`, and
// every difference a client could see fails the test with a diff.
//
//	corpus ──▶ real Ollama ──▶ Exchange ──▶ Render (normalised text) ──┐
//	       └─▶ dsbridge sim ─▶ Exchange ──▶ Render (normalised text) ──┴▶ Diff
//
// What is compared: the status, the content type, how the body is framed
// (Content-Length or chunked), the set of header names, the Allow header,
// and the body — JSON field names, types, presence and values, NDJSON lines
// and SSE events one by one. Only values that legitimately differ between
// a real model and a simulated one are normalised before the comparison:
// timestamps, durations, generated text, token ids and counts of prompt
// tokens, digests, sizes and embedding values (their length and whether they
// are unit vectors are still compared). See normalise.go for the rules.
package conformance
