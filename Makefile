# Equalis — top-level entry points. Everything goes through CMake presets.
#   make run    set up, build and start equalisd on the built-in demo plant (prints the URL)
#   make test   set up, build and run the whole test suite (unit, functional, integration) in
#               the release build, under ASan+UBSan and ThreadSanitizer, plus format, clang-tidy
#               and a short run of every fuzz target (scripts/test-all; docs/testing.md)
#   make package       the Debian package in build/deb/ (scripts/package; docs/install.md)
#   make package-test  build it, install, run, upgrade and purge it on this machine (root)
#   make soak   a long reliability run, not part of make test: mixed load on every interface,
#               then kill -9 restarts (scripts/soak; docs/testing.md "Soak")
SHELL := /bin/bash
JOBS ?= $(shell nproc)
HTTP ?= 127.0.0.1:8080
DATA ?= data
TIME_SCALE ?= 1
FUZZ_RUNS ?= 1000000
FUZZ_SECONDS ?= 3600
SOAK_MINUTES ?= 30
SOAK_RESTARTS ?= 1000
export CTEST_PARALLEL_LEVEL ?= $(JOBS)

.PHONY: setup build run test test-release test-asan asan test-tsan tsan fuzz-build fuzz fuzz-smoke \
        bench soak format format-check tidy docs package package-test clean

setup:
	@scripts/setup

build/release/build.ninja:
	cmake --preset release

build: setup build/release/build.ninja
	cmake --build --preset release -j $(JOBS)

run: build
	build/bin/equalisd --http $(HTTP) --data-dir $(DATA) --time-scale $(TIME_SCALE)

# Every stage below, timed, failing on the first failure; closes with "checks: N passed, N failed".
test: setup
	scripts/test-all

test-release: build
	ctest --preset release -j $(JOBS)

asan: setup
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)

# Unit and functional tests, as under TSan (docs/testing.md: the integration tests run in the
# release build only).
test-asan: asan
	ctest --preset asan -j $(JOBS)

tsan: setup
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS)

# Unit and functional tests (labels unit, functional).
test-tsan: tsan
	ctest --preset tsan -j $(JOBS)

fuzz-build: setup
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)

# Long fuzzing: FUZZ_RUNS inputs per target (default 10^6), at most FUZZ_SECONDS (default 3600)
# each; `make fuzz FUZZ_RUNS= FUZZ_SECONDS=600 FUZZ_TARGETS="config scenario"` for a time budget.
fuzz: fuzz-build
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz $(FUZZ_TARGETS)

# The short, fixed-budget run of `make test`: 10 s per target with the seed corpus.
fuzz-smoke: fuzz-build
	FUZZ_SECONDS=10 scripts/fuzz

bench: build
	build/bin/equalis-bench-pipeline
	build/bin/equalis-bench-sim
	build/bin/equalis-bench-balancing
	build/bin/equalis-bench-runaway
	build/bin/equalis-bench-bus-sweep
	build/bin/equalis-bench-history
	build/bin/equalis-bench-history-codec
	build/bin/equalis-bench-analysis
	build/bin/equalis-bench-health
	EQUALIS_BIN_DIR=build/bin python3 bench/http_bench.py

# Reliability: SOAK_MINUTES of mixed load (REST, SSE, curl, Modbus, SNMP, MQTT, equalisctl, alarm
# acknowledgements and rule changes) on a 600-block plant, then SOAK_RESTARTS kill -9 restarts
# with a history-store check after each. Figures as JSON lines and a table; exit 1 on a missed goal.
# `make soak SOAK_MINUTES=2 SOAK_RESTARTS=30` for a short run.
soak: build
	scripts/soak --minutes $(SOAK_MINUTES) --restarts $(SOAK_RESTARTS)

# The .deb from the release build (binaries of build/release, nothing compiled twice), lintian and
# systemd-analyze verify included.
package: build
	scripts/package

# Installs, runs, upgrades and purges the package on this machine (needs root; refuses when a
# package equalis is installed).
package-test: build
	scripts/package-test

docs: build
	build/bin/equalisctl points --markdown > docs/points.md

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

format-check:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

# Files unchanged (with their headers) since the commit in .ci/tidy-baseline are not checked
# again; TIDY_ALL=1 checks every file (scripts/tidy).
tidy: build
	JOBS=$(JOBS) scripts/tidy

clean:
	rm -rf build
