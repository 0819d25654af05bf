# Every target does its own set-up, so each works on a fresh machine with Go.
SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go

.PHONY: help run test lint openapi bench tools db db-stop

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

run: ## Run the whole product on local defaults, demo data included
	@build/run.sh

test: tools ## Run every test (race detector on) against a real PostgreSQL
	@DATABASE_URL=$$(build/postgres.sh) && export DATABASE_URL && \
	  $(GO) test -race -count=1 -timeout 20m ./...

lint: ## go vet, gofmt and staticcheck
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck ./...

openapi: ## Rewrite openapi/openapi.yaml from the code
	$(GO) run ./cmd/roundtrip openapi > openapi/openapi.yaml

bench: tools ## Run the Go benchmarks and a short load run (figures in BENCHMARKS.md)
	@DATABASE_URL=$$(build/postgres.sh) && export DATABASE_URL && \
	  $(GO) test -run '^$$' -bench . -benchmem ./... && \
	  $(GO) run ./cmd/loadgen -replicas 1 -lifecycles 300 -concurrency 32

db: ## Print the URL of the PostgreSQL make uses (starting a private one if needed)
	@build/postgres.sh

db-stop: ## Stop the private PostgreSQL under .data/ (if one was started)
	@build/postgres.sh stop

# tools installs the Debian packages the tests drive (label rasterising, decoding and checking, the browser of the web tests,
# promtool to lint the metrics), and the npm tools (Prism for the Shippo contract test, Spectral for the OpenAPI
# documents) into the user's cache outside the repository.
PRISM_VERSION := 5.16.0
SPECTRAL_VERSION := 6.15.0
NPM_TOOLS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/roundtrip
tools:
	@missing=""; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	command -v zbarimg >/dev/null || missing="$$missing zbar-tools"; \
	command -v qpdf >/dev/null || missing="$$missing qpdf"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@for t in prism:@stoplight/prism-cli:$(PRISM_VERSION) spectral:@stoplight/spectral-cli:$(SPECTRAL_VERSION); do \
	  IFS=: read -r bin pkg ver <<< "$$t"; dir="$(NPM_TOOLS)/$$bin-$$ver"; \
	  if [ ! -x "$$dir/node_modules/.bin/$$bin" ]; then \
	    echo "installing $$pkg@$$ver into $$dir"; \
	    npm install --no-audit --no-fund --prefix "$$dir" "$$pkg@$$ver" >/dev/null || exit 1; \
	  fi; \
	done
