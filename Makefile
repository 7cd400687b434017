# featherip — build and test entry points. `make test` is what CI runs.
GO ?= go

.PHONY: test deps vet unit race build

## test: install what the tests need, vet, and run every test ring
##       (unit, simulation, interop with the Linux kernel, fuzz seed corpora).
test: deps vet unit race

deps:
	./scripts/install-deps.sh

vet:
	$(GO) vet ./...

# Fuzz targets run their committed seed corpora as plain tests here.
# The interop tests run at the sizes the issues ask for: 1 GiB TCP transfers
# with the Linux kernel and 30 s of wrk load (plain `go test` uses 64 MiB
# and 5 s for a quick local run).
unit:
	FEATHERIP_BIG=1 FEATHERIP_WRK_SECONDS=30 $(GO) test -count=1 -timeout 30m ./...

# The concurrent parts once more under the race detector.
race:
	$(GO) test -count=1 -race . ./link/... ./sim/... ./app/...

build:
	$(GO) build ./...

.PHONY: bench
## bench: featherip and gVisor's netstack side by side (separate module in
##        bench/); prints the table and writes bench/REPORT.md (a few minutes).
bench:
	cd bench && $(GO) run ./cmd/fipbench -o REPORT.md -rev "$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
