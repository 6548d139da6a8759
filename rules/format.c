/* format.c - line formats: the registry of built-ins, accessors, and the
 * format_parse dispatcher (see format.h). The parsers themselves live in
 * format_access.c (combined, common) and format_split.c (split). */
#include "format_int.h"

#include <apr_strings.h>

static const char *const combined_names[FORMAT_F_COMBINED_N] = {
    "ip",   "ident",    "user",   "time",  "request", "method",
    "path", "protocol", "status", "bytes", "referer", "agent",
};

static const format_type_t combined_types[FORMAT_F_COMBINED_N] = {
    FORMAT_STR, FORMAT_STR, FORMAT_STR, FORMAT_TIME, FORMAT_STR, FORMAT_STR,
    FORMAT_STR, FORMAT_STR, FORMAT_INT, FORMAT_INT,  FORMAT_STR, FORMAT_STR,
};

apr_status_t format_create_builtin(const char *name, apr_pool_t *pool, format_t **out,
                                   abbey_err_t *err)
{
    format_kind_t kind;
    int n;
    if (name && strcmp(name, "combined") == 0) {
        kind = FORMAT_KIND_COMBINED;
        n = FORMAT_F_COMBINED_N;
    } else if (name && strcmp(name, "common") == 0) {
        kind = FORMAT_KIND_COMMON;
        n = FORMAT_F_COMMON_N;
    } else {
        abbey_err_set(err,
                      "unknown format \"%s\": the built-in formats are combined and common "
                      "(or use {split: DELIM, fields: [...]})",
                      name ? name : "");
        return APR_EINVAL;
    }
    format_t *f = apr_pcalloc(pool, sizeof *f);
    f->kind = kind;
    f->name = kind == FORMAT_KIND_COMBINED ? "combined" : "common";
    f->nfields = n;
    for (int i = 0; i < n; i++) {
        f->names[i] = combined_names[i];
        f->namelens[i] = strlen(combined_names[i]);
        f->types[i] = combined_types[i];
    }
    *out = f;
    return APR_SUCCESS;
}

const char *format_name(const format_t *f)
{
    return f->name;
}

int format_nfields(const format_t *f)
{
    return f->nfields;
}

const char *format_field_name(const format_t *f, int i)
{
    return i >= 0 && i < f->nfields ? f->names[i] : NULL;
}

format_type_t format_field_type(const format_t *f, int i)
{
    return i >= 0 && i < f->nfields ? f->types[i] : FORMAT_STR;
}

int format_field_index(const format_t *f, const char *name, size_t len)
{
    for (int i = 0; i < f->nfields; i++)
        if (f->namelens[i] == len && memcmp(f->names[i], name, len) == 0)
            return i;
    return -1;
}

format_bad_t format_parse(const format_t *f, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *fields)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len > UINT32_MAX)
        return FORMAT_BAD_TOO_LONG;
    if (f->kind == FORMAT_KIND_SPLIT)
        return format_parse_split(f, line, len, num, fields);
    return format_parse_access(f, line, len, need, fields);
}

const char *format_bad_text(format_bad_t why)
{
    switch (why) {
    case FORMAT_OK:
        return "ok";
    case FORMAT_BAD_FIELDS:
        return "wrong number of fields or unrecognised structure";
    case FORMAT_BAD_QUOTE:
        return "unterminated quote";
    case FORMAT_BAD_TIME:
        return "bad time";
    case FORMAT_BAD_NUMBER:
        return "not a number";
    case FORMAT_BAD_REQUEST:
        return "odd request";
    case FORMAT_BAD_TOO_LONG:
        return "line too long";
    default:
        return "unknown reason";
    }
}
