#!/bin/sh
# tests/recount/syslog.sh - the syslog format end to end, against a recount by python3.
#
# Generates (python3, fixed seed) 5000 syslog lines of every form abbey reads: rsyslog file
# lines with BSD stamps (single-digit days padded with a space, every month of the year),
# RSYSLOG_FileFormat lines (RFC 3339 with a fraction, and offsets Z, +05:30, -07:00 or
# none), RFC 3164 lines with PRI (some from relays that dropped the host), RFC 5424 lines
# (nil values, structured data with escaped quotes and brackets, a BOM before MSG), tags
# with '/', '-', '.' and parentheses, lines without a tag; and about 7% bad lines: PRI
# over 191 or with a leading zero, text that is not syslog, lines cut after the stamp,
# unterminated SD values, SD params without quotes, impossible dates (Feb 30, 24:00) and
# Feb 29 (bad or not by the year it gets). The job reads it with
# `format: {syslog: {timezone: "+02:00"}}` and counts by app (count, distinct and max
# pid), by host and day (time_bucket(time, 1d)), by facility and severity (numbers and
# names), by msgid (count, distinct messages), urgent lines (severity <= 3) by app, and
# by structured data. Runs: 1 worker, 2 workers, and the log cut in three files read
# through a glob.
#
# The oracle (python3's re and datetime modules, written apart from abbey's parser)
# matches each line against one regular expression per form, decodes PRI, dates the
# stamps (a year-less stamp takes the year of the file's modification time at +02:00, or
# the year before when its month is later; a stamp without an offset is at +02:00) and
# recounts every figure. Checks: exit status, the summary's line and bad-line counts,
# every row of every report, for each run; and the line and bad-line counts of the bundled
# example (examples/syslog.yaml on data/syslog_web1.log) against the same oracle.
#
# Then the same log with its modification time set to 2021-01-10 (touch): the years
# follow that time (December lines in 2020, January ones in 2021), so the by-day figures
# change; this checks that the source layer passes each file's mtime to the format
# (engine_source).
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as for standalone.sh; KEEP=1 keeps the temp
# dir. Needs python3 and touch -d (exit 77, skip, without python3). Exit 0 when every
# check passes, 1 when one fails, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup syslog python3

python3 - "$tmp/sys.log" <<'EOF' || exit 99
import random, sys
random.seed(20240615)
MON = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()
hosts = ['web1', 'web2', 'db.example.com', '192.0.2.7']
tags = ['sshd', 'CRON', 'postfix/smtpd', 'systemd-logind', 'org.gnome.Shell.desktop',
        'sshd(pam_unix)', 'kernel', 'su']
msgs = ['Accepted publickey for alice', 'session opened for user root', 'connect from x',
        'New session 4 of user bob', '[ 12.5] usb 1-1: new device', 'pam: a=b c="d"',
        'Failed password for invalid user admin']

def bsd():
    m = random.randint(1, 12)
    d = random.randint(1, 28)
    return '%s %2d %02d:%02d:%02d' % (MON[m - 1], d, random.randint(0, 23),
                                        random.randint(0, 59), random.randint(0, 59))

def iso(offsets):
    return '%04d-%02d-%02dT%02d:%02d:%02d%s%s' % (
        random.choice([2023, 2024]), random.randint(1, 12), random.randint(1, 28),
        random.randint(0, 23), random.randint(0, 59), random.randint(0, 59),
        random.choice(['', '.5', '.123456']), random.choice(offsets))

def tag():
    t = random.choice(tags)
    r = random.random()
    if r < 0.6:
        return '%s[%d]: ' % (t, random.randint(1, 60000))
    return t + (': ' if r < 0.9 else ':')

bad = ['<192>Jan  1 00:00:00 h a: m', '<034>Jan  1 00:00:00 h a: m', 'hello world',
       'Jun 14 15:16:01', 'Jun 14 15:16:01 host', '<13>1 - h a - - [id k="v] m',
       '<13>1 - h a - - [id k=v] m', 'Feb 30 10:00:00 h a: m', 'Mar  3 24:00:00 h a: m',
       '<14>1 2024-02-30T00:00:00Z h a - - -', '<13>Jux 14 15:16:01 h a: m', '']
with open(sys.argv[1], 'wb') as out:
    for i in range(5000):
        r = random.random()
        if r < 0.06:
            line = random.choice(bad)
        elif r < 0.07:
            line = 'Feb 29 %02d:00:00 %s %s%s' % (random.randint(0, 23), random.choice(hosts),
                                                  tag(), 'leap')
        elif r < 0.40:
            line = '%s %s %s%s' % (bsd(), random.choice(hosts), tag(), random.choice(msgs))
            if random.random() < 0.03:
                line = '%s %s last message repeated %d times' % (
                    bsd(), random.choice(hosts), random.randint(2, 9))
        elif r < 0.60:
            line = '%s %s %s%s' % (iso(['Z', '+05:30', '-07:00', '']), random.choice(hosts),
                                   tag(), random.choice(msgs))
        elif r < 0.78:
            host = random.choice(hosts) + ' ' if random.random() < 0.9 else ''
            line = '<%d>%s %s%s%s' % (random.randint(0, 191), bsd(), host, tag(),
                                      random.choice(msgs))
        else:
            sd = random.choice(['-', '[exampleSDID@32473 iut="3" eventSource="App"]',
                                '[a@1 k="q\\"x\\]y"][b@2]', '[meta seq="%d"]' % (i % 5)])
            msg = random.choice(['', ' ' + random.choice(msgs),
                                 ' \xef\xbb\xbf' + random.choice(msgs)])
            if sd == '-' and msg == '' and random.random() < 0.5:
                msg = ' '
            line = '<%d>1 %s %s %s %s %s %s%s' % (
                random.randint(0, 191), random.choice([iso(['Z', '+02:00', '']), '-']),
                random.choice(hosts + ['-']), random.choice(tags[:4] + ['-']),
                random.choice([str(random.randint(1, 9999)), '-', 'worker-3']),
                random.choice(['ID47', 'LOGIN', '-']), sd, msg)
        if random.random() < 0.03:
            line += '\r'
        out.write(line.encode('latin-1') + b'\n')
EOF

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: sys
    sources: ["$tmp/sys.log"]
    format: {syslog: {timezone: "+02:00"}}
    groups:
      - name: g
        entries:
          - name: by_app
            key: [app]
            values: {n: count, pids: distinct_exact(pid), top: max(pid)}
          - name: by_day
            key: [host, {day: time_bucket(time, 1d)}]
            values: {n: count}
          - name: by_prio
            key: [facility, severity, facility_name, severity_name]
            values: {n: count}
          - name: by_msgid
            key: [msgid]
            values: {n: count, texts: distinct_exact(message)}
          - name: urgent
            key: [app]
            where: severity <= 3
            values: {n: count}
          - name: by_sd
            key: [structured_data]
            values: {n: count}
EOF

# oracle LOG OUT: the reports as rows of text, and the line and bad counts.
oracle() {
    python3 - "$1" "$2" <<'EOF'
import datetime as dt, json, os, re, sys
ZONE = dt.timezone(dt.timedelta(hours=2))
MON = {m: i + 1 for i, m in enumerate('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split())}
PRI = r'(?:<(0|[1-9][0-9]{0,2})>)'
BSD = r'(?P<mon>[A-Z][a-z][a-z]) (?P<day> ?[0-9]{1,2}) (?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2})'
ISO = (r'(?P<iso>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[^ ]*)')
FILE = re.compile(r'%s?(?:%s|%s) (?P<rest>.*)' % (PRI, BSD, ISO), re.S)
SD = r'(?:\[[^ \]="]+(?: [^= \]"]+="(?:[^"\\]|\\.)*")*\])+'
R5424 = re.compile(r'%s[1-9][0-9]{0,2} (?P<ts>-|[^ ]+) (?P<host>[^ ]+) (?P<app>[^ ]+) '
                   r'(?P<pid>[^ ]+) (?P<msgid>[^ ]+) (?P<sd>-|%s)(?: (?P<msg>.*))?' % (PRI, SD), re.S)
TAG = re.compile(r'([^\[: ]+)(?:\[([^\] ]*)\])?: ?(.*)', re.S)
mtime = dt.datetime.fromtimestamp(os.stat(sys.argv[1]).st_mtime, ZONE)

def iso_time(s):
    m = re.fullmatch(r'([0-9-]+T[0-9:]+)(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?', s)
    t = dt.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S')
    off = m.group(3)
    if off is None:
        tz = ZONE
    elif off == 'Z':
        tz = dt.timezone.utc
    else:
        sign = -1 if off[0] == '-' else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
    return int(t.replace(tzinfo=tz).timestamp())

def bsd_time(mon, day, hms):
    y = mtime.year - (MON[mon] > mtime.month)
    h, mi, s = map(int, hms.split(':'))
    return int(dt.datetime(y, MON[mon], int(day), h, mi, s, tzinfo=ZONE).timestamp())

def parse(line):
    """The fields of a line (None: missing), or ValueError when it is bad."""
    if line.endswith('\r'):
        line = line[:-1]
    m = re.match(PRI + r'[1-9][0-9]{0,2}(?: |$)', line)
    if m:
        m = R5424.fullmatch(line)
        if not m:
            raise ValueError('5424')
        pri = int(m.group(1))
        if pri > 191:
            raise ValueError('pri')
        nil = lambda k: None if m.group(k) == '-' else m.group(k)
        msg = m.group('msg')
        if msg is not None and msg.startswith('\xef\xbb\xbf'):
            msg = msg[3:]
        ts = nil('ts')
        return dict(pri=pri, time=None if ts is None else iso_time(ts), host=nil('host'),
                    app=nil('app'), pid=nil('pid'), msgid=nil('msgid'), sd=nil('sd'), msg=msg)
    m = FILE.fullmatch(line)
    if not m or (m.group('mon') and m.group('mon') not in MON):
        raise ValueError('form')
    pri = int(m.group(1)) if m.group(1) is not None else None
    if pri is not None and pri > 191:
        raise ValueError('pri')
    if m.group('mon'):
        t = bsd_time(m.group('mon'), m.group('day'), m.group('hms'))
    else:
        t = iso_time(m.group('iso'))
    rest = m.group('rest')
    host, _, after = rest.partition(' ')
    if host.endswith(':'):  # a relay dropped the host: this is the tag
        host, after = None, rest
    elif host == '' or not _:
        raise ValueError('host')
    tm = TAG.fullmatch(after)
    app, pid, msg = tm.groups() if tm else (None, None, after)
    return dict(pri=pri, time=t, host=host, app=app, pid=pid, msgid=None, sd=None, msg=msg)

tables = {k: {} for k in ('by_app', 'by_day', 'by_prio', 'by_msgid', 'urgent', 'by_sd')}
def add(name, key, *vals):
    row = tables[name].setdefault(key, [0] + [set() for _ in vals])
    row[0] += 1
    for i, v in enumerate(vals):
        row[i + 1].add(v)
lines = bad = 0
for raw in open(sys.argv[1], 'rb').read().split(b'\n')[:-1]:
    lines += 1
    try:
        f = parse(raw.decode('latin-1'))
    except (ValueError, AttributeError):
        bad += 1
        continue
    pid = int(f['pid']) if f['pid'] is not None and re.fullmatch('[0-9]+', f['pid']) else None
    fac = sev = None
    if f['pri'] is not None:
        fac, sev = f['pri'] >> 3, f['pri'] & 7
    day = None if f['time'] is None else dt.datetime.fromtimestamp(
        f['time'] // 86400 * 86400, dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    names = ('kern user mail daemon auth syslog lpr news uucp cron authpriv ftp ntp audit '
             'alert clock local0 local1 local2 local3 local4 local5 local6 local7').split()
    sevs = 'emerg alert crit err warning notice info debug'.split()
    add('by_app', f['app'], pid)
    add('by_day', (f['host'], day))
    add('by_prio', (fac, sev, None if fac is None else names[fac], None if sev is None else sevs[sev]))
    add('by_msgid', f['msgid'], f['msg'])
    if sev is not None and sev <= 3:
        add('urgent', f['app'])
    add('by_sd', f['sd'])
text = lambda v: '' if v is None else v.encode('latin-1').decode('utf-8', 'replace') \
    if isinstance(v, str) else str(v)
with open(sys.argv[2], 'w', encoding='utf-8') as out:
    out.write('lines %d bad %d\n' % (lines, bad))
    for name, t in tables.items():
        rows = []
        for key, row in t.items():
            key = list(key) if isinstance(key, tuple) else [key]
            vals = [row[0]]
            if name == 'by_app':
                pids = row[1] - {None}
                vals += [len(pids), max(pids) if pids else None]
            elif name == 'by_msgid':
                vals += [len(row[1] - {None})]
            rows.append([text(c) for c in key + vals])
        out.write('%s %s\n' % (name, json.dumps(sorted(rows))))
EOF
}

# compare RUN ORACLE: every report of run RUN against the oracle (python3's csv module).
compare() {
    python3 - "$2" "$tmp/$1/sys" "$1" <<'EOF'
import csv, json, sys
oracle, outdir, run = sys.argv[1:4]
fails = total = 0
for line in open(oracle, encoding='utf-8').readlines()[1:]:
    name, rows = line.split(' ', 1)
    want = sorted(json.loads(rows))
    total += 1
    with open('%s/%s.csv' % (outdir, name), encoding='utf-8', newline='') as f:
        got = sorted(list(csv.reader(f))[1:])
    if got != want:
        fails += 1
        print('FAIL %s (%s): %d rows, expected %d' % (name, run, len(got), len(want)))
        for g, w in zip(got, want):
            if g != w:
                print('  got %r, expected %r' % (g, w))
                break
print('TALLY %d %d' % (total - fails, fails))
EOF
}

# run NAME CONFIG WORKERS ORACLE: one standalone run, its summary and its reports.
run() {
    set -- "$@" $(head -n 1 "$4")
    "$master" --standalone --once --config "$2" --workers "$3" --export-dir "$tmp/$1" \
        >"$tmp/$1.out" 2>"$tmp/$1.err"
    check "run $1: exit status" 0 $?
    check "run $1: summary" "job sys: $6 lines ($8 bad)" \
        "$(grep -o '^job sys: [0-9]* lines ([0-9]* bad)' "$tmp/$1.out")"
    out=$(compare "$1" "$4")
    printf '%s\n' "$out" | grep -v '^TALLY ' || :
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    [ -n "$tally" ] || tally="0 1"
    npass=$((npass + ${tally% *}))
    nfail=$((nfail + ${tally#* }))
}

oracle "$tmp/sys.log" "$tmp/oracle" || exit 99
set -- $(head -n 1 "$tmp/oracle")
[ "$4" -gt 250 ] && [ "$4" -lt 500 ] || {
    echo "syslog.sh: the oracle counted $4 bad lines of $2"
    exit 99
}

mkdir "$tmp/parts" || exit 99
sed -n '1,1500p' "$tmp/sys.log" >"$tmp/parts/sys-1.log"
sed -n '1501,3500p' "$tmp/sys.log" >"$tmp/parts/sys-2.log"
sed -n '3501,$p' "$tmp/sys.log" >"$tmp/parts/sys-3.log"
touch -r "$tmp/sys.log" "$tmp/parts"/sys-*.log
sed "s|\"$tmp/sys.log\"|\"$tmp/parts/sys-*.log\"|" "$tmp/rules.yaml" >"$tmp/glob.yaml"
grep -q 'parts/sys-\*' "$tmp/glob.yaml" || exit 99

run w1 "$tmp/rules.yaml" 1 "$tmp/oracle"
run w2 "$tmp/rules.yaml" 2 "$tmp/oracle"
run glob "$tmp/glob.yaml" 2 "$tmp/oracle"

# the comparison itself rejects a wrong figure
sed '/^by_prio /s/\("kern", "emerg", "\)\([0-9]*\)/\11\2/' "$tmp/oracle" >"$tmp/oracle.wrong"
cmp -s "$tmp/oracle" "$tmp/oracle.wrong" && exit 99
if compare w1 "$tmp/oracle.wrong" | grep -q '^TALLY 5 1$'; then
    pass
else
    fail "self-check: a wrong count passed"
fi

# the bundled example (examples/syslog.yaml, data/syslog_web1.log): its summary
oracle "$srcdir/data/syslog_web1.log" "$tmp/oracle.example" || exit 99
set -- $(head -n 1 "$tmp/oracle.example")
"$master" --standalone --once --config "$srcdir/examples/syslog.yaml" --export-dir "$tmp/example" \
    >"$tmp/example.out" 2>&1
check "examples/syslog.yaml: exit status" 0 $?
check "examples/syslog.yaml: summary" "job web1: $2 lines ($4 bad)" \
    "$(grep -o '^job web1: [0-9]* lines ([0-9]* bad)' "$tmp/example.out")"

# the years follow the file's modification time, not the clock
touch -d '2021-01-10 12:00:00 UTC' "$tmp/sys.log" || exit 99
oracle "$tmp/sys.log" "$tmp/oracle.2021" || exit 99
grep -q '"2020-12-' "$tmp/oracle.2021" && grep -q '"2021-01-' "$tmp/oracle.2021" || exit 99
run mtime "$tmp/rules.yaml" 1 "$tmp/oracle.2021"

finish
