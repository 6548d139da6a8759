#!/bin/sh
# scripts/cluster.sh - a local abbey cluster on loopback: start, stop, add a slave, status.
#
#   scripts/cluster.sh start --config FILE [--secondaries N] [--slaves M] [--dir DIR] [--port P]
#   scripts/cluster.sh add-slave [--dir DIR] [--labels a,b]
#   scripts/cluster.sh status [--dir DIR]
#   scripts/cluster.sh stop [--dir DIR]
#
# start writes a generated token, a cluster rules file (FILE with its masters: replaced by
# the local primary and N secondaries on ports P, P+1, ...; source paths made absolute),
# and per process a data dir, an export dir, a log and a pid file, all under DIR
# (default ./cluster). Binaries: ABBEY_BIN (default build/) /master/abbey-master and
# /slave/abbey-slave. stop sends SIGTERM to every process of DIR and waits for them.
set -eu
cmd=${1:-}
[ $# -gt 0 ] && shift
dir=./cluster config="" secondaries=1 slaves=2 port=7101 labels=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --secondaries) secondaries=$2; shift 2 ;;
    --slaves) slaves=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --labels) labels=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${ABBEY_BIN:-$top/build}
master=$bin/master/abbey-master
slave=$bin/slave/abbey-slave

start_slave() { # name [labels]
  n=$1
  mkdir -p "$dir/$n/spool"
  set -- --primary "http://127.0.0.1:$(cat "$dir/primary.port")" --name "$n" \
    --token-file "$dir/token" --spool-dir "$dir/$n/spool"
  [ -n "$labels" ] && set -- "$@" --labels "$labels"
  "$slave" "$@" >"$dir/$n/log" 2>&1 &
  echo $! >"$dir/$n/pid"
  echo "cluster: slave $n started (pid $!, log $dir/$n/log)"
}

case "$cmd" in
start)
  [ -n "$config" ] || { echo "cluster.sh start: --config FILE is required" >&2; exit 2; }
  [ -x "$master" ] && [ -x "$slave" ] || { echo "cluster.sh: build first (scripts/build.sh)" >&2; exit 2; }
  [ -e "$dir/primary.port" ] && { echo "cluster.sh: $dir holds a cluster; stop it first" >&2; exit 2; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token"
  chmod 600 "$dir/token"
  # the cluster's rules: our masters, then the given file without its masters: block;
  # base_dir keeps the file's relative source paths pointing where they did
  cfgdir=$(cd "$(dirname "$config")" && pwd)
  {
    echo "base_dir: \"$cfgdir\""
    echo "masters:"
    echo "  - {name: m0, url: \"http://127.0.0.1:$port\", weight: 2}"
    i=1
    while [ "$i" -le "$secondaries" ]; do
      echo "  - {name: m$i, url: \"http://127.0.0.1:$((port + i))\", weight: 1}"
      i=$((i + 1))
    done
    mawk '/^(masters|base_dir):/ { skip = 1; next }
          skip && /^[^ #-]/ { skip = 0 }
          !skip' "$config"
  } >"$dir/rules.yaml"
  for i in $(seq 0 "$secondaries"); do
    n=m$i
    mkdir -p "$dir/$n/data" "$dir/$n/export"
    if [ "$i" -eq 0 ]; then
      set -- --config "$dir/rules.yaml"
    else
      set -- --primary "http://127.0.0.1:$port"
    fi
    "$master" "$@" --name "$n" --listen "127.0.0.1:$((port + i))" --data-dir "$dir/$n/data" \
      --export-dir "$dir/$n/export" --token-file "$dir/token" >"$dir/$n/log" 2>&1 &
    echo $! >"$dir/$n/pid"
    echo "cluster: master $n started on 127.0.0.1:$((port + i)) (pid $!, log $dir/$n/log)"
    [ "$i" -eq 0 ] && echo "$port" >"$dir/primary.port" && sleep 0.5
  done
  for i in $(seq 1 "$slaves"); do start_slave "s$i"; done
  echo "cluster: running in $dir; reports under $dir/m*/export; stop with: $0 stop --dir $dir"
  ;;
add-slave)
  [ -e "$dir/primary.port" ] || { echo "cluster.sh: no cluster in $dir" >&2; exit 2; }
  i=1
  while [ -e "$dir/s$i" ]; do i=$((i + 1)); done
  start_slave "s$i"
  ;;
status)
  [ -e "$dir/primary.port" ] || { echo "cluster.sh: no cluster in $dir" >&2; exit 2; }
  curl -fsS -H "Authorization: Bearer $(cat "$dir/token")" "http://127.0.0.1:$(cat "$dir/primary.port")/v1/status"
  echo
  ;;
stop)
  [ -d "$dir" ] || exit 0
  pids=""
  for p in "$dir"/s*/pid "$dir"/m*/pid; do
    [ -e "$p" ] || continue
    pid=$(cat "$p")
    kill -TERM "$pid" 2>/dev/null && pids="$pids $pid"
    rm -f "$p"
  done
  for pid in $pids; do
    t=0
    while kill -0 "$pid" 2>/dev/null && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "$dir/primary.port"
  echo "cluster: stopped"
  ;;
*)
  sed -n '2,13p' "$0"; exit 2 ;;
esac
