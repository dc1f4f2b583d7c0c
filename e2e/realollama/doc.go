// Package realollama tests `dsbridge serve` end to end in front of two real
// `ollama serve` processes (Ollama v0.17.4, built by `make ollama`) serving
// the project's tiny generated model: the official Go client, the OpenAI Go
// SDK and the `ollama` CLI work through the bridge, and `kill -9` of one
// Ollama under non-streamed load loses no request.
//
// Everything here is a real process on loopback; nothing is mocked. Without
// an Ollama binary the tests skip, or fail when DSBRIDGE_REQUIRE_OLLAMA is
// set (internal/ollamatest). The package is kept short because Ollama's
// runner spins its CPU threads while it generates; the Makefile runs it last,
// one package at a time (REAL_OLLAMA_PKGS).
package realollama
