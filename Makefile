# dsbridge — see README.md. `make bench` runs the main job, `make test` the tests.
GO       ?= go
BIN      := bin/dsbridge
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Tests run the real binary; point them at the one `make build` wrote.
export DSBRIDGE_BIN := $(CURDIR)/$(BIN)

.PHONY: build test fuzz bench bench-sim bench-proxy pgo lint clean ollama conformance calibrate dashboards k8s-tools k8s-check images up down

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/dsbridge

# Packages that run real Ollama go last, on their own: its runner's threads
# spin at full CPU while generating and would skew the others' timing tests.
# e2e/shardedload compares latency percentiles within 2 %: it runs on its
# own too, first. e2e/containers (clusters of containers, one with real
# Ollama) runs with them.
REAL_OLLAMA_PKGS := ./conformance/ ./tinymodel/ ./e2e/realollama/ ./e2e/containers/
SERIAL_PKGS := ./e2e/shardedload/ $(REAL_OLLAMA_PKGS)

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e '/conformance$$' -e '/tinymodel$$' -e '/e2e/realollama$$' -e '/e2e/shardedload$$' -e '/e2e/containers$$')
	cd tools/k8s && $(GO) vet ./... && $(GO) test -count=1 -timeout 15m ./...
	$(GO) test -p 1 -count=1 -timeout 25m $(SERIAL_PKGS)
	$(MAKE) fuzz

# A short run of every fuzz target, so CI keeps them honest (scripts/fuzz.sh:
# a bare deadline race of Go's fuzzing coordinator is retried once).
FUZZTIME ?= 10s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

# Real Ollama, built once from the Go module proxy into a cache outside the
# clone and reused by later runs; tests that need it find it there (or at
# $DSBRIDGE_OLLAMA_BIN). See scripts/build-ollama.sh.
ollama:
	./scripts/build-ollama.sh

# Kubernetes manifests (deploy/k8s) checked offline: kube-apiserver,
# kubeconform and strict JSON schemas built once from the Go module proxy
# into a cache outside the clone (scripts/build-k8s-tools.sh), then the
# tools/k8s tests: kubeconform, and a real API server on Debian's etcd.
# `make test` runs those tests when DSBRIDGE_K8S_TOOLS is set (CI sets it).
k8s-tools:
	./scripts/build-k8s-tools.sh

k8s-check:
	cd tools/k8s && DSBRIDGE_K8S_TOOLS="$$(../../scripts/build-k8s-tools.sh)" $(GO) test -count=1 -timeout 15m -v ./...

# The container images (all FROM scratch, built here: no registry needed),
# tagged by content hash so that a second run reuses what did not change.
# See README, "Containers".
images: build ollama
	$(BIN) images

# Compose stacks (compose/): STACK=local (default) uses only the images built
# here; STACK=public names public images and needs a registry.
COMPOSE ?= docker-compose
STACK   ?= local
STACK_FILE_local  := compose/local.yml
STACK_FILE_public := compose/docker-compose.yml
up: $(if $(filter local,$(STACK)),build)
	$(if $(filter local,$(STACK)),$(BIN) images dsbridge nginx prometheus)
	$(COMPOSE) -p dsbridge -f $(STACK_FILE_$(STACK)) up -d

down:
	$(COMPOSE) -p dsbridge -f $(STACK_FILE_$(STACK)) down -v --remove-orphans

# The simulator held to real Ollama: the same requests to both, every
# client-visible difference fails with a diff, known ones included
# (conformance/testdata/known-differences.txt; `make test` lets those pass).
conformance: build ollama
	DSBRIDGE_REQUIRE_OLLAMA=1 DSBRIDGE_CONFORMANCE_STRICT=1 $(GO) test -count=1 -timeout 15m -v ./conformance/

# The tiny-cpu profile against real Ollama, side by side, ±20 % enforced. A
# measuring tool: run it on an idle machine (README, "Calibrating").
calibrate: build ollama
	DSBRIDGE_REQUIRE_OLLAMA=1 DSBRIDGE_CALIBRATE=1 DSBRIDGE_CALIBRATION_STRICT=1 $(GO) test -count=1 -timeout 10m -v -run TestCalibration ./conformance/

# The main job: the smoke scenario end to end (cluster on loopback, load,
# gates, report). Other scenarios: bin/dsbridge bench --list.
# BENCH_FLAGS passes more flags, e.g. BENCH_FLAGS=--prometheus (needs
# Debian's prometheus; off by default so that make bench needs nothing else).
SCENARIO ?= smoke
BENCH_OUT ?= out/bench
BENCH_FLAGS ?=
bench: build
	$(BIN) bench --scenario $(SCENARIO) --out $(BENCH_OUT) $(BENCH_FLAGS)

# The simulator's own benchmark: non-streamed requests/s of
# `sim --profile instant` against a bare net/http handler returning the same
# bytes, measured in one run.
bench-sim: build
	$(GO) test -run '^$$' -bench '^BenchmarkSimVsBare$$' -benchtime 1x -count 1 ./ollamasim

# Regenerate the Grafana dashboards' JSON and provisioning files from
# dashboards/*.go (commit the result: a test fails when they are stale), and
# check the Prometheus rules when promtool is installed.
dashboards:
	$(GO) generate ./dashboards
	@if command -v promtool >/dev/null; then \
	  cd dashboards/prometheus && promtool check rules recording.yml alerts.yml && promtool test rules alerts_test.yml; \
	else echo "promtool not found: rules not checked (apt-get install prometheus)"; fi

# Issue 3's side-by-side proxy benchmark: direct, nginx, a plain
# httputil.ReverseProxy and the bridge, driven by wrk on the same upstreams.
# Needs wrk and nginx-light. PROXYBENCH_FLAGS passes more flags, e.g.
# PROXYBENCH_FLAGS='--profile --repeat 9'; see go run ./bench/proxybench --help.
# The program builds the bridge from this checkout itself, with symbols (perf
# needs them when the bridge serves no pprof), so it does not use bin/.
PROXYBENCH_FLAGS ?=
bench-proxy:
	$(GO) run ./bench/proxybench --out out/proxybench $(PROXYBENCH_FLAGS)

# Refresh the CPU profile the build optimises with (cmd/dsbridge/default.pgo,
# picked up by `go build` itself): the bridge under the proxy benchmark's
# cases. See scripts/pgo.sh and README, "Performance".
pgo:
	GO=$(GO) ./scripts/pgo.sh

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
