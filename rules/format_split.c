/* format_split.c - the "split" format: fields separated by a delimiter string
 * (see format.h).
 *
 * A line must hold exactly nfields fields (FORMAT_BAD_FIELDS otherwise); the
 * delimiter may be several bytes (" | "), matched leftmost first. Every
 * delimiter is found whatever the rules need; a needed field converts by its
 * type (format_convert):
 * - str:   VALUE_STR, always (empty and "-" included);
 * - int:   optional sign and digits fitting int64 -> VALUE_INT;
 * - float: decimal number (sign, digits, fraction, exponent) -> VALUE_FLOAT;
 * - time:  by the format's time_format and timezone, else the built-in forms:
 *          epochs ("1431857103", ms by 13+ digits), ISO 8601 or the Apache form
 *          (format_time_scan, format_time.c) -> VALUE_TIME;
 * - auto:  VALUE_STR, unless its bit is set in `num`: then VALUE_INT or VALUE_FLOAT.
 * In int, float, time and num-auto fields empty text or "-" is VALUE_NULL; other
 * text that does not convert makes the line bad (FORMAT_BAD_NUMBER, FORMAT_BAD_TIME). */
#include "format_int.h"

#include <apr_strings.h>

typedef struct split_t {
    const char *delim;
    size_t dlen;
} split_t;

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    split_t *sp = apr_pcalloc(f->pool, sizeof *sp);
    apr_status_t rv;
    if (!spec->arg || !*spec->arg) {
        abbey_err_set(err, "split format: the delimiter is empty");
        return APR_EINVAL;
    }
    if (spec->nfields < 1) {
        abbey_err_set(err, "split format: missing required key 'fields': the field names in "
                           "order, such as [ts:time, user, status:int]");
        return APR_EINVAL;
    }
    sp->delim = apr_pstrdup(f->pool, spec->arg);
    sp->dlen = strlen(sp->delim);
    if ((rv = format_add_listed(f, spec, "split", err)) != APR_SUCCESS)
        return rv;
    f->impl = sp;
    return APR_SUCCESS;
}

/* ---- parsing ----------------------------------------------------------- */

/* The next delimiter in [p, end), or NULL. */
static inline const char *find_delim(const split_t *f, const char *p, const char *end)
{
    if ((size_t)(end - p) < f->dlen)
        return NULL;
    const char *d = f->delim;
    if (f->dlen == 1)
        return memchr(p, d[0], (size_t)(end - p));
    const char *last = end - f->dlen; /* last possible start */
    while (p <= last) {
        const char *q = memchr(p, d[0], (size_t)(last - p) + 1);
        if (!q)
            return NULL;
        if (memcmp(q + 1, d + 1, f->dlen - 1) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

/* Every field's text first (the structure: exactly nfields fields), then the
 * needed ones converted, so a line's reason never depends on what is needed. */
static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    const split_t *sp = st->f->impl;
    const char *p = line, *end = line + len, *e;
    int last = st->f->nfields - 1;
    format_bad_t why;
    for (int i = 0; i < last; i++) {
        if (!(e = find_delim(sp, p, end)))
            return FORMAT_BAD_FIELDS;
        format_set(&v[i], VALUE_STR, p, (size_t)(e - p));
        p = e + sp->dlen;
    }
    if (find_delim(sp, p, end))
        return FORMAT_BAD_FIELDS;
    format_set(&v[last], VALUE_STR, p, (size_t)(end - p));
    for (uint64_t m = need & ((uint64_t)-1 >> (63 - last)); m; m &= m - 1) {
        int i = __builtin_ctzll(m);
        if ((why = format_convert(st, i, v[i].s, v[i].s + v[i].len, num, &v[i])) != FORMAT_OK)
            return why;
    }
    return FORMAT_OK;
}

static const char *const names[] = {"split", NULL};

const format_ops_t format_split_ops = {.names = names, .create = create, .parse = parse};
