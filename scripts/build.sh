#!/bin/sh
# scripts/build.sh - configure and build abbey in build/ (after scripts/setup.sh).
# Usage: scripts/build.sh [DIR [configure args...]]   e.g. scripts/build.sh build-asan --enable-sanitizers
# The source tree itself is never configured, so any number of build dirs can coexist.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
dir=${1:-build}
[ $# -gt 0 ] && shift
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$top/configure" -q "$@"
make -j"$(nproc)" >/dev/null
echo "build: $dir/master/abbey-master is ready"
