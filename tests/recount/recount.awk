# tests/recount/recount.awk - the oracle's log parser: Apache combined log -> TSV for sqlite3.
#
# Independent of abbey: written from the Apache format string, not from abbey's code.
#   %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
# One output row per good line, tab separated, an empty field meaning "missing":
#   ip, epoch (UTC seconds), method, path, status, bytes, agent, bot, img
# - method/path: the request "METHOD PATH PROTOCOL" split at its first and last
#   space; a request without both spaces (or "-") has no method and no path.
# - bytes: empty when the log says "-"; agent: empty when "-".
# - bot: 1 when the agent matches bot|crawl|spider (any case), else 0.
# - img: 1 when the path ends in .png .jpg .jpeg .gif .ico (any case), else 0.
# A line is bad, and skipped, when its quotes do not balance into exactly three
# quoted fields or any part does not have the shape above, or (with -v maxline=N)
# when it is longer than N bytes. With -v stats=FILE the totals "lines N" and
# "bad N" go to FILE.
# Run as: mawk -f recount.awk -v stats=FILE [-v maxline=N] access.log > rows.tsv

BEGIN {
    FS = "\""
    split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", mname, " ")
    for (i = 1; i <= 12; i++)
        mon[mname[i]] = i
    pre = "^[^ ]+ [^ ]+ .+ \\[[0-9][0-9]/[A-Z][a-z][a-z]/[0-9][0-9][0-9][0-9]:" \
          "[0-9][0-9]:[0-9][0-9]:[0-9][0-9] [-+][0-9][0-9][0-9][0-9]\\] $"
    lines = 0
    bad = 0
}

# Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
function days(y, m, d,    era, yoe, doy, doe) {
    if (m <= 2)
        y--
    era = int((y >= 0 ? y : y - 399) / 400)
    yoe = y - era * 400
    doy = int((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
    doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
    return era * 146097 + doe - 719468
}

# "[17/May/2015:10:05:03 +0000]" (already shape-checked) -> UTC epoch, or -1.
function epoch(t,    d, m, y, hh, mi, ss, off) {
    d = substr(t, 2, 2) + 0
    m = mon[substr(t, 5, 3)]
    y = substr(t, 9, 4) + 0
    hh = substr(t, 14, 2) + 0
    mi = substr(t, 17, 2) + 0
    ss = substr(t, 20, 2) + 0
    if (!m || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 60)
        return -1
    off = substr(t, 24, 2) * 3600 + substr(t, 26, 2) * 60
    if (substr(t, 23, 1) == "-")
        off = -off
    return days(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss - off
}

{
    lines++
    if (maxline > 0 && length($0) > maxline) {
        bad++
        next
    }
    # ip ident user [time] "request" status bytes "referer" "agent"
    if (NF != 7 || $1 !~ pre || $3 !~ /^ [0-9]+ ([0-9]+|-) $/ || $5 != " " || $7 != "") {
        bad++
        next
    }
    ip = substr($1, 1, index($1, " ") - 1)
    t = substr($1, length($1) - 28, 28)
    ts = epoch(t)
    if (ts < 0) {
        bad++
        next
    }
    method = ""
    path = ""
    req = $2
    first = index(req, " ")
    last = 0
    for (i = length(req); i > first; i--)
        if (substr(req, i, 1) == " ") {
            last = i
            break
        }
    if (req != "-" && first > 1 && last > first) {
        method = substr(req, 1, first - 1)
        path = substr(req, first + 1, last - first - 1)
    }
    split($3, sb, " ")
    status = sb[1] + 0
    bytes = sb[2] == "-" ? "" : sb[2]
    agent = $6 == "-" ? "" : $6
    bot = agent != "" && tolower(agent) ~ /bot|crawl|spider/
    img = tolower(path) ~ /\.(png|jpe?g|gif|ico)$/
    printf "%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%d\t%d\n", ip, ts, method, path, status, bytes, agent, bot, img
}

END {
    if (stats != "") {
        print "lines", lines > stats
        print "bad", bad > stats
    }
}
