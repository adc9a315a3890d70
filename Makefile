# Greenmint. `make run` serves the REST gateway on the embedded default (data in .greenmint/, made and
# seeded on the first start, reused after); `make test` runs every test.
GO       ?= go
BIN      := bin/greenmint
PKGS     := ./...

FABRIC_DIR ?= .fabric

.PHONY: run build test test-short bench fuzz vet clean fabric-up fabric-down test-fabric web web-test web-e2e web-bench

run: web build
	./$(BIN) serve

build:
	$(GO) build -o $(BIN) ./cmd/greenmint

test: web
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory web-test web-e2e

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Benchmarks print `BENCH <name> <value> <unit>` lines (see docs/benchmarks.md). The Fabric
# figures need FABRIC_BIN (a Fabric v3.1 release's bin directory); without it they are skipped.
BENCH_PKGS := ./ledger/embedded/ ./api/ ./oracle/ ./readmodel/ ./statement/ ./bundle/ $(if $(FABRIC_BIN),./ledger/fabric/)
bench:
	@$(if $(FABRIC_BIN),,echo "note: FABRIC_BIN is not set; the Fabric benchmarks are skipped";)
	@$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 30m $(BENCH_PKGS) 2>&1 | tee /tmp/greenmint-bench.out | \
		awk '{ for (i = 1; i <= NF; i++) if ($$i ~ /^BENCH:[^:]+:/) { split($$i, p, ":"); print "BENCH", p[2], $$(i-1), p[3] } }'
	@! grep -E '^(FAIL|panic)' /tmp/greenmint-bench.out
	@$(MAKE) --no-print-directory web-bench


# A native two-organisation Fabric network on loopback from the binaries at FABRIC_BIN.
fabric-up: build
	@test -n "$(FABRIC_BIN)" || { echo "FABRIC_BIN is not set: point it at a Fabric v3.1 release's bin directory"; exit 1; }
	./$(BIN) fabric up --dir $(FABRIC_DIR)

fabric-down: build
	./$(BIN) fabric down --dir $(FABRIC_DIR)

# The Ledger conformance suite and the end-to-end scenario on a real Fabric network. Packages run
# one at a time: one test restarts a peer of the shared network.
test-fabric:
	@if [ -z "$(FABRIC_BIN)" ] || [ ! -x "$(FABRIC_BIN)/peer" ]; then \
		echo "test-fabric: SKIPPED: FABRIC_BIN does not name a directory with Fabric v3.1 binaries (peer, orderer, configtxgen, osnadmin)"; \
		exit 0; fi; \
	$(MAKE) --no-print-directory fabric-down >/dev/null 2>&1; \
	$(MAKE) --no-print-directory fabric-up || exit 1; \
	GREENMINT_FABRIC_DIR=$(abspath $(FABRIC_DIR)) $(GO) test -p 1 -count=1 -timeout 20m -v -run 'Fabric|Connection' ./ledger/fabric/ ./cmd/greenmint/ ./api/ ./bundle/; rc=$$?; \
	./$(BIN) demo --ledger fabric --connection $(FABRIC_DIR)/connection.json || rc=1; \
	$(MAKE) --no-print-directory fabric-down; exit $$rc

# Runs every fuzz target of the module (found by name, so a new one is never left out) for FUZZTIME
# each (default 20s). Minimising each new input is capped: for a 10 kB attestation the default
# 60 s stalls a short run.
FUZZTIME ?= 20s
fuzz:
	@grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's#^\(.*\)/[^/]*:func #\1 #' | sort -u | \
		while read -r dir target; do echo "fuzz $$dir $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s "$$dir" || exit 1; done

vet:
	$(GO) vet $(PKGS)

clean:
	rm -rf bin

# The web app (web/, docs/web.md): npm ci when the lock changed or node_modules is missing, then the
# build (the typed client generated from docs/openapi.json, type check, Vite) when a source changed.
# The binary embeds web/dist (package web), so build after web.
WEB_SRC := $(shell find web/src web/scripts -type f ! -name '*.gen.ts' 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/package.json docs/openapi.json
web: web/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run --silent build

# Unit tests (Vitest), then the browser tests: headless Chromium (/usr/bin/chromium, or CHROMIUM)
# driven by playwright-core against a real `greenmint serve` on a temporary data directory.
web-test: web/node_modules/.package-lock.json
	cd web && npm run --silent test

web-e2e: web build
	cd web && GREENMINT_BIN=$(abspath $(BIN)) npm run --silent e2e

# BENCH web_js_gzip_kb (the first load's JavaScript, gzipped) and web_public_verify_load_ms (the
# public verification page from navigation to content, median of 10 loads in headless Chromium).
web-bench: web build
	@cd web && GREENMINT_BIN=$(abspath $(BIN)) node e2e/bench.mjs
