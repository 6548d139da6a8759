/* format_scan.c - the number scanners every line format shares, and
 * format_convert, which turns a field's text into its declared type (see
 * format_int.h; times are format_time.c's). Hand-written: they run once per converted field per
 * line and allocate nothing (strtod only on a bounded stack copy, for the rare number the exact
 * fast path cannot take). */
#include "format_int.h"

#include <stdlib.h>

/* ---- numbers ----------------------------------------------------------- */

/* [p, e) as an int64: optional sign, 1+ digits. Returns 0; -1 when not integer
 * text; -2 when it is integer text out of range. */
int format_scan_int(const char *p, const char *e, int64_t *out)
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
int format_scan_float(const char *p, const char *e, double *out)
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

/* ---- converting ------------------------------------------------------- */

static inline int null_text(const char *p, const char *e)
{
    return p == e || (e - p == 1 && *p == '-');
}

format_bad_t format_convert(format_state_t *st, int i, const char *p, const char *e, uint64_t num,
                            value_t *v)
{
    format_type_t t = st->f->types[i];
    format_bad_t why;
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
        why = format_scan_int(p, e, &v->i) == 0 ? FORMAT_OK : FORMAT_BAD_NUMBER;
        break;
    case FORMAT_FLOAT:
        v->kind = VALUE_FLOAT;
        why = format_scan_float(p, e, &v->f) == 0 ? FORMAT_OK : FORMAT_BAD_NUMBER;
        break;
    case FORMAT_TIME:
        v->kind = VALUE_TIME;
        why = format_time_scan(st, p, e, &v->i) == 0 ? FORMAT_OK : FORMAT_BAD_TIME;
        break;
    default: /* FORMAT_AUTO used as a number */
        v->kind = VALUE_INT;
        if (format_scan_int(p, e, &v->i) == 0)
            return FORMAT_OK;
        v->kind = VALUE_FLOAT;
        why = format_scan_float(p, e, &v->f) == 0 ? FORMAT_OK : FORMAT_BAD_NUMBER;
        break;
    }
    if (why != FORMAT_OK)
        st->bad_field = i;
    return why;
}
