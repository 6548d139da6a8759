/* format_regex.c - the "regex" format: a PCRE2 pattern whose named groups are the fields
 * (see format.h and docs/RULES.md).
 *
 *   format: {regex: '^(?<ip>\S+) \[(?<when>[^]]+)\] (?<status>\d{3}) (?<ms>\d+)$',
 *            fields: [when:time, status:int]}
 *
 * Fields are the named groups (?<name>...), all of them, in the order of their group
 * numbers; unnamed groups capture nothing for the rules. `fields:` gives some of them a
 * type (int, float, time, str; the others are untyped, FORMAT_AUTO, as in split). The
 * pattern matches as written: it is not anchored for the user (write ^...$ to match whole
 * lines, which is also the fastest: PCRE2 then tries one start position only). It is
 * compiled once, in byte mode, with JIT, through rematch.h, whose limits bound every match.
 *
 * A line the pattern does not match is bad (FORMAT_BAD_NOMATCH); a match that gives up at
 * the limits is bad for its own reason (FORMAT_BAD_MATCH_LIMIT), so that it is counted
 * apart. A group that took no part in the match (an optional one) is VALUE_NULL. A needed
 * group converts by its type (format_convert), as split's fields do. Each thread's state
 * holds its match data (sized for the pattern's groups) and match context. */
#include "format_int.h"

#include <apr_strings.h>

#include "mem.h"
#include "rematch.h"

typedef struct regex_t {
    rematch_t re;
    uint32_t group[FORMAT_MAX_FIELDS]; /* the group number of each field */
} regex_t;

typedef struct regex_state_t {
    pcre2_match_data *md;
    rematch_ctx_t ctx;
} regex_state_t;

/* One named group of the name table. */
typedef struct named_t {
    uint32_t number;
    const char *name;
} named_t;

static int by_number(const void *a, const void *b)
{
    const named_t *x = a, *y = b;
    return x->number < y->number ? -1 : x->number > y->number;
}

/* The pattern's named groups as fields, in group order. */
static apr_status_t add_groups(format_t *f, regex_t *rx, abbey_err_t *err)
{
    uint32_t count = 0, entry = 0;
    PCRE2_SPTR table;
    named_t *g;
    pcre2_pattern_info(rx->re.code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(rx->re.code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(rx->re.code, PCRE2_INFO_NAMETABLE, &table);
    if (count == 0) {
        abbey_err_set(err, "regex format: the pattern has no named group; name each field "
                           "with (?<name>...), such as (?<status>\\d+)");
        return APR_EINVAL;
    }
    if (count > FORMAT_MAX_FIELDS) {
        abbey_err_set(err, "regex format: the pattern has %u named groups, at most %d", count,
                      FORMAT_MAX_FIELDS);
        return APR_EINVAL;
    }
    g = apr_palloc(f->pool, sizeof *g * count);
    for (uint32_t k = 0; k < count; k++) {
        PCRE2_SPTR e = table + (size_t)k * entry; /* 2 bytes of number, then the name */
        g[k].number = (uint32_t)e[0] << 8 | e[1];
        g[k].name = (const char *)e + 2;
    }
    qsort(g, count, sizeof *g, by_number);
    for (uint32_t k = 0; k < count; k++) {
        if (format_field_index(f, g[k].name, strlen(g[k].name)) >= 0) {
            abbey_err_set(err,
                          "regex format: the group name \"%s\" is used by more than one group; "
                          "each field needs its own name",
                          g[k].name);
            return APR_EINVAL;
        }
        rx->group[f->nfields] = g[k].number;
        format_add_field(f, g[k].name, strlen(g[k].name), FORMAT_AUTO);
    }
    return APR_SUCCESS;
}

/* "a, b, c": the fields' names, for messages. */
static const char *field_list(const format_t *f)
{
    const char *s = "";
    for (int i = 0; i < f->nfields; i++)
        s = apr_pstrcat(f->pool, s, i ? ", " : "", f->names[i], NULL);
    return s;
}

/* `fields:` types some of the groups. */
static apr_status_t type_fields(format_t *f, const format_spec_t *spec, abbey_err_t *err)
{
    uint64_t typed = 0;
    for (int k = 0; k < spec->nfields; k++) {
        const char *name;
        size_t n;
        format_type_t type;
        int i;
        apr_status_t rv =
            format_field_spec("regex", k + 1, spec->fields[k], NULL, &name, &n, &type, err);
        if (rv != APR_SUCCESS)
            return rv;
        if ((i = format_field_index(f, name, n)) < 0) {
            abbey_err_set(err,
                          "regex format: fields: field %d \"%.*s\": the pattern has no group "
                          "(?<%.*s>...); its named groups are %s",
                          k + 1, (int)n, name, (int)n, name, field_list(f));
            return APR_EINVAL;
        }
        if ((typed >> i) & 1) {
            abbey_err_set(err, "regex format: fields: field %d \"%.*s\": typed twice", k + 1,
                          (int)n, name);
            return APR_EINVAL;
        }
        typed |= (uint64_t)1 << i;
        f->types[i] = type;
    }
    return APR_SUCCESS;
}

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    regex_t *rx = apr_pcalloc(f->pool, sizeof *rx);
    char msg[256];
    size_t at, len;
    apr_status_t rv;
    if (!spec->arg || !*spec->arg) {
        abbey_err_set(err, "regex format: the pattern is empty; expected a PCRE2 pattern with "
                           "named groups such as '^(?<ip>\\S+) (?<status>\\d+)$'");
        return APR_EINVAL;
    }
    if (spec->header) {
        abbey_err_set(err, "regex format: header is a csv option; a regex names its fields "
                           "with its groups");
        return APR_EINVAL;
    }
    if (rematch_compile(spec->arg, strlen(spec->arg), 1, f->pool, &rx->re, &at, &len, msg,
                        sizeof msg) < 0) {
        abbey_err_set(err, "regex format: invalid pattern: %s at offset %zu of the pattern", msg,
                      at);
        spec->err_at = (long)at;
        return APR_EINVAL;
    }
    f->impl = rx;
    if ((rv = add_groups(f, rx, err)) != APR_SUCCESS)
        return rv;
    return type_fields(f, spec, err);
}

static apr_status_t state_cleanup(void *data)
{
    regex_state_t *rs = data;
    pcre2_match_data_free(rs->md);
    return APR_SUCCESS;
}

static void *state_create(const format_t *f, format_state_t *st)
{
    const regex_t *rx = f->impl;
    regex_state_t *rs = apr_pcalloc(st->pool, sizeof *rs);
    if (!(rs->md = pcre2_match_data_create_from_pattern(rx->re.code, NULL)))
        mem_oom("PCRE2 match data", 0);
    apr_pool_cleanup_register(st->pool, rs, state_cleanup, apr_pool_cleanup_null);
    rematch_ctx_init(&rs->ctx, st->pool);
    return rs;
}

static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    const format_t *f = st->f;
    const regex_t *rx = f->impl;
    regex_state_t *rs = st->impl;
    int rc = rematch_run(&rs->ctx, &rx->re, line, len, rs->md);
    const PCRE2_SIZE *ov;
    if (rc == PCRE2_ERROR_NOMATCH)
        return FORMAT_BAD_NOMATCH;
    if (rc < 0)
        return FORMAT_BAD_MATCH_LIMIT;
    ov = pcre2_get_ovector_pointer(rs->md);
    for (int i = 0; i < f->nfields; i++) {
        uint32_t g = rx->group[i];
        PCRE2_SIZE a = ov[2 * g], b = ov[2 * g + 1];
        format_bad_t why;
        if ((int)g >= rc || a == PCRE2_UNSET || a > b || b > len) {
            format_set(&v[i], VALUE_NULL, NULL, 0); /* the group took no part in the match */
            continue;
        }
        if (!((need >> i) & 1)) {
            format_set(&v[i], VALUE_STR, line + a, b - a);
            continue;
        }
        if ((why = format_convert(st, i, line + a, line + b, num, &v[i])) != FORMAT_OK)
            return why;
    }
    return FORMAT_OK;
}

static const char *const names[] = {"regex", NULL};

const format_ops_t format_regex_ops = {
    .names = names, .create = create, .state_create = state_create, .parse = parse};
