# flink-ha-webhook: every target is short; the work lives in hack/ and in Go.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

BIN          ?= bin/flink-ha-webhook
IMAGE        ?= flink-ha-webhook:dev
GO           ?= go
STATICCHECK  ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME     ?= 20s
BENCHTIME    ?= 1s
UNIT_PKGS     = $(shell $(GO) list ./... | grep -v /test/)

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: demo
demo: controlplane ## Start a control plane and the webhook, and show what it does (under 2 minutes once cached).
	$(GO) run ./hack/demo

.PHONY: build
build: ## Build the flink-ha-webhook binary into bin/.
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/webhook

.PHONY: image
image: ## Build the container image IMAGE (default flink-ha-webhook:dev); needs Docker.
	docker build -t $(IMAGE) .

.PHONY: kind
kind: ## Install everything on a kind cluster and check it (needs Docker and kind; test/kind/run.sh).
	test/kind/run.sh

.PHONY: controlplane
controlplane: ## Build (once, cached) kube-apiserver, etcd, kube-controller-manager and kubectl for the tests.
	@hack/controlplane.sh >/dev/null

.PHONY: tools
tools: ## Build (once, cached) helm for the chart's tests.
	@hack/helm.sh >/dev/null

.PHONY: test
test: controlplane tools ## Run every test: unit, fuzz seeds and end to end on the real control plane.
	$(GO) test -race -count=1 ./...

.PHONY: test-unit
test-unit: ## Run the tests that need no control plane.
	$(GO) test -race -count=1 $(UNIT_PKGS)

.PHONY: test-e2e
test-e2e: controlplane tools ## Run only the end-to-end tests.
	$(GO) test -count=1 ./test/...

.PHONY: lint
lint: tools ## go vet, staticcheck, gofmt, helm lint and shellcheck.
	$(GO) vet ./...
	"$$(hack/helm.sh)" lint --strict charts/flink-ha-webhook
	shellcheck -x hack/*.sh test/kind/*.sh .ci/run
	$(GO) run $(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: fuzz
fuzz: ## Run every fuzz test for FUZZTIME each (default 20s).
	hack/fuzz.sh $(FUZZTIME)

.PHONY: bench
bench: ## Run the benchmarks (BENCHTIME each, default 1s).
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $(UNIT_PKGS)

.PHONY: bench-e2e
bench-e2e: controlplane ## Measure on the test bed the webhook against none and a no-op one (BENCH_E2E_FLAGS; minutes).
	$(GO) run ./test/bench $(BENCH_E2E_FLAGS)

.PHONY: clean
clean: ## Remove bin/ (the control-plane cache outside the checkout stays).
	rm -rf bin
