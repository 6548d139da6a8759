# tests/recount/hostile.awk - an Apache combined log with paths that are not clean UTF-8.
#
# Copies the log; every 7th line that has three quoted fields and a request of
# three words gets, at the end of its path, one of these (by line number): a
# 0xff byte, a truncated euro sign (e2 82), an overlong '/' (c0 af), a
# surrogate (ed a0 80), a NUL, ESC and ^A, a CR, a comma, and valid multi-byte
# text (U+00E9 U+20AC). awk strings end at NUL, so the NUL is written as \036:
# pipe the output through tr '\036' '\000' (the log holds no \036 of its own).
# The lines stay good lines, with the same status and bytes.
# Run as: mawk -f hostile.awk access.log | tr '\036' '\000' > hostile.log
BEGIN {
    FS = OFS = "\""
    n = split("\377|\342\202|\300\257|\355\240\200|\036|\033\001|\r|,x|\303\251\342\202\254",
              sfx, "|")
}

NR % 7 == 0 && NF == 7 {
    req = $2
    last = 0
    for (i = length(req); i > 0 && !last; i--)
        if (substr(req, i, 1) == " ")
            last = i
    if (last > index(req, " ") + 1)
        $2 = substr(req, 1, last - 1) sfx[NR / 7 % n + 1] substr(req, last)
}

{ print }
