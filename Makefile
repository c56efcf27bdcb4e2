GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/roster-dev/roster/internal/cli.Version=$(VERSION)
BIN     := bin/roster

# make install puts roster in PREFIX/bin, its man pages in
# PREFIX/share/man/man1 and its completions under PREFIX/share. The default
# is go install's own place, $(go env GOPATH), whose bin is on PATH already
# for Go users; man finds PREFIX/share/man from PATH. DESTDIR is for
# packagers.
PREFIX  ?= $(firstword $(subst :, ,$(shell $(GO) env GOPATH)))
DESTDIR ?=

# staticcheck, pinned: make lint runs this version, fetched through the
# module proxy like any module.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# The race detector needs cgo, and cgo a C compiler: Go turns cgo off when
# it finds none (CGO_ENABLED=0), and make test then runs without -race,
# saying so. .ci/run installs gcc so that CI always has it.
RACE := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && echo -race)

# make test pipes go test into testsum; a failure on either side fails it.
SHELL       := bash
.SHELLFLAGS := -o pipefail -ec

.PHONY: build test lint tools bench generate install clean

# roster needs no C: built without cgo it is one static file that starts
# faster and smaller (docs/benchmarks.md, "Whole processes"). The race
# detector of make test needs cgo, so only build and install set this.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/roster

# The whole suite: make lint, then unit, contract and end-to-end scripts
# with the race detector. testsum prints the package lines go test prints,
# every failure whole, every skipped test with its reason, and a count.
test: lint
ifeq ($(RACE),)
	@echo 'make test: cgo is off (no C compiler found), so the tests run without -race; install gcc to have it' >&2
endif
	$(GO) test $(RACE) -count=1 -timeout 60m -json ./... | $(GO) run ./internal/tools/testsum

# The checks of tools nobody on the project wrote: formatting, go vet, a
# tidy go.mod, staticcheck, and mandoc's lint of the man pages. mandoc
# missing skips the last, saying so, except under CI (.ci/run installs it).
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GO) run $(STATICCHECK) ./...
	@if command -v mandoc >/dev/null; then \
		echo 'mandoc -T lint man/*.1'; mandoc -T lint man/*.1; \
	elif [ "$$CI" = true ]; then \
		echo 'make lint: mandoc is not installed (apt-get install mandoc)' >&2; exit 1; \
	else \
		echo 'make lint: SKIP the man pages: mandoc is not installed (apt-get install mandoc)' >&2; \
	fi

# The npm tools the tests hold the OpenAPI document and the pages to
# (Redocly, Spectral, openapi-typescript with tsc, html-validate), at the
# exact versions of .ci/tools/package-lock.json, in .ci/tools/node_modules
# (ignored by git, and by go as under a dot directory). Without them those
# tests skip, saying so, except under CI (.ci/run runs this). No install
# script runs: none of them needs one.
tools:
	npm ci --prefix .ci/tools --ignore-scripts --no-audit --no-fund

# Benchmarks print figures; they assert nothing. See docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -skip 'all-json|Import100k|Export1M|Apply10kEmpty|ImportProjects|Apply100kEmpty|ReadManifest100k|ServerOrgs' -benchtime 20x ./internal/... ./cmd/...
	$(GO) test -run '^$$' -bench 'UserList1M/all-json' -benchtime 1x ./cmd/roster
	# Provisioning (issues 9 and 22): each run is seconds (or a million
	# users), once is enough. MiB-peak is GNU time's (apt-get install -y time).
	$(GO) test -run '^$$' -bench 'Import100k|Export1M|Apply10kEmpty|ImportProjects|Apply100kEmpty' -benchtime 1x ./cmd/roster
	$(GO) test -run '^$$' -bench 'ReadManifest100k' -benchtime 1x -benchmem ./internal/roster/records
	# Organisations (issue 18): the server in three stores of up to 100,000
	# users, on SQLite, and on PostgreSQL when ROSTER_TEST_POSTGRES is set;
	# 3,000 requests a figure, as 20 would say nothing.
	$(GO) test -run '^$$' -bench 'ServerOrgs' -benchtime 3000x ./internal/api

generate:
	rm -rf man completions
	$(GO) run ./internal/tools/gendocs man completions docs/openapi.yaml

install:
	@test -n '$(PREFIX)' || { echo 'make install: no PREFIX (and go env GOPATH is empty)' >&2; exit 1; }
	mkdir -p '$(DESTDIR)$(PREFIX)/bin'
	CGO_ENABLED=0 GOBIN='$(abspath $(DESTDIR)$(PREFIX)/bin)' $(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/roster
	install -d '$(DESTDIR)$(PREFIX)/share/man/man1' \
		'$(DESTDIR)$(PREFIX)/share/bash-completion/completions' \
		'$(DESTDIR)$(PREFIX)/share/zsh/site-functions' \
		'$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d'
	install -m 0644 man/*.1 '$(DESTDIR)$(PREFIX)/share/man/man1/'
	install -m 0644 completions/roster.bash '$(DESTDIR)$(PREFIX)/share/bash-completion/completions/roster'
	install -m 0644 completions/_roster '$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_roster'
	install -m 0644 completions/roster.fish '$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/roster.fish'

clean:
	rm -rf bin

# roster serve on a seeded SQLite store (10,000 users), driven by wrk with 16
# connections for 10 s per endpoint; needs wrk (apt-get install -y wrk).
# PostgreSQL: go run ./internal/tools/benchserver -store postgres [-replicas 2].
# Extra flags: make bench-server BENCHSERVER_FLAGS='-runs 2 -rev HEAD'.
# Builds side by side, and PocketBase beside them (built from its
# examples/base into /tmp/pocketbase/base; see docs/benchmarks.md):
#   make bench-server BENCHSERVER_FLAGS='-rev main,HEAD -pocketbase /tmp/pocketbase -runs 2'.
.PHONY: bench-server
bench-server:
	$(GO) run ./internal/tools/benchserver $(BENCHSERVER_FLAGS)

# The pages' screenshots in docs/screenshots, at 390 and 1280 px wide, made
# by the browser tests (needs chromium: apt-get install -y chromium).
.PHONY: screenshots
screenshots:
	ROSTER_SCREENSHOTS=1 $(GO) test -count=1 -run '^TestPages$$' ./cmd/roster
