#!/bin/sh
# scripts/setup.sh - install everything abbey needs to build and test (Debian 12), idempotently.
# Runs apt-get as root (through sudo when not root). Safe to run again: installed packages are kept.
# prometheus is there for its promtool, which the tests run on the masters' /metrics pages.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config \
  libapr1-dev libaprutil1-dev libcurl4-openssl-dev zlib1g-dev libzstd-dev uthash-dev libyaml-dev \
  check libmicrohttpd-dev libpcre2-dev libxxhash-dev libjansson-dev libsqlite3-dev \
  mawk sqlite3 python3 curl zstd valgrind clang clang-format libclang-rt-14-dev tzdata chromium \
  prometheus"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "setup: all build and test dependencies are installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup: done"
