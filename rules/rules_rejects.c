/* rules_rejects.c - a job's `rejects:` map: where its bad lines are written, how many per
 * round, and how the files rotate (rules.h rules_rejects_t; the writer is common/rejects.c).
 * Relative directories resolve like source paths (base_dir). */
#include "rules_int.h"

#include <apr_file_info.h>

#define REJECTS_SIZE_MIN ((uint64_t)4 << 10)
#define REJECTS_SIZE_MAX ((uint64_t)64 << 30)
#define REJECTS_KEEP_MAX 100
#define REJECTS_PER_ROUND_MAX 100000000L

static const char *const rejects_keys[] = {"path", "max_per_round", "max_size", "keep", NULL};

apr_status_t rules_load_rejects(rules_ctx_t *c, rules_job_t *job, const rules_y_val_t *v)
{
    rules_rejects_t *r = &job->rejects;
    const rules_y_val_t *x;
    const char *dir;
    char *merged;
    rules_y_map_t m;
    long n;

    r->dir = NULL;
    r->max_per_round = RULES_REJECTS_PER_ROUND;
    r->max_size = RULES_REJECTS_SIZE;
    r->keep = RULES_REJECTS_KEEP;
    if (!v)
        return APR_SUCCESS;
    if (v->node->type != YAML_MAPPING_NODE)
        return rules_y_err(c, v->node,
                           "rejects: expected a map such as {path: /var/lib/abbey/rejects, "
                           "max_per_round: 1000}, found %s",
                           rules_y_describe(c, v));
    TRY(rules_y_map(c, v->node, "rejects", rejects_keys, &m));
    TRY(rules_y_need(c, v->node, &m, "rejects", "path", "the directory the files go to", &x));
    TRY(rules_y_str(c, x, "a directory such as /var/lib/abbey/rejects", &dir));
    if (apr_filepath_merge(&merged, dir[0] == '/' ? NULL : c->base, dir, 0, c->pool) != APR_SUCCESS)
        return rules_y_err(c, x->node, "rejects: '%.80s' is not a usable directory path", dir);
    r->dir = merged;
    if ((x = rules_y_get(&m, "max_per_round")) != NULL) {
        TRY(rules_y_int(c, x, "max_per_round", 0, REJECTS_PER_ROUND_MAX, &n));
        r->max_per_round = (uint64_t)n;
    }
    if ((x = rules_y_get(&m, "max_size")) != NULL)
        TRY(rules_y_size(c, x, "max_size", REJECTS_SIZE_MIN, REJECTS_SIZE_MAX, &r->max_size));
    if ((x = rules_y_get(&m, "keep")) != NULL) {
        TRY(rules_y_int(c, x, "keep", 1, REJECTS_KEEP_MAX, &n));
        r->keep = (int)n;
    }
    return APR_SUCCESS;
}
