# lynx-portal: `make run` for a local portal, `make test` for the full suite (what CI runs).
SHELL := /bin/bash
SWIFT ?= swift
BINARY := .build/debug/lynx-portal

.PHONY: all deps test-deps build check test integration run release bench clean

all: build

deps:
	scripts/install-deps.sh build

test-deps:
	scripts/install-deps.sh test

build: deps
	$(SWIFT) build

# Fast inner loop: build and the unit tests only.
check:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Everything CI runs: unit tests, then the integration suite through real Caddy and the binary.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) integration

integration:
	cd Tests/integration && LYNX_PORTAL_BIN=$(CURDIR)/$(BINARY) python3 -m pytest -q -p no:cacheprovider

run: build
	scripts/dev-run.sh

# The bundle deploy/install.sh takes: a static-stdlib release binary plus templates, static files, quizzes.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib
	rm -rf dist/lynx-portal && mkdir -p dist/lynx-portal/bin
	cp .build/release/lynx-portal dist/lynx-portal/bin/
	strip dist/lynx-portal/bin/lynx-portal
	cp -r templates static dist/lynx-portal/
	if [ -d quizzes ]; then cp -r quizzes dist/lynx-portal/; fi

bench: deps
	experiments/bench/run.sh

clean:
	rm -rf .build dist .dev
