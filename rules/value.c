/* value.c - numeric views, hashing, key encoding and text rendering of value_t (see value.h). */
#include "value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "civil.h"

/* Key encoding tags: one byte per column. */
enum { KEY_NULL = 0, KEY_INT = 1, KEY_FLOAT = 2, KEY_STR = 3, KEY_BOOL = 4, KEY_TIME = 5 };

#define KEY_STR_MAX (1u << 20)

/* Parse decimal text: [+-]digits[.digits][(e|E)[+-]digits]. Integer text that
 * fits int64 sets *is_int. Returns 0, or -1 when the text is not a number. */
static int parse_number(const char *s, size_t len, int64_t *ip, double *fp, int *is_int)
{
    const char *p = s, *end = s + len;
    int neg = 0, digits = 0, intlike = 1, overflow = 0;
    uint64_t acc = 0;
    char tmp[64];

    if (p < end && (*p == '+' || *p == '-'))
        neg = (*p++ == '-');
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        unsigned d = (unsigned)(*p - '0');
        if (acc > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            acc = acc * 10 + d;
    }
    if (p < end && *p == '.') {
        intlike = 0;
        for (p++; p < end && *p >= '0' && *p <= '9'; p++)
            digits++;
    }
    if (!digits)
        return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int edigits = 0;
        intlike = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            edigits++;
        if (!edigits)
            return -1;
    }
    if (p != end)
        return -1;
    if (intlike && !overflow && acc <= (uint64_t)INT64_MAX + (uint64_t)neg) {
        *ip = neg ? (int64_t)(0 - acc) : (int64_t)acc;
        *fp = (double)*ip;
        *is_int = 1;
        return 0;
    }
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    *fp = strtod(tmp, NULL);
    *is_int = 0;
    return 0;
}

int value_to_number(const value_t *v, int64_t *i, double *f, int *is_int)
{
    switch (v->kind) {
    case VALUE_INT:
    case VALUE_BOOL:
    case VALUE_TIME:
        *i = v->i;
        *f = (double)v->i;
        *is_int = 1;
        return 0;
    case VALUE_FLOAT:
        *f = v->f;
        *is_int = 0;
        return 0;
    case VALUE_STR:
        return v->s ? parse_number(v->s, v->len, i, f, is_int) : -1;
    default:
        return -1;
    }
}

int value_to_double(const value_t *v, double *out)
{
    int64_t i;
    int is_int;
    return value_to_number(v, &i, out, &is_int);
}

int value_truthy(const value_t *v)
{
    switch (v->kind) {
    case VALUE_INT:
    case VALUE_BOOL:
    case VALUE_TIME:
        return v->i != 0;
    case VALUE_FLOAT:
        return v->f != 0.0;
    case VALUE_STR:
        return v->len != 0;
    default:
        return 0;
    }
}

uint64_t value_hash_bytes(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

uint64_t value_hash(const value_t *v)
{
    uint8_t b[9];
    double f;
    switch (v->kind) {
    case VALUE_STR:
        return XXH3_64bits(v->s ? v->s : "", v->len);
    case VALUE_INT:
    case VALUE_BOOL:
    case VALUE_TIME:
        f = (double)v->i;
        /* integers that a double holds exactly hash like the equal double */
        if ((int64_t)f != v->i || f >= 9223372036854775808.0) {
            b[0] = KEY_INT;
            memcpy(b + 1, &v->i, 8);
            return XXH3_64bits(b, 9);
        }
        break;
    case VALUE_FLOAT:
        f = v->f == 0.0 ? 0.0 : v->f; /* -0.0 == 0.0 */
        break;
    default:
        return 0x9e3779b97f4a7c15ull;
    }
    b[0] = KEY_FLOAT;
    memcpy(b + 1, &f, 8);
    return XXH3_64bits(b, 9);
}

void value_key_put(buf_t *b, const value_t *v)
{
    switch (v->kind) {
    case VALUE_INT:
    case VALUE_BOOL:
    case VALUE_TIME:
        buf_put_u8(b, v->kind == VALUE_INT ? KEY_INT : v->kind == VALUE_BOOL ? KEY_BOOL : KEY_TIME);
        buf_put_u64(b, (uint64_t)v->i);
        break;
    case VALUE_FLOAT:
        buf_put_u8(b, KEY_FLOAT);
        buf_put_f64(b, v->f);
        break;
    case VALUE_STR:
        buf_put_u8(b, KEY_STR);
        buf_put_str(b, v->s, v->len);
        break;
    default:
        buf_put_u8(b, KEY_NULL);
    }
}

int value_key_get(buf_reader_t *r, value_t *v)
{
    size_t len;
    uint8_t tag = buf_get_u8(r);
    memset(v, 0, sizeof *v);
    switch (tag) {
    case KEY_NULL:
        v->kind = VALUE_NULL;
        break;
    case KEY_INT:
    case KEY_BOOL:
    case KEY_TIME:
        v->kind = tag == KEY_INT ? VALUE_INT : tag == KEY_BOOL ? VALUE_BOOL : VALUE_TIME;
        v->i = (int64_t)buf_get_u64(r);
        break;
    case KEY_FLOAT:
        v->kind = VALUE_FLOAT;
        v->f = buf_get_f64(r);
        break;
    case KEY_STR:
        v->kind = VALUE_STR;
        v->s = (const char *)buf_get_str(r, KEY_STR_MAX, &len);
        v->len = (uint32_t)len;
        break;
    default:
        return -1;
    }
    return buf_reader_failed(r) ? -1 : 0;
}

void value_render(buf_t *b, const value_t *v)
{
    int64_t days, secs, y;
    unsigned mo, d;
    switch (v->kind) {
    case VALUE_INT:
        buf_printf(b, "%lld", (long long)v->i);
        break;
    case VALUE_FLOAT:
        if (isfinite(v->f))
            buf_printf(b, "%.15g", v->f);
        break;
    case VALUE_STR:
        buf_put(b, v->s, v->len);
        break;
    case VALUE_BOOL:
        buf_printf(b, "%s", v->i ? "true" : "false");
        break;
    case VALUE_TIME:
        days = v->i / 86400;
        secs = v->i % 86400;
        if (secs < 0) {
            secs += 86400;
            days--;
        }
        civil_from_days(days, &y, &mo, &d);
        buf_printf(b, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, mo, d, (int)(secs / 3600),
                   (int)(secs / 60 % 60), (int)(secs % 60));
        break;
    default:
        break;
    }
}

int value_parse_duration(const char *s, size_t len, int64_t *ms)
{
    uint64_t n = 0;
    size_t i = 0;
    int64_t unit;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (n > 1000000000000ull)
            return -1;
        n = n * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0)
        return -1;
    if (len - i == 2 && s[i] == 'm' && s[i + 1] == 's')
        unit = 1;
    else if (len - i == 1 && s[i] == 's')
        unit = 1000;
    else if (len - i == 1 && s[i] == 'm')
        unit = 60000;
    else if (len - i == 1 && s[i] == 'h')
        unit = 3600000;
    else if (len - i == 1 && s[i] == 'd')
        unit = 86400000;
    else
        return -1;
    if (n > (uint64_t)(INT64_MAX / unit))
        return -1;
    *ms = (int64_t)n * unit;
    return 0;
}
