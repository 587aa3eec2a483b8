# lynx-portal: `make run` for a local portal, `make test` for the full suite (what CI runs).
SHELL := /bin/bash
SWIFT ?= swift
BINARY := .build/debug/lynx-portal

.PHONY: all deps test-deps build check lint format test integration run release bench bench-instructions clean

all: build

deps:
	scripts/install-deps.sh build

test-deps:
	scripts/install-deps.sh test

build: deps
	$(SWIFT) build

# Fast inner loop: formatting, build and the unit tests only.
check: lint
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# swift format (bundled with the toolchain) with the committed .swift-format; `make format` fixes.
lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

format:
	$(SWIFT) format format -i -r Sources Tests Package.swift

# Everything CI runs: unit tests, then the integration suite through real Caddy and the binary.
test: test-deps lint
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) integration
	$(MAKE) deploy-test
	$(MAKE) walkthrough
	$(MAKE) fuzz
	$(MAKE) sanitize

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
	cp -r deploy dist/lynx-portal/

# Committed records (experiments/records.py): every target below that writes one sets
# LYNX_RECORD=1, refuses a tree with uncommitted changes (records aside) and stamps the commit.
# The same scripts run by `make test` write to .records/ (ignored), so tests leave the tree clean.
RECORD := LYNX_RECORD=1
RECORD_CHECK := $(RECORD) python3 experiments/records.py check

bench: deps
	$(RECORD_CHECK)
	$(RECORD) experiments/bench/run.sh

# Instructions per request under valgrind: the same from run to run, for A/B of code changes.
bench-instructions: deps
	command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
	$(RECORD_CHECK)
	$(SWIFT) build -c release
	$(RECORD) experiments/bench/instructions.py

clean:
	rm -rf .build dist .dev

# The fresh-VPS test (Tests/deploy/): lint of deploy/ (shellcheck, caddy fmt/validate, offline
# systemd-analyze security), then deploy/install.sh run twice in a booted Debian 12 root
# (debootstrap, cached under /var/cache/lynx-portal-test, + systemd-nspawn). Needs root.
.PHONY: deploy-test
deploy-test: release
	scripts/install-deps.sh test
	cd Tests/deploy && $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) env LYNX_BUNDLE=$(CURDIR)/dist/lynx-portal \
		python3 -m pytest -q -p no:cacheprovider

# The disaster-recovery drill, run for real, plus backup sizing for the realistic and a 10x class;
# writes experiments/41-deploy/dr-drill-<UTC date>.md (about two minutes). The drill itself also
# runs in `make test` (Tests/integration/test_backup.py).
.PHONY: record-dr-drill
record-dr-drill: test-deps build
	$(RECORD_CHECK)
	$(RECORD) LYNX_PORTAL_BIN=$(CURDIR)/$(BINARY) python3 experiments/41-deploy/dr-drill.py

# The reliability scenarios (soak, SIGKILL under writes, disk full, lock contention, garbage on the
# socket, abuse) against the release binary; rewrites their sections of
# experiments/reliability/RESULTS.md. SOAK_SECONDS sets the soak's length.
SOAK_SECONDS ?= 1800
.PHONY: record-reliability
record-reliability: test-deps release
	$(RECORD_CHECK)
	$(RECORD) python3 experiments/reliability/run.py all --seconds $(SOAK_SECONDS) \
		--binary $(CURDIR)/dist/lynx-portal/bin/lynx-portal

# The other records `make test` also produces, written to their committed places.
.PHONY: record-walkthrough record-deploy-figures record-fuzz record-sanitizers records
record-walkthrough: release
	$(RECORD_CHECK)
	scripts/install-deps.sh test
	$(RECORD) python3 experiments/41-deploy/walkthrough.py --target nspawn
record-deploy-figures: release
	$(RECORD_CHECK)
	scripts/install-deps.sh test
	cd Tests/deploy && $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) env $(RECORD) LYNX_BUNDLE=$(CURDIR)/dist/lynx-portal \
		python3 -m pytest -q -p no:cacheprovider
record-fuzz: deps
	$(RECORD_CHECK)
	$(RECORD) scripts/fuzz.sh $(FUZZ_SECONDS)
record-sanitizers: test-deps
	$(RECORD_CHECK)
	$(RECORD) scripts/sanitizers.sh $(SANITIZERS)
records: record-reliability record-dr-drill record-fuzz record-sanitizers record-deploy-figures record-walkthrough

# The exit gate: two new learners' two days in headless Chromium against install.sh's deploy in a
# fresh Debian 12 root (systemd-nspawn, tls internal); writes its transcript and screenshots to
# .records/experiments/41-deploy/ (`make record-walkthrough` writes the committed ones). Needs root.
.PHONY: walkthrough
walkthrough: release
	scripts/install-deps.sh test
	python3 experiments/41-deploy/walkthrough.py --target nspawn

# libFuzzer + AddressSanitizer (Fuzz/, a package of its own so the fuzz entry points never reach
# the product), FUZZ_SECONDS split in half: the FastCGI request parser from Fuzz/corpus, then the
# whole request handler (Portal.handle, signed in) from seeds written from the routing table. New
# inputs go to a temp dir (scripts/fuzz.sh --update-corpus keeps them). Writes RESULTS.md "fuzz"
# and "fuzz-portal" under .records/ (`make record-fuzz`: the committed ones).
FUZZ_SECONDS ?= 120
.PHONY: fuzz
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

# The unit tests under ThreadSanitizer (.build-tsan) and AddressSanitizer (.build-asan), then each
# sanitizer's lynx-portal under concurrent load through Caddy (Tests/sanitizers/). About 5 minutes
# cold on 2 cores. Writes RESULTS.md "sanitizers" under .records/ (`make record-sanitizers`: the committed one). SANITIZERS=thread or address runs one.
SANITIZERS ?= all
.PHONY: sanitize
sanitize: test-deps
	scripts/sanitizers.sh $(SANITIZERS)
