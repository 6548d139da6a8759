/* format.c - line formats: the registry of kinds (FORMAT_KINDS), compiling a
 * spec, field lookup, parse states, and the format_parse dispatcher (see
 * format.h). The parsers themselves live in format_<kind>.c. */
#include "format_int.h"

#include <apr_strings.h>
#include <stdio.h>

#define FORMAT_OPS_REF(k) &format_##k##_ops,
static const format_ops_t *const kinds[] = {FORMAT_KINDS(FORMAT_OPS_REF)};
#undef FORMAT_OPS_REF
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* The kind that compiles name, and the name as it spells it (static). */
static const format_ops_t *find_kind(const char *name, const char **spelled)
{
    for (size_t k = 0; name && k < NKINDS; k++)
        for (const char *const *n = kinds[k]->names; *n; n++)
            if (strcmp(*n, name) == 0) {
                *spelled = *n;
                return kinds[k];
            }
    return NULL;
}

/* "combined, common, split, ..." */
static const char *kind_list(apr_pool_t *pool)
{
    const char *list = "";
    for (size_t k = 0; k < NKINDS; k++)
        for (const char *const *n = kinds[k]->names; *n; n++)
            list = apr_pstrcat(pool, list, *list ? ", " : "", *n, NULL);
    return list;
}

apr_status_t format_create(format_spec_t *spec, apr_pool_t *pool, format_t **out, abbey_err_t *err)
{
    const char *spelled = NULL;
    const format_ops_t *ops = find_kind(spec->kind, &spelled);
    format_t *f;
    apr_status_t rv;
    spec->err_at = -1;
    spec->err_key = NULL;
    if (!ops) {
        abbey_err_set(err, "unknown format \"%s\": the formats are %s",
                      spec->kind ? spec->kind : "", kind_list(pool));
        return APR_EINVAL;
    }
    f = apr_pcalloc(pool, sizeof *f);
    f->ops = ops;
    f->name = spelled;
    f->pool = pool;
    f->time_format = spec->time_format ? apr_pstrdup(pool, spec->time_format) : NULL;
    f->timezone = spec->timezone ? apr_pstrdup(pool, spec->timezone) : NULL;
    f->tz = tz_utc();
    if (f->timezone && (rv = tz_load(f->timezone, pool, &f->tz, err)) != APR_SUCCESS) {
        spec->err_key = "timezone";
        return rv;
    }
    if (f->time_format && (rv = format_time_compile(f->time_format, FORMAT_TIME_PATTERN, pool,
                                                    &f->time, &(long){0}, err)) != APR_SUCCESS) {
        spec->err_key = "time_format";
        return rv;
    }
    f->spec_text =
        apr_psprintf(pool, "%s\n%s\n%d\n%s\n%s", spelled, spec->arg ? spec->arg : "", spec->header,
                     f->time_format ? f->time_format : "", f->timezone ? f->timezone : "");
    if ((rv = ops->create(f, spec, err)) != APR_SUCCESS)
        return rv;
    *out = f;
    return APR_SUCCESS;
}

apr_status_t format_create_builtin(const char *name, apr_pool_t *pool, format_t **out,
                                   abbey_err_t *err)
{
    format_spec_t spec = {.kind = name};
    return format_create(&spec, pool, out, err);
}

apr_status_t format_create_split(const char *delim, const char *const *fields, int nfields,
                                 apr_pool_t *pool, format_t **out, abbey_err_t *err)
{
    format_spec_t spec = {.kind = "split", .arg = delim, .fields = fields, .nfields = nfields};
    return format_create(&spec, pool, out, err);
}

/* ---- fields ------------------------------------------------------------ */

const char *format_name(const format_t *f)
{
    return f->name;
}

const char *format_spec_text(const format_t *f)
{
    return f->spec_text;
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

int format_is_open(const format_t *f)
{
    return f->ops->add_field != NULL;
}

int format_has_header(const format_t *f)
{
    return f->header;
}

int format_field_index(format_t *f, const char *name, size_t len)
{
    for (int i = 0; i < f->nfields; i++)
        if (f->namelens[i] == len && memcmp(f->names[i], name, len) == 0)
            return i;
    if (!f->ops->add_field || f->nfields >= FORMAT_MAX_FIELDS)
        return -1;
    return f->ops->add_field(f, name, len);
}

int format_add_field(format_t *f, const char *name, size_t len, format_type_t type)
{
    int i = f->nfields;
    if (i >= FORMAT_MAX_FIELDS)
        return -1;
    f->names[i] = apr_pstrndup(f->pool, name, len);
    f->namelens[i] = len;
    f->types[i] = type;
    f->nfields = i + 1;
    return i;
}

apr_status_t format_add_listed(format_t *f, const format_spec_t *spec, const char *what,
                               abbey_err_t *err)
{
    if (spec->nfields > FORMAT_MAX_FIELDS) {
        abbey_err_set(err, "%s format: fields: field %d \"%s\": too many fields (%d, at most %d)",
                      what, FORMAT_MAX_FIELDS + 1,
                      spec->fields[FORMAT_MAX_FIELDS] ? spec->fields[FORMAT_MAX_FIELDS] : "",
                      spec->nfields, FORMAT_MAX_FIELDS);
        return APR_EINVAL;
    }
    for (int i = 0; i < spec->nfields; i++) {
        const char *name;
        size_t n;
        format_type_t type;
        apr_status_t rv =
            format_field_spec(what, i + 1, spec->fields[i], NULL, &name, &n, &type, err);
        if (rv != APR_SUCCESS)
            return rv;
        for (int k = 0; k < f->nfields; k++)
            if (f->namelens[k] == n && memcmp(f->names[k], name, n) == 0) {
                abbey_err_set(err, "%s format: fields: field %d \"%.*s\": duplicate name", what,
                              i + 1, (int)n, name);
                return APR_EINVAL;
            }
        format_add_field(f, name, n, type);
    }
    return APR_SUCCESS;
}

static int name_byte(char c, int first, const char *extra)
{
    if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return 1;
    if (!first && c >= '0' && c <= '9')
        return 1;
    return extra && c && strchr(extra, c) != NULL;
}

apr_status_t format_field_spec(const char *what, int i, const char *spec, const char *extra,
                               const char **name, size_t *len, format_type_t *type,
                               abbey_err_t *err)
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
    const char *colon;
    size_t n;
    if (!spec) {
        abbey_err_set(err, "%s format: field %d: missing name", what, i);
        return APR_EINVAL;
    }
    colon = strchr(spec, ':');
    n = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t k = 0; k < n || n == 0; k++)
        if (n == 0 || !name_byte(spec[k], k == 0, extra)) {
            abbey_err_set(err,
                          "%s format: field %d \"%s\": a name is a letter or '_' followed by "
                          "letters, digits or '_'%s%s%s",
                          what, i, spec, extra ? " or any of \"" : "", extra ? extra : "",
                          extra ? "\"" : "");
            return APR_EINVAL;
        }
    *type = FORMAT_AUTO;
    if (colon) {
        size_t t = 0;
        while (t < sizeof types / sizeof types[0] && strcmp(colon + 1, types[t].name) != 0)
            t++;
        if (t == sizeof types / sizeof types[0]) {
            abbey_err_set(err,
                          "%s format: field %d \"%s\": unknown type \"%s\" (int, float, time or "
                          "str)",
                          what, i, spec, colon + 1);
            return APR_EINVAL;
        }
        *type = types[t].type;
    }
    *name = spec;
    *len = n;
    return APR_SUCCESS;
}

/* ---- parsing ----------------------------------------------------------- */

format_state_t *format_state_create(const format_t *f, size_t max_line, apr_pool_t *pool)
{
    format_state_t *st = apr_pcalloc(pool, sizeof *st);
    st->f = f;
    st->pool = pool;
    st->max_line = max_line;
    st->bad_field = -1;
    if (f->ops->state_create)
        st->impl = f->ops->state_create(f, st);
    return st;
}

void format_state_source(format_state_t *st, int64_t mtime)
{
    st->mtime = mtime;
    if (st->f->ops->header)
        (void)st->f->ops->header(st, NULL, 0); /* forgets the previous header */
}

format_bad_t format_header(format_state_t *st, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (!st->f->ops->header)
        return FORMAT_BAD_HEADER;
    if (len > st->max_line)
        return FORMAT_BAD_TOO_LONG;
    st->scratch_used = 0;
    return st->f->ops->header(st, line, len);
}

format_bad_t format_parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *fields)
{
    if (len && line[len - 1] == '\r')
        len--;
    st->bad_field = -1;
    st->scratch_used = 0;
    if (len > UINT32_MAX || len > st->max_line)
        return FORMAT_BAD_TOO_LONG;
    return st->f->ops->parse(st, line, len, need, num, fields);
}

/* ---- reasons ----------------------------------------------------------- */

static const struct {
    const char *name, *text;
} reasons[FORMAT_BAD__COUNT] = {
    [FORMAT_OK] = {"ok", "ok"},
    [FORMAT_BAD_FIELDS] = {"fields", "wrong number of fields or unrecognised structure"},
    [FORMAT_BAD_QUOTE] = {"quote", "unterminated quote"},
    [FORMAT_BAD_TIME] = {"time", "bad time"},
    [FORMAT_BAD_NUMBER] = {"number", "not a number"},
    [FORMAT_BAD_REQUEST] = {"request", "odd request"},
    [FORMAT_BAD_TOO_LONG] = {"too_long", "line too long"},
    [FORMAT_BAD_SYNTAX] = {"syntax", "syntax error"},
    [FORMAT_BAD_ESCAPE] = {"escape", "bad escape"},
    [FORMAT_BAD_NOMATCH] = {"no_match", "regex did not match"},
    [FORMAT_BAD_MATCH_LIMIT] = {"match_limit", "regex match limit"},
    [FORMAT_BAD_HEADER] = {"header", "no header line"},
};

const char *format_bad_text(format_bad_t why)
{
    return (unsigned)why < FORMAT_BAD__COUNT ? reasons[why].text : "unknown reason";
}

const char *format_bad_name(format_bad_t why)
{
    return (unsigned)why < FORMAT_BAD__COUNT ? reasons[why].name : "unknown";
}

int format_bad_field(const format_state_t *st)
{
    return st->bad_field;
}

const char *format_bad_describe(const format_state_t *st, format_bad_t why, char *out, size_t cap)
{
    const format_t *f = st->f;
    int i = st->bad_field;
    if (i >= 0 && i < f->nfields && (why == FORMAT_BAD_NUMBER || why == FORMAT_BAD_TIME))
        snprintf(out, cap, "%s is not %s", f->names[i],
                 why == FORMAT_BAD_TIME ? "a time" : "a number");
    else if (i >= 0 && i < f->nfields)
        snprintf(out, cap, "%s: %s", f->names[i], format_bad_text(why));
    else
        snprintf(out, cap, "%s", format_bad_text(why));
    return out;
}
