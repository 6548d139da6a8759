/* rules_load.c - compile a rules file into the model of rules.h.
 *
 * Walks the YAML document (rules_yaml.c) top-down: masters, then each job's
 * sources, format, groups with their entries (key and where expressions,
 * aggregate values) and reports; then places every rule group on a master
 * (assign.h). The first problem stops the load with one positioned message.
 * Everything kept lives in the config's own subpool; scratch lives in a
 * subpool of that, destroyed before a successful return; the libyaml
 * document is deleted on every path. Syntax: docs/RULES.md. */
#include "rules_int.h"

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "value.h"

static const char *const top_keys[] = {"masters", "jobs", "base_dir", NULL};
static const char *const master_keys[] = {"name", "url", "weight", NULL};
static const char *const job_keys[] = {"name",     "round",   "reset",   "timezone",
                                       "max_line", "sources", "format",  "groups",
                                       "reports",  "rejects", "history", NULL};
static const char *const source_keys[] = {"path", "url", "labels", NULL};
static const char *const report_keys[] = {"name",   "entry",   "order",   "limit", "scope",
                                          "format", "columns", "metrics", NULL};
static const char *const reset_words[] = {"never", "hour", "day", NULL};
static const char *const report_formats[] = {"csv", "json", NULL};
static const char *const scopes[] = {"period", "round", NULL};

static int is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* ---- masters ---- */

static apr_status_t load_masters(rules_ctx_t *c, rules_config_t *cfg, const rules_y_val_t *v)
{
    rules_y_list_t l;
    apr_hash_t *names = apr_hash_make(c->tmp), *urls = apr_hash_make(c->tmp);

    if (!v) {
        cfg->nmasters = 1;
        cfg->masters = apr_pcalloc(c->pool, sizeof *cfg->masters);
        cfg->masters[0].name = "local";
        cfg->masters[0].weight = 1;
        return APR_SUCCESS;
    }
    TRY(rules_y_list(c, v, "masters", 1, &l));
    cfg->nmasters = l.n;
    cfg->masters = apr_pcalloc(c->pool, sizeof *cfg->masters * (size_t)l.n);
    for (int i = 0; i < l.n; i++) {
        rules_master_t *m = &cfg->masters[i];
        rules_y_map_t mm;
        const rules_y_val_t *x;
        long w = 1;
        TRY(rules_y_map(c, l.items[i].node, "master", master_keys, &mm));
        TRY(rules_y_need(c, l.items[i].node, &mm, "master", "name", "a unique name such as m1",
                         &x));
        TRY(rules_y_name(c, x, "master name", &m->name));
        TRY(rules_y_unique(c, names, m->name, x->node, "master name"));
        TRY(rules_y_need(c, l.items[i].node, &mm, "master", "url",
                         "where the master listens, such as http://10.0.0.1:7101", &x));
        TRY(rules_y_str(c, x, "a master url (http://host:port)", &m->url));
        if (!is_url(m->url) || !m->url[m->url[4] == 's' ? 8 : 7])
            return rules_y_err(c, x->node,
                               "master '%s': url must start with http:// or https:// "
                               "and name a host, found '%.60s'",
                               m->name, m->url);
        TRY(rules_y_unique(c, urls, m->url, x->node, "master url"));
        if ((x = rules_y_get(&mm, "weight")) != NULL)
            TRY(rules_y_int(c, x, "master weight", 1, RULES_WEIGHT_MAX, &w));
        m->weight = (int)w;
        m->index = i;
    }
    return APR_SUCCESS;
}

/* ---- job settings ---- */

static apr_status_t load_round(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    int64_t ms = 0;
    size_t digits = 0;
    job->round = apr_time_from_sec(10);
    if (!v)
        return APR_SUCCESS;
    if (!v->text || v->len == 0)
        return rules_y_err(c, v->node,
                           "round: expected a duration such as 500ms, 10s, 1m, 1h "
                           "or 1d, found %s",
                           rules_y_describe(c, v));
    while (digits < v->len && isdigit((unsigned char)v->text[digits]))
        digits++;
    /* more than 9 digits is out of range whatever the unit (and could overflow) */
    if (digits <= 9 && value_parse_duration(v->text, v->len, &ms) != 0)
        return rules_y_err(c, v->node,
                           "bad round '%.40s': expected a duration such as 500ms, "
                           "10s, 1m, 1h or 1d",
                           v->text);
    if (digits > 9 || ms < 100 || ms > 86400000)
        return rules_y_err(c, v->node,
                           "round '%.40s' is out of range: it must be from 100ms "
                           "to 1d",
                           v->text);
    job->round = (apr_interval_time_t)ms * 1000;
    return APR_SUCCESS;
}

/* max_line: a size (rules_y_size). */
static apr_status_t load_max_line(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    uint64_t n;
    job->max_line = RULES_MAX_LINE_DEFAULT;
    if (!v)
        return APR_SUCCESS;
    TRY(rules_y_size(c, v, "max_line", RULES_MAX_LINE_MIN, RULES_MAX_LINE_MAX, &n));
    job->max_line = (size_t)n;
    return APR_SUCCESS;
}

/* Re-issue a message from another module at node n's position. */
static apr_status_t at_node(rules_ctx_t *c, const yaml_node_t *n, const char *what)
{
    char msg[ABBEY_ERR_MAX];
    snprintf(msg, sizeof msg, "%s", c->err ? c->err->msg : "");
    return rules_y_err(c, n, "%s%s", what, msg);
}

static apr_status_t load_timezone(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    const char *s;
    job->tz = tz_utc();
    if (!v)
        return APR_SUCCESS;
    TRY(rules_y_str(c, v, "a time zone such as UTC, +08:00 or Europe/Berlin", &s));
    if (tz_load(s, c->pool, &job->tz, c->err) != APR_SUCCESS)
        return at_node(c, v->node, "timezone: ");
    return APR_SUCCESS;
}

/* ---- sources ---- */

static apr_status_t load_labels(rules_ctx_t *c, rules_source_t *s, const rules_y_val_t *v)
{
    rules_y_list_t l;
    apr_hash_t *seen = apr_hash_make(c->tmp);
    TRY(rules_y_list(c, v, "labels", 0, &l));
    s->nlabels = l.n;
    s->labels = apr_pcalloc(c->pool, sizeof *s->labels * (size_t)(l.n + 1));
    for (int i = 0; i < l.n; i++) {
        TRY(rules_y_name(c, &l.items[i], "label", &s->labels[i]));
        TRY(rules_y_unique(c, seen, s->labels[i], l.items[i].node, "label"));
    }
    return APR_SUCCESS;
}

/* File or glob path: kind by wildcard, relative paths against c->base. */
static apr_status_t set_path(rules_ctx_t *c, rules_source_t *s, const char *p, const yaml_node_t *n)
{
    char *merged;
    s->kind = strpbrk(p, "*?[") ? RULES_SRC_GLOB : RULES_SRC_FILE;
    if (apr_filepath_merge(&merged, p[0] == '/' ? NULL : c->base, p, 0, c->pool) != APR_SUCCESS)
        return rules_y_err(c, n, "bad source path '%.80s'", p);
    s->path = merged;
    return APR_SUCCESS;
}

static apr_status_t load_source(rules_ctx_t *c, rules_source_t *s, const rules_y_val_t *v)
{
    const char *p;
    s->line = rules_y_line(v->node);
    if (v->node->type == YAML_SCALAR_NODE) {
        TRY(rules_y_str(c, v, "a source: a file path, a glob or an http(s) URL", &p));
        if (is_url(p)) {
            s->kind = RULES_SRC_HTTP;
            s->path = p;
            return APR_SUCCESS;
        }
        return set_path(c, s, p, v->node);
    }
    rules_y_map_t m;
    const rules_y_val_t *path, *url, *labels;
    if (v->node->type != YAML_MAPPING_NODE)
        return rules_y_err(c, v->node,
                           "expected a source: a path, a URL, or a map {path: ..., "
                           "labels: [...]}, found %s",
                           rules_y_describe(c, v));
    TRY(rules_y_map(c, v->node, "source", source_keys, &m));
    path = rules_y_get(&m, "path");
    url = rules_y_get(&m, "url");
    if (!path == !url)
        return rules_y_err(c, v->node,
                           "source: give exactly one of 'path' (a file or glob) "
                           "and 'url' (http:// or https://)");
    if ((labels = rules_y_get(&m, "labels")) != NULL)
        TRY(load_labels(c, s, labels));
    if (url) {
        TRY(rules_y_str(c, url, "a source URL (http:// or https://)", &p));
        if (!is_url(p))
            return rules_y_err(c, url->node,
                               "source url must start with http:// or https://, "
                               "found '%.80s'",
                               p);
        s->kind = RULES_SRC_HTTP;
        s->path = p;
        return APR_SUCCESS;
    }
    TRY(rules_y_str(c, path, "a source path (a file or a glob)", &p));
    if (is_url(p))
        return rules_y_err(c, path->node,
                           "source path '%.80s' is a URL; write it as "
                           "{url: ...}",
                           p);
    return set_path(c, s, p, path->node);
}

static apr_status_t load_sources(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    rules_y_list_t l;
    apr_hash_t *seen = apr_hash_make(c->tmp);
    TRY(rules_y_list(c, v, "sources", 1, &l));
    job->nsources = l.n;
    job->sources = apr_pcalloc(c->pool, sizeof *job->sources * (size_t)l.n);
    for (int i = 0; i < l.n; i++) {
        TRY(load_source(c, &job->sources[i], &l.items[i]));
        TRY(rules_y_unique(c, seen, job->sources[i].path, l.items[i].node, "source"));
    }
    return APR_SUCCESS;
}

/* ---- format ---- */

/* The format kinds a `format:` map may name (exactly one), and its other keys. */
static const char *const format_kinds[] = {"split", "regex",  "nginx",  "apache", "csv",
                                           "json",  "syslog", "logfmt", NULL};
static const char *const format_keys[] = {
    "split",  "regex",  "nginx",  "apache",    "csv",         "json",     "syslog",
    "logfmt", "fields", "header", "delimiter", "time_format", "timezone", NULL};
/* Kinds whose value is a string (spec.arg); the rest take nothing, or a map (csv). */
static const char *const format_arg_kinds[] = {"split", "regex", "nginx", "apache", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

/* `fields: [...]` into spec. */
static apr_status_t load_format_fields(rules_ctx_t *c, const rules_y_val_t *v, format_spec_t *spec)
{
    rules_y_list_t l;
    const char **names;
    TRY(rules_y_list(c, v, "fields", 1, &l));
    if (l.n > FORMAT_MAX_FIELDS)
        return rules_y_err(c, v->node, "too many fields: %d (at most %d)", l.n, FORMAT_MAX_FIELDS);
    names = apr_pcalloc(c->tmp, sizeof *names * (size_t)l.n);
    for (int i = 0; i < l.n; i++)
        TRY(rules_y_str(c, &l.items[i], "a field name such as status or status:int", &names[i]));
    spec->fields = names;
    spec->nfields = l.n;
    return APR_SUCCESS;
}

/* Where a format's options are written, for messages about them. */
typedef struct format_at_t {
    const rules_y_val_t *fields, *time_format, *timezone;
} format_at_t;

/* The options of a format map m (or of csv's own map) into spec. */
static apr_status_t load_format_opts(rules_ctx_t *c, const rules_y_map_t *m, format_spec_t *spec,
                                     format_at_t *at)
{
    const rules_y_val_t *x;
    if ((x = rules_y_get(m, "fields")) != NULL) {
        TRY(load_format_fields(c, x, spec));
        at->fields = x;
    }
    if ((x = rules_y_get(m, "header")) != NULL) {
        int k;
        static const char *const bools[] = {"false", "true", NULL};
        TRY(rules_y_enum(c, x, "header", bools, &k));
        spec->header = k;
    }
    if ((x = rules_y_get(m, "delimiter")) != NULL) {
        if (strcmp(spec->kind, "csv") != 0) /* the others' argument is their value */
            return rules_y_err(c, x->node, "delimiter: only a csv format takes a delimiter");
        TRY(rules_y_str(c, x, "a delimiter such as \",\" or \";\"", &spec->arg));
    }
    if ((x = rules_y_get(m, "time_format")) != NULL) {
        TRY(rules_y_str(c, x, "a time format such as \"%d/%b/%Y:%H:%M:%S %z\" or epoch_ms",
                        &spec->time_format));
        at->time_format = x;
    }
    if ((x = rules_y_get(m, "timezone")) != NULL) {
        TRY(rules_y_str(c, x, "a time zone such as UTC, +08:00 or Europe/Berlin", &spec->timezone));
        at->timezone = x;
    }
    return APR_SUCCESS;
}

static apr_status_t load_format(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    static const char *const csv_keys[] = {"header", "fields", "delimiter", NULL};
    static const char *const opt_keys[] = {"fields", "time_format", "timezone", NULL};
    format_spec_t spec = {0};
    rules_y_map_t m;
    const rules_y_val_t *kind = NULL;
    format_at_t at = {0};
    const char *hint = "a format: combined, common, json, syslog, logfmt, or a map such as "
                       "{split: DELIM, fields: [...]}, {regex: PATTERN}, {nginx: FORMAT}, "
                       "{apache: FORMAT}, {csv: {header: true}}";

    if (v->node->type == YAML_SCALAR_NODE) {
        TRY(rules_y_str(c, v, hint, &spec.kind));
    } else if (v->node->type != YAML_MAPPING_NODE) {
        return rules_y_err(c, v->node, "format: expected %s, found %s", hint,
                           rules_y_describe(c, v));
    } else {
        TRY(rules_y_map(c, v->node, "format", format_keys, &m));
        for (int i = 0; i < m.n; i++)
            if (in_list(format_kinds, m.items[i].name)) {
                if (kind)
                    return rules_y_err(c, m.items[i].node, "format: one kind only, found %s and %s",
                                       spec.kind, m.items[i].name);
                kind = &m.items[i];
                spec.kind = m.items[i].name;
            }
        if (!kind)
            return rules_y_err(c, v->node, "format: the map names no kind; expected %s", hint);
        if (in_list(format_arg_kinds, spec.kind)) {
            if (kind->node->type != YAML_SCALAR_NODE || !kind->text || kind->len == 0 ||
                strlen(kind->text) != kind->len)
                return rules_y_err(c, kind->node, "%s: expected %s, found %s", spec.kind,
                                   strcmp(spec.kind, "split") == 0 ? "a delimiter such as \"\\t\""
                                   : strcmp(spec.kind, "regex") == 0
                                       ? "a PCRE2 pattern with named groups"
                                       : "the log format string from the server's config",
                                   rules_y_describe(c, kind));
            spec.arg = apr_pstrdup(c->pool, kind->text);
        } else if (kind->node->type == YAML_MAPPING_NODE) {
            rules_y_map_t km;
            TRY(rules_y_map(c, kind->node, spec.kind,
                            strcmp(spec.kind, "csv") == 0 ? csv_keys : opt_keys, &km));
            TRY(load_format_opts(c, &km, &spec, &at));
        } else if (!(kind->node->type == YAML_SCALAR_NODE &&
                     (kind->len == 0 || strcmp(kind->text, "true") == 0))) {
            return rules_y_err(c, kind->node, "%s: expected true or a map of options, found %s",
                               spec.kind, rules_y_describe(c, kind));
        }
        TRY(load_format_opts(c, &m, &spec, &at));
    }
    if (format_create(&spec, c->pool, &job->format, c->err) == APR_SUCCESS)
        return APR_SUCCESS;
    if (kind && spec.err_at >= 0 && in_list(format_arg_kinds, spec.kind)) {
        char msg[ABBEY_ERR_MAX];
        snprintf(msg, sizeof msg, "%s", c->err ? c->err->msg : "");
        return rules_y_err_at(c, kind, (size_t)spec.err_at, "%s", msg);
    }
    if (spec.err_key && strcmp(spec.err_key, "time_format") == 0 && at.time_format)
        return at_node(c, at.time_format->node, "");
    if (spec.err_key && strcmp(spec.err_key, "timezone") == 0 && at.timezone)
        return at_node(c, at.timezone->node, "");
    return at_node(c, at.fields ? at.fields->node : v->node, "");
}

/* ---- reports ---- */

/* Column number of name in entry e (keys, values, a top entry's error), or -1. */
static int entry_col(const rules_entry_t *e, const char *name)
{
    for (int i = 0; i < rules_entry_ncols(e); i++)
        if (strcmp(rules_col_name(e, i), name) == 0)
            return i;
    return -1;
}

static const char *entry_cols(rules_ctx_t *c, const rules_entry_t *e)
{
    const char *s = "";
    for (int i = 0; i < rules_entry_ncols(e); i++)
        s = apr_pstrcat(c->tmp, s, i ? ", " : "", rules_col_name(e, i), NULL);
    return s;
}

static apr_status_t find_entry(rules_ctx_t *c, const rules_job_t *job, rules_report_t *r,
                               const rules_y_val_t *v)
{
    const char *name, *all = "";
    TRY(rules_y_str(c, v, "an entry name", &name));
    for (int i = 0; i < job->nentries; i++) {
        if (strcmp(job->entries[i]->name, name) == 0) {
            r->entry = job->entries[i];
            return APR_SUCCESS;
        }
        all = apr_pstrcat(c->tmp, all, i ? ", " : "", job->entries[i]->name, NULL);
    }
    return rules_y_err(c, v->node, "report '%s': no entry '%.60s' in job '%s' (entries: %s)",
                       r->name, name, job->name, all);
}

/* order: "<column> [asc|desc]" */
static apr_status_t load_order(rules_ctx_t *c, rules_report_t *r, const rules_y_val_t *v)
{
    char *s;
    size_t n;
    TRY(rules_y_str(c, v, "an order such as 'hits desc'", (const char **)&s));
    s = apr_pstrdup(c->tmp, s);
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    char *sp = strrchr(s, ' ');
    if (sp && (strcasecmp(sp + 1, "desc") == 0 || strcasecmp(sp + 1, "asc") == 0)) {
        r->order_desc = strcasecmp(sp + 1, "desc") == 0;
        while (sp > s && isspace((unsigned char)sp[-1]))
            sp--;
        *sp = '\0';
    }
    while (isspace((unsigned char)*s))
        s++;
    r->order_col = entry_col(r->entry, s);
    if (r->order_col < 0)
        return rules_y_err(c, v->node,
                           "report '%s': order: no column '%.60s' in entry '%s' "
                           "(columns: %s; write 'COLUMN asc' or 'COLUMN desc')",
                           r->name, s, r->entry->name, entry_cols(c, r->entry));
    return APR_SUCCESS;
}

static apr_status_t load_columns(rules_ctx_t *c, rules_report_t *r, const rules_y_val_t *v)
{
    rules_y_list_t l;
    apr_hash_t *seen = apr_hash_make(c->tmp);
    TRY(rules_y_list(c, v, "columns", 1, &l));
    r->ncols = l.n;
    r->cols = apr_pcalloc(c->pool, sizeof *r->cols * (size_t)l.n);
    for (int i = 0; i < l.n; i++) {
        const char *name;
        TRY(rules_y_str(c, &l.items[i], "a column name", &name));
        r->cols[i] = entry_col(r->entry, name);
        if (r->cols[i] < 0)
            return rules_y_err(c, l.items[i].node,
                               "report '%s': no column '%.60s' in entry "
                               "'%s' (columns: %s)",
                               r->name, name, r->entry->name, entry_cols(c, r->entry));
        TRY(rules_y_unique(c, seen, name, l.items[i].node, "report column"));
    }
    return APR_SUCCESS;
}

static void all_columns(rules_ctx_t *c, rules_report_t *r)
{
    r->ncols = rules_entry_ncols(r->entry);
    r->cols = apr_pcalloc(c->pool, sizeof *r->cols * (size_t)(r->ncols + 1));
    for (int i = 0; i < r->ncols; i++)
        r->cols[i] = i;
}

static apr_status_t load_report(rules_ctx_t *c, const rules_job_t *job, rules_report_t *r,
                                const rules_y_val_t *v, apr_hash_t *names)
{
    rules_y_map_t m;
    const rules_y_val_t *x;
    int k;
    TRY(rules_y_map(c, v->node, "report", report_keys, &m));
    TRY(rules_y_need(c, v->node, &m, "report", "name", "a name unique in the job", &x));
    TRY(rules_y_name(c, x, "report name", &r->name));
    TRY(rules_y_unique(c, names, r->name, x->node, "report name"));
    TRY(rules_y_need(c, v->node, &m, "report", "entry", "the entry it shows", &x));
    TRY(find_entry(c, job, r, x));
    r->order_col = -1;
    if ((x = rules_y_get(&m, "order")) != NULL)
        TRY(load_order(c, r, x));
    if ((x = rules_y_get(&m, "limit")) != NULL)
        TRY(rules_y_int(c, x, "limit", 0, LONG_MAX, &r->limit));
    if ((x = rules_y_get(&m, "scope")) != NULL) {
        TRY(rules_y_enum(c, x, "scope", scopes, &k));
        r->scope = (rules_scope_t)k;
    }
    if ((x = rules_y_get(&m, "format")) != NULL) {
        TRY(rules_y_enum(c, x, "report format", report_formats, &k));
        r->format = (rules_report_format_t)k;
    }
    TRY(rules_top_report(c, r, rules_y_get(&m, "order"), rules_y_get(&m, "limit")));
    if ((x = rules_y_get(&m, "columns")) != NULL)
        TRY(load_columns(c, r, x));
    else
        all_columns(c, r);
    return rules_load_metrics(c, job, r, rules_y_get(&m, "metrics"));
}

static apr_status_t load_reports(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    rules_y_list_t l;
    apr_hash_t *names = apr_hash_make(c->tmp);
    if (!v) {
        /* default: one csv report per entry, named after it, period scope, all columns */
        job->nreports = job->nentries;
        job->reports = apr_pcalloc(c->pool, sizeof *job->reports * (size_t)(job->nentries + 1));
        for (int i = 0; i < job->nentries; i++) {
            rules_report_t *r = &job->reports[i];
            r->name = job->entries[i]->name;
            r->entry = job->entries[i];
            r->order_col = -1;
            r->format = RULES_REPORT_CSV;
            r->scope = RULES_SCOPE_PERIOD;
            all_columns(c, r);
            TRY(rules_top_report(c, r, NULL, NULL));
        }
        return APR_SUCCESS;
    }
    TRY(rules_y_list(c, v, "reports", 0, &l));
    job->nreports = l.n;
    job->reports = apr_pcalloc(c->pool, sizeof *job->reports * (size_t)(l.n + 1));
    for (int i = 0; i < l.n; i++)
        TRY(load_report(c, job, &job->reports[i], &l.items[i], names));
    return APR_SUCCESS;
}

/* ---- jobs ---- */

static apr_status_t load_job(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v,
                             apr_hash_t *names)
{
    rules_y_map_t m;
    const rules_y_val_t *x;
    int k;

    TRY(rules_y_map(c, v->node, "job", job_keys, &m));
    TRY(rules_y_need(c, v->node, &m, "job", "name", "a unique name such as web", &x));
    TRY(rules_y_name(c, x, "job name", &job->name));
    TRY(rules_y_unique(c, names, job->name, x->node, "job name"));
    TRY(load_round(c, job, rules_y_get(&m, "round")));
    job->reset = RULES_RESET_NEVER;
    if ((x = rules_y_get(&m, "reset")) != NULL) {
        TRY(rules_y_enum(c, x, "reset", reset_words, &k));
        job->reset = k == 1 ? RULES_RESET_HOUR : k == 2 ? RULES_RESET_DAY : RULES_RESET_NEVER;
    }
    TRY(load_timezone(c, job, rules_y_get(&m, "timezone")));
    TRY(load_max_line(c, job, rules_y_get(&m, "max_line")));
    TRY(rules_y_need(c, v->node, &m, "job", "sources", "a list of files, globs or URLs", &x));
    TRY(load_sources(c, job, x));
    TRY(rules_y_need(c, v->node, &m, "job", "format",
                     "combined, common or {split: DELIM, fields: [...]}", &x));
    TRY(load_format(c, job, x));
    TRY(rules_y_need(c, v->node, &m, "job", "groups", "a list of rule groups", &x));
    TRY(rules_load_groups(c, job, x));
    TRY(rules_load_rejects(c, job, rules_y_get(&m, "rejects")));
    TRY(rules_load_history(c, job, rules_y_get(&m, "history")));
    return load_reports(c, job, rules_y_get(&m, "reports"));
}

/* Place every group of every job ("job/group") on a master. */
static apr_status_t place_groups(rules_ctx_t *c, rules_config_t *cfg)
{
    int n = 0, k = 0;
    assign_item_t *groups, *masters;
    int *out;
    for (int j = 0; j < cfg->njobs; j++)
        n += cfg->jobs[j].ngroups;
    groups = apr_pcalloc(c->tmp, sizeof *groups * (size_t)(n + 1));
    out = apr_pcalloc(c->tmp, sizeof *out * (size_t)(n + 1));
    masters = apr_pcalloc(c->tmp, sizeof *masters * (size_t)cfg->nmasters);
    for (int i = 0; i < cfg->nmasters; i++) {
        masters[i].name = cfg->masters[i].name;
        masters[i].weight = cfg->masters[i].weight;
    }
    for (int j = 0; j < cfg->njobs; j++)
        for (int g = 0; g < cfg->jobs[j].ngroups; g++, k++) {
            groups[k].name =
                apr_pstrcat(c->tmp, cfg->jobs[j].name, "/", cfg->jobs[j].groups[g].name, NULL);
            groups[k].weight = cfg->jobs[j].groups[g].weight;
        }
    if (assign_hunger(groups, n, masters, cfg->nmasters, out) != 0) {
        abbey_err_set(c->err, "%s: cannot place the rule groups on the masters", c->file);
        return APR_EINVAL;
    }
    k = 0;
    for (int j = 0; j < cfg->njobs; j++)
        for (int g = 0; g < cfg->jobs[j].ngroups; g++)
            cfg->jobs[j].groups[g].master = out[k++];
    return APR_SUCCESS;
}

static apr_status_t compile(rules_ctx_t *c, rules_config_t *cfg)
{
    yaml_node_t *root;
    rules_y_map_t m;
    rules_y_list_t l;
    const rules_y_val_t *x;
    apr_hash_t *names = apr_hash_make(c->tmp);

    TRY(rules_y_load(c, &root));
    TRY(rules_y_map(c, root, "rules file", top_keys, &m));
    if ((x = rules_y_get(&m, "base_dir")) != NULL) {
        /* relative source paths resolve against base_dir (itself relative to the file) */
        const char *dir;
        char *merged;
        TRY(rules_y_str(c, x, "base_dir", &dir));
        if (apr_filepath_merge(&merged, dir[0] == '/' ? NULL : c->base, dir, 0, c->pool) !=
            APR_SUCCESS)
            return rules_y_err_at(c, x, 0, "base_dir: '%s' is not a usable directory path", dir);
        c->base = merged;
    }
    TRY(load_masters(c, cfg, rules_y_get(&m, "masters")));
    TRY(rules_y_need(c, root, &m, "rules file", "jobs", "a list of jobs", &x));
    TRY(rules_y_list(c, x, "jobs", 1, &l));
    cfg->njobs = l.n;
    cfg->jobs = apr_pcalloc(c->pool, sizeof *cfg->jobs * (size_t)l.n);
    for (int i = 0; i < l.n; i++) {
        cfg->jobs[i].index = i;
        TRY(load_job(c, &cfg->jobs[i], &l.items[i], names));
    }
    return place_groups(c, cfg);
}

/* Compile text (already in pool, NUL-terminated) into a config that owns pool. */
static apr_status_t load(apr_pool_t *pool, const char *text, size_t len, const char *name,
                         const char *base, rules_config_t **out, abbey_err_t *err)
{
    rules_ctx_t c;
    rules_config_t *cfg = apr_pcalloc(pool, sizeof *cfg);
    apr_status_t rv;

    memset(&c, 0, sizeof c);
    c.pool = pool;
    c.file = name;
    c.base = base;
    c.text = text;
    c.len = len;
    c.err = err;
    if ((rv = apr_pool_create(&c.tmp, pool)) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    cfg->pool = pool;
    cfg->path = name;
    cfg->text = text;
    cfg->len = len;
    cfg->hash = value_hash_bytes(text, len);
    snprintf(cfg->hash_hex, sizeof cfg->hash_hex, "%016" PRIx64, cfg->hash);
    rv = compile(&c, cfg);
    rules_y_done(&c);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    apr_pool_destroy(c.tmp);
    *out = cfg;
    return APR_SUCCESS;
}

apr_status_t rules_load_buffer(const char *text, size_t len, const char *name, apr_pool_t *pool,
                               rules_config_t **out, abbey_err_t *err)
{
    apr_pool_t *sub;
    char *copy, *cwd = NULL;
    apr_status_t rv;

    *out = NULL;
    abbey_err_clear(err);
    if ((rv = apr_pool_create(&sub, pool)) != APR_SUCCESS)
        return rv;
    name = apr_pstrdup(sub, name ? name : "<rules>");
    if (len > RULES_MAX_BYTES) {
        abbey_err_set(err, "%s: the rules file is too large (%zu bytes; at most %d)", name, len,
                      RULES_MAX_BYTES);
        apr_pool_destroy(sub);
        return APR_EINVAL;
    }
    copy = apr_pstrmemdup(sub, text ? text : "", text ? len : 0);
    if (apr_filepath_get(&cwd, 0, sub) != APR_SUCCESS)
        cwd = ".";
    return load(sub, copy, text ? len : 0, name, cwd, out, err);
}

/* Read a whole regular file into pool, NUL-terminated. */
static apr_status_t read_file(const char *path, apr_pool_t *pool, char **text, size_t *len,
                              abbey_err_t *err)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char msg[120];
    apr_size_t got = 0;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "%s: cannot open the rules file: %s", path,
                      apr_strerror(rv, msg, sizeof msg));
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
        abbey_err_set(err, "%s: the rules file is not a regular file", path);
        rv = APR_EINVAL;
    } else if (rv == APR_SUCCESS && fi.size > RULES_MAX_BYTES) {
        abbey_err_set(err, "%s: the rules file is too large (at most %d bytes)", path,
                      RULES_MAX_BYTES);
        rv = APR_EINVAL;
    } else if (rv == APR_SUCCESS) {
        *text = apr_palloc(pool, (apr_size_t)fi.size + 1);
        rv = apr_file_read_full(f, *text, (apr_size_t)fi.size, &got);
        if (rv == APR_EOF)
            rv = APR_SUCCESS; /* it shrank while we read: take what is there */
        (*text)[got] = '\0';
        *len = got;
        if (rv != APR_SUCCESS)
            abbey_err_set(err, "%s: cannot read the rules file: %s", path,
                          apr_strerror(rv, msg, sizeof msg));
    } else {
        abbey_err_set(err, "%s: cannot read the rules file: %s", path,
                      apr_strerror(rv, msg, sizeof msg));
    }
    apr_file_close(f);
    return rv;
}

apr_status_t rules_load_file(const char *path, apr_pool_t *pool, rules_config_t **out,
                             abbey_err_t *err)
{
    apr_pool_t *sub;
    char *text = NULL, *abs = NULL, *slash;
    size_t len = 0;
    apr_status_t rv;

    *out = NULL;
    abbey_err_clear(err);
    if ((rv = apr_pool_create(&sub, pool)) != APR_SUCCESS)
        return rv;
    path = apr_pstrdup(sub, path);
    if ((rv = read_file(path, sub, &text, &len, err)) != APR_SUCCESS) {
        apr_pool_destroy(sub);
        return rv;
    }
    /* relative sources resolve against the file's directory, made absolute */
    if (apr_filepath_merge(&abs, NULL, path, 0, sub) != APR_SUCCESS)
        abs = apr_pstrdup(sub, path);
    slash = strrchr(abs, '/');
    if (slash == abs)
        abs = "/";
    else if (slash)
        *slash = '\0';
    else
        abs = ".";
    return load(sub, text, len, path, abs, out, err);
}

const rules_job_t *rules_find_job(const rules_config_t *c, const char *name)
{
    for (int i = 0; c && name && i < c->njobs; i++)
        if (strcmp(c->jobs[i].name, name) == 0)
            return &c->jobs[i];
    return NULL;
}

const rules_master_t *rules_find_master(const rules_config_t *c, const char *name)
{
    for (int i = 0; c && name && i < c->nmasters; i++)
        if (strcmp(c->masters[i].name, name) == 0)
            return &c->masters[i];
    return NULL;
}

void rules_free(rules_config_t *c)
{
    if (c)
        apr_pool_destroy(c->pool);
}
