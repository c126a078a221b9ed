# Lethe: `make run` runs pipeline.json end to end, `make test` runs the test suite.
# Both install the Debian packages Lethe links against when they are missing (and `make test` chromium).

SWIFT ?= swift
# Tests run on the release build (the numeric tests are slow in debug); -enable-testing keeps @testable imports.
TESTFLAGS = -c release -Xswiftc -enable-testing
DEBIAN_PACKAGES = libarchive-dev libzstd-dev libopenblas-dev
PKGCONFIG_NAMES = libarchive libzstd openblas
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps test-deps build test run bench clean

deps:
	@if ! pkg-config --exists $(PKGCONFIG_NAMES) 2>/dev/null || ! command -v zstd >/dev/null; then \
		echo "Installing $(DEBIAN_PACKAGES) zstd pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES) zstd pkg-config; \
	fi

# The tests open report.html in a real headless browser (ReportPageTests).
test-deps: deps
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then \
		echo "Installing chromium (for the report.html browser test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; \
	fi

build: deps
	$(SWIFT) build -c release

test: test-deps
	$(SWIFT) build $(TESTFLAGS) --build-tests
	$(SWIFT) test $(TESTFLAGS) --skip-build

# Benchmarks: Swift (lethe-bench) beside the Python baselines, one table of ratios.
PYTHON ?= python3
bench: build
	$(PYTHON) Benchmarks/run.py

run: build
	.build/release/lethe run pipeline.json

clean:
	rm -rf .build
