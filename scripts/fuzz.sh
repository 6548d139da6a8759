#!/bin/sh
# scripts/fuzz.sh - build one libFuzzer target of abbey and run it for a while.
#
# Usage: scripts/fuzz.sh NAME [SECONDS] [-- extra libFuzzer flags...]
#
#   NAME     the target: tests/fuzz/fuzz_NAME.c (frame, expr, format, rules, agg_decode, ...)
#   SECONDS  how long to fuzz (default 60)
#   extra    passed to the fuzzer as is, e.g. -- -max_len=65536 -jobs=4
#
# Example: scripts/fuzz.sh frame 600
#
# The target is built with clang -fsanitize=fuzzer,address,undefined (UB aborts,
# leaks are reported) against every rules/*.c, into $FUZZ_DIR (default
# /tmp/abbey-fuzz). The corpus $FUZZ_DIR/corpus_NAME is kept between runs;
# tests/fuzz/corpus_NAME/ (seeds) and tests/fuzz/fuzz_NAME.dict are used when
# present. Crashing inputs land in $FUZZ_DIR/artifacts_NAME/, the full log in
# $FUZZ_DIR/fuzz_NAME.log. Prints libFuzzer's final stats; exits non-zero when
# the build fails or the fuzzer found something. Reproduce a finding with
#   $FUZZ_DIR/fuzz_NAME $FUZZ_DIR/artifacts_NAME/crash-...
# Environment: CC (default clang), FUZZ_DIR. See docs/FUZZING.md.
set -eu

usage() {
    sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 1 ] || usage
name=$1
shift
secs=60
if [ $# -ge 1 ] && [ "$1" != "--" ]; then
    secs=$1
    shift
fi
[ $# -ge 1 ] && [ "$1" = "--" ] && shift
case $name in *[!A-Za-z0-9_]* | "") usage ;; esac
case $secs in *[!0-9]* | "") usage ;; esac

top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/tests/fuzz/fuzz_$name.c
[ -f "$src" ] || { echo "fuzz.sh: no target $src" >&2; exit 2; }

CC=${CC:-clang}
dir=${FUZZ_DIR:-/tmp/abbey-fuzz}
bin=$dir/fuzz_$name
corpus=$dir/corpus_$name
art=$dir/artifacts_$name
log=$dir/fuzz_$name.log
mkdir -p "$dir" "$corpus" "$art"

pkgs="apr-1 apr-util-1 libpcre2-8 libxxhash yaml-0.1 zlib libzstd"
echo "fuzz.sh: building $bin" >&2
# shellcheck disable=SC2046,SC2086 # word splitting of pkg-config output is intended
$CC -std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$top/rules" $(pkg-config --cflags $pkgs) \
    "$src" "$top"/rules/*.c -o "$bin" $(pkg-config --libs $pkgs) -lm -pthread

set -- -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$art/" "$@"
[ -f "$top/tests/fuzz/fuzz_$name.dict" ] && set -- -dict="$top/tests/fuzz/fuzz_$name.dict" "$@"
set -- "$@" "$corpus"
[ -d "$top/tests/fuzz/corpus_$name" ] && set -- "$@" "$top/tests/fuzz/corpus_$name"

echo "fuzz.sh: running $name for ${secs}s, corpus $corpus, log $log" >&2
rc=0
"$bin" "$@" >"$log" 2>&1 || rc=$?

grep -E '^(Done|stat::)' "$log" || true
echo "corpus: $(find "$corpus" -type f | wc -l) inputs in $corpus"
if [ $rc -ne 0 ]; then
    echo "fuzz.sh: $name FAILED (exit $rc); the report:" >&2
    grep -E -A40 '^==[0-9]+==ERROR|runtime error|deadly signal|LeakSanitizer' "$log" | head -80 >&2
    ls "$art" >&2
    exit 1
fi
echo "fuzz.sh: $name: no findings"
