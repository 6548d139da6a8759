/* rules_metrics.c - a report's `metrics: true`: the Prometheus names of its figures.
 *
 * Metric names are abbey_report_<job>_<report>_<column>, each part made of
 * [a-z0-9_] (metric_part), and key columns become labels the same way; the
 * rules are in docs/RULES.md, "Metrics". The names are fixed when the rules
 * load, so two reports (or two columns) whose names would meet after that
 * mapping are an error naming both, never a page Prometheus refuses. */
#include "rules_int.h"

#include <apr_strings.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const bools[] = {"false", "true", NULL};

/* name as a part of a metric or label name: letters lowercased (with '_'
 * before an upper-case letter that follows a lower-case one or a digit, so
 * camelCase becomes snake_case), digits kept, every run of other bytes one
 * '_', none at either end; "x" when nothing is left. */
static char *metric_part(apr_pool_t *pool, const char *name)
{
    size_t n = strlen(name), o = 0;
    char *out = apr_palloc(pool, 2 * n + 2);
    int prev = 0; /* 0: start or '_', 1: lower-case or digit, 2: upper-case */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x80 && isalnum(ch)) {
            if (isupper(ch) && prev == 1)
                out[o++] = '_';
            out[o++] = (char)tolower(ch);
            prev = isupper(ch) ? 2 : 1;
        } else if (prev) {
            out[o++] = '_';
            prev = 0;
        }
    }
    if (o && out[o - 1] == '_')
        o--;
    if (!o)
        out[o++] = 'x';
    out[o] = '\0';
    return out;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The name of a family of report r over a column or argument name. A counter
 * ends in _total; any other family that would end in a suffix Prometheus
 * keeps for counters, histograms and summaries gets _value after it. */
static const char *family_name(rules_ctx_t *c, const rules_job_t *job, const rules_report_t *r,
                               const char *what, rules_prom_type_t type)
{
    const char *name =
        apr_pstrcat(c->pool, "abbey_report_", metric_part(c->tmp, job->name), "_",
                    metric_part(c->tmp, r->name), "_", metric_part(c->tmp, what), NULL);
    if (type == RULES_PROM_COUNTER)
        return ends_with(name, "_total") ? name : apr_pstrcat(c->pool, name, "_total", NULL);
    if (ends_with(name, "_total") || ends_with(name, "_count") || ends_with(name, "_sum") ||
        ends_with(name, "_bucket"))
        return apr_pstrcat(c->pool, name, "_value", NULL);
    return name;
}

/* The label of a key column: its metric_part, "key_" before one that starts
 * with a digit or is a name the summaries and histograms use. */
static const char *label_name(rules_ctx_t *c, const char *col)
{
    char *l = metric_part(c->pool, col);
    if (isdigit((unsigned char)l[0]) || strcmp(l, "quantile") == 0 || strcmp(l, "le") == 0)
        return apr_pstrcat(c->pool, "key_", l, NULL);
    return l;
}

/* "sum(bytes)": a value column's aggregate as written. */
static const char *call_text(rules_ctx_t *c, const rules_value_t *v)
{
    if (!v->arg)
        return agg_kind_name(v->spec.kind);
    if (v->spec.kind == AGG_PERCENTILE) {
        char p[32];
        snprintf(p, sizeof p, "%.10g", v->spec.pct);
        return apr_psprintf(c->pool, "percentile(%s, %s)", expr_text(v->arg), p);
    }
    return apr_psprintf(c->pool, "%s(%s)", agg_kind_name(v->spec.kind), expr_text(v->arg));
}

/* What family f shows: "column 'hits'", "the percentiles of bytes". */
static const char *family_what(rules_ctx_t *c, const rules_report_t *r,
                               const rules_prom_family_t *f)
{
    if (f->type == RULES_PROM_SUMMARY)
        return apr_psprintf(c->tmp, "the percentiles of %s",
                            expr_text(r->entry->values[f->cols[0] - r->entry->nkeys].arg));
    return apr_psprintf(c->tmp, "column '%s'", rules_col_name(r->entry, f->cols[0]));
}

/* Record family f's name for report r (at node n): a name given before is an error. */
static apr_status_t claim(rules_ctx_t *c, const rules_job_t *job, const rules_report_t *r,
                          const rules_prom_family_t *f, const yaml_node_t *n)
{
    const char *what = family_what(c, r, f), *first;
    if (!c->metric_names)
        c->metric_names = apr_hash_make(c->tmp);
    first = apr_hash_get(c->metric_names, f->name, APR_HASH_KEY_STRING);
    if (first)
        return rules_y_err(c, n,
                           "report '%s' of job '%s': the metric of %s would be %s, as that of "
                           "%s (metric names join job, report and column with '_', in lower "
                           "case, other characters becoming '_'): rename one",
                           r->name, job->name, what, f->name, first);
    apr_hash_set(c->metric_names, f->name, APR_HASH_KEY_STRING,
                 apr_psprintf(c->tmp, "%s of report '%s' of job '%s' (at %d:%d)", what, r->name,
                              job->name, rules_y_line(n), rules_y_col(n)));
    return APR_SUCCESS;
}

/* The label names of r's entry: every key column, distinct. */
static apr_status_t load_labels(rules_ctx_t *c, const rules_report_t *r, rules_prom_t *p,
                                const yaml_node_t *n)
{
    const rules_entry_t *en = r->entry;
    p->labels = apr_pcalloc(c->pool, sizeof *p->labels * (size_t)(en->nkeys + 1));
    for (int k = 0; k < en->nkeys; k++) {
        p->labels[k] = label_name(c, en->key_names[k]);
        for (int i = 0; i < k; i++)
            if (strcmp(p->labels[i], p->labels[k]) == 0)
                return rules_y_err(c, n,
                                   "report '%s': key columns '%s' and '%s' would both be the "
                                   "label %s of its metrics: rename one",
                                   r->name, en->key_names[i], en->key_names[k], p->labels[k]);
    }
    return APR_SUCCESS;
}

/* Add percentile column col to the summary of its argument, made when it is the first. */
static apr_status_t add_quantile(rules_ctx_t *c, const rules_job_t *job, const rules_report_t *r,
                                 rules_prom_t *p, int col, const yaml_node_t *n)
{
    const rules_value_t *v = &r->entry->values[col - r->entry->nkeys];
    const char *arg = expr_text(v->arg), *q;
    char qtext[32];
    rules_prom_family_t *f = NULL;
    for (int i = 0; i < p->nfamilies && !f; i++)
        if (p->families[i].type == RULES_PROM_SUMMARY &&
            strcmp(expr_text(r->entry->values[p->families[i].cols[0] - r->entry->nkeys].arg),
                   arg) == 0)
            f = &p->families[i];
    if (!f) {
        f = &p->families[p->nfamilies++];
        f->type = RULES_PROM_SUMMARY;
        f->name = NULL; /* named once the report's other families are (summary_names) */
        f->cols = apr_pcalloc(c->pool, sizeof *f->cols * (size_t)r->ncols);
        f->quantiles = apr_pcalloc(c->pool, sizeof *f->quantiles * (size_t)r->ncols);
        f->help =
            apr_psprintf(c->pool, "abbey report %s/%s (%s scope): percentiles of %s", job->name,
                         r->name, r->scope == RULES_SCOPE_ROUND ? "round" : "period", arg);
    }
    snprintf(qtext, sizeof qtext, "%.10g", v->spec.pct / 100.0); /* libc's: "0.95", not ".95" */
    q = apr_pstrdup(c->pool, qtext);
    for (int i = 0; i < f->ncols; i++)
        if (strcmp(f->quantiles[i], q) == 0)
            return rules_y_err(c, n,
                               "report '%s': columns '%s' and '%s' are the same quantile (%s) "
                               "of %s: show one of them",
                               r->name, r->entry->values[f->cols[i] - r->entry->nkeys].name,
                               v->name, q, f->name);
    f->cols[f->ncols] = col;
    f->quantiles[f->ncols++] = q;
    f->help = apr_psprintf(c->pool, "%s%s %s", f->help, f->ncols > 1 ? "," : "; columns", v->name);
    return APR_SUCCESS;
}

/* Name each summary after its argument, or, when another family of r is a
 * column of that name (after metric_part), after its argument and _quantiles. */
static void summary_names(rules_ctx_t *c, const rules_job_t *job, const rules_report_t *r,
                          rules_prom_t *p)
{
    const rules_entry_t *en = r->entry;
    for (int i = 0; i < p->nfamilies; i++) {
        rules_prom_family_t *f = &p->families[i];
        const char *arg, *part;
        if (f->type != RULES_PROM_SUMMARY)
            continue;
        arg = expr_text(en->values[f->cols[0] - en->nkeys].arg);
        part = metric_part(c->tmp, arg);
        for (int k = 0; k < p->nfamilies; k++)
            if (p->families[k].type != RULES_PROM_SUMMARY &&
                strcmp(metric_part(c->tmp, rules_col_name(en, p->families[k].cols[0])), part) == 0)
                arg = apr_pstrcat(c->tmp, arg, "_quantiles", NULL);
        f->name = family_name(c, job, r, arg, f->type);
    }
}

apr_status_t rules_load_metrics(rules_ctx_t *c, const rules_job_t *job, rules_report_t *r,
                                const rules_y_val_t *v)
{
    const rules_entry_t *en = r->entry;
    rules_prom_t *p;
    int on;
    if (!v)
        return APR_SUCCESS;
    TRY(rules_y_enum(c, v, "metrics", bools, &on));
    if (!on)
        return APR_SUCCESS;
    p = apr_pcalloc(c->pool, sizeof *p);
    p->families = apr_pcalloc(c->pool, sizeof *p->families * (size_t)(r->ncols + 1));
    TRY(load_labels(c, r, p, v->node));
    for (int i = 0; i < r->ncols; i++) {
        int col = r->cols[i];
        const rules_value_t *val;
        rules_prom_family_t *f;
        if (col < en->nkeys)
            continue; /* keys are labels, whether shown or not */
        /* NULL: a top entry's error column, a gauge */
        val = col < en->nkeys + en->nvalues ? &en->values[col - en->nkeys] : NULL;
        if (val && val->spec.kind == AGG_PERCENTILE) {
            TRY(add_quantile(c, job, r, p, col, v->node));
            continue;
        }
        f = &p->families[p->nfamilies++];
        f->type = val && (val->spec.kind == AGG_COUNT || val->spec.kind == AGG_SUM) &&
                          job->reset == RULES_RESET_NEVER && r->scope == RULES_SCOPE_PERIOD
                      ? RULES_PROM_COUNTER
                      : RULES_PROM_GAUGE;
        f->name = family_name(c, job, r, rules_col_name(en, col), f->type);
        f->ncols = 1;
        f->cols = apr_pmemdup(c->pool, &col, sizeof col);
        f->help = apr_psprintf(c->pool, "abbey report %s/%s (%s scope): column %s = %s", job->name,
                               r->name, r->scope == RULES_SCOPE_ROUND ? "round" : "period",
                               rules_col_name(en, col),
                               val ? call_text(c, val)
                                   : apr_psprintf(c->pool, "the error bound of %s (top)",
                                                  en->values[en->top_by].name));
    }
    summary_names(c, job, r, p);
    for (int i = 0; i < p->nfamilies; i++)
        TRY(claim(c, job, r, &p->families[i], v->node));
    r->prom = p;
    return APR_SUCCESS;
}
