/* format_access.c - the built-in access-log formats, combined and common (see format.h).
 *
 *   common:   %h %l %u %t "%r" %>s %b
 *   combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
 *
 * One left-to-right pass with memchr (SIMD in glibc) for spaces, brackets and
 * quotes; integers and the bracketed time are converted by hand. Rules:
 * - ip and ident are single non-empty words; user runs up to the " [" that opens
 *   the time (so a user name with a space survives); "-" is NULL for ident, user,
 *   bytes, referer and agent (ip stays text).
 * - time is exactly "[dd/Mon/yyyy:hh:mm:ss +hhmm]", fully validated (FMT_BAD_TIME).
 * - quoted fields end at the first '"' not escaped by a backslash; their text is
 *   the raw bytes between the quotes (escapes not decoded). No closing quote:
 *   FMT_BAD_QUOTE.
 * - request "-" makes request, method, path and protocol NULL. Otherwise method
 *   is the text before the first space, protocol the text after the last space,
 *   path what lies between; a request of one word (or none) keeps only request.
 *   Pieces are split only when one of method/path/protocol is in `need`.
 * - status is 1..4 digits, bytes digits or "-" (FMT_BAD_NUMBER otherwise).
 * - common ignores anything after " bytes". combined accepts a line that stops
 *   after bytes or after the referer (the missing fields are NULL), and ignores
 *   anything after the agent that follows a space. */
#include "format_int.h"

#define NEED_SPLIT ((1u << FMT_F_METHOD) | (1u << FMT_F_PATH) | (1u << FMT_F_PROTOCOL))

/* The quote closing a quoted field whose text starts at p: the first '"' not
 * preceded by an odd run of backslashes inside the field. NULL when none. */
static inline const char *close_quote(const char *p, const char *end)
{
    const char *s = p;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return NULL;
        if (q == s || q[-1] != '\\')
            return q;
        const char *b = q - 1;
        while (b > s && b[-1] == '\\')
            b--;
        if (((q - b) & 1) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

/* Text [p, e) into v: NULL when it is "-", else VAL_STR. */
static inline void dash_or_str(val_t *v, const char *p, const char *e)
{
    fmt_set(v, (e - p == 1 && *p == '-') ? VAL_NULL : VAL_STR, p, (size_t)(e - p));
}

/* The number of 1..maxd digits (maxd <= 18) at p, ending at end or a space.
 * Returns the position after it, or NULL when the word is not such a number. */
static inline const char *scan_number(const char *p, const char *end, int maxd, int64_t *out)
{
    const char *s = p, *lim = end - p > maxd ? p + maxd : end;
    int64_t n = 0;
    for (unsigned d; p < lim && (d = (unsigned char)*p - '0') <= 9; p++)
        n = n * 10 + d;
    if (p == s || (p < end && *p != ' '))
        return NULL;
    *out = n;
    return p;
}

/* method / path / protocol from the request text [r, r + n). */
static void split_request(const char *r, size_t n, val_t *v)
{
    const char *end = r + n, *sp = memchr(r, ' ', n);
    fmt_set(&v[FMT_F_METHOD], VAL_NULL, NULL, 0);
    fmt_set(&v[FMT_F_PATH], VAL_NULL, NULL, 0);
    fmt_set(&v[FMT_F_PROTOCOL], VAL_NULL, NULL, 0);
    if (!sp)
        return; /* one word, or empty: nothing to split */
    if (sp > r)
        fmt_set(&v[FMT_F_METHOD], VAL_STR, r, (size_t)(sp - r));
    const char *rest = sp + 1, *last = memrchr(rest, ' ', (size_t)(end - rest));
    if (!last) {
        if (end > rest)
            fmt_set(&v[FMT_F_PATH], VAL_STR, rest, (size_t)(end - rest));
        return;
    }
    if (last > rest)
        fmt_set(&v[FMT_F_PATH], VAL_STR, rest, (size_t)(last - rest));
    if (end > last + 1)
        fmt_set(&v[FMT_F_PROTOCOL], VAL_STR, last + 1, (size_t)(end - last - 1));
}

/* The request at [r, q): the request field and, when needed, its pieces. */
static inline void set_request(const char *r, const char *q, uint64_t need, val_t *v)
{
    if (q - r == 1 && *r == '-') {
        fmt_set(&v[FMT_F_REQUEST], VAL_NULL, r, 1);
        fmt_set(&v[FMT_F_METHOD], VAL_NULL, NULL, 0);
        fmt_set(&v[FMT_F_PATH], VAL_NULL, NULL, 0);
        fmt_set(&v[FMT_F_PROTOCOL], VAL_NULL, NULL, 0);
        return;
    }
    fmt_set(&v[FMT_F_REQUEST], VAL_STR, r, (size_t)(q - r));
    if (need & NEED_SPLIT) {
        split_request(r, (size_t)(q - r), v);
    } else {
        fmt_set(&v[FMT_F_METHOD], VAL_NULL, NULL, 0);
        fmt_set(&v[FMT_F_PATH], VAL_NULL, NULL, 0);
        fmt_set(&v[FMT_F_PROTOCOL], VAL_NULL, NULL, 0);
    }
}

/* %h %l %u: fills ip, ident, user and returns the position of the '[' that opens
 * the time, or NULL when the structure is not there. */
static inline const char *parse_who(const char *p, const char *end, val_t *v)
{
    const char *e = memchr(p, ' ', (size_t)(end - p));
    if (!e || e == p)
        return NULL;
    fmt_set(&v[FMT_F_IP], VAL_STR, p, (size_t)(e - p));
    p = e + 1;
    if (end - p >= 2 && p[0] == '-' && p[1] == ' ')
        e = p + 1;
    else if (!(e = memchr(p, ' ', (size_t)(end - p))) || e == p)
        return NULL;
    dash_or_str(&v[FMT_F_IDENT], p, e);
    p = e + 1;
    const char *b;
    if (end - p >= 3 && p[0] == '-' && p[1] == ' ' && p[2] == '[') {
        b = p + 2;
    } else {
        b = p < end ? memchr(p, '[', (size_t)(end - p)) : NULL;
        while (b && (b - p < 2 || b[-1] != ' '))
            b = memchr(b + 1, '[', (size_t)(end - b - 1));
        if (!b)
            return NULL;
    }
    dash_or_str(&v[FMT_F_USER], p, b - 1);
    return b;
}

/* The quoted field that must start at p ('"'): sets v, returns the position
 * after the closing quote, or NULL with *why set. */
static inline const char *parse_quoted(const char *p, const char *end, val_t *v, fmt_bad_t *why)
{
    if (p >= end || *p != '"') {
        *why = FMT_BAD_FIELDS;
        return NULL;
    }
    const char *q = close_quote(p + 1, end);
    if (!q) {
        *why = FMT_BAD_QUOTE;
        return NULL;
    }
    dash_or_str(v, p + 1, q);
    return q + 1;
}

/* The optional "referer" "agent" tail of combined, starting at p (just after
 * bytes; p == end or *p == ' '). */
static fmt_bad_t parse_tail(const char *p, const char *end, val_t *v)
{
    fmt_bad_t why = FMT_OK;
    fmt_set(&v[FMT_F_REFERER], VAL_NULL, NULL, 0);
    fmt_set(&v[FMT_F_AGENT], VAL_NULL, NULL, 0);
    if (p == end)
        return FMT_OK;
    if (!(p = parse_quoted(p + 1, end, &v[FMT_F_REFERER], &why)))
        return why;
    if (p == end)
        return FMT_OK;
    if (*p != ' ' || !(p = parse_quoted(p + 1, end, &v[FMT_F_AGENT], &why)))
        return why == FMT_OK ? FMT_BAD_FIELDS : why;
    return (p == end || *p == ' ') ? FMT_OK : FMT_BAD_FIELDS;
}

fmt_bad_t fmt_parse_access(const fmt_t *f, const char *line, size_t len, uint64_t need,
                           val_t *v)
{
    const char *end = line + len, *p, *e, *q;
    int64_t n;
    fmt_bad_t why = FMT_OK;

    if (len == 0 || !(p = parse_who(line, end, v)))
        return FMT_BAD_FIELDS;
    /* [time] */
    if (end - p < FMT_CLF_TIME_LEN + 2 || p[FMT_CLF_TIME_LEN + 1] != ']')
        return FMT_BAD_TIME;
    if (fmt_clf_time(p + 1, &n) < 0)
        return FMT_BAD_TIME;
    fmt_set(&v[FMT_F_TIME], VAL_TIME, p + 1, FMT_CLF_TIME_LEN);
    v[FMT_F_TIME].i = n;
    p += FMT_CLF_TIME_LEN + 2;
    if (p >= end || *p != ' ')
        return FMT_BAD_FIELDS;
    /* "request" */
    q = p + 1;
    if (!(p = parse_quoted(q, end, &v[FMT_F_REQUEST], &why)))
        return why;
    set_request(q + 1, p - 1, need, v);
    /* status bytes */
    if (end - p < 2 || *p != ' ')
        return FMT_BAD_FIELDS;
    if (!(e = scan_number(++p, end, 4, &n)))
        return FMT_BAD_NUMBER;
    fmt_set(&v[FMT_F_STATUS], VAL_INT, p, (size_t)(e - p));
    v[FMT_F_STATUS].i = n;
    if (end - e < 2)
        return FMT_BAD_FIELDS;
    p = e + 1;
    if (*p == '-' && (end - p == 1 || p[1] == ' ')) {
        e = p + 1;
        fmt_set(&v[FMT_F_BYTES], VAL_NULL, p, 1);
    } else {
        if (!(e = scan_number(p, end, 18, &n)))
            return FMT_BAD_NUMBER;
        fmt_set(&v[FMT_F_BYTES], VAL_INT, p, (size_t)(e - p));
        v[FMT_F_BYTES].i = n;
    }
    if (f->kind == FMT_KIND_COMMON)
        return FMT_OK;
    return parse_tail(e, end, v);
}
