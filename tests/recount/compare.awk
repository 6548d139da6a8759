# tests/recount/compare.awk - compare one exported report with its expected rows.
#
#   mawk -f compare.awk -v report=NAME -v kinds=k,e,a,d,p -v limit=N -v ordcol=C \
#        -v mode=oracle|same -v efile=EXPECTED -v efmt=tsv|csv \
#        -v afile=ACTUAL -v afmt=csv|tsv [-v asize=BYTES]
#
# kinds names each column in order: k key (the leading k's identify a row),
# e exact, a average (relative 1e-9), d distinct (3%, exact below 500),
# p percentile (1%). mode=same (a run against another run) wants k, e and a
# identical and skips d and p. Files: a header row of column names, then rows;
# tsv is tab separated; csv is checked to be RFC 4180 as abbey writes it (CRLF
# after every record, quotes exactly when a field holds a comma, quote, CR or
# LF; asize, the file's size, shows the last CRLF is there).
# Rows are matched by key. The expected file holds every row in report order
# (limit 0: the actual must hold the same rows in the same order; limit N: the
# actual holds the first N by the order column, ties at the boundary allowed,
# in the expected relative order).
# Output: one "FAIL report ...: ..." line per failed check, then "TALLY pass fail",
# counting one check per compared figure plus one per structural check (format,
# header, row set, order).

function failed(msg) {
    print "FAIL " report ": " msg
    nfail++
}

function passed() {
    npass++
}

function quotes(s) {
    return gsub(/"/, "\"", s)
}

# Split one CSV record (CRLF already removed) into cell[side, r, 1..n]; returns n.
function csv_split(rec, side, r,    i, n, L, q, c, v, done) {
    i = 1
    n = 0
    L = length(rec)
    done = 0
    while (!done) {
        n++
        if (substr(rec, i, 1) == "\"") {
            v = ""
            i++
            while (1) {
                q = index(substr(rec, i), "\"")
                if (!q) {
                    fmterr = fmterr "; record " r " field " n ": no closing quote"
                    v = v substr(rec, i)
                    i = L + 1
                    break
                }
                v = v substr(rec, i, q - 1)
                i += q
                if (substr(rec, i, 1) == "\"") {
                    v = v "\""
                    i++
                } else
                    break
            }
            if (v !~ /[,"\r\n]/)
                fmterr = fmterr "; record " r " field " n ": quoted without need"
            if (i > L)
                done = 1
            else if (substr(rec, i, 1) == ",")
                i++
            else {
                fmterr = fmterr "; record " r " field " n ": text after the closing quote"
                c = index(substr(rec, i), ",")
                if (c)
                    i += c
                else
                    done = 1
            }
        } else {
            c = index(substr(rec, i), ",")
            if (c) {
                v = substr(rec, i, c - 1)
                i += c
            } else {
                v = substr(rec, i)
                done = 1
            }
            if (v ~ /["\r\n]/)
                fmterr = fmterr "; record " r " field " n ": comma, quote, CR or LF without quotes"
        }
        cell[side, r, n] = v
    }
    return n
}

# Load a file into cell[side, r, c] and width[side, r]; returns the number of
# records (the header is record 1).
function load(file, fmt, side,    line, rec, open, r, got, nbytes, c, tmp) {
    r = 0
    open = 0
    nbytes = 0
    rec = ""
    while ((got = (getline line < file)) > 0) {
        nbytes += length(line) + 1
        if (fmt == "tsv") {
            r++
            width[side, r] = split(line, tmp, "\t")
            for (c = 1; c <= width[side, r]; c++)
                cell[side, r, c] = tmp[c]
            continue
        }
        rec = open ? rec "\n" line : line
        if (quotes(rec) % 2) {
            open = 1
            continue
        }
        open = 0
        r++
        if (substr(rec, length(rec), 1) == "\r")
            rec = substr(rec, 1, length(rec) - 1)
        else
            fmterr = fmterr "; record " r " ends with LF, not CRLF"
        width[side, r] = csv_split(rec, side, r)
    }
    if (got < 0) {
        failed("cannot read " file)
        return 0
    }
    close(file)
    if (open)
        fmterr = fmterr "; the file ends inside a quoted field"
    if (fmt == "csv" && asize != "" && side == "A" && nbytes != asize + 0)
        fmterr = fmterr "; the last record has no CRLF"
    return r
}

function isnum(s) {
    return s ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/
}

function abs(x) {
    return x < 0 ? -x : x
}

# Is av (actual) acceptable for ev (expected) under kind k? Sets why when not.
function agree(k, ev, av) {
    why = ""
    if (k == "e" || mode == "same")
        return (ev "") == (av "")
    if (ev == "" || av == "")
        return (ev "") == (av "")
    if (!isnum(av)) {
        why = " (not a number)"
        return 0
    }
    if (k == "a")
        return abs(av - ev) <= 1e-9 * abs(ev)
    if (k == "p") {
        why = " (allowed: 1%)"
        return abs(av - ev) <= 0.01 * abs(ev)
    }
    if (k == "d") {
        if (av !~ /^[0-9]+$/) {
            why = " (not an integer)"
            return 0
        }
        if (ev + 0 < 500) {
            why = " (exact below 500)"
            return av + 0 == ev + 0
        }
        why = " (allowed: 3%)"
        return abs(av - ev) <= 0.03 * ev
    }
    why = " (unknown kind " k ")"
    return 0
}

function label(side, r,    s, c) {
    if (!nk)
        return "row " (r - 1)
    s = ""
    for (c = 1; c <= nk; c++)
        s = s (c > 1 ? ", " : "") cell["E", 1, c] "=" cell[side, r, c]
    if (length(s) > 120)
        s = substr(s, 1, 117) "..."
    return "row " s
}

function rowkey(side, r,    s, c) {
    s = ""
    for (c = 1; c <= nk; c++)
        s = s SUBSEP cell[side, r, c]
    return s
}

BEGIN {
    npass = nfail = 0
    nc = split(kinds, kind, ",")
    for (nk = 0; nk < nc && kind[nk + 1] == "k"; nk++)
        ;
    if (mode == "same")
        limit = 0
    fmterr = ""
    ne = load(efile, efmt, "E")
    if (fmterr != "")
        failed("expected file " efile " is malformed" fmterr)
    fmterr = ""
    na = load(afile, afmt, "A")
    if (afmt == "csv") {
        if (fmterr != "")
            failed("not RFC 4180 CSV as specified" fmterr)
        else
            passed()
    }

    # Header.
    hdr_ok = width["E", 1] == nc && width["A", 1] == nc && na > 0
    for (c = 1; hdr_ok && c <= nc; c++)
        hdr_ok = cell["E", 1, c] == cell["A", 1, c]
    if (!hdr_ok) {
        e = a = ""
        for (c = 1; c <= width["E", 1]; c++)
            e = e (c > 1 ? "," : "") cell["E", 1, c]
        for (c = 1; c <= width["A", 1]; c++)
            a = a (c > 1 ? "," : "") cell["A", 1, c]
        failed("header: expected " e " (" nc " kinds), got " a)
        print "TALLY " npass " " nfail
        exit 0
    }
    passed()

    for (r = 2; r <= ne; r++)
        erow[rowkey("E", r)] = r
    set_ok = 1
    for (r = 2; r <= na; r++) {
        k = rowkey("A", r)
        if (k in arow) {
            failed(label("A", r) ": appears twice")
            set_ok = 0
        }
        arow[k] = r
        if (width["A", r] != nc) {
            failed(label("A", r) ": " width["A", r] " fields, expected " nc)
            set_ok = 0
        }
    }

    # Which rows must be there.
    if (limit > 0) {
        want = ne - 1 < limit ? ne - 1 : limit
        edge = want > 0 ? cell["E", want + 1, ordcol] + 0 : 0
        if (na - 1 != want) {
            failed("expected " want " rows (limit " limit "), got " (na - 1))
            set_ok = 0
        }
        for (r = 2; r <= ne; r++)
            if (cell["E", r, ordcol] + 0 > edge && !(rowkey("E", r) in arow)) {
                failed(label("E", r) ": missing from the top " limit \
                       " (" cell["E", 1, ordcol] " " cell["E", r, ordcol] ")")
                set_ok = 0
            }
        for (r = 2; r <= na; r++) {
            k = rowkey("A", r)
            if (k in erow && cell["E", erow[k], ordcol] + 0 < edge) {
                failed(label("A", r) ": not in the top " limit " (" cell["E", 1, ordcol] " " \
                       cell["E", erow[k], ordcol] ", the top " limit " need " edge ")")
                set_ok = 0
            }
        }
    } else {
        for (r = 2; r <= ne; r++)
            if (!(rowkey("E", r) in arow)) {
                failed(label("E", r) ": missing")
                set_ok = 0
            }
    }
    for (r = 2; r <= na; r++)
        if (!(rowkey("A", r) in erow)) {
            failed(label("A", r) ": unexpected row")
            set_ok = 0
        }
    if (set_ok)
        passed()

    # Order: the rows present in both, in the expected relative order.
    last = 0
    order_ok = 1
    for (r = 2; r <= na && order_ok; r++) {
        k = rowkey("A", r)
        if (!(k in erow))
            continue
        if (erow[k] < last) {
            failed(label("A", r) ": out of order, expected before " label("E", last))
            order_ok = 0
        }
        last = erow[k]
    }
    if (order_ok)
        passed()

    # Figures.
    for (r = 2; r <= na; r++) {
        k = rowkey("A", r)
        if (!(k in erow))
            continue
        er = erow[k]
        for (c = nk + 1; c <= nc; c++) {
            if (mode == "same" && (kind[c] == "d" || kind[c] == "p"))
                continue
            if (agree(kind[c], cell["E", er, c], cell["A", r, c]))
                passed()
            else
                failed(label("A", r) ", column " cell["E", 1, c] ": expected '" \
                       cell["E", er, c] "', got '" cell["A", r, c] "'" why)
        }
    }
    print "TALLY " npass " " nfail
}
