GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/roster-dev/roster/internal/cli.Version=$(VERSION)
BIN     := bin/roster

.PHONY: build test bench generate install clean

# roster needs no C: built without cgo it is one static file that starts
# faster and smaller (docs/benchmarks.md, "Whole processes"). The race
# detector of make test needs cgo, so only build and install set this.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/roster

# The whole suite: unit, contract and end-to-end scripts, with the race
# detector, plus the checks CI relies on.
test:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 60m ./...

# Benchmarks print figures; they assert nothing. See docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -skip 'all-json|Import100k|Export1M|Apply10kEmpty|ImportProjects|Apply100kEmpty|ReadManifest100k' -benchtime 20x ./internal/... ./cmd/...
	$(GO) test -run '^$$' -bench 'UserList1M/all-json' -benchtime 1x ./cmd/roster
	# Provisioning (issues 9 and 22): each run is seconds (or a million
	# users), once is enough. MiB-peak is GNU time's (apt-get install -y time).
	$(GO) test -run '^$$' -bench 'Import100k|Export1M|Apply10kEmpty|ImportProjects|Apply100kEmpty' -benchtime 1x ./cmd/roster
	$(GO) test -run '^$$' -bench 'ReadManifest100k' -benchtime 1x -benchmem ./internal/roster/records

generate:
	rm -rf man completions
	$(GO) run ./internal/tools/gendocs man completions

install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/roster

clean:
	rm -rf bin

# roster serve on a seeded SQLite store (10,000 users), driven by wrk with 16
# connections for 10 s per endpoint; needs wrk (apt-get install -y wrk).
# PostgreSQL: go run ./internal/tools/benchserver -store postgres [-replicas 2].
# Extra flags: make bench-server BENCHSERVER_FLAGS='-runs 2 -rev HEAD'.
.PHONY: bench-server
bench-server:
	$(GO) run ./internal/tools/benchserver $(BENCHSERVER_FLAGS)

# The pages' screenshots in docs/screenshots, at 390 and 1280 px wide, made
# by the browser tests (needs chromium: apt-get install -y chromium).
.PHONY: screenshots
screenshots:
	ROSTER_SCREENSHOTS=1 $(GO) test -count=1 -run '^TestPages$$' ./cmd/roster
