#!/bin/sh
# tests/recount/times.sh - times in formats and zones, against a recount by Python.
#
# python3 (fixed seed) writes three logs of the same 3000 random instants, most of them
# in the nights of 2025 when Berlin's and Sydney's clocks change, the rest anywhere in
# 1990..2037, with bad lines mixed in:
#   local.tsv  Berlin's local clock, "%d/%m/%Y %H:%M:%S,%f", no offset (job local:
#              time_format, format timezone Europe/Berlin); bad: 30 February, 24:00;
#   ms.tsv     epoch milliseconds (job ms: time_format epoch_ms); bad: "12a";
#   iso.tsv    ISO 8601 in every spelling abbey reads: Z and z, t, +hh:mm, +hhmm, +hh,
#              comma and dot fractions, and no offset at all, which the format's timezone
#              (Australia/Sydney) gives (job iso: the built-in forms); bad: month 13.
# Each job counts lines per UTC hour (time_bucket(ts, 1h)) and in all. The recount parses
# the same text on its own: strptime and zoneinfo with fold=0 (a reading in a gap takes
# the offset before the change, one in an overlap its earlier instant), the re module for
# ISO 8601, integer division for milliseconds. Checks: the summary's line and bad-line
# counts per job, each per_hour report row by row, with 1 and 2 workers; and the
# per_hour report of examples/times.yaml over data/app_times.tsv, recounted the same way.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as in standalone.sh. Needs python3 (exit 77
# without). Exit 0 when every check passes, 1 otherwise, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup times python3
example=$srcdir/examples/times.yaml
need "$example" "$srcdir/data/app_times.tsv"

cat >"$tmp/recount.py" <<'EOF'
import random, re, sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
U, BER, SYD = timezone.utc, ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Sydney")

def gen(d):
    random.seed(20251026)
    nights = [1743289200, 1761429600, 1743858000, 1759586400]  # local midnights of the changes
    loc, ms, iso = [], [], []
    for i in range(3000):
        if i % 4:
            t = random.choice(nights) + random.uniform(-6 * 3600, 30 * 3600)
        else:
            t = random.uniform(631152000, 2145916800)
        t = round(t, 3)
        if i % 97 == 5:
            loc.append("30/02/2025 10:00:00,000\tx")
            ms.append("12a\tx")
            iso.append("2025-13-01T00:00:00Z\tx")
            continue
        if i % 89 == 7:
            loc.append("26/10/2025 24:00:00,000\tx")
        b = datetime.fromtimestamp(t, U).astimezone(BER)
        loc.append(b.strftime("%d/%m/%Y %H:%M:%S,") + "%03d\tx" % round(t % 1 * 1000))
        ms.append("%d\tx" % round(t * 1000))
        s = datetime.fromtimestamp(t, U).astimezone(SYD)
        k = i % 7
        if k == 0:
            iso.append(s.strftime("%Y-%m-%dT%H:%M:%S.%f") + "\tx")  # no offset: Sydney
        elif k == 1:
            iso.append(datetime.fromtimestamp(t, U).strftime("%Y-%m-%dt%H:%M:%S,%fz") + "\tx")
        elif k == 2:
            iso.append(s.strftime("%Y-%m-%d %H:%M:%S%z") + "\tx")  # +hhmm
        elif k == 3:
            iso.append(s.isoformat() + "\tx")  # +hh:mm
        elif k == 4:
            iso.append(datetime.fromtimestamp(t, timezone.utc).astimezone(ZoneInfo("Asia/Dubai")).strftime("%Y-%m-%dT%H:%M:%S+04") + "\tx")
        else:
            iso.append(datetime.fromtimestamp(int(t), U).strftime("%Y-%m-%dT%H:%M:%SZ") + "\tx")
    for name, lines in (("local", loc), ("ms", ms), ("iso", iso)):
        open(f"{d}/{name}.tsv", "w").write("\n".join(lines) + "\n")

ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?(?:([Zz])|([+-])(\d\d)(?::?(\d\d))?)?$")

def utc(job, text):
    """UTC seconds of a time field's text, or None when it is not a time."""
    try:
        if job == "ms":
            return int(text) // 1000
        if job == "local":
            d = datetime.strptime(text, "%d/%m/%Y %H:%M:%S,%f")
            return int(d.replace(tzinfo=BER, fold=0).timestamp() // 1)
        m = ISO.match(text)
        if not m:
            return None
        y, mo, da, h, mi, se = (int(x) for x in m.group(1, 2, 3, 4, 5, 6))
        local = datetime(y, mo, da, h, mi, se)
        if m.group(7):
            return int(local.replace(tzinfo=U).timestamp())
        if m.group(8):
            off = int(m.group(9)) * 3600 + int(m.group(10) or 0) * 60
            return int(local.replace(tzinfo=U).timestamp()) - (off if m.group(8) == "+" else -off)
        return int(local.replace(tzinfo=SYD, fold=0).timestamp())
    except ValueError:
        return None

def count(job, path, out):
    hours, lines, bad = {}, 0, 0
    for line in open(path):
        lines += 1
        t = utc(job, line.rstrip("\n").split("\t")[0])
        if t is None:
            bad += 1
            continue
        h = datetime.fromtimestamp(t // 3600 * 3600, U).strftime("%Y-%m-%dT%H:%M:%SZ")
        hours[h] = hours.get(h, 0) + 1
    with open(out, "w") as f:
        for h in sorted(hours):
            f.write("%s,%d\n" % (h, hours[h]))
    print(lines, bad)

if sys.argv[1] == "gen":
    gen(sys.argv[2])
else:
    count(sys.argv[1], sys.argv[2], sys.argv[3])
EOF

python3 "$tmp/recount.py" gen "$tmp" || exit 99

job() { # job NAME FILE FORMAT-LINES
    cat <<EOF
  - name: $1
    sources: ["$tmp/$2"]
    format:
$3
    groups:
      - name: g
        entries:
          - name: per_hour
            key: [{hour: time_bucket(ts, 1h)}]
            values: {hits: count}
EOF
}
{
    echo "jobs:"
    job local local.tsv '      split: "\t"
      fields: [ts:time, x]
      time_format: "%d/%m/%Y %H:%M:%S,%f"
      timezone: Europe/Berlin'
    job ms ms.tsv '      split: "\t"
      fields: [ts:time, x]
      time_format: epoch_ms'
    job iso iso.tsv '      split: "\t"
      fields: [ts:time, x]
      timezone: Australia/Sydney'
} >"$tmp/rules.yaml"

for w in 1 2; do
    out=$tmp/out$w
    "$master" --standalone --once --config "$tmp/rules.yaml" --workers $w --export-dir "$out" \
        >"$tmp/run$w.out" 2>"$tmp/run$w.err"
    check "standalone exit status ($w workers)" 0 $?
    for j in local ms iso; do
        set -- $(python3 "$tmp/recount.py" $j "$tmp/$j.tsv" "$tmp/$j.want") || exit 99
        [ "$2" -ge 30 ] || {
            echo "times.sh: the generator made only $2 bad $j lines"
            exit 99
        }
        check "$j summary ($w workers)" "job $j: $1 lines ($2 bad)" \
            "$(grep -o "^job $j: [0-9]* lines ([0-9]* bad)" "$tmp/run$w.out")"
        check "$j per_hour ($w workers)" "$(cat "$tmp/$j.want")" \
            "$(tail -n +2 "$out/$j/per_hour.csv" | tr -d '\r' | sort)"
    done
done

# the example, and its sample: hits per UTC hour
"$master" --standalone --once --config "$example" --export-dir "$tmp/ex" >"$tmp/ex.out" 2>&1
check "example exit status" 0 $?
cut -f1 "$srcdir/data/app_times.tsv" >"$tmp/app.times"
set -- $(python3 "$tmp/recount.py" local "$tmp/app.times" "$tmp/app.want") || exit 99
check "example summary" "job app: $1 lines ($2 bad)" \
    "$(grep -o '^job app: [0-9]* lines ([0-9]* bad)' "$tmp/ex.out")"
check "example per_hour" "$(cat "$tmp/app.want")" \
    "$(tail -n +2 "$tmp/ex/app/per_hour.csv" | tr -d '\r' | cut -d, -f1,2 | sort)"

finish
