/* merger_history.c - the merger's side of the history database (export/history.h).
 *
 * An export renders its reports under the state lock; with history on, the
 * same rows also go into a batch (history_batch_add), which is queued with
 * the export's files and written by merger_tick after the state lock is
 * released (merger_export.c), so merging frames never waits for SQLite.
 * GET /v1/history/{job}/{report} reads the rounds back. */
#include "merger_int.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "log.h"
#include "mem.h"

void merger_set_history(merger_t *m, history_t *h, int64_t keep_ms)
{
    apr_thread_mutex_lock(m->lock);
    m->history = h;
    m->history_keep_ms = keep_ms;
    apr_thread_mutex_unlock(m->lock);
}

history_batch_t *merger_history_batch(merger_t *m, int64_t start_ms, int64_t end_ms, int incomplete,
                                      int final)
{
    return m->history ? history_batch_create(start_ms, end_ms, incomplete, final) : NULL;
}

void merger_history_queue(merger_t *m, history_batch_t *b)
{
    mwrite_t *w;
    if (!b)
        return;
    if (!history_batch_size(b)) {
        history_batch_free(b);
        return;
    }
    w = mem_xcalloc(1, sizeof *w);
    w->batch = b;
    *m->queue_tail = w;
    m->queue_tail = &w->next;
}

int merger_history_write(merger_t *m, const history_batch_t *b, int64_t now_ms)
{
    abbey_err_t err;
    if (history_write(m->history, b, now_ms, m->history_keep_ms, &err) == APR_SUCCESS)
        return 0;
    log_msg("history: %s", err.msg);
    return -1;
}

/* ?last=N: 1 to HISTORY_LAST_MAX, HISTORY_LAST_DEFAULT when absent; -1 otherwise. */
static int last_arg(const char *s)
{
    long n = 0;
    if (!s)
        return HISTORY_LAST_DEFAULT;
    if (!*s || strlen(s) > 6)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n >= 1 && n <= HISTORY_LAST_MAX ? (int)n : -1;
}

void merger_on_history(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    merger_t *m = ctx;
    const char *rest = req->path + strlen("/v1/history/");
    const char *slash = strchr(rest, '/'), *name, *owner = NULL;
    const rules_job_t *job = NULL;
    const rules_report_t *r = NULL;
    int last = last_arg(httpd_query(req, "last"));
    char *jname;
    abbey_err_t err;
    buf_t body;
    mjob_t *j;

    if (strncmp(req->path, "/v1/history/", 12) != 0 || !slash || slash == rest || !slash[1] ||
        strchr(slash + 1, '/')) {
        httpd_error(resp, 404, "use /v1/history/{job}/{report}");
        return;
    }
    if (last < 0) {
        httpd_error(resp, 400, "last must be a whole number from 1 to %d", HISTORY_LAST_MAX);
        return;
    }
    if (!m->history) {
        httpd_error(resp, 404, "history is off on master '%s' (--history none)", m->self);
        return;
    }
    jname = apr_pstrndup(req->pool, rest, (apr_size_t)(slash - rest));
    name = slash + 1;
    apr_thread_mutex_lock(m->lock);
    j = merger_job_locked(m, jname);
    for (int i = 0; j && i < j->job->nreports && !r; i++)
        if (strcmp(j->job->reports[i].name, name) == 0)
            r = &j->job->reports[i];
    if (r && !j->owned[r->entry->group->index]) {
        owner = m->cfg->masters[r->entry->group->master].name;
        r = NULL;
    }
    job = j ? j->job : NULL; /* configs are never freed: valid after the lock */
    apr_thread_mutex_unlock(m->lock);
    if (owner) {
        httpd_error(resp, 404, "report '%s' of job '%s' is kept by master '%s', not '%s'", name,
                    jname, owner, m->self);
        return;
    }
    if (!r) {
        httpd_error(resp, 404, "no report '%s' in job '%s'", name, jname);
        return;
    }
    buf_init(&body);
    if (history_read(m->history, job, r, last, &body, &err) != APR_SUCCESS) {
        buf_free(&body);
        httpd_error(resp, 500, "%s", err.msg);
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    buf_free(&resp->body);
    resp->body = body;
}
