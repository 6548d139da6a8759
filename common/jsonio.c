/* jsonio.c - JSON helpers shared by masters and slaves: uint64 values without
 * loss, compact JSON into a buf_t, and the field reader that keeps the first
 * problem with where it was (see jsonio.h). */
#include "jsonio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

json_t *jsonio_u64(uint64_t v)
{
    char t[24];

    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    snprintf(t, sizeof t, "%" PRIu64, v);
    return json_string(t);
}

void jsonio_push(json_t *a, json_t *v, int *bad)
{
    if (!v || json_array_append_new(a, v) != 0)
        *bad = 1;
}

void jsonio_put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, key, v) != 0)
        *bad = 1;
}

static int dump_to_buf(const char *p, size_t n, void *data)
{
    buf_put(data, p, n);
    return 0;
}

int jsonio_dump_buf(const json_t *root, buf_t *out)
{
    if (!root)
        return -1;
    return json_dump_callback(root, dump_to_buf, out, JSON_COMPACT) == 0 ? 0 : -1;
}

/* ---- reading ---- */

int jsonio_u64_value(const json_t *v, uint64_t *out)
{
    const char *s;
    char *end;
    unsigned long long x;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v) || (s = json_string_value(v))[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

json_t *jsonio_parse_object(const void *data, size_t len, abbey_err_t *err)
{
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);

    if (!o) {
        abbey_err_set(err, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        abbey_err_set(err, "not a JSON object");
        return NULL;
    }
    return o;
}

void jsonio_rd_init(jsonio_rd_t *r)
{
    r->err.msg[0] = 0;
    r->where[0] = 0;
    r->failed = 0;
}

void jsonio_where(jsonio_rd_t *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->where, sizeof r->where, fmt, ap);
    va_end(ap);
}

void jsonio_fail(jsonio_rd_t *r, const char *key, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    if (r->failed)
        return;
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    abbey_err_set(&r->err, "%s%sfield '%s' %s", r->where, r->where[0] ? ": " : "", key, what);
}

/* o[key], or NULL after recording "is missing" (when required). */
static json_t *field(jsonio_rd_t *r, const json_t *o, const char *key, int required)
{
    json_t *v = json_object_get(o, key);

    if (!v && required)
        jsonio_fail(r, key, "is missing");
    return v;
}

int64_t jsonio_get_i64(jsonio_rd_t *r, const json_t *o, const char *key)
{
    json_t *v = field(r, o, key, 1);

    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        jsonio_fail(r, key, "must be an integer");
        return 0;
    }
    return (int64_t)json_integer_value(v);
}

int64_t jsonio_get_int(jsonio_rd_t *r, const json_t *o, const char *key, int required, int64_t min)
{
    json_t *v = field(r, o, key, required);

    if (!v)
        return -1;
    if (!json_is_integer(v) || json_integer_value(v) < min) {
        jsonio_fail(r, key, "must be an integer >= %" PRId64, min);
        return -1;
    }
    return (int64_t)json_integer_value(v);
}

uint64_t jsonio_item_u64(jsonio_rd_t *r, const json_t *v, const char *key)
{
    uint64_t x;

    if (jsonio_u64_value(v, &x) == 0)
        return x;
    jsonio_fail(r, key, v ? "must be an unsigned 64-bit integer" : "is missing");
    return 0;
}

uint64_t jsonio_get_u64(jsonio_rd_t *r, const json_t *o, const char *key)
{
    json_t *v = field(r, o, key, 1);

    return v ? jsonio_item_u64(r, v, key) : 0;
}

int jsonio_get_bool(jsonio_rd_t *r, const json_t *o, const char *key, int required)
{
    json_t *v = field(r, o, key, required);

    if (!v)
        return -1;
    if (!json_is_boolean(v)) {
        jsonio_fail(r, key, "must be true or false");
        return 0;
    }
    return json_is_true(v);
}

const char *jsonio_get_str(jsonio_rd_t *r, const json_t *o, const char *key, int required,
                           size_t max)
{
    json_t *v = field(r, o, key, required);

    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        jsonio_fail(r, key, "must be a string");
        return NULL;
    }
    if (json_string_length(v) > max) {
        jsonio_fail(r, key, "is longer than %zu bytes", max);
        return NULL;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        jsonio_fail(r, key, "contains a NUL character");
        return NULL;
    }
    return json_string_value(v);
}

json_t *jsonio_get_arr(jsonio_rd_t *r, const json_t *o, const char *key)
{
    json_t *v = field(r, o, key, 1);

    if (v && !json_is_array(v)) {
        jsonio_fail(r, key, "must be an array");
        return NULL;
    }
    return v;
}

json_t *jsonio_get_obj(jsonio_rd_t *r, const json_t *o, const char *key, int required)
{
    json_t *v = field(r, o, key, required);

    if (v && !json_is_object(v)) {
        jsonio_fail(r, key, "must be an object");
        return NULL;
    }
    return v;
}

int jsonio_get_strs(jsonio_rd_t *r, const json_t *o, const char *key, int required, size_t maxlen,
                    size_t maxn, apr_pool_t *pool, const char ***out)
{
    json_t *v = field(r, o, key, required);
    const char **s;

    *out = NULL;
    if (!v)
        return -1;
    if (!json_is_array(v)) {
        jsonio_fail(r, key, "must be an array of strings");
        return -1;
    }
    if (json_array_size(v) > maxn) {
        jsonio_fail(r, key, "has more than %zu items", maxn);
        return -1;
    }
    s = apr_palloc(pool, sizeof *s * (json_array_size(v) + 1));
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        s[i] = json_string_value(e);
        if (!s[i] || !*s[i] || json_string_length(e) > maxlen ||
            strlen(s[i]) != json_string_length(e)) {
            jsonio_fail(r, key, "item %zu must be a non-empty string of at most %zu bytes", i,
                        maxlen);
            return -1;
        }
    }
    *out = s;
    return (int)json_array_size(v);
}
