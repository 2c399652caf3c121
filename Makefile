# Duet's tasks. `make help` lists them.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/duet
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
BENCHTIME ?= 1s
IMAGE     ?= duet:$(VERSION)
CONTAINER ?= podman

.DEFAULT_GOAL := help
.PHONY: help run build image deps test lint bench fuzz clean ui ui-deps test-ui clean-ui

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build and run the service on :8080 with the in-memory engine
	@echo "==> duet serve (http://localhost:8080, WebSocket ws://localhost:8080/ws)"
	./$(BIN) serve

build: ## build bin/duet
	@echo "==> go build -o $(BIN)"
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/duet

# The image (deploy/image/Containerfile) holds the binary built here, statically, so building it
# pulls nothing from a registry. CONTAINER=docker works too.
image: ui ## build the container image duet:<version> with podman (IMAGE=, CONTAINER=docker)
	@echo "==> CGO_ENABLED=0 go build, then $(CONTAINER) build -t $(IMAGE) bin/image"
	rm -rf bin/image && mkdir -p bin/image/home
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/image/duet ./cmd/duet
	cp deploy/image/Containerfile deploy/image/passwd deploy/image/group /etc/ssl/certs/ca-certificates.crt bin/image/
	$(CONTAINER) build $(if $(findstring podman,$(CONTAINER)),--format docker) --build-arg VERSION=$(VERSION) -t $(IMAGE) bin/image

# runc next to podman: Debian's podman runs containers with crun, which refuses hosts that mount
# cgroup v1 and v2 side by side; the image test runs them with runc, which takes both.
deps: ## install what the tests need that Go does not fetch: Debian's redis-server, podman, nginx, caddy, promtool
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
		echo "==> apt-get install redis-server"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }
	@command -v podman >/dev/null && command -v runc >/dev/null || { \
		echo "==> apt-get install podman runc"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq podman runc; }
	@test -x /usr/sbin/nginx && command -v caddy >/dev/null && command -v promtool >/dev/null || { \
		echo "==> apt-get install nginx caddy prometheus (to run and check the examples of deploy/)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends nginx caddy prometheus; }

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

fuzz: ## fuzz the frame decoder and the content filter, 30s each
	@echo "==> go test -fuzz FuzzDecodeRequest, FuzzNormalize, FuzzMessage"
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 30s ./push
	$(GO) test -run '^$$' -fuzz FuzzNormalize -fuzztime 30s ./filter
	$(GO) test -run '^$$' -fuzz FuzzMessage -fuzztime 30s ./filter

clean: ## remove build output
	rm -rf bin

# The web page (frontend/): built into frontend/dist before go build embeds it.
UI_DEPS  := frontend/node_modules/.package-lock.json
UI_PAGE  := frontend/dist/index.html
UI_INPUT := $(shell find frontend/src frontend/public -type f 2>/dev/null) frontend/index.html frontend/vite.config.js

build: ui
test: test-ui
clean: clean-ui

ui: $(UI_PAGE) ## build the web page into frontend/dist

# npm ci only when node_modules is missing or package-lock.json is newer than the install.
$(UI_DEPS): frontend/package-lock.json
	@echo "==> npm ci (frontend)"
	cd frontend && npm ci --no-audit --no-fund

$(UI_PAGE): $(UI_DEPS) $(UI_INPUT)
	@echo "==> vite build (frontend/dist)"
	cd frontend && npm run build

ui-deps: ## install what the browser tests need: Debian's chromium
	@test -x /usr/bin/chromium || { \
		echo "==> apt-get install chromium"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

test-ui: ui-deps ui ## run the page's unit tests, then its browser tests against the real binary
	@echo "==> vitest (frontend unit tests)"
	cd frontend && npm test
	@echo "==> vitest (browser tests: chromium against a freshly built duet)"
	cd frontend && npm run test:browser

clean-ui:
	rm -rf frontend/dist frontend/test-output
