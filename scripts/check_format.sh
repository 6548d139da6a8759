#!/bin/sh
# scripts/check_format.sh - check that every C file of the project (product code, tests, the
# benchmark helpers) is formatted as the checked-in .clang-format says.
#
# Usage: scripts/check_format.sh [TREE]   (TREE: the source tree, default this script's)
# Prints clang-format's own report (file:line:col and the expected text) for each deviation
# and exits 1 when there is one; exits 0 and prints one summary line otherwise. A block
# between `/* clang-format off */` and `/* clang-format on */` is left as written (tables).
# Fix a deviation with `clang-format -i FILE`.
set -eu

tree=${1:-"$(dirname "$0")/.."}
cd "$tree"
command -v clang-format >/dev/null 2>&1 || {
    echo "check_format: clang-format is not installed (scripts/setup.sh installs it)" >&2
    exit 2
}
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find rules common source export slave master \
    tests scripts -name '*.[ch]')
if clang-format --dry-run -Werror $files; then
    echo "check_format: $(echo "$files" | wc -w) files follow .clang-format"
else
    echo "check_format: files deviate from .clang-format (fix: clang-format -i FILE)" >&2
    exit 1
fi
