# lynx-portal: `make run` for a local portal, `make test` for the full suite (what CI runs).
SHELL := /bin/bash
SWIFT ?= swift
BINARY := .build/debug/lynx-portal

.PHONY: all deps test-deps release-deps build check lint format test integration run release release-test bench bench-instructions clean

# The release (VERSION) and the tarball `make release` writes next to dist/lynx-portal/.
VERSION := $(shell tr -d '[:space:]' < VERSION)
RELEASE := lynx-portal-$(VERSION)
TARBALL := $(RELEASE)-linux-amd64.tar.gz
# Every target that builds the product runs this first: VERSION and the commit into the binary
# (Sources/CBuildInfo/generated/build-info.h, rewritten only when it changes).
STAMP := scripts/stamp-build.sh

all: build

deps:
	scripts/install-deps.sh build

test-deps:
	scripts/install-deps.sh test

# `make release` installs nothing: it checks the toolchain and build libraries and names what is missing.
release-deps:
	SWIFT=$(SWIFT) scripts/install-deps.sh release

build: deps
	$(STAMP)
	$(SWIFT) build

# Fast inner loop: formatting, build and the unit tests only.
check: lint
	$(STAMP)
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# swift format (bundled with the toolchain) with the committed .swift-format; `make format` fixes.
lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

format:
	$(SWIFT) format format -i -r Sources Tests Package.swift

# Everything CI runs: unit tests, then the integration suite through real Caddy and the binary.
test: test-deps lint
	$(STAMP)
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) integration
	$(MAKE) deploy-test
	$(MAKE) release-test
	$(MAKE) walkthrough
	$(MAKE) fuzz
	$(MAKE) sanitize

integration:
	cd Tests/integration && LYNX_PORTAL_BIN=$(CURDIR)/$(BINARY) python3 -m pytest -q -p no:cacheprovider

run: build
	scripts/dev-run.sh

# The bundle deploy/install.sh takes: a static-stdlib release binary plus templates, static files,
# quizzes, deploy/ and VERSION, as dist/lynx-portal/ and as dist/lynx-portal-VERSION-linux-amd64.tar.gz
# (top directory lynx-portal-VERSION/; owner 0, names sorted, mtimes the commit's date) with its
# .sha256 for `sha256sum -c`. No root, no apt: release-deps only checks.
release: release-deps
	$(STAMP)
	$(SWIFT) build -c release --static-swift-stdlib
	rm -rf dist/lynx-portal && mkdir -p dist/lynx-portal/bin
	cp .build/release/lynx-portal dist/lynx-portal/bin/
	strip dist/lynx-portal/bin/lynx-portal
	cp -r templates static dist/lynx-portal/
	if [ -d quizzes ]; then cp -r quizzes dist/lynx-portal/; fi
	cp -r deploy dist/lynx-portal/
	cp VERSION dist/lynx-portal/
	rm -f dist/$(TARBALL) dist/$(TARBALL).sha256
	tar -C dist --sort=name --owner=0 --group=0 --numeric-owner --mode=go-w \
		--mtime=@$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		--transform 's,^lynx-portal,$(RELEASE),' -cf - lynx-portal | gzip -n -9 > dist/$(TARBALL).partial
	mv dist/$(TARBALL).partial dist/$(TARBALL)
	cd dist && sha256sum $(TARBALL) > $(TARBALL).sha256
	@echo "release: dist/$(TARBALL) ($$(dist/lynx-portal/bin/lynx-portal --version))"

# The tarball as an operator gets it: checksum, unpack, its install.sh finds its bundle, its binary
# reports VERSION (Tests/release/).
release-test: release
	cd Tests/release && LYNX_RELEASE_TARBALL=$(CURDIR)/dist/$(TARBALL) python3 -m pytest -q -p no:cacheprovider

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
	$(STAMP)
	$(SWIFT) build -c release
	$(RECORD) experiments/bench/instructions.py

clean:
	rm -rf .build dist .dev

# The fresh-VPS test (Tests/deploy/): lint of deploy/ (shellcheck, caddy fmt/validate, offline
# systemd-analyze security), then deploy/install.sh run twice in a booted Debian 12 root
# (debootstrap, cached under /var/cache/lynx-portal-test, + systemd-nspawn). Needs root.
.PHONY: deploy-test
deploy-test: test-deps
	$(MAKE) release
	cd Tests/deploy && $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) env LYNX_BUNDLE=$(CURDIR)/dist/lynx-portal \
		python3 -m pytest -q -p no:cacheprovider

# The disaster-recovery drill, run for real, plus backup sizing for the realistic and a 10x class;
# writes experiments/41-deploy/dr-drill-<UTC date>.md (about two minutes). The drill itself also
# runs in `make test` (Tests/integration/test_backup.py).
.PHONY: record-dr-drill
record-dr-drill: test-deps build
	$(RECORD_CHECK)
	$(RECORD) LYNX_PORTAL_BIN=$(CURDIR)/$(BINARY) python3 experiments/41-deploy/dr-drill.py

# What a frequent snapshot costs (lynx-backup --frequent under a steady write load on the
# benchmark's class, over SSH): CPU and bytes per run, repository growth, the portal's p99 during
# a snapshot against outside one, time to off-site; writes experiments/41-deploy/snapshot-cost.md
# (about five minutes after the release build). SNAPSHOT_RUNS runs, SNAPSHOT_INTERVAL seconds apart, with the release
# binary a server runs (the targets are about it). Run it on an idle machine.
SNAPSHOT_RUNS ?= 12
SNAPSHOT_INTERVAL ?= 20
.PHONY: record-snapshot-cost
record-snapshot-cost: test-deps
	$(MAKE) release
	$(RECORD_CHECK)
	$(RECORD) LYNX_PORTAL_BIN=$(CURDIR)/dist/lynx-portal/bin/lynx-portal python3 experiments/41-deploy/snapshot-cost.py \
		--runs $(SNAPSHOT_RUNS) --interval $(SNAPSHOT_INTERVAL)

# The reliability scenarios (soak, SIGKILL under writes, disk full, lock contention, garbage on the
# socket, abuse) against the release binary; rewrites their sections of
# experiments/reliability/RESULTS.md. SOAK_SECONDS sets the soak's length.
SOAK_SECONDS ?= 1800
.PHONY: record-reliability
record-reliability: test-deps
	$(MAKE) release
	$(RECORD_CHECK)
	$(RECORD) python3 experiments/reliability/run.py all --seconds $(SOAK_SECONDS) \
		--binary $(CURDIR)/dist/lynx-portal/bin/lynx-portal

# What a release build costs (experiments/41-deploy/build-requirements.py): a cold `make release`
# in a fresh clone, its wall and CPU time and the peak memory of the whole build. Run it on an
# otherwise idle machine; writes experiments/41-deploy/build-requirements.md.
.PHONY: record-build-requirements
record-build-requirements: release-deps
	$(RECORD_CHECK)
	$(RECORD) python3 experiments/41-deploy/build-requirements.py

# The other records `make test` also produces, written to their committed places.
.PHONY: record-walkthrough record-deploy-figures record-fuzz record-sanitizers records
record-walkthrough: test-deps
	$(MAKE) release
	$(RECORD_CHECK)
	$(RECORD) python3 experiments/41-deploy/walkthrough.py --target nspawn
record-deploy-figures: test-deps
	$(MAKE) release
	$(RECORD_CHECK)
	cd Tests/deploy && $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) env $(RECORD) LYNX_BUNDLE=$(CURDIR)/dist/lynx-portal \
		python3 -m pytest -q -p no:cacheprovider
record-fuzz: deps
	$(RECORD_CHECK)
	$(RECORD) scripts/fuzz.sh $(FUZZ_SECONDS)
record-sanitizers: test-deps
	$(RECORD_CHECK)
	$(STAMP)
	$(RECORD) scripts/sanitizers.sh $(SANITIZERS)
records: record-reliability record-dr-drill record-snapshot-cost record-fuzz record-sanitizers record-deploy-figures record-walkthrough \
	record-build-requirements

# The exit gate: two new learners' two days in headless Chromium against install.sh's deploy in a
# fresh Debian 12 root (systemd-nspawn, tls internal); writes its transcript and screenshots to
# .records/experiments/41-deploy/ (`make record-walkthrough` writes the committed ones). Needs root.
.PHONY: walkthrough
walkthrough: test-deps
	$(MAKE) release
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
	$(STAMP)
	scripts/sanitizers.sh $(SANITIZERS)
