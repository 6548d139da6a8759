#!/bin/sh
# scripts/test.sh - set up, build and run the whole test suite: once normally (build/), once
# under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/). Before building, the
# include direction and the build fragments are checked against the layers
# (scripts/check_layers.sh, docs/ARCHITECTURE.md) and every C file against .clang-format
# (scripts/check_format.sh).
# Check's summary lines and each test's PASS/FAIL go to stdout. Exit status 0 only if all pass.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== layers"
scripts/check_layers.sh
echo "== format"
scripts/check_format.sh
scripts/build.sh build
echo "== test suite"
make -C build -j1 check
scripts/build.sh build-asan --enable-sanitizers
echo "== test suite under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -C build-asan -j1 check
echo "== all tests passed"
