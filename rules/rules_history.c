/* rules_history.c - a job's `history:` map: how long the history database keeps its
 * reports (rules.h history_keep_ms; the database is export/history.h, docs/RULES.md). */
#include "rules_int.h"

#include <ctype.h>

#include "value.h"

#define HISTORY_KEEP_MIN_MS 1000LL                       /* 1s */
#define HISTORY_KEEP_MAX_MS (36500LL * 24 * 3600 * 1000) /* 36500d */

static const char *const history_keys[] = {"keep", NULL};

apr_status_t rules_load_history(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    const rules_y_val_t *x;
    rules_y_map_t m;
    size_t digits = 0;
    int64_t ms = 0;

    job->history_keep_ms = 0;
    if (!v)
        return APR_SUCCESS;
    if (v->node->type != YAML_MAPPING_NODE)
        return rules_y_err(c, v->node, "history: expected a map such as {keep: 30d}, found %s",
                           rules_y_describe(c, v));
    TRY(rules_y_map(c, v->node, "history", history_keys, &m));
    TRY(rules_y_need(c, v->node, &m, "history", "keep", "how long reports are kept, such as 30d",
                     &x));
    while (x->text && digits < x->len && isdigit((unsigned char)x->text[digits]))
        digits++;
    /* more than 9 digits is out of range whatever the unit (and could overflow) */
    if (!x->text || digits > 9 || value_parse_duration(x->text, x->len, &ms) != 0 ||
        ms < HISTORY_KEEP_MIN_MS || ms > HISTORY_KEEP_MAX_MS)
        return rules_y_err(c, x->node,
                           "history: keep must be a duration from 1s to 36500d such as 30d or "
                           "12h, found %s",
                           rules_y_describe(c, x));
    job->history_keep_ms = ms;
    return APR_SUCCESS;
}
