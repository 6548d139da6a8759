/* dashboard.c - the description of a master's dashboard from the compiled rules
 * (see dashboard.h): jansson objects, nothing cached. */
#include "dashboard.h"

#include <jansson.h>
#include <string.h>

static const char *type_name(expr_type_t t)
{
    switch (t) {
    case EXPR_T_NUM:
        return "number";
    case EXPR_T_STR:
        return "text";
    case EXPR_T_BOOL:
        return "bool";
    case EXPR_T_TIME:
        return "time";
    default:
        return "any";
    }
}

/* Column col of entry en (keys first, then values, then a top entry's error:
 * "agg": "error", "of": the column it bounds). */
static json_t *column_json(const rules_entry_t *en, int col)
{
    json_t *c = json_object();
    if (col < en->nkeys) {
        json_object_set_new(c, "name", json_string(en->key_names[col]));
        json_object_set_new(c, "key", json_true());
        json_object_set_new(c, "type", json_string(type_name(expr_type(en->keys[col]))));
        return c;
    }
    if (col >= en->nkeys + en->nvalues) {
        json_object_set_new(c, "name", json_string(en->top_error));
        json_object_set_new(c, "key", json_false());
        json_object_set_new(c, "type", json_string("number"));
        json_object_set_new(c, "agg", json_string("error"));
        json_object_set_new(c, "of", json_string(en->values[en->top_by].name));
        return c;
    }
    const rules_value_t *v = &en->values[col - en->nkeys];
    json_object_set_new(c, "name", json_string(v->name));
    json_object_set_new(c, "key", json_false());
    json_object_set_new(c, "type", json_string("number"));
    json_object_set_new(c, "agg", json_string(agg_kind_name(v->spec.kind)));
    if (v->spec.kind == AGG_PERCENTILE)
        json_object_set_new(c, "pct", json_real(v->spec.pct));
    return c;
}

static const char *view_of(const rules_report_t *r)
{
    const rules_entry_t *en = r->entry;
    if (en->nkeys == 0)
        return "totals";
    if (en->nkeys == 1 && expr_type(en->keys[0]) == EXPR_T_TIME)
        return "timeseries";
    if (r->order_col >= 0 && r->limit > 0)
        return "top";
    return "table";
}

static json_t *report_json(const rules_config_t *cfg, const rules_report_t *r, const char *self)
{
    const rules_entry_t *en = r->entry;
    const rules_master_t *owner = &cfg->masters[en->group->master];
    int ncols = r->ncols ? r->ncols : rules_entry_ncols(en);
    json_t *cols = json_array(), *o;

    for (int c = 0; c < ncols; c++)
        json_array_append_new(cols, column_json(en, r->ncols ? r->cols[c] : c));
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:I, s:o}", "name", r->name, "entry",
                  en->name, "scope", r->scope == RULES_SCOPE_ROUND ? "round" : "period", "format",
                  r->format == RULES_REPORT_JSON ? "json" : "csv", "owner", owner->name, "owned",
                  !self || strcmp(self, owner->name) == 0, "view", view_of(r), "desc",
                  r->order_desc, "limit", (json_int_t)r->limit, "columns", cols);
    if (o)
        json_object_set_new(o, "order",
                            r->order_col >= 0 ? json_string(rules_col_name(en, r->order_col))
                                              : json_null());
    return o;
}

static json_t *job_json(const rules_config_t *cfg, const rules_job_t *job, const char *self,
                        merger_t *m)
{
    static const char *resets[] = {"never", "hour", "day"};
    json_t *reports = json_array(), *o;
    int32_t off;

    for (int r = 0; r < job->nreports; r++)
        json_array_append_new(reports, report_json(cfg, &job->reports[r], self));
    o = json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "name", job->name, "timezone", tz_name(job->tz),
                  "round_ms", (json_int_t)(job->round / 1000), "reset", resets[job->reset], "fresh",
                  m ? merger_freshness_json(m, job->name) : json_null(), "reports", reports);
    if (o && tz_fixed_offset(job->tz, &off))
        json_object_set_new(o, "tz_offset_s", json_integer(off));
    return o;
}

json_t *dashboard_describe(const rules_config_t *cfg, const char *self, const char *role,
                           merger_t *m)
{
    json_t *masters = json_array(), *jobs = json_array();
    for (int i = 0; i < cfg->nmasters; i++)
        json_array_append_new(masters, json_pack("{s:s, s:s?}", "name", cfg->masters[i].name, "url",
                                                 cfg->masters[i].url));
    for (int j = 0; j < cfg->njobs; j++)
        json_array_append_new(jobs, job_json(cfg, &cfg->jobs[j], self, m));
    return json_pack("{s:s?, s:s, s:s, s:o, s:o}", "master", self, "role", role, "config",
                     cfg->hash_hex, "masters", masters, "jobs", jobs);
}
