# Equalis — top-level entry points. Everything goes through CMake presets.
#   make run    set up, build and start equalisd on the built-in demo plant (prints the URL)
#   make test   set up, build and run the whole test suite (unit, functional, integration)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
HTTP ?= 127.0.0.1:8080
DATA ?= data
TIME_SCALE ?= 1
export CTEST_PARALLEL_LEVEL ?= $(JOBS)

.PHONY: setup build run test test-asan asan bench format format-check tidy docs clean

setup:
	@scripts/setup

build/release/build.ninja:
	cmake --preset release

build: setup build/release/build.ninja
	cmake --build --preset release -j $(JOBS)

run: build
	build/bin/equalisd --http $(HTTP) --data-dir $(DATA) --time-scale $(TIME_SCALE)

test: build
	ctest --preset release -j $(JOBS)

asan: setup
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)

test-asan: asan
	ctest --preset asan -j $(JOBS)

bench: build
	build/bin/equalis-bench-pipeline
	build/bin/equalis-bench-sim
	build/bin/equalis-bench-balancing
	build/bin/equalis-bench-runaway

docs: build
	build/bin/equalisctl points --markdown > docs/points.md

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

format-check:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

tidy: build
	git ls-files 'src/*.cpp' 'apps/*.cpp' | xargs clang-tidy -p build/release --quiet

clean:
	rm -rf build
