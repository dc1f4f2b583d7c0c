# dsbridge — see README.md. `make bench` runs the main job, `make test` the tests.
GO       ?= go
BIN      := bin/dsbridge
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Tests run the real binary; point them at the one `make build` wrote.
export DSBRIDGE_BIN := $(CURDIR)/$(BIN)

.PHONY: build test fuzz bench bench-sim bench-proxy lint clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/dsbridge

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# A short run of every fuzz target, so CI keeps them honest.
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The main job: the smoke scenario end to end (cluster on loopback, load,
# gates, report). Other scenarios: bin/dsbridge bench --list.
SCENARIO ?= smoke
BENCH_OUT ?= out/bench
bench: build
	$(BIN) bench --scenario $(SCENARIO) --out $(BENCH_OUT)

# The simulator's own benchmark: non-streamed requests/s of
# `sim --profile instant` against a bare net/http handler returning the same
# bytes, measured in one run.
bench-sim: build
	$(GO) test -run '^$$' -bench '^BenchmarkSimVsBare$$' -benchtime 1x -count 1 ./ollamasim

# Issue 3's side-by-side proxy benchmark: direct, nginx, a plain
# httputil.ReverseProxy and the bridge, driven by wrk on the same upstreams.
# Needs wrk and nginx-light. PROXYBENCH_FLAGS passes more flags, e.g.
# PROXYBENCH_FLAGS='--profile --repeat 5'; see go run ./bench/proxybench --help.
# The program builds the bridge from this checkout itself, with symbols (perf
# needs them when the bridge serves no pprof), so it does not use bin/.
PROXYBENCH_FLAGS ?=
bench-proxy:
	$(GO) run ./bench/proxybench --out out/proxybench $(PROXYBENCH_FLAGS)

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
