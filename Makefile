# Greenmint. `make run` runs the demo on the embedded ledger; `make test` runs every test.
GO       ?= go
BIN      := bin/greenmint
PKGS     := ./...

.PHONY: run build test test-short bench fuzz vet clean

run: build
	./$(BIN) demo

build:
	$(GO) build -o $(BIN) ./cmd/greenmint

test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Benchmarks print `BENCH <name> <value> <unit>` lines (see docs/benchmarks.md).
bench:
	@$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./ledger/embedded/ | tee /tmp/greenmint-bench.out | \
		awk '{ for (i = 1; i <= NF; i++) if ($$i ~ /^BENCH:/) { split($$i, p, ":"); print "BENCH", p[2], $$(i-1), p[3] } }'
	@grep -E '^(FAIL|panic)' /tmp/greenmint-bench.out && exit 1 || true

# Runs each fuzz target for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeAttestation -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz FuzzContractRequests -fuzztime $(FUZZTIME) ./chaincode/

vet:
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
