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
 * - time is exactly "[dd/Mon/yyyy:hh:mm:ss +hhmm]", fully validated (FORMAT_BAD_TIME).
 * - quoted fields end at the first '"' not escaped by a backslash; their text is
 *   the raw bytes between the quotes (escapes not decoded). No closing quote:
 *   FORMAT_BAD_QUOTE.
 * - request "-" makes request, method, path and protocol NULL. Otherwise method
 *   is the text before the first space, protocol the text after the last space,
 *   path what lies between; a request of one word (or none) keeps only request.
 *   Pieces are split only when one of method/path/protocol is in `need`.
 * - status is 1..4 digits, bytes digits or "-" (FORMAT_BAD_NUMBER otherwise).
 * - common ignores anything after " bytes". combined accepts a line that stops
 *   after bytes or after the referer (the missing fields are NULL), and ignores
 *   anything after the agent that follows a space. */
#include "format_int.h"

#define NEED_SPLIT ((1u << FORMAT_F_METHOD) | (1u << FORMAT_F_PATH) | (1u << FORMAT_F_PROTOCOL))

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

/* Text [p, e) into v: NULL when it is "-", else VALUE_STR. */
static inline void dash_or_str(value_t *v, const char *p, const char *e)
{
    format_set(v, (e - p == 1 && *p == '-') ? VALUE_NULL : VALUE_STR, p, (size_t)(e - p));
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
static void split_request(const char *r, size_t n, value_t *v)
{
    const char *end = r + n, *sp = memchr(r, ' ', n);
    format_set(&v[FORMAT_F_METHOD], VALUE_NULL, NULL, 0);
    format_set(&v[FORMAT_F_PATH], VALUE_NULL, NULL, 0);
    format_set(&v[FORMAT_F_PROTOCOL], VALUE_NULL, NULL, 0);
    if (!sp)
        return; /* one word, or empty: nothing to split */
    if (sp > r)
        format_set(&v[FORMAT_F_METHOD], VALUE_STR, r, (size_t)(sp - r));
    const char *rest = sp + 1, *last = memrchr(rest, ' ', (size_t)(end - rest));
    if (!last) {
        if (end > rest)
            format_set(&v[FORMAT_F_PATH], VALUE_STR, rest, (size_t)(end - rest));
        return;
    }
    if (last > rest)
        format_set(&v[FORMAT_F_PATH], VALUE_STR, rest, (size_t)(last - rest));
    if (end > last + 1)
        format_set(&v[FORMAT_F_PROTOCOL], VALUE_STR, last + 1, (size_t)(end - last - 1));
}

/* The request at [r, q): the request field and, when needed, its pieces. */
static inline void set_request(const char *r, const char *q, uint64_t need, value_t *v)
{
    if (q - r == 1 && *r == '-') {
        format_set(&v[FORMAT_F_REQUEST], VALUE_NULL, r, 1);
        format_set(&v[FORMAT_F_METHOD], VALUE_NULL, NULL, 0);
        format_set(&v[FORMAT_F_PATH], VALUE_NULL, NULL, 0);
        format_set(&v[FORMAT_F_PROTOCOL], VALUE_NULL, NULL, 0);
        return;
    }
    format_set(&v[FORMAT_F_REQUEST], VALUE_STR, r, (size_t)(q - r));
    if (need & NEED_SPLIT) {
        split_request(r, (size_t)(q - r), v);
    } else {
        format_set(&v[FORMAT_F_METHOD], VALUE_NULL, NULL, 0);
        format_set(&v[FORMAT_F_PATH], VALUE_NULL, NULL, 0);
        format_set(&v[FORMAT_F_PROTOCOL], VALUE_NULL, NULL, 0);
    }
}

/* %h %l %u: fills ip, ident, user and returns the position of the '[' that opens
 * the time, or NULL when the structure is not there. */
static inline const char *parse_who(const char *p, const char *end, value_t *v)
{
    const char *e = memchr(p, ' ', (size_t)(end - p));
    if (!e || e == p)
        return NULL;
    format_set(&v[FORMAT_F_IP], VALUE_STR, p, (size_t)(e - p));
    p = e + 1;
    if (end - p >= 2 && p[0] == '-' && p[1] == ' ')
        e = p + 1;
    else if (!(e = memchr(p, ' ', (size_t)(end - p))) || e == p)
        return NULL;
    dash_or_str(&v[FORMAT_F_IDENT], p, e);
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
    dash_or_str(&v[FORMAT_F_USER], p, b - 1);
    return b;
}

/* The quoted field that must start at p ('"'): sets v, returns the position
 * after the closing quote, or NULL with *why set. */
static inline const char *parse_quoted(const char *p, const char *end, value_t *v,
                                       format_bad_t *why)
{
    if (p >= end || *p != '"') {
        *why = FORMAT_BAD_FIELDS;
        return NULL;
    }
    const char *q = close_quote(p + 1, end);
    if (!q) {
        *why = FORMAT_BAD_QUOTE;
        return NULL;
    }
    dash_or_str(v, p + 1, q);
    return q + 1;
}

/* The optional "referer" "agent" tail of combined, starting at p (just after
 * bytes; p == end or *p == ' '). */
static format_bad_t parse_tail(const char *p, const char *end, value_t *v)
{
    format_bad_t why = FORMAT_OK;
    format_set(&v[FORMAT_F_REFERER], VALUE_NULL, NULL, 0);
    format_set(&v[FORMAT_F_AGENT], VALUE_NULL, NULL, 0);
    if (p == end)
        return FORMAT_OK;
    if (!(p = parse_quoted(p + 1, end, &v[FORMAT_F_REFERER], &why)))
        return why;
    if (p == end)
        return FORMAT_OK;
    if (*p != ' ' || !(p = parse_quoted(p + 1, end, &v[FORMAT_F_AGENT], &why)))
        return why == FORMAT_OK ? FORMAT_BAD_FIELDS : why;
    return (p == end || *p == ' ') ? FORMAT_OK : FORMAT_BAD_FIELDS;
}

/* The line is bad (why) because of field i (format_bad_describe names it). */
static format_bad_t blame(format_state_t *st, int i, format_bad_t why)
{
    st->bad_field = i;
    return why;
}

static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    const char *end = line + len, *p, *e, *q;
    int64_t n;
    format_bad_t why = FORMAT_OK;

    if (len == 0 || !(p = parse_who(line, end, v)))
        return FORMAT_BAD_FIELDS;
    /* [time] */
    if (end - p < FORMAT_CLF_TIME_LEN + 2 || p[FORMAT_CLF_TIME_LEN + 1] != ']')
        return blame(st, FORMAT_F_TIME, FORMAT_BAD_TIME);
    if (format_clf_time(p + 1, &n) < 0)
        return blame(st, FORMAT_F_TIME, FORMAT_BAD_TIME);
    format_set(&v[FORMAT_F_TIME], VALUE_TIME, p + 1, FORMAT_CLF_TIME_LEN);
    v[FORMAT_F_TIME].i = n;
    p += FORMAT_CLF_TIME_LEN + 2;
    if (p >= end || *p != ' ')
        return FORMAT_BAD_FIELDS;
    /* "request" */
    q = p + 1;
    if (!(p = parse_quoted(q, end, &v[FORMAT_F_REQUEST], &why)))
        return why;
    set_request(q + 1, p - 1, need, v);
    /* status bytes */
    if (end - p < 2 || *p != ' ')
        return FORMAT_BAD_FIELDS;
    if (!(e = scan_number(++p, end, 4, &n)))
        return blame(st, FORMAT_F_STATUS, FORMAT_BAD_NUMBER);
    format_set(&v[FORMAT_F_STATUS], VALUE_INT, p, (size_t)(e - p));
    v[FORMAT_F_STATUS].i = n;
    if (end - e < 2)
        return FORMAT_BAD_FIELDS;
    p = e + 1;
    if (*p == '-' && (end - p == 1 || p[1] == ' ')) {
        e = p + 1;
        format_set(&v[FORMAT_F_BYTES], VALUE_NULL, p, 1);
    } else {
        if (!(e = scan_number(p, end, 18, &n)))
            return blame(st, FORMAT_F_BYTES, FORMAT_BAD_NUMBER);
        format_set(&v[FORMAT_F_BYTES], VALUE_INT, p, (size_t)(e - p));
        v[FORMAT_F_BYTES].i = n;
    }
    (void)num;
    if (st->f->nfields == FORMAT_F_COMMON_N)
        return FORMAT_OK;
    return parse_tail(e, end, v);
}

/* ---- creating ---------------------------------------------------------- */

static const char *const field_names[FORMAT_F_COMBINED_N] = {
    "ip",   "ident",    "user",   "time",  "request", "method",
    "path", "protocol", "status", "bytes", "referer", "agent",
};

static const format_type_t field_types[FORMAT_F_COMBINED_N] = {
    FORMAT_STR, FORMAT_STR, FORMAT_STR, FORMAT_TIME, FORMAT_STR, FORMAT_STR,
    FORMAT_STR, FORMAT_STR, FORMAT_INT, FORMAT_INT,  FORMAT_STR, FORMAT_STR,
};

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    int n = strcmp(spec->kind, "common") == 0 ? FORMAT_F_COMMON_N : FORMAT_F_COMBINED_N;
    (void)err;
    for (int i = 0; i < n; i++) {
        f->names[i] = field_names[i];
        f->namelens[i] = strlen(field_names[i]);
        f->types[i] = field_types[i];
    }
    f->nfields = n;
    return APR_SUCCESS;
}

static const char *const names[] = {"combined", "common", NULL};

const format_ops_t format_access_ops = {.names = names, .create = create, .parse = parse};
