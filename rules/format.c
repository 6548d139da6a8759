/* format.c - line formats: the registry of built-ins, accessors, and the
 * fmt_parse dispatcher (see format.h). The parsers themselves live in
 * format_access.c (combined, common) and format_split.c (split). */
#include "format_int.h"

#include <apr_strings.h>

static const char *const combined_names[FMT_F_COMBINED_N] = {
    "ip", "ident", "user", "time", "request", "method", "path", "protocol",
    "status", "bytes", "referer", "agent",
};

static const fmt_type_t combined_types[FMT_F_COMBINED_N] = {
    FMT_STR, FMT_STR, FMT_STR, FMT_TIME, FMT_STR, FMT_STR, FMT_STR, FMT_STR,
    FMT_INT, FMT_INT, FMT_STR, FMT_STR,
};

apr_status_t fmt_create_builtin(const char *name, apr_pool_t *pool, fmt_t **out, abbey_err_t *err)
{
    fmt_kind_t kind;
    int n;
    if (name && strcmp(name, "combined") == 0) {
        kind = FMT_KIND_COMBINED;
        n = FMT_F_COMBINED_N;
    } else if (name && strcmp(name, "common") == 0) {
        kind = FMT_KIND_COMMON;
        n = FMT_F_COMMON_N;
    } else {
        abbey_err_set(err, "unknown format \"%s\": the built-in formats are combined and common "
                      "(or use {split: DELIM, fields: [...]})", name ? name : "");
        return APR_EINVAL;
    }
    fmt_t *f = apr_pcalloc(pool, sizeof *f);
    f->kind = kind;
    f->name = kind == FMT_KIND_COMBINED ? "combined" : "common";
    f->nfields = n;
    for (int i = 0; i < n; i++) {
        f->names[i] = combined_names[i];
        f->namelens[i] = strlen(combined_names[i]);
        f->types[i] = combined_types[i];
    }
    *out = f;
    return APR_SUCCESS;
}

const char *fmt_name(const fmt_t *f)
{
    return f->name;
}

int fmt_nfields(const fmt_t *f)
{
    return f->nfields;
}

const char *fmt_field_name(const fmt_t *f, int i)
{
    return i >= 0 && i < f->nfields ? f->names[i] : NULL;
}

fmt_type_t fmt_field_type(const fmt_t *f, int i)
{
    return i >= 0 && i < f->nfields ? f->types[i] : FMT_STR;
}

int fmt_field_index(const fmt_t *f, const char *name, size_t len)
{
    for (int i = 0; i < f->nfields; i++)
        if (f->namelens[i] == len && memcmp(f->names[i], name, len) == 0)
            return i;
    return -1;
}

fmt_bad_t fmt_parse(const fmt_t *f, const char *line, size_t len, uint64_t need, uint64_t num,
                    val_t *fields)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len > UINT32_MAX)
        return FMT_BAD_TOO_LONG;
    if (f->kind == FMT_KIND_SPLIT)
        return fmt_parse_split(f, line, len, num, fields);
    return fmt_parse_access(f, line, len, need, fields);
}

const char *fmt_bad_text(fmt_bad_t why)
{
    switch (why) {
    case FMT_OK: return "ok";
    case FMT_BAD_FIELDS: return "wrong number of fields or unrecognised structure";
    case FMT_BAD_QUOTE: return "unterminated quote";
    case FMT_BAD_TIME: return "bad time";
    case FMT_BAD_NUMBER: return "not a number";
    case FMT_BAD_REQUEST: return "odd request";
    case FMT_BAD_TOO_LONG: return "line too long";
    default: return "unknown reason";
    }
}
