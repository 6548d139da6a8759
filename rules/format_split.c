/* format_split.c - the "split" format: fields separated by a delimiter string
 * (see format.h), and the hand-written number and time scanners its typed
 * fields use.
 *
 * A line must hold exactly nfields fields (FORMAT_BAD_FIELDS otherwise); the
 * delimiter may be several bytes (" | "), matched leftmost first. Per field:
 * - str:   VALUE_STR, always (empty and "-" included);
 * - int:   optional sign and digits fitting int64 -> VALUE_INT;
 * - float: decimal number (sign, digits, fraction, exponent) -> VALUE_FLOAT;
 * - time:  epoch seconds ("1431857103", fraction dropped), ISO 8601
 *          ("2015-05-17T10:05:03Z", 'T' or ' ', optional fraction, Z / +hh:mm /
 *          +hhmm / none = UTC) or the Apache form ("17/May/2015:10:05:03 +0000",
 *          brackets optional) -> VALUE_TIME;
 * - auto:  VALUE_STR, unless its bit is set in `num`: then VALUE_INT or VALUE_FLOAT.
 * In int, float, time and num-auto fields empty text or "-" is VALUE_NULL; other
 * text that does not convert makes the line bad (FORMAT_BAD_NUMBER, FORMAT_BAD_TIME). */
#include "format_int.h"

#include <apr_strings.h>
#include <stdlib.h>

/* ---- creating ---------------------------------------------------------- */

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int type_from_name(const char *t, format_type_t *out)
{
    static const struct {
        const char *name;
        format_type_t type;
    } types[] = {
        {"int", FORMAT_INT},
        {"float", FORMAT_FLOAT},
        {"time", FORMAT_TIME},
        {"str", FORMAT_STR},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i].name) == 0) {
            *out = types[i].type;
            return 0;
        }
    return -1;
}

/* Check and store field i, spelled spec ("name" or "name:type"). */
static apr_status_t add_field(format_t *f, int i, const char *spec, apr_pool_t *pool,
                              abbey_err_t *err)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    format_type_t type = FORMAT_AUTO;
    if (!valid_name(spec, n)) {
        abbey_err_set(err,
                      "split format: field %d \"%s\": a name is a letter or '_' followed by "
                      "letters, digits or '_'",
                      i + 1, spec);
        return APR_EINVAL;
    }
    if (colon && type_from_name(colon + 1, &type) < 0) {
        abbey_err_set(err,
                      "split format: field %d \"%s\": unknown type \"%s\" (int, float, time "
                      "or str)",
                      i + 1, spec, colon + 1);
        return APR_EINVAL;
    }
    if (format_field_index(f, spec, n) >= 0) {
        abbey_err_set(err, "split format: field %d \"%.*s\": duplicate name", i + 1, (int)n, spec);
        return APR_EINVAL;
    }
    f->names[i] = apr_pstrndup(pool, spec, n);
    f->namelens[i] = n;
    f->types[i] = type;
    f->nfields = i + 1;
    return APR_SUCCESS;
}

apr_status_t format_create_split(const char *delim, const char *const *fields, int nfields,
                                 apr_pool_t *pool, format_t **out, abbey_err_t *err)
{
    if (!delim || !*delim) {
        abbey_err_set(err, "split format: the delimiter is empty");
        return APR_EINVAL;
    }
    if (nfields < 1) {
        abbey_err_set(err, "split format: no fields");
        return APR_EINVAL;
    }
    if (nfields > FORMAT_MAX_FIELDS) {
        abbey_err_set(err, "split format: field %d \"%s\": too many fields (%d, at most %d)",
                      FORMAT_MAX_FIELDS + 1,
                      fields[FORMAT_MAX_FIELDS] ? fields[FORMAT_MAX_FIELDS] : "", nfields,
                      FORMAT_MAX_FIELDS);
        return APR_EINVAL;
    }
    format_t *f = apr_pcalloc(pool, sizeof *f);
    f->kind = FORMAT_KIND_SPLIT;
    f->name = "split";
    f->delim = apr_pstrdup(pool, delim);
    f->dlen = strlen(delim);
    for (int i = 0; i < nfields; i++) {
        if (!fields[i]) {
            abbey_err_set(err, "split format: field %d: missing name", i + 1);
            return APR_EINVAL;
        }
        apr_status_t rv = add_field(f, i, fields[i], pool, err);
        if (rv != APR_SUCCESS)
            return rv;
    }
    *out = f;
    return APR_SUCCESS;
}

/* ---- numbers ----------------------------------------------------------- */

/* [p, e) as an int64: optional sign, 1+ digits. Returns 0; -1 when not integer
 * text; -2 when it is integer text out of range. */
static int scan_int(const char *p, const char *e, int64_t *out)
{
    int neg = 0;
    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == e)
        return -1;
    uint64_t n = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int over = 0;
    for (; p < e; p++) {
        unsigned d = (unsigned char)*p - '0';
        if (d > 9)
            return -1;
        if (n > (lim - d) / 10)
            over = 1;
        else
            n = n * 10 + d;
    }
    if (over)
        return -2;
    *out = neg ? (int64_t)(0 - n) : (int64_t)n;
    return 0;
}

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* [p, e) as a double: [+-] (digits [. digits] | . digits) [(e|E) [+-] digits].
 * Returns 0, or -1 when not such text. Exact fast path (Clinger) when the
 * digits fit 2^53 and the power of ten is at most 22; strtod on a bounded
 * copy otherwise. */
static int scan_float(const char *p, const char *e, double *out)
{
    const char *s = p;
    uint64_t m = 0;
    int ndig = 0, nfrac = 0, any = 0, exp = 0, eneg = 0, neg = 0;
    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    for (int frac = 0; p < e; p++) {
        unsigned d = (unsigned char)*p - '0';
        if (d > 9) {
            if (*p != '.' || frac)
                break;
            frac = 1;
            continue;
        }
        any = 1;
        nfrac += frac;
        if (m || d) { /* significant digit; past 19 only counted (slow path) */
            if (ndig < 19)
                m = m * 10 + d;
            ndig++;
        }
    }
    if (!any)
        return -1;
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        if (p == e)
            return -1;
        for (; p < e && (unsigned)(*p - '0') <= 9; p++)
            exp = exp < 100000 ? exp * 10 + (*p - '0') : exp;
    }
    if (p != e)
        return -1;
    int e10 = (eneg ? -exp : exp) - nfrac;
    if (ndig <= 19 && m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)m;
        d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
        *out = neg ? -d : d;
        return 0;
    }
    char tmp[512];
    if (e - s >= (ptrdiff_t)sizeof tmp)
        return -1;
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}

/* ---- times ------------------------------------------------------------- */

/* d digits at p as a number, or -1. */
static int digits_n(const char *p, int d)
{
    int n = 0;
    for (int i = 0; i < d; i++) {
        unsigned c = (unsigned char)p[i] - '0';
        if (c > 9)
            return -1;
        n = n * 10 + (int)c;
    }
    return n;
}

/* ISO 8601 "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+hh[:]mm|+hh]" at [p, e). */
static int scan_iso_time(const char *p, const char *e, int64_t *out)
{
    if (e - p < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') ||
        p[13] != ':' || p[16] != ':')
        return -1;
    int y = digits_n(p, 4), mo = format_2dig(p + 5), d = format_2dig(p + 8);
    int hh = format_2dig(p + 11), mm = format_2dig(p + 14), ss = format_2dig(p + 17);
    if ((y | mo | d | hh | mm | ss) < 0 || mo < 1 || mo > 12 || hh > 23 || mm > 59 || ss > 59)
        return -1;
    int64_t t;
    if (format_civil_to_epoch(y, (unsigned)mo, (unsigned)d, (unsigned)hh, (unsigned)mm,
                              (unsigned)ss, &t) < 0)
        return -1;
    p += 19;
    if (p < e && *p == '.') {
        const char *f = ++p;
        while (p < e && (unsigned)(*p - '0') <= 9)
            p++;
        if (p == f)
            return -1;
    }
    if (p < e && *p == 'Z') {
        p++;
    } else if (p < e && (*p == '+' || *p == '-')) {
        int sign = *p++ == '-' ? 1 : -1, oh, om = 0;
        if (e - p < 2 || (oh = format_2dig(p)) < 0 || oh > 23)
            return -1;
        p += 2;
        if (p < e) {
            p += *p == ':';
            if (e - p < 2 || (om = format_2dig(p)) < 0 || om > 59)
                return -1;
            p += 2;
        }
        t += sign * (int64_t)(oh * 3600 + om * 60);
    }
    if (p != e)
        return -1;
    *out = t;
    return 0;
}

/* A time field [p, e): epoch seconds, ISO 8601 or Apache %t. Returns 0 or -1. */
static int scan_time(const char *p, const char *e, int64_t *out)
{
    if (e - p >= 2 && *p == '[' && e[-1] == ']')
        p++, e--;
    if (e - p == FORMAT_CLF_TIME_LEN && p[2] == '/')
        return format_clf_time(p, out);
    if (e - p >= 19 && p[4] == '-')
        return scan_iso_time(p, e, out);
    const char *dot = memchr(p, '.', (size_t)(e - p));
    if (dot) {
        const char *f = dot + 1;
        while (f < e && (unsigned)(*f - '0') <= 9)
            f++;
        if (f != e || f == dot + 1)
            return -1;
        e = dot;
    }
    return scan_int(p, e, out) == 0 ? 0 : -1;
}

/* ---- parsing ----------------------------------------------------------- */

/* The next delimiter in [p, end), or NULL. */
static inline const char *find_delim(const format_t *f, const char *p, const char *end)
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

static inline int null_text(const char *p, const char *e)
{
    return p == e || (e - p == 1 && *p == '-');
}

/* Field i from its text [p, e). */
static format_bad_t set_field(const format_t *f, int i, const char *p, const char *e, uint64_t num,
                              value_t *v)
{
    format_type_t t = f->types[i];
    format_set(v, VALUE_STR, p, (size_t)(e - p));
    if (t == FORMAT_STR || (t == FORMAT_AUTO && !((num >> i) & 1)))
        return FORMAT_OK;
    if (null_text(p, e)) {
        v->kind = VALUE_NULL;
        return FORMAT_OK;
    }
    switch (t) {
    case FORMAT_INT:
        v->kind = VALUE_INT;
        return scan_int(p, e, &v->i) == 0 ? FORMAT_OK : FORMAT_BAD_NUMBER;
    case FORMAT_FLOAT:
        v->kind = VALUE_FLOAT;
        return scan_float(p, e, &v->f) == 0 ? FORMAT_OK : FORMAT_BAD_NUMBER;
    case FORMAT_TIME:
        v->kind = VALUE_TIME;
        return scan_time(p, e, &v->i) == 0 ? FORMAT_OK : FORMAT_BAD_TIME;
    default: /* FORMAT_AUTO used as a number */
        v->kind = VALUE_INT;
        if (scan_int(p, e, &v->i) == 0)
            return FORMAT_OK;
        v->kind = VALUE_FLOAT;
        return scan_float(p, e, &v->f) == 0 ? FORMAT_OK : FORMAT_BAD_NUMBER;
    }
}

format_bad_t format_parse_split(const format_t *f, const char *line, size_t len, uint64_t num,
                                value_t *v)
{
    const char *p = line, *end = line + len, *e;
    int last = f->nfields - 1;
    format_bad_t why;
    for (int i = 0; i < last; i++) {
        if (!(e = find_delim(f, p, end)))
            return FORMAT_BAD_FIELDS;
        if ((why = set_field(f, i, p, e, num, &v[i])) != FORMAT_OK)
            return why;
        p = e + f->dlen;
    }
    if (find_delim(f, p, end))
        return FORMAT_BAD_FIELDS;
    return set_field(f, last, p, end, num, &v[last]);
}
