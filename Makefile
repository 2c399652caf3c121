# Duet's tasks. `make help` lists them.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/duet
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
BENCHTIME ?= 1s

.DEFAULT_GOAL := help
.PHONY: help run build deps test lint bench fuzz clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build and run the service on :8080 with the in-memory engine
	@echo "==> duet serve (http://localhost:8080, WebSocket ws://localhost:8080/ws)"
	./$(BIN) serve

build: ## build bin/duet
	@echo "==> go build -o $(BIN)"
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/duet

deps: ## install what the tests need that Go does not fetch: Debian's redis-server
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
		echo "==> apt-get install redis-server"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }

test: deps ## install what the tests need, then run every test with the race detector
	@echo "==> go test -race ./..."
	$(GO) test -race -count=1 ./...
	@echo "==> the end-to-end suite again, on the redis engine"
	DUET_E2E_ENGINE=redis $(GO) test -race -count=1 ./e2e

lint: ## check formatting, go vet, staticcheck and go.mod tidiness
	@echo "==> gofmt, go vet, staticcheck, go mod tidy -diff"
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) mod tidy -diff

bench: deps ## run the Go benchmarks of the frame codec and the message paths (BENCHTIME=1s)
	@echo "==> go test -bench (the Redis ones on a redis-server of their own); see BENCHMARKS.md for duet bench"
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

fuzz: ## fuzz the frame decoder for 30s
	@echo "==> go test -fuzz FuzzDecodeRequest"
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 30s ./push

clean: ## remove build output
	rm -rf bin
