/* rules_entry.c - a job's rule groups and their entries: keys, where, values, top, max_keys.
 *
 * Part of the rules loader (rules_load.c walks the file, this file compiles
 * the `groups:` list of one job). Expressions are compiled against the job's
 * format with their exact position in the rules file; aggregate calls such as
 * `percentile(bytes, 95)` are split at their last top-level comma, checked
 * (arity, percent, cap, numeric argument) and turned into agg_spec_t. An
 * entry's `top:` is checked against its values (a count or sum to rank by), and
 * rules_top_report applies it to the entry's reports (rules_load.c calls it);
 * max_keys and the hidden line count come last, for entries without `top:`. */
#include "rules_int.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const group_keys[] = {"name", "weight", "entries", NULL};
static const char *const entry_keys[] = {"name", "key", "where", "values", "top", "max_keys", NULL};
static const char *const top_keys[] = {"k", "by", "capacity", NULL};

/* Column names reports add to an entry that has an overflow row (export.h). */
static const char *const reserved_cols[] = {"_overflow", "_folded_lines", "_folded_keys", NULL};

/* A column name must not be one the reports add themselves. */
static apr_status_t check_col_name(rules_ctx_t *c, const char *name, const yaml_node_t *n)
{
    for (int i = 0; reserved_cols[i]; i++)
        if (strcmp(name, reserved_cols[i]) == 0)
            return rules_y_err(c, n,
                               "column name '%s' is reserved: reports add it to an entry "
                               "that folds keys (max_keys)",
                               name);
    return APR_SUCCESS;
}

static const char *type_words(expr_type_t t)
{
    switch (t) {
    case EXPR_T_NUM:
        return "a number";
    case EXPR_T_STR:
        return "text";
    case EXPR_T_TIME:
        return "a time";
    case EXPR_T_BOOL:
        return "a condition";
    default:
        return "a value";
    }
}

/* Compile text (a copy of part of v's scalar starting at byte off) against the job's format. */
static apr_status_t compile_at(rules_ctx_t *c, const rules_job_t *job, const rules_y_val_t *v,
                               const char *text, size_t off, expr_t **out)
{
    expr_where_t w;
    w.file = c->file;
    rules_y_text_pos(c, v, off, &w.line, &w.col);
    return expr_compile(text, job->format, &w, c->pool, out, c->err);
}

/* Non-empty scalar without NULs (expressions). */
static apr_status_t expr_text_of(rules_ctx_t *c, const rules_y_val_t *v, const char *what)
{
    const char *unused;
    return rules_y_str(c, v, what, &unused);
}

static const char *trimmed(rules_ctx_t *c, const char *s, size_t a, size_t b)
{
    while (a < b && isspace((unsigned char)s[a]))
        a++;
    while (b > a && isspace((unsigned char)s[b - 1]))
        b--;
    return apr_pstrmemdup(c->pool, s + a, b - a);
}

/* ---- keys ---- */

static apr_status_t load_key(rules_ctx_t *c, const rules_job_t *job, rules_entry_t *e, int k,
                             const rules_y_val_t *item, apr_hash_t *cols)
{
    const rules_y_val_t *x = item;
    const yaml_node_t *name_node = item->node;
    if (item->node->type == YAML_MAPPING_NODE) {
        rules_y_map_t m;
        rules_y_val_t key;
        TRY(rules_y_map(c, item->node, "key", NULL, &m));
        if (m.n != 1)
            return rules_y_err(c, item->node,
                               "key: expected one {column: expression} pair, "
                               "found %d",
                               m.n);
        rules_y_wrap(m.items[0].key, &key);
        TRY(rules_y_name(c, &key, "key column name", &e->key_names[k]));
        name_node = m.items[0].key;
        x = &m.items[0];
    } else if (item->node->type != YAML_SCALAR_NODE) {
        return rules_y_err(c, item->node,
                           "key: expected an expression or a {column: "
                           "expression} map, found %s",
                           rules_y_describe(c, item));
    }
    TRY(expr_text_of(c, x, "a key expression such as status or lower(path)"));
    if (item->node->type == YAML_SCALAR_NODE)
        e->key_names[k] = trimmed(c, x->text, 0, x->len);
    TRY(check_col_name(c, e->key_names[k], name_node));
    TRY(rules_y_unique(c, cols, e->key_names[k], name_node, "column"));
    return compile_at(c, job, x, apr_pstrmemdup(c->pool, x->text, x->len), 0, &e->keys[k]);
}

static apr_status_t load_keys(rules_ctx_t *c, const rules_job_t *job, rules_entry_t *e,
                              const rules_y_val_t *v, apr_hash_t *cols)
{
    rules_y_list_t l;
    if (!v)
        return APR_SUCCESS;
    if (v->node->type == YAML_SCALAR_NODE) {
        l.n = 1;
        l.items = (rules_y_val_t *)v;
    } else if (v->node->type == YAML_SEQUENCE_NODE) {
        TRY(rules_y_list(c, v, "key expressions", 0, &l));
    } else {
        return rules_y_err(c, v->node,
                           "key: expected an expression or a list of expressions, "
                           "found %s",
                           rules_y_describe(c, v));
    }
    e->nkeys = l.n;
    e->keys = apr_pcalloc(c->pool, sizeof *e->keys * (size_t)(l.n + 1));
    e->key_names = apr_pcalloc(c->pool, sizeof *e->key_names * (size_t)(l.n + 1));
    for (int k = 0; k < l.n; k++)
        TRY(load_key(c, job, e, k, &l.items[k], cols));
    return APR_SUCCESS;
}

/* ---- values ---- */

/* Offset of the last comma in s[a..b) outside quotes, backquoted names,
 * parentheses and brackets; b when there is none. */
static size_t last_top_comma(const char *s, size_t a, size_t b)
{
    size_t last = b;
    int depth = 0;
    char q = 0;
    for (size_t i = a; i < b; i++) {
        char ch = s[i];
        if (q) {
            if (ch == '\\' && q != '`' && i + 1 < b)
                i++;
            else if (ch == q)
                q = 0;
        } else if (ch == '"' || ch == '\'' || ch == '`') {
            q = ch;
        } else if (ch == '(' || ch == '[') {
            depth++;
        } else if (ch == ')' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 0) {
            last = i;
        }
    }
    return last;
}

static const char *agg_names(rules_ctx_t *c)
{
    const char *s = "";
    for (int k = 0; k < AGG__COUNT; k++)
        s = apr_pstrcat(c->tmp, s, k ? ", " : "", agg_kind_name((agg_kind_t)k), NULL);
    return s;
}

/* The number after the comma of percentile / distinct_exact: s[a..b) trimmed. */
static apr_status_t agg_param(rules_ctx_t *c, const rules_y_val_t *v, agg_spec_t *spec, size_t a,
                              size_t b)
{
    const char *s = v->text, *t;
    int dots = 0, ok;
    while (a < b && isspace((unsigned char)s[a]))
        a++;
    t = trimmed(c, s, a, b);
    ok = t[0] != '\0';
    for (const char *p = t; *p && ok; p++) {
        dots += *p == '.';
        ok = isdigit((unsigned char)*p) || (*p == '.' && spec->kind == AGG_PERCENTILE);
    }
    if (spec->kind == AGG_PERCENTILE) {
        double p = ok && dots <= 1 && strlen(t) <= 20 ? strtod(t, NULL) : -1;
        if (!(p > 0 && p <= 100))
            return rules_y_err_at(c, v, a,
                                  "percentile: p must be a number with 0 < p <= 100, "
                                  "found '%.20s'",
                                  t);
        spec->pct = p;
        return APR_SUCCESS;
    }
    unsigned long cap = ok && strlen(t) <= 9 ? strtoul(t, NULL, 10) : 0;
    if (cap < 1 || cap > AGG_EXACT_CAP_MAX)
        return rules_y_err_at(c, v, a,
                              "distinct_exact: cap must be an integer from 1 to %u, "
                              "found '%.20s'",
                              (unsigned)AGG_EXACT_CAP_MAX, t);
    spec->cap = (uint32_t)cap;
    return APR_SUCCESS;
}

/* Parse "name", "name()" or "name(args)": sets the name span and the argument
 * span [*a, *b) (empty without parentheses). */
static apr_status_t split_call(rules_ctx_t *c, const rules_y_val_t *v, size_t *ns, size_t *ne,
                               size_t *a, size_t *b)
{
    const char *s = v->text;
    size_t i = 0, end = v->len;
    int depth = 0;
    char q = 0;
    while (i < end && isspace((unsigned char)s[i]))
        i++;
    while (end > i && isspace((unsigned char)s[end - 1]))
        end--;
    *ns = i;
    while (i < end && (isalnum((unsigned char)s[i]) || s[i] == '_'))
        i++;
    *ne = i;
    while (i < end && isspace((unsigned char)s[i]))
        i++;
    *a = *b = i;
    if (*ne == *ns || (i < end && (s[i] != '(' || s[end - 1] != ')')))
        return rules_y_err(c, v->node,
                           "expected an aggregate such as count, sum(bytes) or "
                           "percentile(ms, 95), found '%.60s'",
                           s);
    if (i == end)
        return APR_SUCCESS;
    for (size_t k = i; k < end; k++) {
        if (q) {
            if (s[k] == '\\' && q != '`' && k + 1 < end)
                k++;
            else if (s[k] == q)
                q = 0;
            continue;
        }
        if (s[k] == '"' || s[k] == '\'' || s[k] == '`')
            q = s[k];
        depth += s[k] == '(' ? 1 : s[k] == ')' ? -1 : 0;
        if (depth == 0 && k + 1 < end)
            return rules_y_err_at(c, v, k,
                                  "%.60s: unbalanced parentheses (an aggregate is "
                                  "one call such as sum(bytes))",
                                  s);
    }
    *a = i + 1;
    *b = end - 1;
    return APR_SUCCESS;
}

static apr_status_t load_agg(rules_ctx_t *c, const rules_job_t *job, const rules_y_val_t *v,
                             rules_value_t *out)
{
    size_t ns, ne, a, b, comma;
    const char *s = v->text, *name, *call, *arg;
    agg_kind_t kind;

    if (!s || v->len == 0 || strlen(s) != v->len)
        return rules_y_err(c, v->node,
                           "value '%s': expected an aggregate such as count, "
                           "sum(bytes) or percentile(ms, 95), found %s",
                           out->name, rules_y_describe(c, v));
    TRY(split_call(c, v, &ns, &ne, &a, &b));
    name = apr_pstrmemdup(c->tmp, s + ns, ne - ns);
    call = trimmed(c, s, ns, v->len);
    if (agg_kind_from_name(s + ns, ne - ns, &kind) != 0)
        return rules_y_err_at(c, v, ns, "unknown aggregate '%s' (expected one of %s)", name,
                              agg_names(c));
    memset(&out->spec, 0, sizeof out->spec);
    out->spec.kind = kind;
    arg = trimmed(c, s, a, b);
    if (!agg_takes_arg(kind)) {
        if (arg[0])
            return rules_y_err_at(c, v, a, "%s takes no argument: write %s", name, name);
        return APR_SUCCESS;
    }
    if (!arg[0])
        return rules_y_err(c, v->node, "%s needs an argument: %s(field or expression)%s", name,
                           name, kind == AGG_PERCENTILE ? " with the percent after a comma" : "");
    comma = last_top_comma(s, a, b);
    if (kind == AGG_PERCENTILE && comma == b)
        return rules_y_err(c, v->node,
                           "percentile needs p: percentile(expression, p) with "
                           "0 < p <= 100, such as percentile(ms, 95)");
    if (kind == AGG_DISTINCT_EXACT)
        out->spec.cap = AGG_EXACT_CAP_DEFAULT;
    if (comma < b && kind != AGG_PERCENTILE && kind != AGG_DISTINCT_EXACT)
        return rules_y_err_at(c, v, comma, "%s takes one argument, found a comma", name);
    if (comma < b)
        TRY(agg_param(c, v, &out->spec, comma + 1, b));
    while (a < comma && isspace((unsigned char)s[a]))
        a++;
    arg = trimmed(c, s, a, comma);
    if (!arg[0])
        return rules_y_err_at(c, v, a, "%s needs an expression before the comma", name);
    TRY(compile_at(c, job, v, arg, a, &out->arg));
    expr_type_t t = expr_type(out->arg);
    if (agg_needs_number(kind) && (t == EXPR_T_STR || t == EXPR_T_BOOL))
        return rules_y_err_at(c, v, a, "%s: %s is %s; %s needs a number", call, arg, type_words(t),
                              name);
    return APR_SUCCESS;
}

static apr_status_t load_values(rules_ctx_t *c, const rules_job_t *job, rules_entry_t *e,
                                const rules_y_val_t *v, apr_hash_t *cols)
{
    rules_y_map_t m;
    TRY(rules_y_map(c, v->node, "values", NULL, &m));
    if (m.n == 0)
        return rules_y_err(c, v->node,
                           "values: expected at least one column, such as "
                           "{hits: count}");
    e->nvalues = m.n;
    e->values = apr_pcalloc(c->pool, sizeof *e->values * (size_t)m.n);
    e->specs = apr_pcalloc(c->pool, sizeof *e->specs * (size_t)(m.n + 1));
    e->lines_spec = -1;
    for (int i = 0; i < m.n; i++) {
        rules_y_val_t key;
        rules_y_wrap(m.items[i].key, &key);
        TRY(rules_y_name(c, &key, "value column name", &e->values[i].name));
        TRY(check_col_name(c, e->values[i].name, m.items[i].key));
        TRY(rules_y_unique(c, cols, e->values[i].name, m.items[i].key, "column"));
        TRY(load_agg(c, job, &m.items[i], &e->values[i]));
        e->specs[i] = e->values[i].spec;
        if (e->lines_spec < 0 && e->specs[i].kind == AGG_COUNT)
            e->lines_spec = i;
    }
    e->nspecs = m.n;
    return APR_SUCCESS;
}

/* The entry's key limit, `max_keys:` (x; NULL: the default), once its values
 * and top are known: with the hidden count its rows' lines need when it has
 * no count value (rules.h). A top entry has neither: its summary keeps at
 * most capacity rows and never folds keys, so max_keys is refused there. */
static apr_status_t load_max_keys(rules_ctx_t *c, rules_entry_t *e, const rules_y_val_t *x)
{
    long n = RULES_MAX_KEYS_DEFAULT;
    if (e->top_k && x)
        return rules_y_err(c, x->node,
                           "entry '%s': max_keys does not apply to an entry with top: (its "
                           "summary keeps at most %u rows, its capacity, and folds no keys); "
                           "leave max_keys out, or set top: capacity",
                           e->name, e->top_m);
    if (e->top_k)
        return APR_SUCCESS; /* max_keys 0: no key limit, no hidden count */
    if (x)
        TRY(rules_y_int(c, x, "max_keys", 1, RULES_MAX_KEYS_MAX, &n));
    e->max_keys = (uint64_t)n;
    if (e->lines_spec < 0) { /* the hidden count: rows know their lines */
        e->lines_spec = e->nspecs++;
        e->specs[e->lines_spec].kind = AGG_COUNT;
    }
    return APR_SUCCESS;
}

/* ---- top ---- */

/* The entry's count and sum columns, for messages. */
static const char *ranked_cols(rules_ctx_t *c, const rules_entry_t *e)
{
    const char *s = "";
    for (int i = 0; i < e->nvalues; i++)
        if (agg_ranks(e->values[i].spec.kind))
            s = apr_pstrcat(c->tmp, s, s[0] ? ", " : "", e->values[i].name, NULL);
    return s[0] ? s : "none";
}

/* `top: {k: K, by: COLUMN[, capacity: M]}` (v), once the entry's values are known. */
static apr_status_t load_top(rules_ctx_t *c, rules_entry_t *e, const rules_y_val_t *v,
                             apr_hash_t *cols)
{
    rules_y_map_t m;
    const rules_y_val_t *x;
    const char *by;
    long k, cap;

    if (v->node->type != YAML_MAPPING_NODE)
        return rules_y_err(c, v->node, "top: expected a map such as {k: 100, by: hits}, found %s",
                           rules_y_describe(c, v));
    TRY(rules_y_map(c, v->node, "top", top_keys, &m));
    TRY(rules_y_need(c, v->node, &m, "top", "k", "the rows reported, 1 to 100000", &x));
    TRY(rules_y_int(c, x, "top: k", 1, RULES_TOP_K_MAX, &k));
    TRY(rules_y_need(c, v->node, &m, "top", "by", "the count or sum column ranking the rows", &x));
    TRY(rules_y_str(c, x, "a value column", &by));
    e->top_by = -1;
    for (int i = 0; i < e->nvalues; i++)
        if (strcmp(e->values[i].name, by) == 0)
            e->top_by = i;
    if (e->top_by < 0)
        return rules_y_err(c, x->node,
                           "top: by: no value column '%.60s' in entry '%s' (its count and sum "
                           "columns: %s)",
                           by, e->name, ranked_cols(c, e));
    if (!agg_ranks(e->values[e->top_by].spec.kind))
        return rules_y_err(c, x->node,
                           "top: by: '%s' is not a count or a sum (it is %s); top ranks rows by "
                           "one of entry '%s': %s",
                           by, agg_kind_name(e->values[e->top_by].spec.kind), e->name,
                           ranked_cols(c, e));
    cap = k * RULES_TOP_M_FACTOR < RULES_TOP_M_MIN ? RULES_TOP_M_MIN : k * RULES_TOP_M_FACTOR;
    if ((x = rules_y_get(&m, "capacity")) != NULL)
        TRY(rules_y_int(c, x, "top: capacity", k, RULES_TOP_M_MAX, &cap));
    e->top_k = (int)k;
    e->top_m = (uint32_t)cap;
    e->top_error = apr_pstrcat(c->pool, by, "_error", NULL);
    if (apr_hash_get(cols, e->top_error, APR_HASH_KEY_STRING))
        return rules_y_err(c, v->node,
                           "top: the error column '%s' of '%s' has the name of a column of "
                           "entry '%s': rename that column",
                           e->top_error, by, e->name);
    return APR_SUCCESS;
}

/* See rules_int.h. */
apr_status_t rules_top_report(rules_ctx_t *c, rules_report_t *r, const rules_y_val_t *order,
                              const rules_y_val_t *limit)
{
    const rules_entry_t *e = r->entry;
    int by = e->nkeys + e->top_by;
    if (!e->top_k)
        return APR_SUCCESS;
    if (order && (r->order_col != by || !r->order_desc))
        return rules_y_err(c, order->node,
                           "report '%s': entry '%s' keeps the top %d rows by %s, so its reports "
                           "are ordered '%s desc' (leave order out, or write that)",
                           r->name, e->name, e->top_k, rules_col_name(e, by),
                           rules_col_name(e, by));
    if (limit && r->limit > e->top_k)
        return rules_y_err(c, limit->node,
                           "report '%s': limit %ld is more than the %d rows entry '%s' keeps the "
                           "top of (its top: k)",
                           r->name, r->limit, e->top_k, e->name);
    r->order_col = by;
    r->order_desc = 1;
    if (r->limit == 0)
        r->limit = e->top_k;
    return APR_SUCCESS;
}

/* ---- entries and groups ---- */

static apr_status_t load_where(rules_ctx_t *c, const rules_job_t *job, rules_entry_t *e,
                               const rules_y_val_t *v)
{
    expr_type_t t;
    if (!v)
        return APR_SUCCESS;
    TRY(expr_text_of(c, v, "a condition such as status >= 500"));
    TRY(compile_at(c, job, v, apr_pstrmemdup(c->pool, v->text, v->len), 0, &e->where));
    t = expr_type(e->where);
    if (t != EXPR_T_BOOL && t != EXPR_T_ANY)
        return rules_y_err_at(c, v, 0,
                              "where must be a condition (a comparison, in [...], ~, "
                              "and/or/not), found %s expression",
                              type_words(t));
    return APR_SUCCESS;
}

static apr_status_t load_entry(rules_ctx_t *c, rules_job_t *job, rules_group_t *g,
                               const rules_y_val_t *v, apr_hash_t *names, rules_entry_t **out)
{
    rules_y_map_t m;
    const rules_y_val_t *x;
    rules_entry_t *e = apr_pcalloc(c->pool, sizeof *e);
    apr_hash_t *cols = apr_hash_make(c->tmp);

    TRY(rules_y_map(c, v->node, "entry", entry_keys, &m));
    TRY(rules_y_need(c, v->node, &m, "entry", "name", "a name unique in the job", &x));
    TRY(rules_y_name(c, x, "entry name", &e->name));
    TRY(rules_y_unique(c, names, e->name, x->node, "entry name"));
    e->group = g;
    TRY(load_keys(c, job, e, rules_y_get(&m, "key"), cols));
    TRY(load_where(c, job, e, rules_y_get(&m, "where")));
    TRY(rules_y_need(c, v->node, &m, "entry", "values",
                     "a map of column: aggregate, such as {hits: count}", &x));
    TRY(load_values(c, job, e, x, cols));
    if ((x = rules_y_get(&m, "top")) != NULL)
        TRY(load_top(c, e, x, cols));
    TRY(load_max_keys(c, e, rules_y_get(&m, "max_keys")));
    *out = e;
    return APR_SUCCESS;
}

static apr_status_t load_group(rules_ctx_t *c, rules_job_t *job, rules_group_t *g,
                               const rules_y_val_t *v, apr_hash_t *gnames, apr_hash_t *enames,
                               apr_array_header_t *all)
{
    rules_y_map_t m;
    rules_y_list_t l;
    const rules_y_val_t *x;
    long w = 1;

    TRY(rules_y_map(c, v->node, "group", group_keys, &m));
    TRY(rules_y_need(c, v->node, &m, "group", "name", "a name unique in the job", &x));
    TRY(rules_y_name(c, x, "group name", &g->name));
    TRY(rules_y_unique(c, gnames, g->name, x->node, "group name"));
    if ((x = rules_y_get(&m, "weight")) != NULL)
        TRY(rules_y_int(c, x, "group weight", 1, RULES_WEIGHT_MAX, &w));
    g->weight = (int)w;
    TRY(rules_y_need(c, v->node, &m, "group", "entries", "a list of entries", &x));
    TRY(rules_y_list(c, x, "entries", 1, &l));
    g->nentries = l.n;
    g->entries = apr_pcalloc(c->pool, sizeof *g->entries * (size_t)l.n);
    for (int i = 0; i < l.n; i++) {
        TRY(load_entry(c, job, g, &l.items[i], enames, &g->entries[i]));
        g->entries[i]->index = all->nelts;
        APR_ARRAY_PUSH(all, rules_entry_t *) = g->entries[i];
    }
    return APR_SUCCESS;
}

apr_status_t rules_load_groups(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    rules_y_list_t l;
    apr_hash_t *gnames = apr_hash_make(c->tmp), *enames = apr_hash_make(c->tmp);
    apr_array_header_t *all = apr_array_make(c->tmp, 8, sizeof(rules_entry_t *));

    TRY(rules_y_list(c, v, "groups", 1, &l));
    job->ngroups = l.n;
    job->groups = apr_pcalloc(c->pool, sizeof *job->groups * (size_t)l.n);
    for (int i = 0; i < l.n; i++) {
        job->groups[i].index = i;
        TRY(load_group(c, job, &job->groups[i], &l.items[i], gnames, enames, all));
    }
    job->nentries = all->nelts;
    job->entries = apr_pcalloc(c->pool, sizeof *job->entries * (size_t)all->nelts);
    memcpy(job->entries, all->elts, sizeof *job->entries * (size_t)all->nelts);
    return APR_SUCCESS;
}
