// Package compat holds the simulator's compatibility tests with the
// official clients (Ollama's Go client and the OpenAI Go SDK) against a real
// `dsbridge sim` process. It is a package of its own so that the fuzz build
// of ollamasim does not compile the large OpenAI SDK with coverage
// instrumentation (minutes on a busy 2-core machine).
package compat
