#!/bin/sh
# tests/recount/utf8.sh - reports and the bad-line summary over a log that is not UTF-8.
#
# Builds a hostile copy of the bundled Apache log (hostile.awk: every 7th line's
# path ends in 0xff, a truncated or overlong sequence, a surrogate, NUL, ESC, CR,
# a comma or valid multi-byte text); two bad lines holding a terminal title
# sequence (ESC ] ... BEL), 0xff, NUL and a C1 CSI (c2 9b) go first. Runs
# `abbey-master --standalone --once` with one entry keyed by path, exported as
# CSV and JSON, then checks:
# - the CSV passes `iconv -f utf-8 -t utf-8` and parses as RFC 4180 (python3 csv,
#   strict; CRLF after the last record); the JSON passes `python3 -m json.tool`;
# - every row (shown key, hits, bytes) of both equals a mawk recount of the raw
#   log (tests/recount/recount.awk parses it; mawk sums per raw path), its raw
#   key bytes shown through Python's decode(errors="replace"), the scheme
#   docs/RULES.md gives (each maximal ill-formed part becomes U+FFFD) - compared
#   as multisets, since two raw keys can show alike;
# - the summary's line and bad-line counts are the recount's, and the bad-line
#   samples reach stdout escaped (\xNN, \\): valid UTF-8, no control byte but LF.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as for standalone.sh; KEEP=1 keeps the
# temp dir. Needs mawk, python3 and iconv (exit 77, skip, without them). Exit 0
# when every check passes, 1 when one fails, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup utf8 mawk python3 iconv
need "$log"

# Here a check is a description, then a command that must succeed (not lib.sh's
# check NAME EXPECTED ACTUAL).
check() {
    d=$1
    shift
    if "$@"; then pass; else fail "$d"; fi
}

# The hostile log (hostile.awk); \036 stands for NUL until tr.
{
    printf '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /\033]0;pwned\007 HTTP/1.1\377\036\\\n'
    printf '\302\2332J not a log line\n'
    mawk -f "$here/hostile.awk" "$log"
} | tr '\036' '\000' >"$tmp/hostile.log" || exit 99

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: web
    sources: ["$tmp/hostile.log"]
    format: combined
    groups:
      - name: g
        entries:
          - name: pages
            key: [path]
            values: {hits: count, bytes: sum(bytes)}
    reports:
      - {name: pages, entry: pages}
      - {name: pages_json, entry: pages, format: json}
EOF

# The recount: raw path -> hits, bytes.
mawk -f "$here/recount.awk" -v stats="$tmp/stats" "$tmp/hostile.log" >"$tmp/rows.tsv" || exit 99
mawk -F '\t' '{ n[$4]++; b[$4] += $6 }
    END { for (p in n) printf "%s\t%d\t%.0f\n", p, n[p], b[p] }' "$tmp/rows.tsv" >"$tmp/recount.tsv"
lines=$(mawk '$1 == "lines" { print $2 }' "$tmp/stats")
bad=$(mawk '$1 == "bad" { print $2 }' "$tmp/stats")

"$master" --standalone --once --config "$tmp/rules.yaml" --workers 2 \
    --export-dir "$tmp/out" >"$tmp/summary" 2>"$tmp/err"
rc=$?
check "abbey-master exited with status $rc ($(head -c 300 "$tmp/err"))" [ $rc -eq 0 ]
check "the summary says $lines lines ($bad bad): $(grep '^job ' "$tmp/summary")" \
    grep -q "^job web: $lines lines ($bad bad), " "$tmp/summary"

csv=$tmp/out/web/pages.csv
json=$tmp/out/web/pages_json.json
check "the CSV is valid UTF-8 (iconv)" iconv -f utf-8 -t utf-8 -o /dev/null "$csv"
check "the JSON is valid UTF-8 (iconv)" iconv -f utf-8 -t utf-8 -o /dev/null "$json"
check "the JSON parses (python3 -m json.tool)" python3 -m json.tool "$json" /dev/null

# Rows of both reports against the recount, as multisets of (shown key, hits, bytes).
check "the CSV and JSON rows equal the mawk recount" python3 - "$tmp/recount.tsv" "$csv" "$json" <<'EOF'
import collections, csv, json, sys
want = collections.Counter()
for line in open(sys.argv[1], "rb").read().split(b"\n"):
    if line:
        path, hits, nbytes = line.split(b"\t")
        want[(path.decode("utf-8", "replace"), int(hits), int(nbytes))] += 1
shown = "".join(k for k, _, _ in want)
for c in ["\ufffd", "\x00", "\x1b", "\r", ",", "\u00e9\u20ac"]:
    if c not in shown:
        sys.exit("the hostile log has no key holding %r" % c)
raw = open(sys.argv[2], "rb").read()
if not raw.endswith(b"\r\n"):
    sys.exit("the CSV does not end with CRLF")
with open(sys.argv[2], newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f, strict=True))
if rows[0] != ["path", "hits", "bytes"]:
    sys.exit("CSV header %r" % rows[0])
got_csv = collections.Counter((r[0], int(r[1]), int(r[2])) for r in rows[1:])
with open(sys.argv[3], encoding="utf-8") as f:
    j = json.load(f)
got_json = collections.Counter((r["path"] or "", r["hits"], r["bytes"]) for r in j["rows"])
ok = True
for name, got in (("CSV", got_csv), ("JSON", got_json)):
    if got != want:
        ok = False
        print("%s: %d rows, recount %d; missing %r; unexpected %r" % (
            name, sum(got.values()), sum(want.values()),
            list((want - got).items())[:5], list((got - want).items())[:5]))
sys.exit(0 if ok else 1)
EOF

# The bad-line samples: escaped, so no control byte (but LF) and no invalid UTF-8.
check "the summary is valid UTF-8 (iconv)" iconv -f utf-8 -t utf-8 -o /dev/null "$tmp/summary"
check "the summary holds no control byte but LF" \
    python3 -c 'import sys, re; sys.exit(re.search(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]",
        open(sys.argv[1], "rb").read()) is not None)' "$tmp/summary"
check "the first bad line is shown at byte 0, escaped" grep -qF \
    '    at byte 0 (unterminated quote): 1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /\x1b]0;pwned\x07 HTTP/1.1\xff\x00\\' \
    "$tmp/summary"
check "the C1 control is shown escaped" grep -qF '\xc2\x9b2J not a log line' "$tmp/summary"

finish
