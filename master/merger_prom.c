/* merger_prom.c - the figures of `metrics: true` reports on GET /metrics.
 *
 * Each time an export renders a report's latest file (merger_export.c), the
 * same rows are also rendered as Prometheus text (export_prom) and kept here,
 * per report, so /metrics shows exactly what the latest files show, costs no
 * render of its own under the state lock, and never sorts a table. A kept
 * text belongs to one loaded report (configs are never freed, so its
 * pointer names it): after a reload it is shown again once the report's next
 * export has rendered it under the new config. Everything here runs under
 * m->lock. */
#include "merger_int.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

typedef struct mprom_t {
    const rules_report_t *r; /* the hash key: the report it was rendered for */
    const rules_job_t *job;
    buf_t text;
} mprom_t;

static apr_status_t prom_free(void *data)
{
    merger_t *m = data;
    for (apr_hash_index_t *hi = apr_hash_first(NULL, m->prom); hi; hi = apr_hash_next(hi)) {
        mprom_t *e = apr_hash_this_val(hi);
        buf_free(&e->text);
        free(e);
    }
    apr_hash_clear(m->prom);
    return APR_SUCCESS;
}

void merger_prom_keep(merger_t *m, const rules_job_t *job, const rules_report_t *r,
                      const export_rows_t *rows, apr_pool_t *tp)
{
    mprom_t *e;
    if (!r->prom)
        return;
    if (!m->prom) {
        m->prom = apr_hash_make(m->pool);
        apr_pool_cleanup_register(m->pool, m, prom_free, apr_pool_cleanup_null);
    }
    e = apr_hash_get(m->prom, &r, sizeof r);
    if (!e) {
        e = mem_xcalloc(1, sizeof *e);
        e->r = r;
        e->job = job;
        buf_init(&e->text);
        apr_hash_set(m->prom, &e->r, sizeof e->r, e);
    }
    buf_reset(&e->text);
    export_prom(r, rows, &e->text, tp);
}

/* 1 when e's report is one of the current config's, owned here. */
static int current(merger_t *m, const mprom_t *e)
{
    mjob_t *j = merger_job_locked(m, e->job->name);
    return j && j->job == e->job && merger_owned_report(m, j, e->r->name) == e->r;
}

void merger_prom_metrics(merger_t *m, buf_t *out)
{
    if (!m->prom)
        return;
    for (apr_hash_index_t *hi = apr_hash_first(NULL, m->prom); hi; hi = apr_hash_next(hi)) {
        mprom_t *e = apr_hash_this_val(hi);
        if (!current(m, e)) { /* a report of an older config */
            apr_hash_set(m->prom, &e->r, sizeof e->r, NULL);
            buf_free(&e->text);
            free(e);
        }
    }
    for (int i = 0; i < m->cfg->njobs; i++) /* in the rules' order */
        for (int k = 0; k < m->jobs[i].job->nreports; k++) {
            const rules_report_t *r = &m->jobs[i].job->reports[k];
            mprom_t *e = r->prom ? apr_hash_get(m->prom, &r, sizeof r) : NULL;
            if (e)
                buf_put(out, e->text.data, e->text.len);
        }
}
